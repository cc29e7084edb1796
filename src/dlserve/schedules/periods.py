"""When a schedule runs: ``every`` as an interval (``1d``, ``7d``, ``6h``, ``30m``, ``45s``, ``2w``)
or a five-field cron expression (``0 3 * * 1``: Mondays 03:00), always in UTC.

A period's time is computed from the previous due time, not from when the tick noticed it, so a
schedule keeps its cadence (a daily one created at 09:00 stays at 09:00). After downtime the
schedule's next time is the first one *after now*: every missed time collapses into the one run
that starts at once, never one run per missed period.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from croniter import croniter

from dlserve.errors import ErrorDetail, Invalid

_INTERVAL = re.compile(r"^\s*(\d{1,6})\s*([smhdw])\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
# How many of a cron expression's next times are checked against the minimum period: enough to
# see every gap of a day's hours and minutes lists (``0,5 * * * *``), cheap to compute.
CRON_GAPS_CHECKED = 64


class Period(Protocol):
    def first_due(self, now: datetime) -> datetime:
        """When a schedule created at ``now`` first runs."""
        ...

    def next_after(self, due: datetime, now: datetime) -> datetime:
        """The first time after ``now`` in the cadence of ``due`` (a time this period produced)."""
        ...


@dataclass(frozen=True)
class Interval:
    """A fixed interval; the first run is at creation (a fresh copy now, then every period)."""

    seconds: int

    def first_due(self, now: datetime) -> datetime:
        return now

    def next_after(self, due: datetime, now: datetime) -> datetime:
        step = timedelta(seconds=self.seconds)
        if due > now:
            return due
        missed = math.floor((now - due) / step)  # whole periods between due and now
        return due + step * (missed + 1)


@dataclass(frozen=True)
class Cron:
    """A cron expression in UTC; the first run is its first time after creation."""

    expression: str

    def first_due(self, now: datetime) -> datetime:
        return self._after(now)

    def next_after(self, due: datetime, now: datetime) -> datetime:
        return self._after(max(due, now))

    def _after(self, moment: datetime) -> datetime:
        # croniter keeps the zone of its start; strictly after ``moment``.
        nxt: datetime = croniter(self.expression, moment.astimezone(UTC)).get_next(datetime)
        return nxt.astimezone(UTC)

    def shortest_gap_seconds(self, start: datetime) -> float:
        times = croniter(self.expression, start.astimezone(UTC))
        previous: datetime = times.get_next(datetime)
        shortest = math.inf
        for _ in range(CRON_GAPS_CHECKED):
            current: datetime = times.get_next(datetime)
            shortest = min(shortest, (current - previous).total_seconds())
            previous = current
        return shortest


def parse_every(text: str, *, min_seconds: float, now: datetime) -> Period:
    """``every`` as a period, or a 400 naming the field: unreadable, or shorter than ``min_seconds``."""
    raw = text.strip() if isinstance(text, str) else ""
    interval = _INTERVAL.match(raw)
    if interval:
        seconds = int(interval.group(1)) * _UNIT_SECONDS[interval.group(2).lower()]
        if seconds <= 0:
            raise _invalid("every must be a positive interval")
        _check_minimum(seconds, min_seconds)
        return Interval(seconds)
    fields = raw.split()
    if len(fields) != 5 or not croniter.is_valid(raw):
        raise _invalid(
            f"every '{raw[:80]}' is neither an interval (1d, 7d, 6h, 30m) nor a cron expression "
            "(five fields, minute hour day-of-month month day-of-week, in UTC)"
        )
    cron = Cron(" ".join(fields))
    _check_minimum(cron.shortest_gap_seconds(now), min_seconds)
    return cron


def describe_seconds(seconds: float) -> str:
    for unit, size in (("w", 7 * 86400), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def _check_minimum(seconds: float, min_seconds: float) -> None:
    if seconds < min_seconds:
        raise _invalid(
            f"every is too frequent: runs {describe_seconds(seconds)} apart, "
            f"the shortest period allowed is {describe_seconds(min_seconds)}"
        )


def _invalid(message: str) -> Invalid:
    return Invalid(message, [ErrorDetail("every", message)])
