"""Dates as each wire format writes them (always UTC)."""

from __future__ import annotations

from datetime import UTC, datetime


def as_utc(value: datetime) -> datetime:
    """Databases hand back naive (SQLite) or session-zone (PostgreSQL) datetimes; both mean UTC here."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iso_z(value: datetime | None) -> str | None:
    """v4: ``2024-12-25T10:00:00Z``."""
    return as_utc(value).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def v3_date(value: datetime | None) -> str:
    """v3: ``2017-1-11 15:52:42`` — month and day unpadded, the time padded (``15:53:00`` in seed 001)."""
    if value is None:
        return ""
    v = as_utc(value)
    return f"{v.year}-{v.month}-{v.day} {v.hour:02d}:{v.minute:02d}:{v.second:02d}"
