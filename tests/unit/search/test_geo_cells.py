"""Geo circles through the grid cells against the SQL path, where the cells could go wrong: records
on cell edges and on the circle's edge, coordinates outside -90..90 / -180..180, a missing half,
circles near the antimeridian and the poles (the ranges' fallback), and large circles; circles
whose edge cuts the fine cells, smaller than one, on cell and degree lines, and the same answers
from an index built before the fine cells (and appended to since)."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from dlserve.query import compile_query
from dlserve.query.nodes import EARTH_RADIUS_KM, GeoDistance
from dlserve.query.parse import parse_query
from dlserve.records.schema import BUSINESSES
from dlserve.search import layout
from dlserve.search.build import build_index, document_json_sql
from dlserve.search.geo import _cover, _covering_cells, _has_field
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


# --- the fine cells (a hundredth of a degree) along a circle's edge ---------------------------

# Near an integer degree, on the equator and prime meridian (negative cells), at a city.
FINE_CENTRES = [(-97.74, 30.27), (-98.0, 30.0), (0.0, 0.0), (12.345, -45.005)]


def lattice_records() -> list[Record]:
    """Records every 0.004 degrees around each centre (so every fine cell near an edge holds
    some, on both sides of it), on the hundredth-of-a-degree lines and just either side, and the
    odd ones."""
    points: list[tuple[float | None, float | None]] = []
    for longitude, latitude in FINE_CENTRES:
        for step_lat in range(-30, 31):
            for step_lon in range(-30, 31):
                points.append((round(latitude + step_lat * 0.004, 6), round(longitude + step_lon * 0.004, 6)))
        for step_lat in range(-3, 4):
            for step_lon in range(-3, 4):
                lat = round(latitude + step_lat * 0.01, 2)
                lon = round(longitude + step_lon * 0.01, 2)
                points += [(lat, lon), (lat + 1e-9, lon - 1e-9), (lat - 1e-9, lon + 1e-9)]
        points += [(lat, longitude) for lat in line_neighbours(latitude)]
        points += [(latitude, lon) for lon in line_neighbours(longitude)]
    points += [(95.0, 10.0), (30.27, 190.0), (-91.0, -97.74), (30.27, None), (None, -97.74)]
    return [
        {"id": f"l{n}", "name": "place", "latitude": lat, "longitude": lon}
        for n, (lat, lon) in enumerate(points)
    ]


def line_neighbours(centre: float) -> list[float]:
    """The floats either side of the tenth-of-a-degree lines near ``centre``: where ``value * 10``
    and ``value * 100`` round differently (89.89999999999999 * 10 is below 899, * 100 is 8990)."""
    lines = [round(math.floor(centre * 10) / 10 + step / 10, 1) for step in range(-1, 3)]
    return [math.nextafter(line, direction) for line in lines for direction in (-math.inf, math.inf)]


def test_fine_cells_lie_in_their_coarse_cell() -> None:
    """Computed on their own, the two cells of 89.89999999999999 are 898 and 8990: the fine one is
    kept inside the coarse one, so a circle's inner and ring cells never share a record."""
    values = [v for line in range(-1800, 1801, 3) for v in line_neighbours(line / 10)]
    values += [line / 10 for line in range(-1800, 1801, 3)]
    records: list[Record] = [
        {
            "id": f"v{n}",
            "latitude": max(-90.0, min(90.0, value)),
            "longitude": max(-180.0, min(180.0, -value)),
        }
        for n, value in enumerate(values)
    ]
    connection = snapshot_connection(BUSINESSES, records)
    try:
        documents = connection.execute(document_json_sql(BUSINESSES, "t")).fetchall()
    finally:
        connection.close()
    moved = 0
    for (document,) in documents:
        parsed = json.loads(document)
        (coarse,) = parsed[layout.GEOCELL]
        (fine,) = parsed[layout.FINE_GEOCELL]
        for coarse_index, fine_index in zip(coarse.split(":"), fine.split(":"), strict=True):
            assert int(coarse_index) * 10 <= int(fine_index) <= int(coarse_index) * 10 + 9, document
    for value in values:  # (the case does arise: without the nesting some would be out)
        moved += not 10 * math.floor(value * 10) <= math.floor(value * 100) <= 10 * math.floor(value * 10) + 9
    assert moved


def old_layout_index(records: list[Record], directory: Path) -> TantivySearchIndex:
    """An index as built before the fine cells: its schema has the coarse grid only (the
    documents still carry the fine cells: Tantivy ignores a field its schema lacks)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(layout, "GEO_GRIDS", ((layout.GEOCELL, layout.CELLS_PER_DEGREE),))
        return build_test_index(BUSINESSES, records, directory)


Lattice = tuple[TantivySearchIndex, TantivySearchIndex, duckdb.DuckDBPyConnection, int]


@pytest.fixture(scope="module")
def lattice(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lattice]:
    records = lattice_records()
    connection = snapshot_connection(BUSINESSES, records)
    new = build_test_index(BUSINESSES, records, Path(tmp_path_factory.mktemp("fine")))
    old = old_layout_index(records, Path(tmp_path_factory.mktemp("coarse")))
    yield new, old, connection, len(records)
    connection.close()


def sql_ids(connection: duckdb.DuckDBPyConnection, query: str) -> list[str]:
    compiled = compile_query(BUSINESSES, query)
    rows = connection.execute(f"SELECT id FROM t WHERE {compiled.sql} ORDER BY _seq", compiled.params)
    return [row[0] for row in rows.fetchall()]


def index_ids(index: TantivySearchIndex, query: str, size: int) -> tuple[list[str], int]:
    tree = parse_query(BUSINESSES, query)
    return [json.loads(record)["id"] for record in index.records(tree, size + 1)], index.count(tree)


def agree(lattice: Lattice, query: str) -> list[str]:
    new, old, connection, size = lattice
    expected = sql_ids(connection, query)
    assert index_ids(new, query, size) == (expected, len(expected)), query
    assert index_ids(old, query, size) == (expected, len(expected)), query
    tree = parse_query(BUSINESSES, query)
    for index in (new, old):  # a page from the middle: the merge of inner cells and checked ring
        found, page = index.page(tree, 7, len(expected) // 3)
        assert found == len(expected)
        assert [json.loads(record)["id"] for record in page] == expected[len(expected) // 3 :][:7], query
    return expected


def test_the_old_layout_has_no_fine_cells(lattice: Lattice) -> None:
    new, old, _, _ = lattice
    assert _has_field(new._schema, layout.FINE_GEOCELL)
    assert not _has_field(old._schema, layout.FINE_GEOCELL)
    assert _has_field(old._schema, layout.GEOCELL)


@pytest.mark.parametrize("radius", ["0.0004,km", "0.2,km", "0.9,km", "1.5,km", "4,km", "7.77,km", "10,mi"])
@pytest.mark.parametrize(("longitude", "latitude"), FINE_CENTRES)
def test_circles_cutting_fine_cells_agree_with_sql(
    lattice: Lattice, longitude: float, latitude: float, radius: str
) -> None:
    query = f"geoLocation:[{longitude},{latitude},{radius}]"
    circle = parse_query(BUSINESSES, query)
    assert isinstance(circle, GeoDistance)
    cover = _cover(circle)
    assert cover is not None
    assert cover.fine_ring  # the fine cells take it
    expected = agree(lattice, query)
    assert expected or radius == "0.0004,km"
    for conjunction in [f"{query} AND name:place", f"name:place AND NOT {query}", f"{query} OR id:l0"]:
        agree(lattice, conjunction)


@pytest.mark.parametrize("offset", [(0.0, 0.0), (0.005, 0.005), (0.01, 0.0), (0.0049, -0.0051)])
@pytest.mark.parametrize("radius", ["0.0001,km", "0.1,km", "0.55,km"])
def test_circles_smaller_than_a_fine_cell_agree_with_sql(
    lattice: Lattice, offset: tuple[float, float], radius: str
) -> None:
    """Centred on cell corners, edges and middles: none of their cells is inside, every record is
    checked."""
    for longitude, latitude in FINE_CENTRES:
        query = f"geoLocation:[{longitude + offset[0]},{latitude + offset[1]},{radius}]"
        circle = parse_query(BUSINESSES, query)
        assert isinstance(circle, GeoDistance)
        cover = _cover(circle)
        assert cover is not None
        assert not cover.inner
        assert not cover.inner_fine
        agree(lattice, query)


def test_records_exactly_on_the_edge_are_in_or_out_as_sql_says(lattice: Lattice) -> None:
    """Radius = a record's distance as DuckDB computes it (the record is in), and the float just
    below (out): the checked ring decides the same way, with the SQL's own operations."""
    _, _, connection, _ = lattice
    on_edge = 0
    for longitude, latitude in FINE_CENTRES:
        for lat_step, lon_step in [(7, 3), (-12, 5), (20, -20), (1, 0), (0, -29)]:
            lat = round(latitude + lat_step * 0.004, 6)
            lon = round(longitude + lon_step * 0.004, 6)
            distance = connection.execute(
                "SELECT 2 * ? * asin(least(1.0, sqrt(pow(sin(radians(? - ?) / 2), 2) + "
                "cos(radians(?)) * cos(radians(?)) * pow(sin(radians(? - ?) / 2), 2))))",
                [EARTH_RADIUS_KM, lat, latitude, latitude, lat, lon, longitude],
            ).fetchone()
            assert distance is not None
            for radius in [distance[0], math.nextafter(distance[0], 0)]:
                expected = agree(lattice, f"geoLocation:[{longitude},{latitude},{radius!r},km]")
                on_edge += any(
                    lat == r["latitude"] and lon == r["longitude"] for r in lattice_by_id(expected)
                )
    assert on_edge >= len(FINE_CENTRES) * 5  # the edge records were in when the radius reached them


_BY_ID = {record["id"]: record for record in lattice_records()}


def lattice_by_id(ids: list[str]) -> list[Record]:
    return [_BY_ID[record_id] for record_id in ids]


@pytest.mark.parametrize(
    ("radius", "path"), [("60,km", "fine"), ("150,km", "coarse ring"), ("3000,km", "ranges")]
)
def test_large_circles_fall_back_and_agree_with_sql(lattice: Lattice, radius: str, path: str) -> None:
    for longitude, latitude in FINE_CENTRES:
        query = f"geoLocation:[{longitude},{latitude},{radius}]"
        circle = parse_query(BUSINESSES, query)
        assert isinstance(circle, GeoDistance)
        cover = _cover(circle)
        taken = "ranges" if cover is None else "fine" if cover.fine_ring else "coarse ring"
        assert taken == path
        assert agree(lattice, query)


def test_an_append_to_an_old_layout_index_keeps_its_layout(tmp_path: Path) -> None:
    """New code appending to an index built before the fine cells: the schema (the base's) has no
    fine cells, the circles take the old path, and the answers stay the SQL's."""
    records = lattice_records()
    half = len(records) // 2
    (tmp_path / "base").mkdir()
    old_layout_index(records[:half], tmp_path / "base")
    connection = snapshot_connection(BUSINESSES, records)
    try:
        part = tmp_path / "all.parquet"
        connection.execute(f"COPY (SELECT * FROM t ORDER BY _seq) TO '{part}' (FORMAT parquet)")
        # (the fixture numbers _seq from 0 in list order: the base holds _seq 0 to half - 1)
        build_index(
            BUSINESSES, [part], tmp_path / "appended", base=tmp_path / "base" / "index", after_seq=half - 1
        )
        appended = TantivySearchIndex(tmp_path / "appended")
        assert not _has_field(appended._schema, layout.FINE_GEOCELL)
        assert appended.num_docs == len(records)
        for longitude, latitude in FINE_CENTRES:
            for radius in ["0.2,km", "4,km", "10,mi"]:
                query = f"geoLocation:[{longitude},{latitude},{radius}]"
                expected = sql_ids(connection, query)
                assert index_ids(appended, query, len(records)) == (expected, len(expected)), query
    finally:
        connection.close()
