"""Dates are day numbers since 2015-01-01 plus a time of day drawn from a fixed table: integer
arithmetic and look-ups, never ``strftime``."""

from __future__ import annotations

import random
from datetime import date, timedelta

from dlserve.demo.tables import Bits, uniform

FIRST_DAY = date(2015, 1, 1)
NUM_DAYS = (date(2026, 1, 1) - FIRST_DAY).days
LAST_ADDED_DAY = (date(2024, 6, 30) - FIRST_DAY).days  # leaves room for later updates
DAY_PREFIX = tuple((FIRST_DAY + timedelta(days=d)).isoformat() + "T" for d in range(NUM_DAYS))
MIDNIGHT = tuple(prefix + "00:00:00Z" for prefix in DAY_PREFIX)
TIMES = tuple(  # "HH:MM:SSZ", drawn once; records pick one with 12 random bits
    f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}Z"
    for seconds in random.Random(2015).sample(range(86_400), 4096)
)
REVIEW_LAGS = uniform([int(d * d / 90) for d in range(256)], 8)  # days from review to crawl, mostly short


def date_range(bits: Bits) -> tuple[int, int]:
    """(dateAdded day, dateUpdated day), at least two days apart: whatever happens in between
    (reviews seen, prices seen, status changes) falls on a day of its own, so every date of a
    record sorts between its dateAdded and dateUpdated whatever the times of day."""
    added = bits(12) % LAST_ADDED_DAY
    return added, added + 2 + bits(12) % (NUM_DAYS - 2 - added)


def day_between(bits: Bits, added: int, updated: int) -> int:
    return added + 1 + bits(12) % (updated - added - 1)
