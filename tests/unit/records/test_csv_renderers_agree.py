"""The exporter renders CSV in DuckDB, previews render it in Python: both must write the same cells."""

from __future__ import annotations

import csv
import io
from itertools import islice
from typing import Any

import duckdb
import orjson
import pytest

from dlserve.catalog.formats import csv_line
from dlserve.demo import generate_records
from dlserve.downloads.sql_render import csv_header, csv_line_select, json_line_select
from dlserve.records.render import csv_columns, csv_rows, project
from dlserve.records.schema import SCHEMAS
from dlserve.records.views import VIEWS, View
from tests.support.field_lists import sample_field_lists

AWKWARD: list[dict[str, Any]] = [
    {
        "id": "q1",
        "name": 'He said "hi", then\nleft',
        "latitude": 5.0,
        "longitude": -97.125,
        "categories": ["A,B", "C"],
    },
    {"id": "q2", "name": "Ünïcødé ☕", "reviews": [], "features": [{"key": "k", "value": ["x", "y, z"]}]},
    {
        "id": "q3",
        "reviews": [{"rating": 4.5, "text": "line1\r\nline2", "username": None}, {}],
        "extra": {"a": [1]},
    },
    {"id": "q4", "prices": [{"amountMin": 10, "amountMax": 1e10, "isSale": True}], "upc": []},
    {"id": "q5", "statuses": [{"type": "For Sale", "date": "2020-01-01T00:00:00Z"}], "numBedroom": 3},
]


def records_for(data_type: str) -> list[dict[str, Any]]:
    return [*islice(generate_records(data_type, 120, seed=11), 120), *AWKWARD]


def table(records: list[dict[str, Any]]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("CREATE TABLE t (_seq BIGINT, _record VARCHAR)")
    con.executemany(
        "INSERT INTO t VALUES (?, ?)", [(i + 1, orjson.dumps(r).decode()) for i, r in enumerate(records)]
    )
    return con


@pytest.mark.parametrize(
    ("data_type", "view_name"), [(data_type, name) for data_type, views in VIEWS.items() for name in views]
)
def test_sql_and_python_csv_are_identical(data_type: str, view_name: str) -> None:
    schema = SCHEMAS[data_type]
    view = VIEWS[data_type][view_name]
    records = records_for(data_type)
    sql_lines = [row[1] for row in table(records).execute(csv_line_select(view, schema, "t")).fetchall()]
    python_lines = [csv_line(row) for record in records for row in csv_rows(view, schema, record)]
    assert sql_lines == python_lines
    assert csv_header(view, schema) == csv_line(csv_columns(view, schema))
    # and every line is one well-formed CSV row of the header's width
    width = len(csv_columns(view, schema))
    parsed = list(csv.reader(io.StringIO("\r\n".join(sql_lines))))
    assert all(len(row) == width for row in parsed)


@pytest.mark.parametrize(
    ("data_type", "view_name"), [(data_type, name) for data_type, views in VIEWS.items() for name in views]
)
def test_sql_json_lines_match_the_python_projection(data_type: str, view_name: str) -> None:
    view = VIEWS[data_type][view_name]
    records = records_for(data_type)
    select = json_line_select(view, "t")
    assert select is not None
    lines = [row[1] for row in table(records).execute(select).fetchall()]
    assert [orjson.loads(line) for line in lines] == [project(view, r) for r in records]


@pytest.mark.parametrize("data_type", sorted(SCHEMAS))
def test_sql_and_python_csv_are_identical_for_field_lists(data_type: str) -> None:
    schema = SCHEMAS[data_type]
    records = records_for(data_type)
    views: list[View] = sample_field_lists(schema)
    assert views
    for view in views:
        sql_lines = [row[1] for row in table(records).execute(csv_line_select(view, schema, "t")).fetchall()]
        python_lines = [csv_line(row) for record in records for row in csv_rows(view, schema, record)]
        assert sql_lines == python_lines, view.name
        assert csv_columns(view, schema) == list(view.paths or ())  # exactly the list, in order
        width = len(view.paths or ())
        assert all(len(row) == width for row in csv.reader(io.StringIO("\r\n".join(sql_lines))))


@pytest.mark.parametrize("data_type", sorted(SCHEMAS))
def test_sql_json_lines_of_field_lists_are_the_python_projection_in_order(data_type: str) -> None:
    records = [*records_for(data_type), {"id": "n1", "reviews": None, "prices": [1, None, {"x": 1}]}]
    for view in sample_field_lists(SCHEMAS[data_type]):
        select = json_line_select(view, "t")
        if view.sub_fields:  # the exporter narrows nested lists in Python, with project itself
            assert select is None
            continue
        assert select is not None
        lines = [row[1] for row in table(records).execute(select).fetchall()]
        parsed = [orjson.loads(line) for line in lines]
        expected = [project(view, r) for r in records]
        assert parsed == expected, view.name
        assert [list(p) for p in parsed] == [list(e) for e in expected]  # the list's order too
        for got, want in zip(parsed, expected, strict=True):
            for name, value in want.items():
                if isinstance(value, list):
                    assert [list(e) if isinstance(e, dict) else e for e in got[name]] == [
                        list(e) if isinstance(e, dict) else e for e in value
                    ]
