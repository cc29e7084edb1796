"""Reading the values a query compares with: numbers, booleans, dates and geo circles.

Each reader raises :class:`BadValueError` with a short reason; :mod:`parse` adds the field and the
position, which it alone knows.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from dlserve.query.nodes import KM_PER_MILE, GeoDistance

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIMESTAMP = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[Zz]|[+-]\d{2}(?::?\d{2})?)?"
)
_UNITS_KM = {"km": 1.0, "mi": KM_PER_MILE}


class BadValueError(ValueError):
    pass


def parse_number(text: str) -> float:
    # float() alone would also take "nan", "inf" and "1_000", none of which is a number to compare.
    if not _NUMBER.fullmatch(text):
        raise BadValueError("not a number")
    value = float(text)
    if not math.isfinite(value):
        raise BadValueError("number out of range")
    return value


def parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered not in ("true", "false"):
        raise BadValueError("use true or false")
    return lowered == "true"


@dataclass(frozen=True)
class DateValue:
    """A point in time, or (``whole_day``) the day starting at ``start``, naive UTC."""

    start: datetime
    whole_day: bool

    @property
    def day_end(self) -> datetime:
        """The first instant after the day (only meaningful for ``whole_day``)."""
        try:
            return self.start + timedelta(days=1)
        except OverflowError:
            # 9999-12-31 has no next day in Python; its last microsecond is as good.
            return datetime.max


def parse_date(text: str) -> DateValue:
    """``YYYY-MM-DD`` (a whole day) or an ISO timestamp; an offset or ``Z`` is converted to UTC."""
    whole_day = bool(_DATE.fullmatch(text))
    if not whole_day and not _TIMESTAMP.fullmatch(text):
        raise BadValueError("use YYYY-MM-DD or an ISO timestamp like 2017-01-31T12:00:00Z")
    try:
        parsed = datetime.fromisoformat(text.upper())
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    except (ValueError, OverflowError) as exc:
        raise BadValueError(str(exc)) from None
    return DateValue(parsed, whole_day)


def parse_geo(text: str) -> GeoDistance:
    """``[longitude,latitude,distance,unit]`` as Datafiniti writes it; unit ``mi`` or ``km``."""
    if not (text.startswith("[") and text.endswith("]")):
        raise BadValueError("expected [longitude,latitude,distance,unit]")
    parts = [part.strip() for part in text[1:-1].split(",")]
    if len(parts) != 4:
        raise BadValueError("expected 4 values [longitude,latitude,distance,unit], e.g. [-97.74,30.27,10,mi]")
    longitude = _geo_number(parts[0], "longitude")
    latitude = _geo_number(parts[1], "latitude")
    distance = _geo_number(parts[2], "distance")
    unit = parts[3].lower()
    if not -180.0 <= longitude <= 180.0:
        raise BadValueError(f"longitude {parts[0]} is outside -180..180")
    if not -90.0 <= latitude <= 90.0:
        raise BadValueError(f"latitude {parts[1]} is outside -90..90")
    if distance < 0:
        raise BadValueError(f"distance {parts[2]} is negative")
    if unit not in _UNITS_KM:
        raise BadValueError(f"unit {parts[3]!r} is not mi or km")
    return GeoDistance(longitude=longitude, latitude=latitude, radius_km=distance * _UNITS_KM[unit])


def _geo_number(text: str, what: str) -> float:
    try:
        return parse_number(text)
    except BadValueError:
        raise BadValueError(f"{what} {text!r} is not a number") from None
