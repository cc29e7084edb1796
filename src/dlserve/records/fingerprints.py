"""Record fingerprints: per record, a 64-bit content hash of its stored JSON (``_record``).

The loader writes it as the ``_fingerprint`` column of every part, in the same DuckDB statement
that writes the part (no second pass over the input), so it travels with the snapshot wherever
its parts go (S3, the snapshot cache). Delta downloads (:mod:`dlserve.records.delta`) compare
``(id, fingerprint)`` between two snapshots.

The hash is the low 64 bits of MD5: a fixed, documented function, so a fingerprint written by one
DuckDB version compares equal to one computed by the next. (DuckDB's own ``hash()`` is faster but
may change between versions, which would make every record look changed after an upgrade.) A
snapshot loaded before fingerprints existed has no column; its fingerprints are computed from
``_record`` when a delta reads it, with the same function, so they compare with stored ones.

The JSON is hashed exactly as stored: a record re-exported with other whitespace or key order
counts as changed.
"""

from __future__ import annotations

import duckdb

from dlserve.records.snapshots import PART_GLOB

FINGERPRINT_COLUMN = "_fingerprint"
FINGERPRINT_SQL = "md5_number_lower(_record)"


def fingerprint_select() -> str:
    """The column as the loader adds it to a part's SELECT."""
    return f"{FINGERPRINT_SQL} AS {FINGERPRINT_COLUMN}"


def has_fingerprints(con: duckdb.DuckDBPyConnection, directory: str) -> bool:
    """Whether a snapshot's parts (in local ``directory``) store the column."""
    rows = con.execute(
        "SELECT column_name FROM (DESCRIBE SELECT * FROM read_parquet(?))", [f"{directory}/{PART_GLOB}"]
    ).fetchall()
    return any(row[0] == FINGERPRINT_COLUMN for row in rows)


def fingerprint_expression(stored: bool) -> str:
    """SQL for a record's fingerprint: the stored column, or computed the same way."""
    return FINGERPRINT_COLUMN if stored else FINGERPRINT_SQL
