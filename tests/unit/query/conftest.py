"""The hand-written fixture datasets as snapshot tables, and a helper that runs a query on them."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest

from dlserve.query import compile_query
from dlserve.records.schema import BUSINESSES, PRODUCTS, DataTypeSchema
from tests.support.fixture_tables import BUSINESS_RECORDS, PRODUCT_RECORDS, Record, snapshot_connection


class Dataset:
    def __init__(self, schema: DataTypeSchema, records: list[Record]) -> None:
        self.schema = schema
        self.records = records
        self.connection: duckdb.DuckDBPyConnection = snapshot_connection(schema, records)

    def ids(self, query: str) -> list[str]:
        """Ids of the records ``query`` matches, in load order."""
        compiled = compile_query(self.schema, query)
        rows = self.connection.execute(
            f"SELECT id FROM t WHERE {compiled.sql} ORDER BY _seq", compiled.params
        )
        return [row[0] for row in rows.fetchall()]

    def all_ids(self) -> list[str]:
        return [record["id"] for record in self.records]

    def all_but(self, *excluded: str) -> list[str]:
        return [i for i in self.all_ids() if i not in excluded]


@pytest.fixture(scope="session")
def businesses() -> Iterator[Dataset]:
    dataset = Dataset(BUSINESSES, BUSINESS_RECORDS)
    yield dataset
    dataset.connection.close()


@pytest.fixture(scope="session")
def products() -> Iterator[Dataset]:
    dataset = Dataset(PRODUCTS, PRODUCT_RECORDS)
    yield dataset
    dataset.connection.close()
