"""CSV parts written by DuckDB's own CSV writer from the snapshot's typed columns.

The fast path of a CSV part: no record's JSON is parsed and no line passes through Python. It is
taken only when every record of the part is *exact* (:mod:`dlserve.records.typed_cells`: its
typed columns spell every cell as the stored JSON does), and it writes the same bytes as the JSON
renderer (:func:`dlserve.downloads.sql_render.csv_line_select`) — a test holds the two to it:

- cells as :func:`dlserve.records.typed_cells.cell` spells them, empty strings as NULL: DuckDB's
  writer quotes an empty string (``""``) but writes NULL as nothing, as our renderer writes both;
- DuckDB's writer, without a comment character, quotes exactly the cells holding ``"``, ``,``,
  CR or LF, and doubles quotes (RFC 4180 minimal quoting), as :func:`csv_quote` does;
- lines end in CRLF; the header is the column names, quoted by the same rule.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from dlserve.records import typed_cells
from dlserve.records.layout import quote_ident
from dlserve.records.render import csv_layout
from dlserve.records.schema import DataTypeSchema
from dlserve.records.views import View

COPY_OPTIONS = "FORMAT csv, HEADER true, NEW_LINE '\\r\\n', COMMENT '', QUOTE '\"', ESCAPE '\"'"
# Written in place, appending only, so the part writer can hash the file while it grows.
_IN_PLACE = "USE_TMP_FILE false"


def has_exact_column(cursor: duckdb.DuckDBPyConnection, scan_glob: str) -> bool:
    """Whether the snapshot records exactness (snapshots loaded before it was added do not)."""
    rows = cursor.execute("DESCRIBE SELECT * FROM read_parquet(?)", [scan_glob]).fetchall()
    return any(row[0] == typed_cells.EXACT_COLUMN for row in rows)


def part_summary(cursor: duckdb.DuckDBPyConnection, records: str, params: list[object]) -> tuple[int, bool]:
    """(records in the part, whether all of them are exact): reads two small columns."""
    row = cursor.execute(
        f"SELECT count(*), coalesce(bool_and({typed_cells.EXACT_COLUMN}), true) FROM {records}", params
    ).fetchone()
    assert row is not None
    return int(row[0]), bool(row[1])


def cells_select(view: View, schema: DataTypeSchema, records: str) -> str:
    """SELECT of the CSV cells (columns named as the header) over ``records`` (every column)."""
    layout = csv_layout(view, schema)
    flattened = layout.flattened
    cells: list[str] = []
    for column in layout.columns:
        value = f"e.{quote_ident(column.spec.name)}" if column.element else quote_ident(column.spec.name)
        cells.append(f"NULLIF({typed_cells.cell(column.spec, value)}, '') AS {quote_ident(column.name)}")
    source = records
    if flattened is not None:
        elements = quote_ident(flattened.name)
        source = (
            f"(SELECT *, unnest(CASE WHEN len({elements}) > 0 THEN {elements} ELSE [NULL] END) AS e "
            f"FROM {records})"
        )
    return f"SELECT {', '.join(cells)} FROM {source}"


def copy_csv(cursor: duckdb.DuckDBPyConnection, select: str, params: list[object], target: Path) -> int:
    """Write ``select`` as a CSV file at ``target``; the number of lines below the header."""
    path = str(target).replace("'", "''")
    row = cursor.execute(f"COPY ({select}) TO '{path}' ({COPY_OPTIONS}, {_IN_PLACE})", params).fetchone()
    return int(row[0]) if row else 0


__all__ = ["cells_select", "copy_csv", "has_exact_column", "part_summary"]
