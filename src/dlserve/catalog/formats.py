"""Output formats a client may ask for (``JSON``/``CSV``/``PARQUET`` in any case).

Parquet is a bulk-download format only: previews and pages are JSON bodies (see
:func:`dlserve.catalog.services.require_inline`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from enum import StrEnum

from dlserve.errors import ErrorDetail, Invalid


class OutputFormat(StrEnum):
    JSON = "json"
    CSV = "csv"
    PARQUET = "parquet"


def parse_format(value: str | None) -> OutputFormat:
    if value is None or value == "":
        return OutputFormat.JSON
    try:
        return OutputFormat(value.lower())
    except ValueError:
        raise Invalid(
            f"Unknown format '{value}'", [ErrorDetail("format", "format must be JSON, CSV or PARQUET")]
        ) from None


def csv_line(cells: Iterable[str]) -> str:
    """One RFC 4180 row (quoted where needed), without its line ending.

    The writer must know CRLF is the line ending: it quotes a cell holding CR or LF only then.
    """
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(list(cells))
    return buffer.getvalue().removesuffix("\r\n")
