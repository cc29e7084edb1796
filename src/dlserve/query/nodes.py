"""The validated query tree: what a query means, independent of luqum and of SQL.

:mod:`parse` builds it (every schema and value check happens there), :mod:`compile` turns it into
SQL. Values are already typed and normalised: keyword values lower-cased, dates naive UTC, text
split into tokens. A leaf on a nested sub-field (``reviews.rating``) means "some element matches".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from dlserve.query.patterns import Node as Pattern
from dlserve.records.schema import ResolvedField

# A value compared with a column: a number, a timestamp, or a lower-cased keyword.
Scalar = float | datetime | str


@dataclass(frozen=True)
class MatchAll:
    pass


@dataclass(frozen=True)
class MatchNothing:
    pass


@dataclass(frozen=True)
class And:
    parts: tuple[Query, ...]


@dataclass(frozen=True)
class Or:
    parts: tuple[Query, ...]


@dataclass(frozen=True)
class Not:
    part: Query


@dataclass(frozen=True)
class TokenMatch:
    """The tokens, consecutive, inside one element of a text field; ``field`` None = all text fields.

    With ``prefix`` the last token only has to start the token at that place (``name:hilt*``).
    Never empty: a value without tokens becomes :class:`MatchNothing`.
    """

    field: ResolvedField | None
    tokens: tuple[str, ...]
    prefix: bool = False


@dataclass(frozen=True)
class Proximity:
    """Lucene's sloppy phrase ``"a b"~N``: the tokens, in any order, inside one element of a text
    field, at most ``slop`` position moves away from an exact phrase (see :mod:`.proximity`).

    ``sources`` are the fields whose elements are searched: ``(field,)``, or every top-level text
    field when ``field`` is None. Always at least two tokens and a slop of at least 1 (the parser
    turns the other cases into a :class:`TokenMatch`).
    """

    field: ResolvedField | None
    tokens: tuple[str, ...]
    slop: int
    sources: tuple[ResolvedField, ...]


@dataclass(frozen=True)
class KeywordMatch:
    """The whole value (or, with ``prefix``, its start) of a keyword, compared lower-cased."""

    field: ResolvedField
    value: str
    prefix: bool = False


@dataclass(frozen=True)
class TokenPattern:
    """Some token of a text field (``None``: every top-level text field) matches the pattern
    (a wildcard term or a regular expression, see :mod:`.patterns`) as a whole."""

    field: ResolvedField | None
    pattern: Pattern
    text: str  # the term as written, for messages


@dataclass(frozen=True)
class KeywordPattern:
    """The whole lower-cased value of a keyword matches the pattern."""

    field: ResolvedField
    pattern: Pattern
    text: str


@dataclass(frozen=True)
class Fuzzy:
    """Some token of a text field (``tokens``; field ``None``: every top-level text field), or the
    whole lower-cased value of a keyword, is within ``distance`` edits of ``value``: restricted
    Damerau-Levenshtein, see :func:`dlserve.query.patterns.fuzzy`."""

    field: ResolvedField | None
    value: str
    distance: int
    tokens: bool
    text: str  # the term as written, for messages


@dataclass(frozen=True)
class Equals:
    """A number, bool or exact timestamp."""

    field: ResolvedField
    value: float | bool | datetime


@dataclass(frozen=True)
class Bound:
    value: Scalar
    inclusive: bool


@dataclass(frozen=True)
class Range:
    """``low <=/< value <=/< high``; a missing bound is open. Never both missing."""

    field: ResolvedField
    low: Bound | None
    high: Bound | None


@dataclass(frozen=True)
class Exists:
    """The field is present and not empty (``field:*``)."""

    field: ResolvedField


@dataclass(frozen=True)
class GeoDistance:
    """latitude/longitude within ``radius_km`` great-circle kilometres of the point."""

    longitude: float
    latitude: float
    radius_km: float


Query = (
    MatchAll
    | MatchNothing
    | And
    | Or
    | Not
    | TokenMatch
    | Proximity
    | KeywordMatch
    | TokenPattern
    | KeywordPattern
    | Fuzzy
    | Equals
    | Range
    | Exists
    | GeoDistance
)

EARTH_RADIUS_KM = 6371.0088
KM_PER_MILE = 1.609344
