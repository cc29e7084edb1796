"""Random queries over random records: the compiled SQL must match exactly what the Python evaluator says.

The datasets are generated deterministically (a seeded ``random.Random``); the queries by
hypothesis from the values present in them, covering every field kind, phrases, prefixes,
ranges with negative numbers, comparisons, day and instant dates (with offsets), geo circles,
``field:*``, field groups, wildcards anywhere, fuzzy terms, regular expressions, sloppy phrases, and
NOT/AND/OR/-/+/&&/||/! nesting.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlserve.errors import Invalid
from dlserve.query import compile_query
from dlserve.records.schema import BUSINESSES, PRODUCTS, DataTypeSchema, FieldSpec, Kind
from tests.support.fixture_tables import Record, snapshot_connection
from tests.support.query_eval import matching_ids

WORDS = [
    "hilton", "garden", "inn", "austin", "hotel", "hotels", "motel", "café", "müller", "great", "bad",
    "clean", "room", "rooms", "sony", "bose", "pro", "x1", "2000", "wifi", "free", "paid", "naïve", "über",
]  # fmt: skip
SEPARATORS = [" ", " ", " ", "-", ", ", " & ", "'", "/"]
KEYWORDS = [
    "Austin", "austin", "AUSTIN", "Round Rock", "Chicago", "München", "O'Fallon", "", "San Antonio",
    "x') OR 1=1 --", "US", "us", "DE", "back\\slash", 'say "hi"', "Sony", "SONY", "Bose", "Ünïcödé", "78701",
    "512-555-0100", "http://hilton.com", "alice", "Carol",
]  # fmt: skip
NUMBERS = [
    -98.5,
    -97.75,
    -97.5,
    -5.0,
    -0.5,
    0.0,
    1.0,
    2.0,
    3.0,
    4.0,
    4.5,
    5.0,
    10.0,
    30.25,
    99.99,
    199.0,
    1000.0,
]
DAYS = [datetime(2017, 1, 1) + timedelta(days=n) for n in (0, 1, 2, 30, 31, 45, 364)]
TIMES = [timedelta(0), timedelta(hours=8), timedelta(hours=23, minutes=30), timedelta(hours=12, seconds=1)]
POINTS = [(-97.74, 30.27), (-97.5, 30.3), (11.58, 48.14), (-0.13, 51.51), (151.21, -33.87), (-87.62, 41.87)]


# ---- the random datasets ---------------------------------------------------------------------


def random_text(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(0, 5))]
    styled = [
        w.upper() if rng.random() < 0.15 else w.capitalize() if rng.random() < 0.3 else w for w in words
    ]
    text = ""
    for word in styled:
        text += (rng.choice(SEPARATORS) if text else "") + word
    return text


def random_date(rng: random.Random) -> str:
    moment = rng.choice(DAYS) + rng.choice(TIMES)
    style = rng.randrange(3)
    if style == 0:
        return moment.date().isoformat() if moment.time() == datetime.min.time() else moment.isoformat()
    return moment.isoformat() + ("Z" if style == 1 else "")


def random_value(rng: random.Random, spec: FieldSpec) -> Any:
    if spec.kind is Kind.TEXT:
        return random_text(rng)
    if spec.kind is Kind.KEYWORD:
        return rng.choice(KEYWORDS)
    if spec.kind is Kind.NUMBER:
        if spec.name == "latitude":
            return round(rng.uniform(-40, 55), 2)
        if spec.name == "longitude":
            return round(rng.uniform(-100, 20), 2) if rng.random() < 0.7 else rng.choice(POINTS)[0]
        return rng.choice(NUMBERS)
    if spec.kind is Kind.DATE:
        return random_date(rng)
    if spec.kind is Kind.BOOL:
        return rng.random() < 0.5
    if spec.kind in (Kind.TEXT_LIST, Kind.KEYWORD_LIST):
        element = random_text if spec.kind is Kind.TEXT_LIST else (lambda r: r.choice(KEYWORDS))
        return [None if rng.random() < 0.05 else element(rng) for _ in range(rng.randint(0, 3))]
    assert spec.kind is Kind.NESTED
    return [
        {child.name: random_value(rng, child) for child in spec.children if rng.random() < 0.7}
        for _ in range(rng.randint(0, 3))
    ]


def random_records(schema: DataTypeSchema, count: int, seed: int) -> list[Record]:
    records: list[Record] = []
    for n in range(count):
        record: Record = {"id": f"r{n:03}"}
        for spec in schema.fields[1:]:
            # One stream per record and field: a field added to the schema leaves the others' values
            # (and so the sanity counts below) as they were.
            rng = random.Random(f"{seed}/{n}/{spec.name}")
            roll = rng.random()
            if roll < 0.15:
                continue  # missing
            record[spec.name] = None if roll < 0.2 else random_value(rng, spec)
        records.append(record)
    return records


# ---- query strategies ------------------------------------------------------------------------


def quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def number_text(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


def paths_by_kind(schema: DataTypeSchema) -> dict[Kind, list[str]]:
    """Every queryable field path (nested sub-fields dotted), grouped by kind."""
    paths: dict[Kind, list[str]] = {}
    for spec in schema.fields:
        paths.setdefault(spec.kind, []).append(spec.name)
        for child in spec.children:
            paths.setdefault(child.kind, []).append(f"{spec.name}.{child.name}")
    if schema.has_geo:
        paths[Kind.GEO] = ["geoLocation"]
    return paths


def wildcard_at(value: str, at: int, wildcard: str) -> str:
    at %= len(value)
    return value[:at] + wildcard + value[at + 1 :]


def misspelled(value: str, at: int) -> str:
    """One or two edits of ``value``: a swap, a dropped or a doubled character."""
    at %= len(value)
    if at + 1 < len(value) and at % 3 == 0:
        return value[:at] + value[at + 1] + value[at] + value[at + 2 :]
    if at % 3 == 1 and len(value) > 1:
        return value[:at] + value[at + 1 :]
    return value[:at] + value[at] * 2 + value[at + 1 :]


def regex_of(first: str, second: str, style: int) -> str:
    head = first[:2]
    return [
        f"/{head}.*/",
        f"/{first[0]}[a-zé]+/",
        f"/.{{{len(first)}}}/",
        f"/({first}|{second})/",
        "/.*/" if len(first) % 2 else "/x*/",
    ][style]


word = st.sampled_from(WORDS).map(lambda w: w.upper() if len(w) % 3 == 0 else w)
text_value = st.one_of(
    word,
    st.tuples(word, word).map(lambda ws: quoted(" ".join(ws))),
    st.tuples(word, word).map(lambda ws: f"{ws[0]}-{ws[1]}"),
    st.tuples(word, st.integers(1, 4)).map(lambda wk: wk[0][: wk[1]] + "*"),
    st.tuples(word, word, st.integers(1, 3)).map(lambda t: f"{t[0]}-{t[1][: t[2]]}*"),
    st.tuples(word, st.integers(0, 6)).map(lambda wk: wildcard_at(wk[0], wk[1], "?")),
    st.tuples(word, st.integers(0, 6)).map(lambda wk: "*" + wk[0][wk[1] % len(wk[0]) :]),
    st.tuples(word, st.integers(0, 6)).map(lambda wk: wildcard_at(wk[0], wk[1], "*")),
    st.tuples(word, st.integers(0, 6), st.sampled_from(["~", "~0", "~1", "~2"])).map(
        lambda t: misspelled(t[0], t[1]) + t[2]
    ),
    st.tuples(word, word, st.integers(0, 4)).map(lambda t: regex_of(t[0], t[1], t[2])),
    st.tuples(st.lists(word, min_size=2, max_size=3), st.sampled_from(["~", "~1", "~2", "~4"])).map(
        lambda t: quoted(" ".join(t[0])) + t[1]
    ),
)
keyword_literal = st.sampled_from(KEYWORDS).map(lambda v: v if v.isalnum() else quoted(v))
alnum_keyword = st.sampled_from([k for k in KEYWORDS if k.isalnum()])
keyword_value = st.one_of(
    keyword_literal,
    st.tuples(alnum_keyword, st.integers(0, 6)).map(lambda kk: wildcard_at(kk[0], kk[1], "?")),
    st.tuples(alnum_keyword, st.integers(0, 6)).map(lambda kk: "*" + kk[0][kk[1] % len(kk[0]) :]),
    st.tuples(alnum_keyword, st.integers(0, 6), st.sampled_from(["~", "~1"])).map(
        lambda t: misspelled(t[0], t[1]) + t[2]
    ),
    st.tuples(alnum_keyword, alnum_keyword, st.integers(0, 4)).map(lambda t: regex_of(t[0], t[1], t[2])),
    st.sampled_from(KEYWORDS).map(str.swapcase).map(quoted),
    st.tuples(st.sampled_from([k for k in KEYWORDS if k.isalnum()]), st.integers(1, 4)).map(
        lambda kv: kv[0][: kv[1]] + "*"
    ),
)
number_literal = st.one_of(st.sampled_from(NUMBERS), st.floats(-120, 1200).map(lambda f: round(f, 2))).map(
    number_text
)
bool_value = st.sampled_from(["true", "false", "TRUE", "False"])


@st.composite
def date_literal(draw: st.DrawFn) -> str:
    day = draw(st.sampled_from([*DAYS, datetime(2016, 12, 31)]))
    if draw(st.booleans()):
        return day.date().isoformat()
    moment = day + draw(st.sampled_from(TIMES))
    offset = draw(st.sampled_from([None, 0, 2, -5]))
    if offset is None:
        return moment.isoformat()
    if offset == 0:
        return moment.isoformat() + "Z"
    zone = timezone(timedelta(hours=offset))
    return moment.replace(tzinfo=UTC).astimezone(zone).isoformat()


def ranges(bound: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    open_or = st.one_of(bound, bound, st.just("*"))
    brackets = st.tuples(st.sampled_from("[{"), open_or, open_or, st.sampled_from("]}"))
    comparison = st.tuples(st.sampled_from([">", ">=", "<", "<="]), bound).map("".join)
    return st.one_of(brackets.map(lambda b: f"{b[0]}{b[1]} TO {b[2]}{b[3]}"), comparison)


def grouped(value: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    combined = st.tuples(value, st.sampled_from([" OR ", " AND ", " ", " AND NOT ", " OR -"]), value)
    return combined.map(lambda t: f"({t[0]}{t[1]}{t[2]})")


@st.composite
def geo_circle(draw: st.DrawFn) -> str:
    longitude, latitude = draw(st.sampled_from(POINTS))
    distance = draw(st.sampled_from([0, 1, 10, 25.5, 100, 1000, 5000]))
    return f"geoLocation:[{longitude},{latitude},{distance},{draw(st.sampled_from(['mi', 'km', 'KM']))}]"


def values_for(kind: Kind) -> st.SearchStrategy[str]:
    if kind in (Kind.TEXT, Kind.TEXT_LIST):
        return text_value
    if kind in (Kind.KEYWORD, Kind.KEYWORD_LIST):
        return st.one_of(keyword_value, ranges(keyword_literal))
    if kind is Kind.NUMBER:
        return st.one_of(number_literal, ranges(number_literal))
    if kind is Kind.DATE:
        return st.one_of(date_literal(), ranges(date_literal()))
    return bool_value


def clauses(schema: DataTypeSchema) -> st.SearchStrategy[str]:
    options: list[st.SearchStrategy[str]] = []
    all_paths: list[str] = []
    for kind, paths in paths_by_kind(schema).items():
        all_paths += paths
        if kind in (Kind.NESTED, Kind.GEO):
            continue  # only field:* (below) and, for geo, circles
        value = values_for(kind)
        field = st.sampled_from(paths)
        options.append(st.tuples(field, st.one_of(value, value, grouped(value))).map(":".join))
    options.append(st.sampled_from(all_paths).map(lambda p: f"{p}:*"))
    options.append(text_value)  # bare terms
    if schema.has_geo:
        options.append(geo_circle())
    return st.one_of(options)


def queries(schema: DataTypeSchema) -> st.SearchStrategy[str]:
    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        pair = st.tuples(inner, inner)
        return st.one_of(
            pair.map(lambda p: f"{p[0]} AND {p[1]}"),
            pair.map(lambda p: f"({p[0]} OR {p[1]})"),
            pair.map(lambda p: f"{p[0]} OR {p[1]}"),
            pair.map(lambda p: f"{p[0]} {p[1]}"),
            pair.map(lambda p: f"{p[0]} && {p[1]}"),
            pair.map(lambda p: f"({p[0]} || {p[1]})"),
            inner.map(lambda q: f"!({q})"),
            inner.map(lambda q: f"NOT {q}"),
            inner.map(lambda q: f"-({q})"),
            inner.map(lambda q: f"+{q}"),
        )

    return st.recursive(clauses(schema), extend, max_leaves=6)


# ---- the property ------------------------------------------------------------------------------


class RandomDataset:
    def __init__(self, schema: DataTypeSchema, seed: int) -> None:
        self.schema = schema
        self.records = random_records(schema, 150, seed)
        self.connection: duckdb.DuckDBPyConnection = snapshot_connection(schema, self.records)

    def sql_ids(self, query: str) -> list[str]:
        compiled = compile_query(self.schema, query)
        rows = self.connection.execute(
            f"SELECT id FROM t WHERE {compiled.sql} ORDER BY _seq", compiled.params
        )
        return [row[0] for row in rows.fetchall()]


@pytest.fixture(scope="module")
def random_businesses() -> Iterator[RandomDataset]:
    dataset = RandomDataset(BUSINESSES, seed=20170103)  # one whose data the sanity counts below find
    yield dataset
    dataset.connection.close()


@pytest.fixture(scope="module")
def random_products() -> Iterator[RandomDataset]:
    dataset = RandomDataset(PRODUCTS, seed=4242)
    yield dataset
    dataset.connection.close()


def check(dataset: RandomDataset, query: str) -> None:
    expected = matching_ids(dataset.schema, query, dataset.records)
    assert dataset.sql_ids(query) == expected, query


PROPERTY = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(query=queries(BUSINESSES))
def test_businesses_sql_agrees_with_evaluator(random_businesses: RandomDataset, query: str) -> None:
    check(random_businesses, query)


@PROPERTY
@given(query=queries(PRODUCTS))
def test_products_sql_agrees_with_evaluator(random_products: RandomDataset, query: str) -> None:
    check(random_products, query)


def test_the_random_datasets_are_not_trivial(random_businesses: RandomDataset) -> None:
    """Guards the property tests against a dataset on which every query matches nothing."""
    for query, at_least in [
        ("name:hilton", 10),
        ("city:austin", 5),
        ("longitude:<0", 50),
        ("reviews.rating:>=4", 10),
        ('name:"great bad"', 1),
        ("dateAdded:2017-01-01", 3),
        ("NOT city:*", 20),
        ("geoLocation:[-97.74,30.27,1000,km]", 2),
    ]:
        count = len(random_businesses.sql_ids(query))
        assert at_least <= count < len(random_businesses.records), query


def assert_points_at_the_problem(error: Invalid) -> None:
    assert error.details[0].field
    assert " at position " in error.message


QUERY_CHARACTERS = st.sampled_from(
    [
        *"ab hilton:*?\"\\()[]{}-+^~<>=/',.09TZ",
        "AND ",
        "OR ",
        "NOT ",
        " TO ",
        "name:",
        "reviews.rating:",
        "\ue000",
    ]
)


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(st.lists(QUERY_CHARACTERS, max_size=25).map("".join), st.text(max_size=30)))
def test_any_text_is_either_invalid_or_runnable_sql(random_businesses: RandomDataset, text: str) -> None:
    try:
        compiled = compile_query(BUSINESSES, text)
    except Invalid as error:
        assert_points_at_the_problem(error)
        return
    assert compiled.sql.count("?") == len(compiled.params)
    random_businesses.connection.execute(f"SELECT count(*) FROM t WHERE {compiled.sql}", compiled.params)
