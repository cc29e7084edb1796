"""A validated query tree (:mod:`dlserve.query.nodes`) → one Tantivy query; no re-parsing.

Leaf by leaf, the same meaning as :mod:`dlserve.query.compile` gives in SQL (see
:mod:`.layout` for how values are indexed):

- tokens: a term, a phrase, or, with a trailing ``*``, a regex over the last token's terms
  (``regex_query``, ``regex_phrase_query``); Tantivy's ``phrase_prefix_query`` stops after 50
  expansions, so it is not used;
- keywords: a raw term, a prefix regex, or a range regex (:mod:`.regex`);
- numbers, dates, bools: terms and fast-field ranges;
- ``field:*``: a term of the ``_present`` field;
- ``NOT x``: everything but x (missing fields included, as SQL's ``NOT coalesce(x, false)``);
- geo circles: delegated to a callback that knows the searcher (:mod:`.geo`);
- sloppy phrases: likewise (:mod:`.proximity`).

- wildcard and regex patterns: ``regex_query`` with the pattern spelled for Rust's regex
  (:mod:`dlserve.query.patterns`), after a check of how many index terms it expands to.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from functools import partial

import tantivy

from dlserve.query import nodes, patterns
from dlserve.records.schema import ALL_TEXT_COLUMN, Kind, ResolvedField
from dlserve.search import regex
from dlserve.search.layout import PRESENT, field_for

Occur = tantivy.Occur
GeoResolver = Callable[[nodes.GeoDistance], tantivy.Query]
# (the sloppy phrase, the Tantivy field it searches) → its query (see :mod:`.proximity`).
ProximityResolver = Callable[[nodes.Proximity, str], tantivy.Query]
# (Tantivy field, literal prefix of every match, whether a term matches, the term as written):
# raises Invalid when the term would expand to too many index terms.
ExpansionCheck = Callable[[str, str, Callable[[str], bool], str], None]
_EPOCH = datetime(1970, 1, 1)
_MICROSECOND = 1e-6


class Untranslatable(Exception):
    """The index cannot answer this query exactly (e.g. a regex it refuses); use the SQL path."""


def epoch_micros(value: datetime) -> int:
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


class Translator:
    def __init__(
        self,
        schema: tantivy.Schema,
        geo: GeoResolver,
        expansions: ExpansionCheck | None = None,
        proximity: ProximityResolver | None = None,
    ) -> None:
        self._schema = schema
        self._geo = geo
        self._expansions = expansions
        self._proximity = proximity

    def translate(self, query: nodes.Query) -> tantivy.Query:
        match query:
            case nodes.MatchAll():
                return tantivy.Query.all_query()
            case nodes.MatchNothing():
                return tantivy.Query.empty_query()
            case nodes.And(parts):
                return tantivy.Query.boolean_query([(Occur.Must, self.translate(p)) for p in parts])
            case nodes.Or(parts):
                return tantivy.Query.boolean_query([(Occur.Should, self.translate(p)) for p in parts])
            case nodes.Not(part):
                return tantivy.Query.boolean_query(
                    [(Occur.Must, tantivy.Query.all_query()), (Occur.MustNot, self.translate(part))]
                )
        return self.leaf(query)

    def single_term(self, query: nodes.Query) -> tuple[str, str | int | float | bool] | None:
        """(Tantivy field, value) when ``query`` is one term query of the index, else None: its
        count is then the term's document frequency."""
        match query:
            case nodes.TokenMatch(field, tokens, False) if len(tokens) == 1:
                return (ALL_TEXT_COLUMN if field is None else field_for(field)), tokens[0]
            case nodes.KeywordMatch(field, value, False):
                return field_for(field), value
            case nodes.Exists(field):
                return PRESENT, field.path
            case nodes.Equals(field, value):
                if isinstance(value, bool):
                    return field_for(field), value
                if isinstance(value, datetime):
                    return field_for(field), epoch_micros(value)
                return field_for(field), float(value) + 0.0  # -0.0 → 0.0
        return None

    def leaf(self, query: nodes.Query) -> tantivy.Query:
        term = self.single_term(query)
        if term is not None:
            return tantivy.Query.term_query(self._schema, *term)
        match query:
            case nodes.TokenMatch(field, tokens, prefix):
                return self._tokens(ALL_TEXT_COLUMN if field is None else field_for(field), tokens, prefix)
            case nodes.Proximity(field):
                if self._proximity is None:
                    raise Untranslatable("sloppy phrases need a searcher")
                return self._proximity(query, ALL_TEXT_COLUMN if field is None else field_for(field))
            case nodes.KeywordMatch(field, value, True):
                self._check_prefix(field_for(field), value)
                return self._regex(field_for(field), regex.prefix(value))
            case nodes.TokenPattern(field, pattern, text):
                name = ALL_TEXT_COLUMN if field is None else field_for(field)
                return self._pattern(name, pattern, text)
            case nodes.KeywordPattern(field, pattern, text):
                return self._pattern(field_for(field), pattern, text)
            case nodes.Fuzzy(field, value, distance, tokens, text):
                name = ALL_TEXT_COLUMN if field is None else field_for(field)
                if self._expansions is not None:
                    self._expansions(name, "", partial(patterns.within_edits, value, distance=distance), text)
                return tantivy.Query.fuzzy_term_query(
                    self._schema, name, value, distance, transposition_cost_one=True, prefix=False
                )
            case nodes.Range(field, low, high):
                return self._range(field, low, high)
            case nodes.GeoDistance():
                return self._geo(query)
        raise AssertionError(f"unknown query node {query!r}")

    def _tokens(self, name: str, tokens: tuple[str, ...], prefix: bool) -> tantivy.Query:
        if not prefix:  # (one token is a single term)
            return tantivy.Query.phrase_query(self._schema, name, list(tokens))
        self._check_prefix(name, tokens[-1])
        if len(tokens) == 1:
            return self._regex(name, regex.prefix(tokens[0]))
        words: list[str | tuple[int, str]] = [regex.literal(token) for token in tokens[:-1]]
        words.append(regex.prefix(tokens[-1]))
        return tantivy.Query.regex_phrase_query(self._schema, name, words)

    def _check_prefix(self, name: str, prefix: str) -> None:
        if self._expansions is not None:
            self._expansions(name, prefix, lambda term: True, prefix + "*")

    def _pattern(self, name: str, pattern: patterns.Node, text: str) -> tantivy.Query:
        if self._expansions is not None:
            matcher = re.compile(patterns.render(pattern, "python"))
            self._expansions(
                name, patterns.literal_prefix(pattern), lambda term: bool(matcher.fullmatch(term)), text
            )
        return self._regex(name, patterns.render(pattern, "rust"))

    def _regex(self, name: str, pattern: str | None) -> tantivy.Query:
        if pattern is None:
            return tantivy.Query.empty_query()
        try:
            return tantivy.Query.regex_query(self._schema, name, pattern)
        except ValueError as exc:  # e.g. an automaton too large for Tantivy
            raise Untranslatable(str(exc)) from None

    def _range(
        self, field: ResolvedField, low: nodes.Bound | None, high: nodes.Bound | None
    ) -> tantivy.Query:
        name = field_for(field)
        if field.kind in (Kind.KEYWORD, Kind.KEYWORD_LIST):
            return self._regex(
                name,
                regex.between(
                    None if low is None else str(low.value),
                    low is None or low.inclusive,
                    None if high is None else str(high.value),
                    high is None or high.inclusive,
                ),
            )
        if field.kind is Kind.DATE:
            field_type = tantivy.FieldType.Integer
            convert: Callable[[nodes.Scalar], int | float] = _micros
        else:
            field_type = tantivy.FieldType.Float
            convert = _float
        return tantivy.Query.range_query(
            self._schema,
            name,
            field_type,
            lower_bound=None if low is None else convert(low.value),
            upper_bound=None if high is None else convert(high.value),
            include_lower=low is None or low.inclusive,
            include_upper=high is None or high.inclusive,
        )


def _micros(value: nodes.Scalar) -> int:
    assert isinstance(value, datetime)
    return epoch_micros(value)


def _float(value: nodes.Scalar) -> float:
    assert isinstance(value, float | int)
    return float(value) + 0.0
