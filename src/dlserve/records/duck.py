"""DuckDB connections that read snapshots.

Every query over a snapshot opens all its Parquet parts (``read_parquet`` of the part glob) and,
uncached, parses each part's footer again: ~85 ms per query at 30 parts (3M records), growing with
the snapshot — an export runs a few queries per 100,000-record part, so that overhead grew with
the square of the dataset. Parts are immutable once published, so their footers are cached by the
connection (DuckDB's ``parquet_metadata_cache``, which also checks each file's modification time):
the same query then takes ~10 ms.
"""

from __future__ import annotations

from typing import Any

import duckdb


def connect(config: dict[str, Any]) -> duckdb.DuckDBPyConnection:
    """A DuckDB instance with ``config`` that keeps the Parquet footers it has read."""
    con = duckdb.connect(config=config)
    # Not settable in ``config``: the setting belongs to the Parquet extension, loaded on first use.
    con.execute("SET parquet_metadata_cache = true")
    return con


__all__ = ["connect"]
