"""A real Tantivy index over a handful of records, built by the loader's own index builder from a
Parquet part in the real snapshot layout (:mod:`tests.support.fixture_tables`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from dlserve.records.schema import DataTypeSchema
from dlserve.search.build import build_index
from dlserve.search.tantivy_index import TantivySearchIndex
from tests.support.fixture_tables import Record, snapshot_connection


def build_test_index(
    schema: DataTypeSchema, records: Sequence[Record], directory: Path
) -> TantivySearchIndex:
    part = directory / "part-000000.parquet"
    connection = snapshot_connection(schema, records)
    try:
        connection.execute(f"COPY (SELECT * FROM t ORDER BY _seq) TO '{part}' (FORMAT parquet)")
    finally:
        connection.close()
    build_index(schema, [part], directory / "index", threads=1)
    return TantivySearchIndex(directory / "index")
