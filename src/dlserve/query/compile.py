"""A validated query tree → one boolean DuckDB expression over a snapshot table, with ``?`` parameters.

Only two kinds of text reach the SQL string: fixed SQL written here, and identifiers taken from the
schema (quoted). Every value the user typed travels as a parameter.

Every leaf is wrapped in ``coalesce(..., false)``: a missing field makes the leaf false rather
than NULL, so ``NOT x`` is plain SQL NOT and matches the records where x is missing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dlserve.query import nodes, patterns
from dlserve.query.parse import parse_query
from dlserve.records.layout import quote_ident
from dlserve.records.schema import (
    ALL_TEXT_COLUMN,
    ELEMENT_SEPARATOR,
    LIST_KINDS,
    DataTypeSchema,
    Kind,
    ResolvedField,
    token_column,
)


@dataclass(frozen=True)
class CompiledQuery:
    sql: str  # a boolean expression, for ``WHERE {sql}``
    params: list[object]  # the values of its ``?`` placeholders, in order


def compile_query(schema: DataTypeSchema, text: str) -> CompiledQuery:
    """Compile a Lucene-style query for records of ``schema``; raises ``Invalid`` for a bad query."""
    return to_sql(parse_query(schema, text))


def to_sql(query: nodes.Query) -> CompiledQuery:
    sql, params = _compile(query)
    return CompiledQuery(sql, params)


Fragment = tuple[str, list[object]]
# Builds a predicate over an expression that yields one value of the field (a column, ``e.rating``).
Predicate = Callable[[str], str]


def _compile(query: nodes.Query) -> Fragment:
    match query:
        case nodes.MatchAll():
            return "TRUE", []
        case nodes.MatchNothing():
            return "FALSE", []
        case nodes.And(parts) | nodes.Or(parts):
            compiled = [_compile(part) for part in parts]
            joiner = " AND " if isinstance(query, nodes.And) else " OR "
            return (
                "(" + joiner.join(sql for sql, _ in compiled) + ")",
                [param for _, params in compiled for param in params],
            )
        case nodes.Not(part):
            sql, params = _compile(part)
            return f"(NOT {sql})", params
        case nodes.TokenMatch(field, tokens, prefix):
            column = ALL_TEXT_COLUMN if field is None else token_column(field.path)
            # Token columns hold " tok tok " per element: a leading space anchors the first token's
            # start, a trailing one the last token's end (left off for a prefix).
            needle = " " + " ".join(tokens) + ("" if prefix else " ")
            return _null_safe(f"contains({quote_ident(column)}, ?)"), [needle]
        case nodes.Proximity(field, tokens, slop):
            return _proximity(ALL_TEXT_COLUMN if field is None else token_column(field.path), tokens, slop)
        case nodes.KeywordMatch(field, value, prefix):
            if prefix:
                return _on_field(field, lambda v: f"starts_with(lower({v}), ?)"), [value]
            return _on_field(field, lambda v: f"lower({v}) = ?"), [value]
        case nodes.TokenPattern(field, pattern):
            return _token_pattern(field, pattern)
        case nodes.KeywordPattern(field, pattern):
            regex = patterns.render(pattern, "re2")
            return _on_field(field, lambda v: f"regexp_full_match(lower({v}), ?)"), [regex]
        case nodes.Fuzzy(field, value, distance, tokens):
            pattern = patterns.fuzzy(value, distance)
            if tokens:
                return _token_pattern(field, pattern)
            assert field is not None
            regex = patterns.render(pattern, "re2")
            return _on_field(field, lambda v: f"regexp_full_match(lower({v}), ?)"), [regex]
        case nodes.Equals(field, value):
            return _on_field(field, lambda v: f"{v} = ?"), [value]
        case nodes.Range(field, low, high):
            return _range(field, low, high)
        case nodes.Exists(field):
            return _exists(field), []
        case nodes.GeoDistance():
            return _geo(query)
    raise AssertionError(f"unknown query node {query!r}")


def _token_pattern(field: ResolvedField | None, pattern: patterns.Node) -> Fragment:
    """Some token of a token column matches ``pattern`` whole; no ``.`` may match a space or an
    element separator. Usually one RE2 search, the token's surrounding spaces anchoring it; a
    pattern that matches the empty string would also match between two spaces, so then the
    column is split into its tokens."""
    column = quote_ident(ALL_TEXT_COLUMN if field is None else token_column(field.path))
    regex = patterns.render(pattern, "re2", excluded=" " + ELEMENT_SEPARATOR)
    if not patterns.nullable(pattern):
        return _null_safe(f"regexp_matches({column}, ?)"), [f" {regex} "]
    tokens = f"string_split({column}, ' ')"
    condition = "t <> '' AND regexp_full_match(t, ?)"
    return _null_safe(f"len(list_filter({tokens}, lambda t: {condition})) > 0"), [regex]


def _proximity(column: str, tokens: tuple[str, ...], slop: int) -> Fragment:
    """Some element of the token column holds the words within ``slop`` moves (see
    :mod:`dlserve.query.proximity`): per element, one nested ``list_filter`` per word picks a
    position ``x{i}`` of that word, distinct from the others, keeping the spread of the offsets
    ``x{i} - i`` within the slop. A ``contains`` per word first skips most rows cheaply."""
    quoted = quote_ident(column)
    positions = "list_filter(range(1, len(toks) + 1), lambda p: toks[p] = ?)"
    params: list[object] = []
    condition = "TRUE"
    for word in reversed(range(len(tokens))):
        offsets = ", ".join(f"x{i} - {i}" for i in range(word + 1))
        distinct = "".join(f" AND x{word} <> x{i}" for i in range(word))
        check = f"greatest({offsets}) - least({offsets}) <= ?{distinct} AND {condition}"
        condition = f"len(list_filter({positions}, lambda x{word}: {check})) > 0"
        params[:0] = [tokens[word], slop]
    per_element = f"list_bool_or(list_transform([string_split(trim(e), ' ')], lambda toks: {condition}))"
    split = f"string_split({quoted}, chr({ord(ELEMENT_SEPARATOR)}))"
    elements = f"list_bool_or(list_transform({split}, lambda e: {per_element}))"
    cheap = " AND ".join(f"contains({quoted}, ?)" for _ in tokens)
    sql = _null_safe(f"CASE WHEN {cheap} THEN {elements} ELSE false END")
    return sql, [f" {token} " for token in tokens] + params


def _range(field: ResolvedField, low: nodes.Bound | None, high: nodes.Bound | None) -> Fragment:
    lowered = field.kind in (Kind.KEYWORD, Kind.KEYWORD_LIST)
    params: list[object] = []
    conditions: list[str] = []
    for bound, inclusive_op, exclusive_op in ((low, ">=", ">"), (high, "<=", "<")):
        if bound is not None:
            conditions.append(inclusive_op if bound.inclusive else exclusive_op)
            params.append(bound.value)

    def predicate(value: str) -> str:
        operand = f"lower({value})" if lowered else value
        return " AND ".join(f"{operand} {op} ?" for op in conditions)

    return _on_field(field, predicate), params


def _exists(field: ResolvedField) -> str:
    if field.kind is Kind.GEO:
        return _null_safe('"latitude" IS NOT NULL AND "longitude" IS NOT NULL')
    if field.kind is Kind.NESTED:
        return _null_safe(f"len({quote_ident(field.top.name)}) > 0")
    if field.kind in (Kind.NUMBER, Kind.DATE, Kind.BOOL):
        return _on_field(field, lambda v: f"{v} IS NOT NULL")
    # strings, and each element of a string list: present means not empty
    return _on_field(field, lambda v: f"{v} <> ''")


def _on_field(field: ResolvedField, predicate: Predicate) -> str:
    """``predicate`` applied to the field's value; for lists and nested lists, to any element."""
    if field.sub is None:
        return _null_safe(_on_value(quote_ident(field.top.name), field.kind, predicate, "x"))
    member = f"e.{quote_ident(field.sub.name)}"
    return _null_safe(
        _any(quote_ident(field.top.name), "e", _on_value(member, field.sub.kind, predicate, "x"))
    )


def _on_value(expr: str, kind: Kind, predicate: Predicate, var: str) -> str:
    return _any(expr, var, predicate(var)) if kind in LIST_KINDS else predicate(expr)


def _any(list_expr: str, var: str, condition: str) -> str:
    # list_filter drops elements whose condition is NULL, so a NULL element never matches.
    return f"len(list_filter({list_expr}, lambda {var}: {condition})) > 0"


def _geo(query: nodes.GeoDistance) -> Fragment:
    # Haversine; least() keeps rounding from pushing asin's argument above 1 for antipodal points.
    sql = (
        "2 * ? * asin(least(1.0, sqrt("
        'pow(sin(radians("latitude" - ?) / 2), 2) + '
        'cos(radians(?)) * cos(radians("latitude")) * pow(sin(radians("longitude" - ?) / 2), 2)'
        "))) <= ?"
    )
    params: list[object] = [
        nodes.EARTH_RADIUS_KM,
        query.latitude,
        query.latitude,
        query.longitude,
        query.radius_km,
    ]
    return _null_safe(sql), params


def _null_safe(condition: str) -> str:
    return f"coalesce({condition}, false)"
