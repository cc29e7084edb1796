"""The building blocks every generator shares: weighted power-of-two tables, the vocabulary files
under ``data/`` and the rule that leaves a few optional fields out."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Sequence
from importlib import resources
from typing import Any, TypeVar

Record = dict[str, object]
Bits = Callable[[int], int]
_T = TypeVar("_T")

# Chance that one given optional field is left out of a record, so `-field:*` queries find something.
OMIT_RATE = 0.03
_SLUG_RE = re.compile(r"[^a-z0-9]+")


def read_json(name: str) -> Any:
    """A vocabulary file of ``dlserve/demo/data`` (shipped as package data)."""
    return json.loads(resources.files("dlserve.demo").joinpath("data", name).read_text(encoding="utf-8"))


def read_csv(name: str) -> list[dict[str, str]]:
    text = resources.files("dlserve.demo").joinpath("data", name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def weighted(pairs: Sequence[Sequence[Any]], bits: int) -> tuple[Any, ...]:
    """(value, weight) pairs spread over ``2**bits`` slots, so ``table[getrandbits(bits)]`` samples
    by weight. Every value gets a slot; leftover slots go to the values rounding shortchanged most."""
    size = 1 << bits
    if len(pairs) > size:
        raise ValueError(f"{len(pairs)} values do not fit a table of {size}")
    total = sum(weight for _, weight in pairs)
    exact = [weight * size / total for _, weight in pairs]
    counts = [max(1, int(x)) for x in exact]
    by_shortfall = sorted(range(len(pairs)), key=lambda k: counts[k] - exact[k])
    for k in range(size - sum(counts)):
        counts[by_shortfall[k % len(pairs)]] += 1
    while sum(counts) > size:  # only when the one-slot minimum overbooked the table
        counts[counts.index(max(counts))] -= 1
    return tuple(value for (value, _), n in zip(pairs, counts, strict=True) for _ in range(n))


def uniform(values: Sequence[_T], bits: int) -> tuple[_T, ...]:
    return weighted([(value, 1) for value in values], bits)


def bits_for(n: int) -> int:
    """Table size for ``n`` values: at least 4 slots per value, so the rounding bias stays small."""
    return max(2, (4 * n - 1).bit_length())


def slug(text: str) -> str:
    return _SLUG_RE.sub("-", text.lower().replace("'", "")).strip("-")


def handle(text: str) -> str:
    """Lower-case letters and digits only: the local part of an e-mail address."""
    return _SLUG_RE.sub("", text.lower())


def omit_one(rnd: Callable[[], float], record: Record, optional: tuple[str, ...]) -> None:
    # One draw decides whether and which: each optional field is missing from ~3% of the records.
    r = rnd() / OMIT_RATE
    if r < len(optional):
        record.pop(optional[int(r)], None)
