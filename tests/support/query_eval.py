"""A pure-Python evaluator of the query language, to check the SQL compiler against.

It reuses the parser (query text → :mod:`dlserve.query.nodes` tree) but none of the SQL: every leaf
is decided here from the record dict as it would be loaded, with plain Python — token lists
instead of ``contains`` on a token column, ``math`` haversine instead of SQL, element loops
instead of ``list_filter``.

Records are the JSON-ready dicts given to the loader: strings, numbers, booleans, ISO date strings,
lists and lists of dicts, any of them missing or None.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from dlserve.query import nodes, patterns
from dlserve.query.parse import parse_query
from dlserve.records.schema import LIST_KINDS, DataTypeSchema, Kind, ResolvedField, tokenize

Record = dict[str, Any]


def matching_ids(schema: DataTypeSchema, query: str, records: Sequence[Record]) -> list[str]:
    tree = parse_query(schema, query)
    return [record["id"] for record in records if matches(schema, tree, record)]


def matches(schema: DataTypeSchema, query: nodes.Query, record: Record) -> bool:
    if isinstance(query, nodes.MatchAll):
        return True
    if isinstance(query, nodes.MatchNothing):
        return False
    if isinstance(query, nodes.And):
        return all(matches(schema, part, record) for part in query.parts)
    if isinstance(query, nodes.Or):
        return any(matches(schema, part, record) for part in query.parts)
    if isinstance(query, nodes.Not):
        return not matches(schema, query.part, record)
    if isinstance(query, nodes.TokenMatch):
        return any(
            _has_phrase(tokenize(text), query.tokens, query.prefix)
            for text in _texts(schema, query.field, record)
        )
    if isinstance(query, nodes.Proximity):
        return any(
            _near(tokenize(text), query.tokens, query.slop) for text in _texts(schema, query.field, record)
        )
    if isinstance(query, nodes.KeywordMatch):
        return any(
            value.lower().startswith(query.value) if query.prefix else value.lower() == query.value
            for value in _present(values_of(record, query.field))
        )
    if isinstance(query, nodes.TokenPattern):
        matcher = re.compile(patterns.render(query.pattern, "python"))
        return any(
            matcher.fullmatch(token)
            for text in _texts(schema, query.field, record)
            for token in tokenize(text)
        )
    if isinstance(query, nodes.KeywordPattern):
        matcher = re.compile(patterns.render(query.pattern, "python"))
        return any(matcher.fullmatch(value.lower()) for value in _present(values_of(record, query.field)))
    if isinstance(query, nodes.Fuzzy):
        if query.tokens:
            candidates = [token for text in _texts(schema, query.field, record) for token in tokenize(text)]
        else:
            assert query.field is not None
            candidates = [value.lower() for value in _present(values_of(record, query.field))]
        return any(_edits(query.value, candidate) <= query.distance for candidate in candidates)
    if isinstance(query, nodes.Equals):
        return any(
            _typed(query.field, value) == query.value for value in _present(values_of(record, query.field))
        )
    if isinstance(query, nodes.Range):
        return any(
            _in_range(query, _typed(query.field, value)) for value in _present(values_of(record, query.field))
        )
    if isinstance(query, nodes.Exists):
        return _exists(record, query.field)
    if isinstance(query, nodes.GeoDistance):
        return _within(record, query)
    raise AssertionError(f"unknown node {query!r}")


def values_of(record: Record, field: ResolvedField) -> list[Any]:
    """Every value of ``field`` in ``record``: one for a scalar, each element for (nested) lists."""
    if field.sub is None:
        value = record.get(field.top.name)
        return list(value or []) if field.kind in LIST_KINDS else [value]
    values: list[Any] = []
    for element in record.get(field.top.name) or []:
        if element is None:
            continue
        value = element.get(field.sub.name)
        if field.sub.kind in LIST_KINDS:
            values.extend(value or [])
        else:
            values.append(value)
    return values


def _present(values: Iterable[Any]) -> list[Any]:
    return [value for value in values if value is not None]


def _texts(schema: DataTypeSchema, field: ResolvedField | None, record: Record) -> list[str]:
    if field is not None:
        return _present(values_of(record, field))
    texts: list[str] = []
    for spec in schema.text_fields():
        resolved = schema.resolve(spec.name)
        assert resolved is not None
        texts.extend(_present(values_of(record, resolved)))
    return texts


def _has_phrase(tokens: list[str], phrase: tuple[str, ...], prefix: bool) -> bool:
    size = len(phrase)
    for start in range(len(tokens) - size + 1):
        window = tokens[start : start + size]
        if window[:-1] != list(phrase[:-1]):
            continue
        last = window[-1]
        if last == phrase[-1] or (prefix and last.startswith(phrase[-1])):
            return True
    return False


def _near(tokens: list[str], phrase: tuple[str, ...], slop: int) -> bool:
    """Brute force over every choice of positions: word i at p_i, all distinct, and the offsets
    p_i - i spread over at most ``slop`` (Lucene's sloppy phrase)."""
    choices = [[at for at, token in enumerate(tokens) if token == word] for word in phrase]
    for picked in itertools.product(*choices):
        offsets = [at - i for i, at in enumerate(picked)]
        if len(set(picked)) == len(picked) and max(offsets) - min(offsets) <= slop:
            return True
    return False


def _typed(field: ResolvedField, value: Any) -> Any:
    if field.kind is Kind.DATE:
        return parse_record_date(value)
    if field.kind is Kind.NUMBER:
        return float(value)
    if field.kind in (Kind.KEYWORD, Kind.KEYWORD_LIST):
        return value.lower()
    return value


def parse_record_date(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed


def _in_range(query: nodes.Range, value: Any) -> bool:
    low, high = query.low, query.high
    if low is not None and not (value >= low.value if low.inclusive else value > low.value):
        return False
    return high is None or (value <= high.value if high.inclusive else value < high.value)


def _exists(record: Record, field: ResolvedField) -> bool:
    if field.kind is Kind.GEO:
        return record.get("latitude") is not None and record.get("longitude") is not None
    if field.kind is Kind.NESTED:
        return len(record.get(field.top.name) or []) > 0
    values = _present(values_of(record, field))
    if field.kind in (Kind.NUMBER, Kind.DATE, Kind.BOOL):
        return bool(values)
    return any(value != "" for value in values)


def _within(record: Record, circle: nodes.GeoDistance) -> bool:
    latitude, longitude = record.get("latitude"), record.get("longitude")
    if latitude is None or longitude is None:
        return False
    phi1, phi2 = math.radians(circle.latitude), math.radians(latitude)
    d_phi = math.radians(latitude - circle.latitude)
    d_lambda = math.radians(longitude - circle.longitude)
    a = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    distance = 2 * nodes.EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))
    return distance <= circle.radius_km


def _edits(a: str, b: str) -> int:
    """Optimal string alignment distance (restricted Damerau-Levenshtein), the textbook table."""
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        table[i][0] = i
    for j in range(len(b) + 1):
        table[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            table[i][j] = min(table[i - 1][j] + 1, table[i][j - 1] + 1, table[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                table[i][j] = min(table[i][j], table[i - 2][j - 2] + 1)
    return table[len(a)][len(b)]
