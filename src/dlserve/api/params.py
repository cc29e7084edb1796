"""Parsing numbers and ids from the wire without surprises.

``str.isdigit`` is true for ``"²"`` and ``"١٢"`` (which ``int`` then refuses or reads as 12), and
``int`` refuses strings of more than 4,300 digits; a database refuses integers past 64 bits. Each
of those used to surface as a 500. Everything here accepts ASCII digits only, bounded to a signed
64-bit integer, and answers anything else with a 4xx the caller chooses.
"""

from __future__ import annotations

from dlserve.errors import ErrorDetail, Invalid

# The largest value a BIGINT column (and SQLite's integer) holds.
MAX_INT64 = 2**63 - 1
_MAX_DIGITS = len(str(MAX_INT64))


def ascii_digits(raw: str) -> bool:
    return raw.isascii() and raw.isdigit()


def parse_id(raw: str) -> int | None:
    """A database id written in ASCII digits, or None (callers answer 404: ids reveal nothing)."""
    if not ascii_digits(raw) or len(raw) > _MAX_DIGITS:
        return None
    value = int(raw)
    return value if value <= MAX_INT64 else None


def parse_count(raw: str, field: str) -> int:
    """A non-negative whole number of at most 64 bits, or a 400 naming ``field``."""
    text = raw.strip()
    if not ascii_digits(text) or len(text.lstrip("0")) > _MAX_DIGITS or int(text) > MAX_INT64:
        message = f"{field} must be a whole number between 0 and {MAX_INT64}"
        raise Invalid(f"{message}, not '{raw[:40]}'", [ErrorDetail(field, message)])
    return int(text)
