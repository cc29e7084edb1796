"""The text pass that runs before luqum: hides what Lucene syntax cannot express behind placeholders.

Three things users write are not Lucene (or luqum reads them wrongly), so they are cut out of the
text and replaced by a placeholder word that luqum parses as a plain term:

- negative numbers, i.e. a value position starting with ``-`` and a digit (``longitude:-97.5``,
  ``longitude:<-97.7``, ``longitude:[-98 TO -97]``): luqum would read the ``-`` as the prohibit
  operator. On any field: ``name:-5`` searches for "5", it does not exclude it;
- ISO timestamps with a time part (``dateAdded:>2017-01-01T10:00:00+02:00``): luqum's lexer only
  copes with the colons of some of them;
- ``geoLocation:[lon,lat,distance,unit]``: not a Lucene range at all.

A *value position* is right after ``field:``, after a comparison ``>``, ``>=``, ``<``, ``<=``,
right after a range's ``[``/``{``, and right after its ``TO``. Everywhere else, notably inside a
field group such as ``rating:(-5 OR 4)``, a leading ``-`` keeps its Lucene meaning (prohibit); write
``\\-5`` there for the number. Timestamps are recognised at the start of any term.

Every character of the rewritten text remembers where it came from, so that errors found later
(by luqum or by the compiler) point into the text the user actually sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum

from dlserve.errors import ErrorDetail, Invalid

# A private-use character: it cannot be typed by accident, so a term starting with it is ours.
PLACEHOLDER_MARK = "\ue000"

# A '-' then a digit, up to where luqum would end the term: "-97.5", but also "-97.5.1", which then
# fails as a number with its whole text in the message rather than as "97.5.1".
_NEGATIVE_NUMBER = re.compile(r"-\.?\d[^\s:^~(){}\[\]\\\"]*")
_TIMESTAMP = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[Zz]|[+-]\d{2}(?::?\d{2})?)?"
)
_REGEX = re.compile(r"/(?:[^\\/]|\\.)*/", re.DOTALL)  # luqum's REGEX token
# What may follow a literal for it to be a whole term (luqum ends a term at these too).
_LITERAL_END = re.compile(r"$|[\s)\]}^~]")
# luqum's TERM: first character not one of these, later characters not one of the shorter set.
_NOT_TERM_START = frozenset(" \t\r\n\f\v:^~(){}[]/\"'+-\\<>")
_NOT_TERM_PART = frozenset(" \t\r\n\f\v:^~(){}[]\\")
# Where a clause, hence an operator symbol, may start; and what may follow ``&&``/``||``.
_CLAUSE_START = frozenset(" \t\r\n\f\v()+-!:&|")
_OPERATOR_END = frozenset(' \t\r\n\f\v()+-!"')


class LiteralKind(Enum):
    VALUE = "value"  # a negative number or a timestamp: parsed later by the field's kind
    GEO = "geo"  # the bracketed ``[lon,lat,distance,unit]`` of geoLocation, brackets included


@dataclass(frozen=True)
class Literal:
    text: str  # exactly as the user wrote it
    position: int  # in the original text
    kind: LiteralKind


@dataclass
class Rewritten:
    original: str
    text: str = ""
    literals: dict[str, Literal] = field(default_factory=dict)
    # _origins[i] is the original position of text[i]
    _origins: list[int] = field(default_factory=list)

    def original_position(self, position: int) -> int:
        if 0 <= position < len(self._origins):
            return self._origins[position]
        return len(self.original)

    def literal(self, word: str) -> Literal | None:
        return self.literals.get(word)


def rewrite(query: str) -> Rewritten:
    """The luqum-ready text of ``query``; raises :class:`Invalid` for characters we reserve."""
    mark = query.find(PLACEHOLDER_MARK)
    if mark >= 0:
        raise _syntax_error(f"syntax error at position {mark}: illegal character")
    return _Scanner(query).run()


def _unescaped_bang(word: str) -> int:
    """Index of the first ``!`` in ``word`` that no backslash escapes, or -1."""
    i = 0
    while i < len(word):
        if word[i] == "\\":
            i += 2
        elif word[i] == "!":
            return i
        else:
            i += 1
    return -1


def _syntax_error(message: str) -> Invalid:
    return Invalid(message, details=[ErrorDetail(field="query", message=message)])


class _Scanner:
    def __init__(self, query: str) -> None:
        self.query = query
        self.i = 0
        self.out: list[str] = []
        self.result = Rewritten(query)
        self.in_range = False

    def run(self) -> Rewritten:
        query = self.query
        while self.i < len(query):
            char = query[self.i]
            if char == '"':
                self._copy_phrase()
            elif char == "/":
                self._copy_regex()
            elif char == "\\":
                self._copy(min(2, len(query) - self.i))
            elif char in "[{":
                self._copy(1)
                self.in_range = True
                self._value_position()
            elif char in "]}":
                self._copy(1)
                self.in_range = False
            elif char in "<>":
                # a comparison (field:>-5, or field:(>-5 AND <0) in a group) is followed by a value
                self._copy(2 if query.startswith("=", self.i + 1) else 1)
                self._value_position()
            elif self._operator():
                pass
            elif char not in _NOT_TERM_START:
                self._term()
            else:
                self._copy(1)
        self.result.text = "".join(self.out)
        return self.result

    def _operator(self) -> bool:
        """``&&``, ``||`` and ``!`` (Lucene's symbols for AND, OR, NOT) → their words.

        As in Lucene, ``&&``/``||`` are operators when they stand alone (``a&&b`` is one term),
        ``!`` whenever it starts a clause (``!city:austin``, ``!(a OR b)``). The word is padded
        with spaces so that luqum reads it as an operator wherever the symbol stood.
        """
        query, i = self.query, self.i
        if i > 0 and query[i - 1] not in _CLAUSE_START:
            return False
        if query.startswith(("&&", "||"), i) and (i + 2 == len(query) or query[i + 2] in _OPERATOR_END):
            self._emit(" AND " if query[i] == "&" else " OR ", 2)
            return True
        if query[i] == "!":
            self._emit(" NOT ", 1)
            return True
        return False

    def _emit(self, text: str, consumed: int) -> None:
        """Replace the next ``consumed`` characters by ``text`` (which points back at them)."""
        self.out.append(text)
        self.result._origins.extend([self.i] * len(text))
        self.i += consumed

    def _term(self) -> None:
        if self._placeholder_at(_TIMESTAMP, LiteralKind.VALUE):
            return
        start = self.i
        end = self._term_end(start)
        word = self.query[start:end]
        bang = _unescaped_bang(word)
        if bang >= 0:
            raise _syntax_error(
                f"syntax error at position {start + bang}: '!' (NOT) must start a clause; "
                "put a space before it, or escape it as \\!"
            )
        self._copy(end - start)
        if word == "TO" and self.in_range:
            self._value_position()
        elif self.query.startswith(":", self.i):
            self._copy(1)
            self._copy_spaces()
            if word == "geoLocation" and self._geo_brackets():
                return
            self._value_position()

    def _term_end(self, start: int) -> int:
        query, i = self.query, start
        while i < len(query) and query[i] not in _NOT_TERM_PART:
            i += 1
        while i < len(query) and query[i] == "\\":
            # an escaped character is part of the term, whatever it is
            i = min(i + 2, len(query))
            while i < len(query) and query[i] not in _NOT_TERM_PART:
                i += 1
        return i

    def _copy_spaces(self) -> None:
        while self.i < len(self.query) and self.query[self.i].isspace():
            self._copy(1)

    def _value_position(self) -> None:
        self._copy_spaces()
        if not self._placeholder_at(_NEGATIVE_NUMBER, LiteralKind.VALUE):
            self._placeholder_at(_TIMESTAMP, LiteralKind.VALUE)

    def _placeholder_at(self, pattern: re.Pattern[str], kind: LiteralKind) -> bool:
        match = pattern.match(self.query, self.i)
        if not match or not _LITERAL_END.match(self.query, match.end()):
            return False
        self._placeholder(match.end(), kind)
        return True

    def _geo_brackets(self) -> bool:
        if not self.query.startswith("[", self.i):
            return False
        close = self.query.find("]", self.i)
        if close < 0 or not _LITERAL_END.match(self.query, close + 1):
            return False
        self._placeholder(close + 1, kind=LiteralKind.GEO)
        return True

    def _placeholder(self, end: int, kind: LiteralKind) -> None:
        word = f"{PLACEHOLDER_MARK}{len(self.result.literals)}"
        self.result.literals[word] = Literal(self.query[self.i : end], self.i, kind)
        self.out.append(word)
        self.result._origins.extend([self.i] * len(word))
        self.i = end

    def _copy_regex(self) -> None:
        """A ``/regex/`` is copied as it is (as luqum's lexer reads it); a lone ``/`` is one character."""
        match = _REGEX.match(self.query, self.i)
        self._copy(match.end() - self.i if match else 1)

    def _copy_phrase(self) -> None:
        query, i = self.query, self.i + 1
        while i < len(query) and query[i] != '"':
            i += 2 if query[i] == "\\" else 1
        self._copy(min(i + 1, len(query)) - self.i)

    def _copy(self, count: int) -> None:
        self.out.append(self.query[self.i : self.i + count])
        self.result._origins.extend(range(self.i, self.i + count))
        self.i += count
