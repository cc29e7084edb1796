"""Pages of queries with many matches are looked for in a window of ``_seq`` values first
(``TantivySearchIndex._matches``), deep pages near where their first match should be. Here the
thresholds are lowered to this dataset's size, so that windows are used, found sufficient and
found short (matches all at the start, all at the end, evenly spread), on shallow and deep pages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dlserve.query import compile_query
from dlserve.query.parse import parse_query
from dlserve.records.schema import BUSINESSES
from dlserve.search import tantivy_index
from dlserve.search.tantivy_index import TantivySearchIndex
from tests.support.fixture_tables import Record, snapshot_connection
from tests.support.search_index import build_test_index

SIZE = 3000


def business(n: int) -> Record:
    categories = ["Hotels"] if n % 3 == 0 else ["Restaurants"]
    if n >= SIZE - 200:
        categories.append("Late")  # every match at the end: the first window is too short
    if n < 40:
        categories.append("Early")  # every match at the start
    record: Record = {"id": f"r{n:05d}", "name": f"Place {n}", "categories": categories, "city": "Austin"}
    if n % 7 == 0:
        record["websites"] = [f"https://example.com/{n}"]
    return record


RECORDS = [business(n) for n in range(SIZE)]


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> TantivySearchIndex:
    return build_test_index(BUSINESSES, RECORDS, Path(tmp_path_factory.mktemp("first-matches")))


def sql_ids(query: str) -> list[str]:
    compiled = compile_query(BUSINESSES, query)
    connection = snapshot_connection(BUSINESSES, RECORDS)
    try:
        rows = connection.execute(f"SELECT id FROM t WHERE {compiled.sql} ORDER BY _seq", compiled.params)
        return [row[0] for row in rows.fetchall()]
    finally:
        connection.close()


@pytest.mark.parametrize(
    "query",
    [
        "categories:hotels",
        "NOT categories:hotels",
        "categories:late",
        "NOT categories:late",
        "categories:early",
        "NOT categories:early",
        "websites:*",
        "NOT websites:*",
        "categories:nothing",
        "NOT categories:nothing",
        "categories:hotels AND NOT categories:late",  # (counted first on deep pages)
        "city:austin AND categories:late",
    ],
)
@pytest.mark.parametrize("small_thresholds", [False, True])
def test_pages_are_the_sql_ones(
    index: TantivySearchIndex, query: str, small_thresholds: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if small_thresholds:
        monkeypatch.setattr(tantivy_index, "_WINDOW_MIN_MATCHES", 1)
        monkeypatch.setattr(tantivy_index, "_DEEP_OFFSET", 20)
    expected = sql_ids(query)
    tree = parse_query(BUSINESSES, query)
    assert index.count(tree) == len(expected)
    pages = [(0, 1), (0, 10), (5, 10), (0, 50), (37, 13), (300, 100), (1200, 7), (1999, 50)]
    for offset, limit in [*pages, (max(0, len(expected) - 3), 10), (len(expected), 5)]:
        count, page = index.page(tree, limit, offset)
        assert count == len(expected), (query, offset, limit)
        assert [json.loads(r)["id"] for r in page] == expected[offset : offset + limit], (
            query,
            offset,
            limit,
        )
