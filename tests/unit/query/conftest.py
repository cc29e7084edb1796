"""The hand-written fixture datasets as snapshot tables, and a helper that runs a query on them.

Every query a test runs here also runs through the dataset's Tantivy index (the interactive
path), which must find the same records in the same order: each hand-written case is a
differential test of the index against the SQL compiler, and the tests' own expectations stay
what they were.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from dlserve.query import compile_query
from dlserve.query.parse import parse_query
from dlserve.records.schema import BUSINESSES, PRODUCTS, DataTypeSchema
from tests.support.fixture_tables import BUSINESS_RECORDS, PRODUCT_RECORDS, Record, snapshot_connection
from tests.support.search_index import build_test_index


class Dataset:
    def __init__(self, schema: DataTypeSchema, records: list[Record]) -> None:
        self.schema = schema
        self.records = records
        self.connection: duckdb.DuckDBPyConnection = snapshot_connection(schema, records)
        self._index_dir = tempfile.TemporaryDirectory()
        self.index = build_test_index(schema, records, Path(self._index_dir.name))

    def close(self) -> None:
        self.connection.close()
        self._index_dir.cleanup()

    def ids(self, query: str) -> list[str]:
        """Ids of the records ``query`` matches, in load order (the same through SQL and the index)."""
        compiled = compile_query(self.schema, query)
        rows = self.connection.execute(
            f"SELECT id FROM t WHERE {compiled.sql} ORDER BY _seq", compiled.params
        )
        found = [row[0] for row in rows.fetchall()]
        tree = parse_query(self.schema, query)
        indexed = [json.loads(record)["id"] for record in self.index.records(tree, len(self.records) + 1)]
        assert (indexed, self.index.count(tree)) == (found, len(found)), (
            f"index and SQL disagree on {query!r}"
        )
        return found

    def all_ids(self) -> list[str]:
        return [record["id"] for record in self.records]

    def all_but(self, *excluded: str) -> list[str]:
        return [i for i in self.all_ids() if i not in excluded]


@pytest.fixture(scope="session")
def businesses() -> Iterator[Dataset]:
    dataset = Dataset(BUSINESSES, BUSINESS_RECORDS)
    yield dataset
    dataset.close()


@pytest.fixture(scope="session")
def products() -> Iterator[Dataset]:
    dataset = Dataset(PRODUCTS, PRODUCT_RECORDS)
    yield dataset
    dataset.close()
