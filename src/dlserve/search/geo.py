"""Geo circles: a bounding box the index can answer (a superset), then the exact distance check.

The check is the compiler's SQL formula step by step (haversine, ``least(1.0, ...)``, ``pow``),
computed with the same C library functions DuckDB calls, so a record on the boundary is in or
out the same way on both paths.

Most matches of a small circle lie in a box well inside it (its corners at most 95% of the radius
away): those match without a check. Only the records between that inner box and the outer box
(the ring) are checked one by one. A circle alone or in a top-level AND is counted and paged from
the two parts (:func:`circle_parts`, :func:`inside`; see ``TantivySearchIndex._circle_page``).
Anywhere else the checked records are handed back as a set of ``_seq`` terms and the leaf is
"inner box OR those terms" (:func:`circle_query`), which composes like any other leaf, but costs
more: Tantivy answers a set of spread ``_seq`` terms by looking at every record.

Candidates come from posting lists, not ranges: each record is indexed under the grid cell of its
coordinates (:data:`~dlserve.search.layout.GEOCELL`, a tenth of a degree square, or ``odd`` for
coordinates outside -90..90 / -180..180), and the cells covering the circle's bounding box, one
cell of margin around it, select a few thousand candidates where two range queries over every
record's latitude and longitude were intersected before. Circles whose box wraps around the
antimeridian or covers too many cells, and indexes built before the cells, keep the ranges.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import tantivy

from dlserve.query import nodes
from dlserve.records.schema import Kind
from dlserve.search.layout import (
    CELLS_PER_DEGREE,
    GEOCELL,
    ODD_CELL,
    PRESENT,
    SEQ,
    match_count,
    seq_set_query,
    value_field_name,
)

LATITUDE = value_field_name("latitude", Kind.NUMBER)
LONGITUDE = value_field_name("longitude", Kind.NUMBER)
# Widens the box so that rounding in its own computation can never cut a record the circle holds.
_SLACK = 1.0001
_SLACK_DEGREES = 1e-6
_MAX_CELLS = 4096


@dataclass(frozen=True)
class CircleParts:
    """A circle as the index sees it: ``inner`` matches only records inside it (None: no such
    box), ``ring`` every other record that may be inside (disjoint from ``inner``), each to be
    checked with the exact formula (:func:`inside`)."""

    inner: tantivy.Query | None
    ring: tantivy.Query
    # a query as wide as the ring or wider, cheaper to count (the covering cells' posting lists)
    bound: tantivy.Query | None = None


def circle_parts(schema: tantivy.Schema, circle: nodes.GeoDistance) -> CircleParts:
    cells = _covering_cells(schema, circle)
    inner = _inner_box(schema, circle)
    if inner is not None and cells is not None:
        # (the inner box lies inside the circle, so inside the covering cells: this only lets
        # Tantivy walk the cells' short posting lists instead of the two ranges)
        inner = tantivy.Query.boolean_query([(tantivy.Occur.Must, cells), (tantivy.Occur.Must, inner)])
    if cells is None:
        candidates = _box_query(schema, circle)
    else:
        present = tantivy.Query.term_query(schema, PRESENT, "geoLocation")
        candidates = tantivy.Query.boolean_query([(tantivy.Occur.Must, present), (tantivy.Occur.Must, cells)])
    if inner is None:
        return CircleParts(None, candidates)
    ring = tantivy.Query.boolean_query([(tantivy.Occur.Must, candidates), (tantivy.Occur.MustNot, inner)])
    return CircleParts(inner, ring, None if cells is None else candidates)


def circle_query(
    searcher: tantivy.Searcher, schema: tantivy.Schema, circle: nodes.GeoDistance
) -> tantivy.Query:
    """The circle as one query, to compose with any other: the inner box, or the records of the
    ring that are inside, as a set of ``_seq`` terms."""
    parts = circle_parts(schema, circle)
    checked = seq_set_query(schema, [seq for seq, _ in inside(searcher, circle, parts.ring, parts.bound)])
    if parts.inner is None:
        return checked
    return tantivy.Query.boolean_query([(tantivy.Occur.Should, parts.inner), (tantivy.Occur.Should, checked)])


def inside(
    searcher: tantivy.Searcher,
    circle: nodes.GeoDistance,
    candidates: tantivy.Query,
    bound: tantivy.Query | None = None,
) -> list[tuple[int, tantivy.DocAddress]]:
    """``(_seq, address)`` of the ``candidates`` that the exact formula puts inside, by ``_seq``.
    ``bound``, matching every candidate and cheaper to count, spares counting the candidates."""
    found = match_count(searcher.search(bound or candidates, limit=1, count=True, order_by_field=SEQ))
    if not found:
        return []
    hits = searcher.search(
        candidates, limit=found, count=False, order_by_field=SEQ, order=tantivy.Order.Asc
    ).hits
    addresses = [address for _, address in hits]
    latitudes = searcher.fast_field_values(LATITUDE, addresses)
    longitudes = searcher.fast_field_values(LONGITUDE, addresses)
    return [
        (int(seq), address)
        for (seq, address), latitude, longitude in zip(hits, latitudes, longitudes, strict=True)
        if latitude is not None
        and longitude is not None
        and within(circle, float(latitude), float(longitude))
    ]


def within(circle: nodes.GeoDistance, latitude: float, longitude: float) -> bool:
    """``compile._geo``'s SQL in Python, operation for operation."""
    a = math.pow(math.sin(math.radians(latitude - circle.latitude) / 2), 2) + math.cos(
        math.radians(circle.latitude)
    ) * math.cos(math.radians(latitude)) * math.pow(
        math.sin(math.radians(longitude - circle.longitude) / 2), 2
    )
    return 2 * nodes.EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a))) <= circle.radius_km


def _inner_box(schema: tantivy.Schema, circle: nodes.GeoDistance) -> tantivy.Query | None:
    """A lat/lon box whose every point is well inside the circle, or None where the sphere's
    curvature makes such a box not worth the reasoning (large circles, near the poles)."""
    angle = circle.radius_km / nodes.EARTH_RADIUS_KM
    if angle > 0.1 or abs(circle.latitude) > 70:
        return None
    delta_lat = math.degrees(angle) * 0.65
    equatorward = max(0.0, abs(circle.latitude) - delta_lat)
    delta_lon = delta_lat / math.cos(math.radians(equatorward))
    corners = [
        (circle.latitude + a * delta_lat, circle.longitude + b * delta_lon) for a in (-1, 1) for b in (-1, 1)
    ]
    shrunk = nodes.GeoDistance(circle.longitude, circle.latitude, circle.radius_km * 0.95)
    if not all(within(shrunk, lat, lon) for lat, lon in corners):
        return None
    return tantivy.Query.boolean_query(
        [
            (
                tantivy.Occur.Must,
                _between(schema, LATITUDE, circle.latitude - delta_lat, circle.latitude + delta_lat),
            ),
            (
                tantivy.Occur.Must,
                _between(schema, LONGITUDE, circle.longitude - delta_lon, circle.longitude + delta_lon),
            ),
        ]
    )


def _covering_cells(schema: tantivy.Schema, circle: nodes.GeoDistance) -> tantivy.Query | None:
    """The cells of every record the outer box holds (and ``odd``), or None (see the module doc)."""
    angle = circle.radius_km / nodes.EARTH_RADIUS_KM
    cos_lat = math.cos(math.radians(circle.latitude))
    delta_lat = math.degrees(angle) * _SLACK + _SLACK_DEGREES
    low_lat, high_lat = circle.latitude - delta_lat, circle.latitude + delta_lat
    if angle >= math.pi or not (low_lat > -90 and high_lat < 90 and math.sin(angle) < cos_lat * 0.999):
        return None
    delta_lon = math.degrees(math.asin(math.sin(angle) / cos_lat)) * _SLACK + _SLACK_DEGREES
    low_lon, high_lon = circle.longitude - delta_lon, circle.longitude + delta_lon
    if low_lon < -180 or high_lon > 180:
        return None
    # A record in the box has low <= value <= high, so floor(value * k) lies between floor(low * k)
    # and floor(high * k) (a rounded product is monotonic); the margin of one cell is for peace.
    rows = range(math.floor(low_lat * CELLS_PER_DEGREE) - 1, math.floor(high_lat * CELLS_PER_DEGREE) + 2)
    columns = range(math.floor(low_lon * CELLS_PER_DEGREE) - 1, math.floor(high_lon * CELLS_PER_DEGREE) + 2)
    if len(rows) * len(columns) > _MAX_CELLS:
        return None
    terms = [f"{row}:{column}" for row in rows for column in columns] + [ODD_CELL]
    try:
        return tantivy.Query.term_set_query(schema, GEOCELL, terms)
    except ValueError:  # an index built before the cells
        return None


def _box_query(schema: tantivy.Schema, circle: nodes.GeoDistance) -> tantivy.Query:
    present = tantivy.Query.term_query(schema, PRESENT, "geoLocation")
    angle = circle.radius_km / nodes.EARTH_RADIUS_KM  # radians of arc
    if angle >= math.pi:
        return present
    # Coordinates outside -90..90 / -180..180 are not refused by the loader and the formula
    # still gives them a distance: they are always candidates.
    odd = tantivy.Query.boolean_query(
        [
            (tantivy.Occur.Should, _between(schema, LATITUDE, None, -90.0, False)),
            (tantivy.Occur.Should, _between(schema, LATITUDE, 90.0, None, False)),
            (tantivy.Occur.Should, _between(schema, LONGITUDE, None, -180.0, False)),
            (tantivy.Occur.Should, _between(schema, LONGITUDE, 180.0, None, False)),
        ]
    )
    clauses: list[tantivy.Query] = []
    delta_lat = math.degrees(angle) * _SLACK + _SLACK_DEGREES
    low_lat, high_lat = circle.latitude - delta_lat, circle.latitude + delta_lat
    clauses.append(_between(schema, LATITUDE, low_lat, high_lat))
    cos_lat = math.cos(math.radians(circle.latitude))
    if low_lat > -90 and high_lat < 90 and math.sin(angle) < cos_lat * 0.999:
        delta_lon = math.degrees(math.asin(math.sin(angle) / cos_lat)) * _SLACK + _SLACK_DEGREES
        low_lon, high_lon = circle.longitude - delta_lon, circle.longitude + delta_lon
        if low_lon >= -180 and high_lon <= 180:  # else the box wraps around: leave longitude open
            clauses.append(_between(schema, LONGITUDE, low_lon, high_lon))
    box = tantivy.Query.boolean_query([(tantivy.Occur.Must, clause) for clause in clauses])
    either = tantivy.Query.boolean_query([(tantivy.Occur.Should, box), (tantivy.Occur.Should, odd)])
    return tantivy.Query.boolean_query([(tantivy.Occur.Must, present), (tantivy.Occur.Must, either)])


def _between(
    schema: tantivy.Schema, name: str, low: float | None, high: float | None, inclusive: bool = True
) -> tantivy.Query:
    return tantivy.Query.range_query(
        schema,
        name,
        tantivy.FieldType.Float,
        low,
        high,
        include_lower=inclusive or low is None,
        include_upper=inclusive or high is None,
    )
