"""One value on one field → a :mod:`nodes` leaf, by the field's kind.

Decisions the brief left open, taken here:

- ``field:*`` on a list means "has at least one non-empty element"; on a nested list
  (``reviews:*``) "has at least one element"; ``[* TO *]`` means the same as ``field:*``.
- ``?`` and ``*`` anywhere else make a wildcard pattern: on text it must match one whole token
  (``name:hil?on``, ``name:*ton``), on keywords the whole lower-cased value (``city:*tin``).
- A trailing ``*`` is a prefix: on text it applies to the last token (``name:hilton-gar*`` is the
  phrase "hilton" followed by a token starting with "gar"), on keywords to the whole lower-cased
  value. A value reduced to ``*`` (``name:**``) means ``field:*``.
- Ranges work on number, date, keyword and keyword-list fields. Keyword ranges compare the
  lower-cased values (keywords match case-insensitively everywhere).
- A date written as a day (``2017-01-01``) stands for the whole day: as a term it matches the day,
  as a bound an inclusive bound includes the day and an exclusive one excludes it. So
  ``[2017-01-01 TO 2017-01-31]`` runs through the end of the 31st, ``{2017-01-01 TO *]`` starts on
  the 2nd, ``:>2017-01-01`` starts on the 2nd, ``:<=2017-01-31`` runs through the 31st.
- A timestamp term (``dateAdded:2017-01-01T10:00:00Z``) matches that exact instant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NoReturn

from dlserve.errors import ErrorDetail, Invalid
from dlserve.query import nodes, patterns
from dlserve.query.rewrite import LiteralKind
from dlserve.query.values import BadValueError, DateValue, parse_bool, parse_date, parse_geo, parse_number
from dlserve.records.schema import Kind, ResolvedField, tokenize

_RANGE_KINDS = frozenset({Kind.NUMBER, Kind.DATE, Kind.KEYWORD, Kind.KEYWORD_LIST})
_KEYWORD_KINDS = frozenset({Kind.KEYWORD, Kind.KEYWORD_LIST})
_TEXT_KINDS = frozenset({Kind.TEXT, Kind.TEXT_LIST})
_TOKEN_CHAR = re.compile(r"[^\W_]")  # a character tokenize() keeps


def invalid(field: str, message: str) -> Invalid:
    return Invalid(message, details=[ErrorDetail(field=field, message=message)])


def too_many_expansions(text: str, limit: int) -> Invalid:
    return invalid(
        "query",
        f"the term {text!r} matches more than {limit} distinct words of the index "
        "(DLSERVE_QUERY_MAX_EXPANSIONS): make it more specific",
    )


@dataclass(frozen=True)
class Term:
    """One value as written: unescaped, with where its unescaped ``*``/``?`` wildcards are."""

    text: str
    position: int  # in the original query
    quoted: bool
    # (index in text, position in the original query) of each wildcard character
    wildcards: tuple[tuple[int, int], ...] = ()
    literal_kind: LiteralKind | None = None  # set when the rewrite step cut this value out

    @property
    def is_star(self) -> bool:
        """``*`` alone, or only wildcard stars: the field's "present" test."""
        return bool(self.text) and len(self.wildcards) == len(self.text) and set(self.text) == {"*"}

    def prefix_split(self) -> tuple[str, bool] | None:
        """(value, is_prefix) when the only wildcards are a trailing run of ``*`` (a prefix search);
        None when there are others (a wildcard pattern)."""
        trailing = len(self.text)
        for index, _ in reversed(self.wildcards):
            if index != trailing - 1 or self.text[index] != "*":
                break
            trailing = index
        if any(index < trailing for index, _ in self.wildcards):
            return None
        return self.text[:trailing], trailing < len(self.text)


def text_leaf(field: ResolvedField | None, term: Term) -> nodes.Query:
    """Tokens of a text field (``None``: every top-level text field)."""
    if field is None and term.is_star:
        return nodes.MatchAll()
    split = term.prefix_split()
    if split is None:
        return _token_pattern(field, term)
    base, prefix = split
    tokens = tokenize(base)
    if not tokens:
        return nodes.MatchNothing()
    # "hilton-*" ends between tokens: nothing is left to be a prefix of.
    prefix = prefix and base.lower().endswith(tokens[-1])
    return nodes.TokenMatch(field, tuple(tokens), prefix)


def _token_pattern(field: ResolvedField | None, term: Term) -> nodes.Query:
    """A wildcard term on a text field: it has to match one token (``hil?on``, ``*ton``)."""
    wildcard_at = {index for index, _ in term.wildcards}
    pieces: list[list[int]] = [[]]  # the term's characters, split where a token would end
    for index, char in enumerate(term.text):
        if index in wildcard_at or _TOKEN_CHAR.fullmatch(char):
            pieces[-1].append(index)
        elif pieces[-1]:
            pieces.append([])
    pieces = [piece for piece in pieces if piece]
    if len(pieces) != 1:
        raise invalid(
            field.path if field else "query",
            f"wildcard term {term.text!r} at position {term.position} spans several words: "
            "a wildcard matches within one word (a '*' at the end of a phrase-like term is a prefix)",
        )
    piece = pieces[0]
    text = "".join(term.text[index] for index in piece)
    inside = frozenset(position for position, index in enumerate(piece) if index in wildcard_at)
    return nodes.TokenPattern(field, patterns.wildcard(text, inside), term.text)


def field_leaf(field: ResolvedField, term: Term) -> nodes.Query:
    kind = field.kind
    if term.literal_kind is LiteralKind.GEO and kind is not Kind.GEO:
        _fail(field, f"a geo circle is only valid on geoLocation, at position {term.position}")
    if term.is_star:
        return nodes.Exists(field)
    if kind is Kind.GEO:
        return _geo(field, term)
    if kind is Kind.NESTED:
        example = field.top.children[0].name if field.top.children else "field"
        _fail(
            field,
            f"{field.path!r} at position {term.position} is a list of objects: "
            f"query one of its fields, e.g. {field.path}.{example}:value",
        )
    if kind in _TEXT_KINDS:
        return text_leaf(field, term)
    if kind in _KEYWORD_KINDS:
        split = term.prefix_split()
        if split is None:
            wildcard_at = frozenset(index for index, _ in term.wildcards)
            return nodes.KeywordPattern(field, patterns.wildcard(term.text, wildcard_at), term.text)
        base, prefix = split
        if prefix and not base:
            return nodes.Exists(field)
        return nodes.KeywordMatch(field, base.lower(), prefix)
    if term.wildcards:
        index, position = term.wildcards[0]
        _fail(
            field,
            f"wildcard {term.text[index]!r} at position {position} is not supported on "
            f"{kind.value} field {field.path}",
        )
    if kind is Kind.NUMBER:
        return nodes.Equals(field, _number(field, term))
    if kind is Kind.BOOL:
        try:
            return nodes.Equals(field, parse_bool(term.text))
        except BadValueError as exc:
            _bad_value(field, term, "boolean", exc)
    date = _date(field, term)
    if date.whole_day:
        return nodes.Range(field, nodes.Bound(date.start, True), nodes.Bound(date.day_end, False))
    return nodes.Equals(field, date.start)


def field_range(
    field: ResolvedField,
    low: Term | None,
    include_low: bool,
    high: Term | None,
    include_high: bool,
    position: int,
) -> nodes.Query:
    if field.kind not in _RANGE_KINDS:
        _fail(
            field,
            f"range on {field.kind.value} field {field.path} at position {position} is not supported: "
            "ranges work on number, date and keyword fields",
        )
    low_bound = _bound(field, low, include_low, is_low=True)
    high_bound = _bound(field, high, include_high, is_low=False)
    if low_bound is None and high_bound is None:
        return nodes.Exists(field)
    return nodes.Range(field, low_bound, high_bound)


def _bound(field: ResolvedField, term: Term | None, inclusive: bool, is_low: bool) -> nodes.Bound | None:
    if term is None:
        return None
    if field.kind is Kind.NUMBER:
        return nodes.Bound(_number(field, term), inclusive)
    if field.kind is not Kind.DATE:
        return nodes.Bound(term.text.lower(), inclusive)
    date = _date(field, term)
    if not date.whole_day:
        return nodes.Bound(date.start, inclusive)
    # A day as a bound stands for the whole day: see the module docstring.
    if is_low:
        return nodes.Bound(date.start if inclusive else date.day_end, True)
    return nodes.Bound(date.day_end if inclusive else date.start, False)


def _geo(field: ResolvedField, term: Term) -> nodes.Query:
    if term.literal_kind is not LiteralKind.GEO:
        _fail(
            field,
            f"invalid geoLocation {term.text!r} at position {term.position}: "
            "expected [longitude,latitude,distance,unit], e.g. [-97.74,30.27,10,mi]",
        )
    try:
        return parse_geo(term.text)
    except BadValueError as exc:
        _fail(field, f"invalid geoLocation {term.text!r} at position {term.position}: {exc}")


def _number(field: ResolvedField, term: Term) -> float:
    try:
        return parse_number(term.text)
    except BadValueError as exc:
        _bad_value(field, term, "number", exc)


def _date(field: ResolvedField, term: Term) -> DateValue:
    try:
        return parse_date(term.text)
    except BadValueError as exc:
        _bad_value(field, term, "date", exc)


def _bad_value(field: ResolvedField, term: Term, what: str, reason: BadValueError) -> NoReturn:
    _fail(field, f"invalid {what} {term.text!r} for {field.path} at position {term.position}: {reason}")


def _fail(field: ResolvedField, message: str) -> NoReturn:
    raise invalid(field.path, message)
