"""Geo circles through the grid cells against the SQL path, where the cells could go wrong: records
on cell edges and on the circle's edge, coordinates outside -90..90 / -180..180, a missing half,
circles near the antimeridian and the poles (the ranges' fallback), and large circles."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from dlserve.query import compile_query
from dlserve.query.nodes import GeoDistance
from dlserve.query.parse import parse_query
from dlserve.records.schema import BUSINESSES
from dlserve.search.geo import _covering_cells
from dlserve.search.layout import tantivy_schema
from dlserve.search.tantivy_index import TantivySearchIndex
from tests.support.fixture_tables import Record, snapshot_connection
from tests.support.search_index import build_test_index

CENTRES = [(-97.74, 30.27), (179.95, 0.05), (-179.95, -0.05), (0.0, 89.9), (12.3, -45.0)]


def grid_records() -> list[Record]:
    rng = random.Random(11)
    points: list[tuple[float | None, float | None]] = []
    for longitude, latitude in CENTRES:
        for step_lat in range(-6, 7):
            for step_lon in range(-6, 7):
                # exactly on the tenth-of-a-degree lines, and just either side of them
                lat = round(latitude + step_lat * 0.05, 2)
                lon = round(longitude + step_lon * 0.05, 2)
                points += [(lat, lon), (lat + 1e-9, lon - 1e-9), (lat - 1e-9, lon + 1e-9)]
        points += [(latitude + rng.uniform(-3, 3), longitude + rng.uniform(-3, 3)) for _ in range(80)]
    points += [(95.0, 10.0), (30.27, 190.0), (30.27, -181.0), (-91.0, -97.74), (30.27, None), (None, -97.74)]
    return [
        {"id": f"g{n}", "name": "place", "latitude": lat, "longitude": lon}
        for n, (lat, lon) in enumerate(points)
    ]


Indexed = tuple[TantivySearchIndex, duckdb.DuckDBPyConnection, int]


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Indexed]:
    records = grid_records()
    connection = snapshot_connection(BUSINESSES, records)
    yield (
        build_test_index(BUSINESSES, records, Path(tmp_path_factory.mktemp("geo"))),
        connection,
        len(records),
    )
    connection.close()


def test_small_circles_take_the_cells() -> None:
    circle = parse_query(BUSINESSES, "geoLocation:[-97.74,30.27,10,mi]")
    assert isinstance(circle, GeoDistance)
    assert _covering_cells(tantivy_schema(BUSINESSES), circle) is not None


@pytest.mark.parametrize("radius", ["0.01,km", "3,km", "5.56,km", "10,mi", "100,km", "2000,km", "20000,km"])
@pytest.mark.parametrize(("longitude", "latitude"), CENTRES)
def test_cells_agree_with_sql(indexed: Indexed, longitude: float, latitude: float, radius: str) -> None:
    index, connection, size = indexed
    query = f"geoLocation:[{longitude},{latitude},{radius}]"
    compiled = compile_query(BUSINESSES, query)
    rows = connection.execute(f"SELECT id FROM t WHERE {compiled.sql} ORDER BY _seq", compiled.params)
    expected = [row[0] for row in rows.fetchall()]
    tree = parse_query(BUSINESSES, query)
    found = [json.loads(record)["id"] for record in index.records(tree, size + 1)]
    assert found == expected, query
    assert index.count(tree) == len(expected)
    assert expected or radius == "0.01,km"  # the circles do hold records


@pytest.mark.parametrize("radius", ["3,km", "10,mi", "2000,km"])
@pytest.mark.parametrize(("longitude", "latitude"), [CENTRES[0], CENTRES[1], CENTRES[3]])
@pytest.mark.parametrize(
    "template",
    ["{circle}", "{circle} AND name:place", "name:place AND {circle} AND NOT latitude:[30.2 TO 30.3]"],
)
def test_pages_of_a_circle_and_its_conjunctions_agree_with_sql(
    indexed: Indexed, longitude: float, latitude: float, radius: str, template: str
) -> None:
    """A circle alone or in a top-level AND is counted and paged from its inner box and its checked
    ring, merged by ``_seq``: every page is the SQL's slice."""
    index, connection, _ = indexed
    query = template.format(circle=f"geoLocation:[{longitude},{latitude},{radius}]")
    compiled = compile_query(BUSINESSES, query)
    rows = connection.execute(f"SELECT id FROM t WHERE {compiled.sql} ORDER BY _seq", compiled.params)
    expected = [row[0] for row in rows.fetchall()]
    tree = parse_query(BUSINESSES, query)
    assert index.count(tree) == len(expected), query
    for offset, limit in [(0, 1), (0, 10), (3, 7), (len(expected) // 2, 25), (len(expected), 5)]:
        found, page = index.page(tree, limit, offset)
        assert found == len(expected), query
        assert [json.loads(record)["id"] for record in page] == expected[offset : offset + limit], query
