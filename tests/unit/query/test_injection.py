"""User text is data: it travels as parameters and never reaches the SQL string."""

from __future__ import annotations

import pytest

from dlserve.errors import Invalid
from dlserve.query import compile_query
from dlserve.records.schema import BUSINESSES
from tests.unit.query.conftest import Dataset


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('name:"x\') OR 1=1 --"', []),
        ('websites:"x\') OR 1=1 --"', ["b08"]),
        ('websites:"back\\\\slash\\"quote"', ["b08"]),  # escapes in a phrase: back\slash"quote
        ("city:O'Fallon", ["b08"]),
        ("city:O\\'Fallon", ["b08"]),
        ('name:"Robert\'); DROP TABLE t;--"', ["b08"]),
        ("name:robert\\'\\)\\;", ["b08"]),
        ("city:x'", []),
        ('city:"\\""', []),
        ("websites:x'*", ["b08"]),
    ],
)
def test_quotes_and_sql_are_matched_as_data(businesses: Dataset, query: str, expected: list[str]) -> None:
    assert businesses.ids(query) == expected
    assert businesses.connection.execute("SELECT count(*) FROM t").fetchone() == (12,)


@pytest.mark.parametrize(
    "query",
    [
        'name:"zq\') OR 1=1 --"',
        "city:zq'||'",
        'websites:"zq\\"; DROP TABLE t; --"',
        "city:[zq' TO zq'z]",
        "name:zq\\)\\)\\)*",
        "zq'\"\\\\",
        "dateAdded:\"2017-01-01' OR '1'='1\"",
    ],
)
def test_user_text_never_reaches_the_sql_string(query: str) -> None:
    try:
        compiled = compile_query(BUSINESSES, query)
    except Invalid:
        return  # refusing is fine too: nothing was built from the text
    assert "zq" not in compiled.sql
    assert "'1'" not in compiled.sql
    assert compiled.sql.count("?") == len(compiled.params)


def test_sql_contains_only_fixed_text_and_schema_identifiers() -> None:
    compiled = compile_query(BUSINESSES, 'name:"drop table" AND city:austin AND reviews.rating:>3')
    assert "drop" not in compiled.sql.lower()
    assert "austin" not in compiled.sql.lower()
    assert compiled.params == [" drop table ", "austin", 3.0]
