"""``features`` (key → value list) and opening ``hours``, as the vocabulary files describe them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dlserve.demo.tables import Bits, Record, bits_for, uniform

_WEEK = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
Hours = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Feature:
    key: str
    choices: tuple[tuple[str, ...], ...]  # every allowed value list, as a power-of-two table
    bits: int


def runs(values: tuple[str, ...], shortest: int, longest: int) -> list[tuple[str, ...]]:
    """Every run of consecutive values (wrapping around) of the given lengths: a record picks one of
    these instead of paying for rng.sample, and still never repeats a value."""
    doubled = values * 2
    lengths = range(shortest, min(longest, len(values)) + 1)
    return [doubled[start : start + k] for start in range(len(values)) for k in lengths]


def feature(spec: dict[str, Any]) -> Feature:
    """``{"key", "options", "min", "max"}`` from a data file → a feature a record draws from."""
    choices = runs(tuple(spec["options"]), spec["min"], spec["max"])
    bits = bits_for(len(choices))
    return Feature(spec["key"], uniform(choices, bits), bits)


def features(bits: Bits, table: tuple[Feature, ...]) -> list[Record]:
    return [{"key": f.key, "value": list(f.choices[bits(f.bits)])} for f in table]


def hours(spec: dict[str, str | None]) -> Hours:
    """``{"weekdays", "saturday"?, "sunday"?}``: a missing day repeats the weekday hours, null is closed."""
    weekdays = spec["weekdays"]
    week = [weekdays] * 5 + [spec.get("saturday", weekdays), spec.get("sunday", weekdays)]
    return tuple((day, hour) for day, hour in zip(_WEEK, week, strict=True) if hour)
