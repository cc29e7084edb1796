"""Wildcard terms (``hil?on``, ``*ton``) and Lucene regular expressions (``/hil.*/``), as one small
regex tree that each path renders in its own dialect.

Three engines must give the same answer: Tantivy's ``regex_query`` (Rust ``regex`` syntax, the
whole term must match), DuckDB's ``regexp_matches`` / ``regexp_full_match`` (RE2) and Python's
``re`` (the test referee). They agree on a common core, so the user's pattern is read here into
that core and each engine gets it spelled out: every literal character as a code-point escape,
``.`` as an explicit class, so no engine-specific syntax or flag can change the meaning.

Lucene's regex syntax (``RegExp`` with Elasticsearch's default flags) is supported except for
its operators that no engine here has: ``&`` (intersection), ``~`` (complement), ``<n-m>``
(numeric interval), ``@`` (any string) and ``#`` (empty language). Those, like any syntax error,
are a 400 naming the character and its position; never a silently different pattern.

A pattern always matches a whole value: a keyword's lower-cased value, or one token of a text
field. Letters in the pattern are lower-cased, as the values it is matched with are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

MAX_REPEAT = 100  # the largest {n,m} bound; larger ones make automata no engine should build
_MAX_CODE_POINT = 0x10FFFF


class PatternError(ValueError):
    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset  # in the pattern text as written


@dataclass(frozen=True)
class Char:
    code: int


@dataclass(frozen=True)
class AnyChar:
    pass


@dataclass(frozen=True)
class CharClass:
    ranges: tuple[tuple[int, int], ...]  # inclusive code-point ranges
    negated: bool = False


@dataclass(frozen=True)
class Seq:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Alt:
    options: tuple[Node, ...]


@dataclass(frozen=True)
class Repeat:
    item: Node
    low: int
    high: int | None  # None: unbounded


Node = Char | AnyChar | CharClass | Seq | Alt | Repeat

_SHORTHANDS: dict[str, tuple[tuple[tuple[int, int], ...], bool]] = {
    "d": (((0x30, 0x39),), False),
    "s": (((0x09, 0x0D), (0x20, 0x20)), False),
    "w": (((0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)), False),
}
_UNSUPPORTED = {
    "&": "intersection '&'",
    "~": "complement '~'",
    "<": "numeric interval '<n-m>'",
    "@": "any-string '@'",
    "#": "empty-language '#'",
}


def wildcard(text: str, wildcards: frozenset[int]) -> Node:
    """A term whose characters at ``wildcards`` are ``?`` (one character) or ``*`` (any run)."""
    items: list[Node] = []
    for index, char in enumerate(text):
        if index in wildcards:
            items.append(AnyChar() if char == "?" else Repeat(AnyChar(), 0, None))
        else:
            items.extend(Char(ord(lowered)) for lowered in char.lower())
    return Seq(tuple(items))


def nullable(node: Node) -> bool:
    """Whether the pattern matches the empty string."""
    match node:
        case Seq(items):
            return all(nullable(item) for item in items)
        case Alt(options):
            return any(nullable(option) for option in options)
        case Repeat(item, low, _):
            return low == 0 or nullable(item)
    return False


def literal_prefix(node: Node) -> str:
    """The characters every match starts with (to narrow a walk of an index's term dictionary)."""
    prefix: list[str] = []
    items = node.items if isinstance(node, Seq) else (node,)
    for item in items:
        if not isinstance(item, Char):
            break
        prefix.append(chr(item.code))
    return "".join(prefix)


def parse_regex(text: str) -> Node:
    """A Lucene regular expression (without its slashes) → the tree; raises :class:`PatternError`."""
    reader = _RegexReader(text)
    node = reader.union()
    if reader.i < len(text):
        raise PatternError(f"unexpected {text[reader.i]!r}", reader.i)
    return node


class _RegexReader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0

    def _peek(self) -> str | None:
        return self.text[self.i] if self.i < len(self.text) else None

    def union(self) -> Node:
        options = [self.concat()]
        while self._peek() == "|":
            self.i += 1
            options.append(self.concat())
        return options[0] if len(options) == 1 else Alt(tuple(options))

    def concat(self) -> Node:
        items: list[Node] = []
        while (char := self._peek()) is not None and char not in "|)":
            items.append(self.repeat())
        return items[0] if len(items) == 1 else Seq(tuple(items))

    def repeat(self) -> Node:
        node = self.simple()
        while (char := self._peek()) is not None and char in "?*+{":
            start = self.i
            self.i += 1
            if char == "?":
                node = Repeat(node, 0, 1)
            elif char == "*":
                node = Repeat(node, 0, None)
            elif char == "+":
                node = Repeat(node, 1, None)
            else:
                match = re.compile(r"(\d+)(,(\d*))?\}").match(self.text, self.i)
                if match is None:
                    raise PatternError("invalid repetition {n,m}", start)
                low = int(match[1])
                high = low if match[2] is None else (int(match[3]) if match[3] else None)
                if low > MAX_REPEAT or (high is not None and (high > MAX_REPEAT or high < low)):
                    raise PatternError(f"repetition bounds must satisfy n <= m <= {MAX_REPEAT}", start)
                node = Repeat(node, low, high)
                self.i = match.end()
        return node

    def simple(self) -> Node:
        char = self.text[self.i]
        start = self.i
        self.i += 1
        if char == ".":
            return AnyChar()
        if char == "(":
            inner = Seq(()) if self._peek() == ")" else self.union()
            if self._peek() != ")":
                raise PatternError("unclosed group '('", start)
            self.i += 1
            return inner
        if char == "[":
            return self._class(start)
        if char == '"':
            end = self.text.find('"', self.i)
            if end < 0:
                raise PatternError("unclosed string '\"'", start)
            chars = self.text[self.i : end]
            self.i = end + 1
            return Seq(tuple(Char(ord(c)) for c in chars.lower()))
        if char == "\\":
            return self._escape(start)
        if char in _UNSUPPORTED:
            raise PatternError(f"the regex operator {_UNSUPPORTED[char]} is not supported", start)
        if char in "*+?{":
            raise PatternError(f"nothing to repeat before {char!r}", start)
        if char in "]}":
            raise PatternError(f"unexpected {char!r}", start)
        return Char(ord(char.lower()))

    def _escape(self, start: int) -> Node:
        if self.i >= len(self.text):
            raise PatternError("a '\\' ends the pattern", start)
        char = self.text[self.i]
        self.i += 1
        if char.lower() in _SHORTHANDS:
            ranges, _ = _SHORTHANDS[char.lower()]
            return CharClass(ranges, negated=char.isupper())
        return Char(ord(char.lower()))

    def _class(self, start: int) -> Node:
        negated = self._peek() == "^"
        if negated:
            self.i += 1
        ranges: list[tuple[int, int]] = []
        while True:
            char = self._peek()
            if char is None:
                raise PatternError("unclosed character class '['", start)
            if char == "]" and ranges:
                self.i += 1
                return CharClass(tuple(ranges), negated)
            low = self._class_char(start)
            if self._peek() == "-" and self.i + 1 < len(self.text) and self.text[self.i + 1] != "]":
                self.i += 1
                high = self._class_char(start)
                if high < low:
                    raise PatternError("a character range runs backwards", start)
                ranges.append(_lowered_range(low, high))
            else:
                ranges.append((low, low))

    def _class_char(self, start: int) -> int:
        char = self.text[self.i]
        self.i += 1
        if char == "\\":
            if self.i >= len(self.text):
                raise PatternError("unclosed character class '['", start)
            char = self.text[self.i]
            self.i += 1
        return ord(char.lower())


def _lowered_range(low: int, high: int) -> tuple[int, int]:
    # ord() of lower-cased ends already; [A-Z] arrives here as [a-z]. A range that lower-casing
    # turned around (only mixed ones like [Z-a]) keeps its raw order.
    return (low, high) if low <= high else (high, low)


# --- rendering -------------------------------------------------------------------------------

Dialect = Literal["rust", "re2", "python"]


def render(node: Node, dialect: Dialect, *, excluded: str = "") -> str:
    """``node`` in an engine's syntax; ``excluded`` characters are never matched by ``.`` or a
    negated class (the separators of a token column, so a match stays inside one token)."""
    return _Renderer(dialect, excluded).node(node)


class _Renderer:
    def __init__(self, dialect: Dialect, excluded: str) -> None:
        self.dialect = dialect
        self.excluded = sorted({ord(c) for c in excluded})

    def char(self, code: int) -> str:
        if self.dialect == "python":
            return f"\\U{code:08X}"
        return f"\\x{{{code:X}}}"

    def node(self, node: Node) -> str:
        match node:
            case Char(code):
                return self.char(code) if not chr(code).isascii() or not chr(code).isalnum() else chr(code)
            case AnyChar():
                return self.negated([])
            case CharClass(ranges, negated):
                return self.negated(list(ranges)) if negated else self.ranges(list(ranges))
            case Seq(items):
                return "(?:" + "".join(self.node(item) for item in items) + ")"
            case Alt(options):
                return "(?:" + "|".join(self.node(option) for option in options) + ")"
            case Repeat(item, low, high):
                bounds = f"{{{low},}}" if high is None else f"{{{low},{high}}}"
                return f"(?:{self.node(item)}){bounds}"
        raise AssertionError(node)

    def negated(self, ranges: list[tuple[int, int]]) -> str:
        """Any character outside ``ranges`` and the excluded characters."""
        ranges = ranges + [(code, code) for code in self.excluded]
        if not ranges:
            return "(?s:.)"
        return "[^" + "".join(f"{self.char(low)}-{self.char(high)}" for low, high in ranges) + "]"

    def ranges(self, ranges: list[tuple[int, int]]) -> str:
        return "[" + "".join(f"{self.char(low)}-{self.char(high)}" for low, high in ranges) + "]"


# --- fuzzy terms -------------------------------------------------------------------------------


def fuzzy(text: str, distance: int) -> Node:
    """Every string within ``distance`` edits of ``text``: Damerau-Levenshtein in its restricted
    form (optimal string alignment), as Lucene's and Tantivy's automata count: an insertion,
    deletion, substitution or swap of two adjacent characters costs 1, and a swapped pair is not
    edited again. Built as the alignment of ``text`` with a candidate, position by position."""
    codes = [ord(char) for char in text]
    memo: dict[tuple[int, int], Node] = {}

    def rest(i: int, budget: int) -> Node:
        key = (i, budget)
        if key in memo:
            return memo[key]
        node: Node
        if i == len(codes):
            node = Repeat(AnyChar(), 0, budget) if budget else Seq(())
        else:
            options: list[Node] = [Seq((Char(codes[i]), rest(i + 1, budget)))]
            if budget:
                after = rest(i + 1, budget - 1)
                options.append(Seq((Repeat(AnyChar(), 0, 1), after)))  # substitute or delete
                options.append(Seq((AnyChar(), rest(i, budget - 1))))  # insert
                if i + 1 < len(codes) and codes[i] != codes[i + 1]:
                    swapped = (Char(codes[i + 1]), Char(codes[i]))
                    options.append(Seq((*swapped, rest(i + 2, budget - 1))))
            node = Alt(tuple(options))
        memo[key] = node
        return node

    return rest(0, distance)


def within_edits(a: str, b: str, distance: int) -> bool:
    """Whether the restricted Damerau-Levenshtein distance of ``a`` and ``b`` is at most ``distance``."""
    if abs(len(a) - len(b)) > distance:
        return False
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > distance:
            return False
        previous2, previous = previous, current
    return previous[len(b)] <= distance
