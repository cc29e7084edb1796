"""The index path against the SQL path, on the random datasets and queries of the property suite.

The same hypothesis strategies as tests/unit/query/test_against_evaluator.py; for each query the
Python evaluator (the referee), the DuckDB SQL and the Tantivy index must give the same ids in the
same order, and the index's count must be their number. The hand-written cases of
tests/unit/query run through both paths too (see its conftest).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlserve.query.parse import parse_query
from dlserve.records.schema import BUSINESSES, PRODUCTS, DataTypeSchema
from dlserve.search.layout import exists_paths
from dlserve.search.tantivy_index import TantivySearchIndex
from tests.support.query_eval import matching_ids
from tests.support.search_index import build_test_index
from tests.unit.query.test_against_evaluator import PROPERTY, RandomDataset, clauses, queries


class IndexedDataset(RandomDataset):
    def __init__(self, schema: DataTypeSchema, seed: int, directory: Path) -> None:
        super().__init__(schema, seed)
        self.index: TantivySearchIndex = build_test_index(schema, self.records, directory)

    def index_ids(self, query: str) -> tuple[list[str], int]:
        tree = parse_query(self.schema, query)
        records = self.index.records(tree, len(self.records) + 1)
        return [json.loads(record)["id"] for record in records], self.index.count(tree)


def indexed(schema: DataTypeSchema, seed: int) -> Iterator[IndexedDataset]:
    with tempfile.TemporaryDirectory() as directory:
        dataset = IndexedDataset(schema, seed, Path(directory))
        yield dataset
        dataset.connection.close()


@pytest.fixture(scope="module")
def indexed_businesses() -> Iterator[IndexedDataset]:
    yield from indexed(BUSINESSES, seed=20170101)


@pytest.fixture(scope="module")
def indexed_products() -> Iterator[IndexedDataset]:
    yield from indexed(PRODUCTS, seed=4242)


def check(dataset: IndexedDataset, query: str) -> None:
    expected = matching_ids(dataset.schema, query, dataset.records)
    assert dataset.sql_ids(query) == expected, query
    assert dataset.index_ids(query) == (expected, len(expected)), query


@PROPERTY
@given(query=queries(BUSINESSES))
def test_businesses_index_agrees_with_sql_and_evaluator(
    indexed_businesses: IndexedDataset, query: str
) -> None:
    check(indexed_businesses, query)


@PROPERTY
@given(query=queries(PRODUCTS))
def test_products_index_agrees_with_sql_and_evaluator(indexed_products: IndexedDataset, query: str) -> None:
    check(indexed_products, query)


Spelled = tuple[str, str]  # (the query with AND/OR/NOT, the same with some &&/||/! instead)


def spellings(schema: DataTypeSchema) -> st.SearchStrategy[Spelled]:
    """Random queries written twice: with the operator words, and with a random mix of the symbols."""

    def extend(inner: st.SearchStrategy[Spelled]) -> st.SearchStrategy[Spelled]:
        pair = st.tuples(inner, inner, st.booleans())
        return st.one_of(
            pair.map(
                lambda p: (f"{p[0][0]} AND {p[1][0]}", f"{p[0][1]} {'&&' if p[2] else 'AND'} {p[1][1]}")
            ),
            pair.map(
                lambda p: (f"({p[0][0]} OR {p[1][0]})", f"({p[0][1]} {'||' if p[2] else 'OR'} {p[1][1]})")
            ),
            pair.map(lambda p: (f"{p[0][0]} OR {p[1][0]}", f"{p[0][1]} || {p[1][1]}")),
            pair.map(lambda p: (f"{p[0][0]} AND NOT {p[1][0]}", f"{p[0][1]} && !{p[1][1]}")),
            pair.map(
                lambda p: (
                    f"({p[0][0]}) OR NOT {p[1][0]}",
                    f"({p[0][1]})||!{p[1][1]}",
                )
            ),
            inner.map(lambda q: (f"NOT {q[0]}", f"!{q[1]}")),
            inner.map(lambda q: (f"NOT ({q[0]})", f"!({q[1]})")),
            inner.map(lambda q: (f"NOT NOT {q[0]}", f"!!{q[1]}")),
        )

    leaves = st.one_of(
        clauses(schema),
        st.sampled_from([path for path in _exists_paths(schema)]).map(lambda p: f"{p}:*"),
    ).map(lambda clause: (clause, clause))
    exists = st.sampled_from(_exists_paths(schema)).map(lambda p: (f"{p}:*", f"_exists_:{p}"))
    return st.recursive(st.one_of(leaves, exists), extend, max_leaves=6)


def _exists_paths(schema: DataTypeSchema) -> list[str]:
    return [field.path for field in exists_paths(schema)]


@PROPERTY
@given(spelled=spellings(BUSINESSES))
def test_operator_symbols_mean_their_words(indexed_businesses: IndexedDataset, spelled: Spelled) -> None:
    worded, symbols = spelled
    assert parse_query(BUSINESSES, symbols) == parse_query(BUSINESSES, worded), spelled
    check(indexed_businesses, symbols)
    assert indexed_businesses.sql_ids(symbols) == indexed_businesses.sql_ids(worded)


def test_pages_and_lookups_match_sql(indexed_businesses: IndexedDataset) -> None:
    """Offsets (pages) keep the order; a lookup by id is exact (ids are case-sensitive)."""
    tree = parse_query(BUSINESSES, "NOT name:hilton")
    everything = indexed_businesses.sql_ids("NOT name:hilton")
    for offset, limit in [
        (0, 7),
        (7, 7),
        (100, 30),
        (len(everything) - 1, 5),
        (len(everything), 5),
        (10**12, 3),
    ]:
        page = [json.loads(r)["id"] for r in indexed_businesses.index.records(tree, limit, offset)]
        assert page == everything[offset : offset + limit]
    assert indexed_businesses.index.page(tree, 3, 10**12) == (len(everything), [])
    every_id = indexed_businesses.sql_ids("*")  # pages of everything are ranges of _seq
    for offset, limit in [(0, 10), (17, 13), (140, 20), (150, 1)]:
        count, page = indexed_businesses.index.page(parse_query(BUSINESSES, "*"), limit, offset)
        assert (count, [json.loads(r)["id"] for r in page]) == (
            len(every_id),
            every_id[offset : offset + limit],
        )
    assert indexed_businesses.index.page(tree, 0) == (len(everything), [])
    record = indexed_businesses.index.lookup("r042")
    assert record is not None
    assert json.loads(record)["id"] == "r042"
    assert indexed_businesses.index.lookup("R042") is None
