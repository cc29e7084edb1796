"""CSV parts written by DuckDB's own CSV writer from the snapshot's typed columns.

The fast path of a CSV part: no record's JSON is parsed and no line passes through Python. It is
taken for the *exact* records (:mod:`dlserve.records.typed_cells`: their typed columns spell
every cell as the stored JSON does); the part is cut into ranges of ``_seq`` around its inexact
records (:func:`part_ranges`), which the JSON renderer writes, so one unusual spelling (a rating
of ``5.0``) costs one record's JSON rendering, not its whole part's. It writes the same bytes as
the JSON renderer (:func:`dlserve.downloads.sql_render.csv_line_select`) — a test holds the two
to it:

- cells as :func:`dlserve.records.typed_cells.cell` spells them, empty strings as NULL: DuckDB's
  writer quotes an empty string (``""``) but writes NULL as nothing, as our renderer writes both;
- DuckDB's writer, without a comment character, quotes exactly the cells holding ``"``, ``,``,
  CR or LF, and doubles quotes (RFC 4180 minimal quoting), as :func:`csv_quote` does;
- lines end in CRLF; the header is the column names, quoted by the same rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from dlserve.records import typed_cells
from dlserve.records.layout import quote_ident
from dlserve.records.render import csv_layout
from dlserve.records.schema import DataTypeSchema
from dlserve.records.views import View

# With HEADER true or false added: a part's first range writes the header, later ranges do not.
COPY_OPTIONS = "FORMAT csv, NEW_LINE '\\r\\n', COMMENT '', QUOTE '\"', ESCAPE '\"'"
# Written in place, appending only, so the part writer can hash the file while it grows.
_IN_PLACE = "USE_TMP_FILE false"
# Past this many ranges a part is written by the JSON renderer alone: each range is one more query
# over the snapshot (~10-30 ms), and records this scattered are no longer the rare exception.
MAX_RANGES = 33


@dataclass(frozen=True)
class SeqRange:
    """The part's records with ``after < _seq <= through``, rendered from the typed columns or
    (``typed`` False) from the stored JSON."""

    after: int
    through: int
    typed: bool


def has_exact_column(cursor: duckdb.DuckDBPyConnection, scan: str | list[str]) -> bool:
    """Whether the snapshot records exactness (snapshots loaded before it was added do not)."""
    rows = cursor.execute("DESCRIBE SELECT * FROM read_parquet(?)", [scan]).fetchall()
    return any(row[0] == typed_cells.EXACT_COLUMN for row in rows)


def part_summary(cursor: duckdb.DuckDBPyConnection, records: str, params: list[object]) -> tuple[int, bool]:
    """(records in the part, whether all of them are exact): reads two small columns."""
    row = cursor.execute(
        f"SELECT count(*), coalesce(bool_and({typed_cells.EXACT_COLUMN}), true) FROM {records}", params
    ).fetchone()
    assert row is not None
    return int(row[0]), bool(row[1])


def part_ranges(
    cursor: duckdb.DuckDBPyConnection, records: str, params: list[object], after: int, expected: int
) -> list[SeqRange] | None:
    """The part (``records``: every match with ``after < _seq <= through``) as consecutive ranges,
    typed or not, in ``_seq`` order; None when the part should be rendered from JSON alone (it does
    not hold the ``expected`` number of records, or its inexact records are scattered over more
    than :data:`MAX_RANGES` ranges). One scan of two small columns: each inexact record comes with
    the ``_seq`` of the match before it, so no range holds no record."""
    row = cursor.execute(
        f"SELECT count(*), max(_seq), list([previous, _seq] ORDER BY _seq) "
        f"FILTER (WHERE NOT coalesce({typed_cells.EXACT_COLUMN}, false)) "
        f"FROM (SELECT _seq, {typed_cells.EXACT_COLUMN}, "
        f"lag(_seq, 1, {int(after)}) OVER (ORDER BY _seq) AS previous FROM {records})",
        params,
    ).fetchone()
    assert row is not None
    count, last, inexact = int(row[0]), row[1], row[2] or []
    if count != expected:
        return None
    ranges: list[SeqRange] = []
    done = after  # every match up to here has its range
    for previous, seq in inexact:
        if previous > done:
            ranges.append(SeqRange(done, previous, typed=True))
        if ranges and not ranges[-1].typed:  # the inexact record right after another: one range
            ranges[-1] = SeqRange(ranges[-1].after, seq, typed=False)
        else:
            ranges.append(SeqRange(previous, seq, typed=False))
        done = seq
    if last is not None and last > done:
        ranges.append(SeqRange(done, int(last), typed=True))
    return ranges if len(ranges) <= MAX_RANGES else None


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


def copy_csv(
    cursor: duckdb.DuckDBPyConnection, select: str, params: list[object], target: Path, *, header: bool = True
) -> int:
    """Write ``select`` as a CSV file at ``target``, with the header line or without; the number
    of lines below the header."""
    path = str(target).replace("'", "''")
    options = f"{COPY_OPTIONS}, HEADER {'true' if header else 'false'}, {_IN_PLACE}"
    row = cursor.execute(f"COPY ({select}) TO '{path}' ({options})", params).fetchone()
    return int(row[0]) if row else 0


__all__ = ["SeqRange", "cells_select", "copy_csv", "has_exact_column", "part_ranges", "part_summary"]
