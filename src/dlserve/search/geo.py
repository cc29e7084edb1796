"""Geo circles: a bounding box the index can answer (a superset), then the exact distance check.

The check is the compiler's SQL formula step by step (haversine, ``least(1.0, ...)``, ``pow``),
computed with the same C library functions DuckDB calls, so a record on the boundary is in or
out the same way on both paths.

Most matches of a circle lie in cells wholly inside it: those match without a check. Only the
records of the cells crossing its edge (the ring) are checked one by one. A circle alone or in a
top-level AND is counted and paged from the two parts (:func:`circle_parts`, :func:`inside`; see
``TantivySearchIndex._circle_page``). Anywhere else the checked records are handed back as a set
of ``_seq`` terms and the leaf is "inner part OR those terms" (:func:`circle_query`), which
composes like any other leaf, but costs more: Tantivy answers a set of spread ``_seq`` terms by
looking at every record.

Candidates come from posting lists, not ranges: each record is indexed under the grid cells of its
coordinates at two sizes (:data:`~dlserve.search.layout.GEOCELL`, a tenth of a degree square, and
:data:`~dlserve.search.layout.FINE_GEOCELL`, a hundredth, kept inside the first; ``odd`` for
coordinates outside -90..90 / -180..180, NaN or one of the two missing). Each cell of the
circle's bounding box (one cell of margin around it) is sorted from bounds of the haversine over
the whole cell (:class:`_CellBounds`): surely inside (its farthest point at most 95% of the
radius away), surely outside (its nearest point over 101%), or crossing the edge. The inner part
is the term set of the cells inside, coarse ones where they fit and fine ones along the edge,
answered from posting lists alone (and counted from their document frequencies); the ring is the
records of the fine cells crossing the edge (and ``odd``), checked. Where the fine cells would be
too many terms, the ring is the coarse crossing cells. Indexes built before the fine cells take
the coarse cells and an inner lat/lon box (corners at most 95% of the radius away) of two
fast-field ranges, which read every record's column; circles whose box wraps around the
antimeridian, reaches a pole or covers too many cells, and indexes built before any cell, keep
the ranges.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass

import tantivy

from dlserve.query import nodes
from dlserve.records.schema import Kind
from dlserve.search.layout import (
    CELLS_PER_DEGREE,
    FINE_CELLS_PER_DEGREE,
    FINE_GEOCELL,
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
# At most this many fine cells (inner and ring together) in one circle's terms: past it, coarse
# cells along the edge (a 10-mile circle takes ~1,000 fine ones).
_MAX_FINE_TERMS = 6000
# Safety margins of the classification of cells: a cell counts as inside when its farthest point
# is at most this fraction of the radius away, as outside when its nearest is past the other.
_INSIDE = 0.95
_OUTSIDE = 1.01
# A record's cell is floor(value * k) of a rounded product: its value may lie this far (far more
# than a rounding) outside the cell's exact bounds.
_CELL_SLACK_DEGREES = 1e-7
# A ring of up to this many records (by its cells' frequencies) is fetched without counting it.
_MAX_UNCOUNTED_RING = 10_000


@dataclass(frozen=True)
class CircleParts:
    """A circle as the index sees it: ``inner`` matches only records inside it (None: no cell or
    box inside), ``ring`` every other record that may be inside (disjoint from ``inner``), each
    to be checked with the exact formula (:func:`inside`)."""

    inner: tantivy.Query | None
    ring: tantivy.Query
    # a query as wide as the ring or wider, cheaper to count (the covering cells' posting lists)
    bound: tantivy.Query | None = None
    # the terms of ``inner`` and ``ring`` when they are cells (see :func:`cells_size`), else empty
    inner_cells: Cells = ()
    ring_cells: Cells = ()


# (field, terms): the records under these terms, each record under one term of a field at most
Cells = tuple[tuple[str, tuple[str, ...]], ...]


def cells_size(searcher: tantivy.Searcher, cells: Cells) -> int:
    """How many records ``cells`` hold: the sum of the terms' document frequencies, no search. A
    record has one cell of each grid, and a circle's inner cells of the two grids never overlap
    (a fine cell lies in one coarse cell), so the sum counts each record once. Frequencies count
    deleted documents too: exact without deletes, never less."""
    return sum(searcher.doc_freq(field, term) for field, terms in cells for term in terms)


def circle_parts(schema: tantivy.Schema, circle: nodes.GeoDistance) -> CircleParts:
    if _has_field(schema, FINE_GEOCELL):
        cover = _cover(circle)
        if cover is not None:
            return _cover_parts(schema, cover)
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
    """The circle as one query, to compose with any other: the inner part, or the records of the
    ring that are inside, as a set of ``_seq`` terms."""
    parts = circle_parts(schema, circle)
    found = inside(searcher, circle, parts.ring, parts.bound, ring_size(searcher, parts))
    checked = seq_set_query(schema, [seq for seq, _ in found])
    if parts.inner is None:
        return checked
    return tantivy.Query.boolean_query([(tantivy.Occur.Should, parts.inner), (tantivy.Occur.Should, checked)])


def ring_size(searcher: tantivy.Searcher, parts: CircleParts) -> int | None:
    """At least the number of the ring's records, from its cells' document frequencies (no
    search), or None: no cells, or too many records for Tantivy to size its heap of hits by
    (then :func:`inside` counts the candidates, fewer when the circle is ANDed with more)."""
    if not parts.ring_cells:
        return None
    size = cells_size(searcher, parts.ring_cells)
    return size if size <= _MAX_UNCOUNTED_RING else None


def inside(
    searcher: tantivy.Searcher,
    circle: nodes.GeoDistance,
    candidates: tantivy.Query,
    bound: tantivy.Query | None = None,
    at_most: int | None = None,
) -> list[tuple[int, tantivy.DocAddress]]:
    """``(_seq, address)`` of the ``candidates`` that the exact formula puts inside, by ``_seq``.
    ``bound``, matching every candidate and cheaper to count, or ``at_most``, a number of records
    at least that of the candidates, spares counting the candidates."""
    if at_most is not None:
        found = at_most
    else:
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
    grid = _box_cells(circle)
    if grid is None:
        return None
    rows, columns = grid
    terms = [f"{row}:{column}" for row in rows for column in columns] + [ODD_CELL]
    try:
        return tantivy.Query.term_set_query(schema, GEOCELL, terms)
    except ValueError:  # an index built before the cells
        return None


def _box_cells(circle: nodes.GeoDistance) -> tuple[range, range] | None:
    """The rows and columns of the coarse cells of every record in the outer box, or None (the
    box wraps around the antimeridian, reaches a pole or covers over ``_MAX_CELLS`` cells)."""
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
    return rows, columns


@dataclass(frozen=True)
class Cover:
    """A circle in cells: the records of ``inner`` (coarse) and ``inner_fine`` cells are inside it,
    those of the ``ring`` cells (fine, or coarse when ``fine_ring`` is false) may be, and no
    record of any other cell of the grid is (``odd`` records aside)."""

    inner: tuple[str, ...]
    inner_fine: tuple[str, ...]
    ring: tuple[str, ...]
    fine_ring: bool


@functools.lru_cache(maxsize=64)
def _cover(circle: nodes.GeoDistance) -> Cover | None:
    """The circle's cells (see the module doc), or None where the outer box takes the ranges.
    Kept for the next requests (a count, then a preview of the same circle, a live count): about
    0.5 ms to compute for a 10-mile circle; at most ~6,000 terms each, a few MB in all."""
    grid = _box_cells(circle)
    if grid is None:
        return None
    rows, columns = grid
    bounds = _CellBounds(circle)
    ratio = FINE_CELLS_PER_DEGREE // CELLS_PER_DEGREE
    inner: list[str] = []
    coarse_ring: list[str] = []
    inner_fine: list[str] = []
    fine_ring: list[str] = []
    for row in rows:
        in_first, in_stop, maybe_first, maybe_stop = bounds.row(
            row, CELLS_PER_DEGREE, columns.start, columns.stop
        )
        prefix = f"{row}:"
        inner += [prefix + str(column) for column in range(in_first, in_stop)]
        coarse_ring += [
            prefix + str(column) for column in _outside(maybe_first, maybe_stop, in_first, in_stop)
        ]
        if maybe_first >= maybe_stop or len(inner_fine) + len(fine_ring) > _MAX_FINE_TERMS:
            continue
        # (a fine cell of an inner coarse cell is inside too: the coarse cell's term holds it)
        covered_first, covered_stop = in_first * ratio, in_stop * ratio
        for fine_row in range(row * ratio, (row + 1) * ratio):
            fine_in_first, fine_in_stop, fine_first, fine_stop = bounds.row(
                fine_row, FINE_CELLS_PER_DEGREE, maybe_first * ratio, maybe_stop * ratio
            )
            prefix = f"{fine_row}:"
            inner_fine += [
                prefix + str(column)
                for column in _outside(fine_in_first, fine_in_stop, covered_first, covered_stop)
            ]
            fine_ring += [
                prefix + str(column)
                for column in _outside(fine_first, fine_stop, fine_in_first, fine_in_stop)
                if not covered_first <= column < covered_stop
            ]
    if len(inner_fine) + len(fine_ring) > _MAX_FINE_TERMS:
        return Cover(tuple(inner), (), tuple(coarse_ring), fine_ring=False)
    return Cover(tuple(inner), tuple(inner_fine), tuple(fine_ring), fine_ring=True)


def _cover_parts(schema: tantivy.Schema, cover: Cover) -> CircleParts:
    inner_cells = tuple(
        (field, terms) for field, terms in [(GEOCELL, cover.inner), (FINE_GEOCELL, cover.inner_fine)] if terms
    )
    inner_sets = [tantivy.Query.term_set_query(schema, field, list(terms)) for field, terms in inner_cells]
    inner: tantivy.Query | None = None
    if len(inner_sets) == 1:
        inner = inner_sets[0]
    elif inner_sets:
        inner = tantivy.Query.boolean_query([(tantivy.Occur.Should, query) for query in inner_sets])
    ring_cells = ((FINE_GEOCELL if cover.fine_ring else GEOCELL, (*cover.ring, ODD_CELL)),)
    # (a record has one cell of each size, nested: the ring's cells and the inner ones never share one)
    ring = tantivy.Query.term_set_query(schema, ring_cells[0][0], list(ring_cells[0][1]))
    return CircleParts(inner, ring, inner_cells=inner_cells, ring_cells=ring_cells)


class _CellBounds:
    """Which cells of a row are surely inside the circle, and which may be.

    Over a cell (latitudes p0..p1, longitudes l0..l1) the haversine's
    ``a = hav(lat - lat_c) + cos(lat_c) * cos(lat) * hav(lon - lon_c)`` is a sum of non-negative
    terms each bounded on its own: ``hav`` grows with ``|difference|`` (up to 180 degrees, which
    the outer box keeps to) and ``cos(lat)`` with the nearness to the equator. So the largest ``a``
    the cell can give is at most the sum of the largest terms, and the smallest at least the sum of
    the smallest: no assumption about the shape of a circle on the sphere, and the margins
    (``_INSIDE``, ``_OUTSIDE``) dwarf the rounding of both this and the SQL's computation."""

    def __init__(self, circle: nodes.GeoDistance) -> None:
        angle = circle.radius_km / nodes.EARTH_RADIUS_KM
        self.latitude = circle.latitude
        self.longitude = circle.longitude
        self.cos_latitude = math.cos(math.radians(circle.latitude))
        self.a_inside = _hav(angle * _INSIDE)
        self.a_outside = _hav(min(math.pi, angle * _OUTSIDE))

    def row(self, row: int, per_degree: int, first: int, stop: int) -> tuple[int, int, int, int]:
        """Of the cells of grid row ``row`` (``per_degree`` to a degree) in columns ``first`` to
        ``stop`` (excluded), the columns surely inside (first, stop), then those that may be (a
        superset)."""
        low = row / per_degree - _CELL_SLACK_DEGREES
        high = (row + 1) / per_degree + _CELL_SLACK_DEGREES
        below, above = self.latitude - low, high - self.latitude
        near_lat = 0.0 if below >= 0 and above >= 0 else min(abs(below), abs(above))
        far_lat = max(abs(below), abs(above))
        low, high = max(-90.0, low), min(90.0, high)
        equatorward = 0.0 if low <= 0 <= high else min(abs(low), abs(high))
        poleward = max(abs(low), abs(high))
        maybe = self._span(_hav(math.radians(near_lat)), math.cos(math.radians(poleward)), self.a_outside)
        if maybe is not None:
            if maybe < 0:
                return first, first, first, first
            # every cell reaching into [lon_c - maybe, lon_c + maybe]
            first = max(first, math.floor((self.longitude - maybe - _CELL_SLACK_DEGREES) * per_degree))
            stop = max(
                first, min(stop, math.floor((self.longitude + maybe + _CELL_SLACK_DEGREES) * per_degree) + 1)
            )
        # (None: cos(lat) is 0 at a pole, no longitude is excluded; the outer box never reaches one)
        surely = self._span(_hav(math.radians(far_lat)), math.cos(math.radians(equatorward)), self.a_inside)
        if surely is None or surely < 0:
            return first, first, first, stop
        # every cell wholly within [lon_c - surely, lon_c + surely]
        in_first = max(first, math.ceil((self.longitude - surely + _CELL_SLACK_DEGREES) * per_degree))
        in_stop = max(
            in_first, min(stop, math.floor((self.longitude + surely - _CELL_SLACK_DEGREES) * per_degree))
        )
        return in_first, in_stop, first, stop

    def _span(self, a_latitude: float, cos_latitude: float, a_limit: float) -> float | None:
        """The longitude difference (degrees) up to which ``a_latitude + cos(lat_c) * cos_latitude
        * hav(difference)`` stays within ``a_limit``: negative if none does, None if any does
        because the factor is 0 (or less, by rounding)."""
        if a_latitude > a_limit:
            return -1.0
        factor = self.cos_latitude * cos_latitude
        if factor <= 0:
            return None
        share = (a_limit - a_latitude) / factor
        if share >= 1:
            return 180.0
        return math.degrees(2 * math.asin(math.sqrt(share)))


def _hav(angle: float) -> float:
    return math.pow(math.sin(angle / 2), 2)


def _outside(first: int, stop: int, cut_first: int, cut_stop: int) -> itertools.chain[int]:
    """The columns ``first`` to ``stop`` (excluded) but those ``cut_first`` to ``cut_stop``."""
    return itertools.chain(range(first, min(stop, cut_first)), range(max(first, cut_stop), stop))


def _has_field(schema: tantivy.Schema, name: str) -> bool:
    try:
        tantivy.Query.term_query(schema, name, "")
    except ValueError:
        return False
    return True


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
