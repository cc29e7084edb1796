"""Query text → validated :mod:`nodes` tree: luqum parses, this module checks it against the schema.

Operators: ``AND`` (``&&``), ``OR`` (``||``), ``NOT`` (``!``), ``-x`` (= NOT x), ``+x`` (= x) and
parentheses; the symbols become their words in :mod:`.rewrite`. ``_exists_:f`` means ``f:*``. Terms written
next to each other without an operator are joined by AND (Datafiniti's default), and that
implicit AND binds loosest: ``a b OR c`` is ``a AND (b OR c)``; ``a OR b AND c`` is
``a OR (b AND c)``. Lower-case ``and``/``or`` are ordinary words.

Boosts (``name:hilton^2``) are accepted and ignored: a download filters, it does not rank.
Regular expressions (``/hil.*/``) use Lucene's syntax (:mod:`.patterns`); fuzzy terms
(``hilton~``, ``hilton~1``) count restricted Damerau-Levenshtein edits. Proximity (``"a b"~3``)
finds a text field's words within N moves (:mod:`.proximity`).

Every problem raises :class:`~dlserve.errors.Invalid` with one detail whose ``field`` is the field
concerned (``"query"`` when none is), and whose message gives a position in the original text.
"""

from __future__ import annotations

import re
from typing import NoReturn

from luqum import tree
from luqum.exceptions import IllegalCharacterError, ParseError
from luqum.thread import parse as luqum_parse

from dlserve.query import nodes, patterns, proximity
from dlserve.query.leaves import Term, field_leaf, field_range, invalid, text_leaf
from dlserve.query.rewrite import PLACEHOLDER_MARK, LiteralKind, Rewritten, rewrite
from dlserve.records.schema import DataTypeSchema, Kind, ResolvedField, tokenize

# Deeper than any hand-written query; stops a pathological one before Python's recursion limit.
MAX_DEPTH = 100
DEFAULT_FUZZY_DISTANCE = 2  # Lucene's for a bare ``~``
# The SQL path matches a fuzzy term with a regex whose size grows as the cube of its length.
MAX_FUZZY_LENGTH = 20
EXISTS_FIELD = "_exists_"
_MATCH_ALL_TEXTS = frozenset({"", "*", "*:*"})
_LUQUM_UNEXPECTED = re.compile(r"unexpected\s+'(?P<token>.*)' at position (?P<pos>\d+)!?$", re.DOTALL)
_LUQUM_ILLEGAL = re.compile(r"at position (?P<pos>\d+)$")


def parse_query(schema: DataTypeSchema, text: str) -> nodes.Query:
    if text.strip() in _MATCH_ALL_TEXTS:
        return nodes.MatchAll()
    rewritten = rewrite(text)
    return _TreeReader(schema, rewritten).read(_luqum_tree(rewritten), None, 0)


def _luqum_tree(rewritten: Rewritten) -> tree.Item:
    try:
        return luqum_parse(rewritten.text)
    except IllegalCharacterError as exc:
        match = _LUQUM_ILLEGAL.search(str(exc))
        position = rewritten.original_position(int(match["pos"])) if match else 0
        char = rewritten.original[position : position + 1]
        raise invalid(
            "query", f"syntax error at position {position}: unexpected character {char!r}"
        ) from None
    except ParseError as exc:
        match = _LUQUM_UNEXPECTED.search(str(exc))
        if match is None:
            # luqum's only other syntax error is running out of input (an unclosed group, a
            # dangling AND).
            message = f"syntax error at position {len(rewritten.original)}: unexpected end of query"
        else:
            position = rewritten.original_position(int(match["pos"]))
            token = _restore_literals(rewritten, match["token"])
            message = f"syntax error at position {position}: unexpected {token!r}"
        raise invalid("query", message) from None
    except Exception:  # the parser is third-party: none of its failures may escape as a 500
        raise invalid("query", "syntax error at position 0: the query could not be parsed") from None


def _restore_literals(rewritten: Rewritten, text: str) -> str:
    return re.sub(
        f"{PLACEHOLDER_MARK}\\d+",
        lambda m: literal.text if (literal := rewritten.literal(m[0])) else m[0],
        text,
    )


class _TreeReader:
    """Walks luqum's tree; ``field`` is the field a ``field:(...)`` group applies to its terms."""

    def __init__(self, schema: DataTypeSchema, rewritten: Rewritten) -> None:
        self.schema = schema
        self.rewritten = rewritten

    def read(self, item: tree.Item, field: ResolvedField | None, depth: int) -> nodes.Query:
        if depth > MAX_DEPTH:
            self._fail(field, f"the query is nested too deeply at position {self._position(item)}")
        depth += 1
        if isinstance(item, tree.AndOperation | tree.UnknownOperation):
            return nodes.And(tuple(self.read(op, field, depth) for op in item.operands))
        if isinstance(item, tree.OrOperation):
            return nodes.Or(tuple(self.read(op, field, depth) for op in item.operands))
        if isinstance(item, tree.Not | tree.Prohibit):
            return nodes.Not(self.read(item.a, field, depth))
        if isinstance(item, tree.Plus):
            return self.read(item.a, field, depth)
        if isinstance(item, tree.BaseGroup):
            return self.read(item.expr, field, depth)
        if isinstance(item, tree.Boost):
            return self.read(item.expr, field, depth)
        if isinstance(item, tree.SearchField):
            return self._search_field(item, field, depth)
        if isinstance(item, tree.Word | tree.Phrase):
            return self._term(item, field)
        if isinstance(item, tree.Range):
            return self._range(item, field)
        if isinstance(item, tree.From | tree.To):
            return self._comparison(item, field)
        if isinstance(item, tree.Regex):
            return self._regex(item, field)
        if isinstance(item, tree.Fuzzy) and isinstance(item.term, tree.Word):
            return self._fuzzy(item, field)
        if isinstance(item, tree.Proximity) and isinstance(item.term, tree.Phrase):
            return self._proximity(item, field)
        return self._unsupported(item, field)

    def _search_field(self, item: tree.SearchField, outer: ResolvedField | None, depth: int) -> nodes.Query:
        position = self._position(item)
        if outer is not None:
            raise invalid(
                item.name,
                f"field {item.name!r} at position {position} is inside the group of field "
                f"{outer.path!r}; a group can only hold values of its field",
            )
        if item.name == "*" and isinstance(item.expr, tree.Word) and item.expr.value == "*":
            return nodes.MatchAll()
        if item.name == EXISTS_FIELD:
            return self._exists(item)
        resolved = self.schema.resolve(item.name)
        if resolved is None:
            message = f"unknown field {item.name!r} at position {position}"
            if item.name == "geoLocation":
                message += f": {self.schema.name} have no latitude/longitude"
            raise invalid(item.name, message)
        return self.read(item.expr, resolved, depth)

    def _exists(self, item: tree.SearchField) -> nodes.Query:
        """``_exists_:field`` (Elasticsearch's spelling of ``field:*``)."""
        expr = item.expr
        if not isinstance(expr, tree.Word) or self.rewritten.literal(expr.value) is not None:
            self._fail(
                None,
                f"{EXISTS_FIELD} at position {self._position(item)} takes one field name, "
                "e.g. _exists_:websites",
            )
        term = self._term_value(expr)
        resolved = self.schema.resolve(term.text)
        if term.wildcards or resolved is None:
            raise invalid(term.text, f"unknown field {term.text!r} at position {term.position}")
        return nodes.Exists(resolved)

    def _term(self, item: tree.Word | tree.Phrase, field: ResolvedField | None) -> nodes.Query:
        term = self._term_value(item)
        if field is None:
            if term.literal_kind is LiteralKind.GEO:
                self._fail(None, f"a geo circle needs the field geoLocation, at position {term.position}")
            return text_leaf(None, term)
        return field_leaf(field, term)

    def _range(self, item: tree.Range, field: ResolvedField | None) -> nodes.Query:
        field = self._range_field(item, field)
        low = self._bound(item.low, field)
        high = self._bound(item.high, field)
        return field_range(field, low, item.include_low, high, item.include_high, self._position(item))

    def _comparison(self, item: tree.From | tree.To, field: ResolvedField | None) -> nodes.Query:
        field = self._range_field(item, field)
        bound = self._bound(item.a, field)
        position = self._position(item)
        if isinstance(item, tree.From):
            return field_range(field, bound, item.include, None, False, position)
        return field_range(field, None, False, bound, item.include, position)

    def _range_field(self, item: tree.Item, field: ResolvedField | None) -> ResolvedField:
        if field is None:
            position = self._position(item)
            self._fail(
                None, f"a range needs a field, e.g. dateAdded:[2017-01-01 TO *], at position {position}"
            )
        return field

    def _bound(self, item: tree.Item, field: ResolvedField) -> Term | None:
        """A range bound; None for an open ``*``."""
        if isinstance(item, tree.Word) and item.value == "*":
            return None
        if not isinstance(item, tree.Word | tree.Phrase):
            self._fail(field, f"invalid range bound for {field.path} at position {self._position(item)}")
        term = self._term_value(item)
        if term.wildcards:
            self._fail(
                field,
                f"wildcard {term.text[term.wildcards[0][0]]!r} at position {term.wildcards[0][1]} "
                f"is not supported in a range",
            )
        return term

    def _term_value(self, item: tree.Word | tree.Phrase) -> Term:
        position = self._position(item)
        literal = self.rewritten.literal(item.value)
        if literal is not None:
            return Term(literal.text, literal.position, quoted=False, literal_kind=literal.kind)
        if isinstance(item, tree.Phrase):
            return Term(_unescape(item.value[1:-1]), position, quoted=True)
        text: list[str] = []
        wildcards: list[tuple[int, int]] = []
        raw, i = item.value, 0
        while i < len(raw):
            if raw[i] == "\\" and i + 1 < len(raw):
                i += 1
            elif raw[i] in "*?":
                wildcards.append((len(text), self.rewritten.original_position(item.pos + i)))
            text.append(raw[i])
            i += 1
        return Term("".join(text), position, quoted=False, wildcards=tuple(wildcards))

    def _regex(self, item: tree.Regex, field: ResolvedField | None) -> nodes.Query:
        """``/pattern/``: Lucene regex syntax, on keywords (the whole value) and on the tokens of
        text fields (one whole token); see :mod:`.patterns`."""
        position = self._position(item)
        try:
            pattern = patterns.parse_regex(item.value[1:-1])
        except patterns.PatternError as exc:
            at = self.rewritten.original_position(item.pos + 1 + exc.offset)
            self._fail(field, f"invalid regular expression at position {at}: {exc}")
        if field is None or field.kind in (Kind.TEXT, Kind.TEXT_LIST):
            return nodes.TokenPattern(field, pattern, item.value)
        if field.kind in (Kind.KEYWORD, Kind.KEYWORD_LIST):
            return nodes.KeywordPattern(field, pattern, item.value)
        self._fail(
            field,
            f"regular expression at position {position} on {field.kind.value} field {field.path}: "
            "regular expressions work on text and keyword fields",
        )

    def _fuzzy(self, item: tree.Fuzzy, field: ResolvedField | None) -> nodes.Query:
        """``term~`` (2 edits) or ``term~N`` (N = 0, 1 or 2), as in Lucene."""
        tilde = self.rewritten.original_position(item.term.pos + item.term.size)
        degree = re.match(r"~([0-9.]*)", self.rewritten.text[item.term.pos + item.term.size :])
        written = degree[1] if degree else ""
        if written and written not in ("0", "1", "2"):
            self._fail(field, f"fuzzy search at position {tilde}: the edit distance must be 0, 1 or 2")
        distance = int(written) if written else DEFAULT_FUZZY_DISTANCE
        term = self._term_value(item.term)
        if term.literal_kind is not None or term.wildcards:
            self._fail(field, f"fuzzy search at position {tilde} needs a plain word, without wildcards")
        if len(term.text) > MAX_FUZZY_LENGTH:
            self._fail(
                field,
                f"fuzzy term at position {term.position} is longer than {MAX_FUZZY_LENGTH} characters",
            )
        written_term = f"{item.term.value}~{written}"
        if field is None or field.kind in (Kind.TEXT, Kind.TEXT_LIST):
            tokens = tokenize(term.text)
            if len(tokens) != 1:
                self._fail(
                    field,
                    f"fuzzy term {term.text!r} at position {term.position} must be one word",
                )
            return nodes.Fuzzy(field, tokens[0], distance, True, written_term)
        if field.kind in (Kind.KEYWORD, Kind.KEYWORD_LIST):
            return nodes.Fuzzy(field, term.text.lower(), distance, False, written_term)
        self._fail(
            field,
            f"fuzzy search at position {tilde} on {field.kind.value} field {field.path}: "
            "fuzzy terms work on text and keyword fields",
        )

    def _proximity(self, item: tree.Proximity, field: ResolvedField | None) -> nodes.Query:
        """``"a b"~N``: the words within N moves of each other in one element of a text field.
        A bare ``~`` is slop 0, as in Lucene (luqum reads it as 1)."""
        tilde = item.term.pos + item.term.size
        written = self.rewritten.text[tilde + 1 : tilde + 2]
        slop = int(item.degree) if written.isdigit() else 0
        at = self.rewritten.original_position(tilde)
        if field is not None and field.kind not in (Kind.TEXT, Kind.TEXT_LIST):
            self._fail(
                field,
                f"proximity search at position {at} on {field.kind.value} field {field.path}: "
                "proximity works on text fields",
            )
        if slop > proximity.MAX_SLOP:
            self._fail(field, f"proximity ~{slop} at position {at} is more than {proximity.MAX_SLOP}")
        term = self._term_value(item.term)
        tokens = tuple(tokenize(term.text))
        if len(tokens) > proximity.MAX_WORDS:
            self._fail(
                field,
                f"proximity phrase at position {term.position} has {len(tokens)} words; "
                f"at most {proximity.MAX_WORDS} are allowed",
            )
        if not tokens:
            return nodes.MatchNothing()
        if len(tokens) == 1 or slop == 0:
            return nodes.TokenMatch(field, tokens)  # one word, or the exact phrase
        sources = (field,) if field else tuple(ResolvedField(f.name, f) for f in self.schema.text_fields())
        return nodes.Proximity(field, tokens, slop, sources)

    def _unsupported(self, item: tree.Item, field: ResolvedField | None) -> NoReturn:
        position = self._position(item)
        if isinstance(item, tree.Fuzzy | tree.Proximity):
            kind = "fuzzy search" if isinstance(item, tree.Fuzzy) else "proximity search"
            tilde = self.rewritten.original_position(item.term.pos + item.term.size)
            what = "a phrase" if isinstance(item, tree.Proximity) else "one word"
            self._fail(field, f"{kind} '~' at position {tilde} needs {what} before it")
        if isinstance(item, tree.Regex):
            self._fail(field, f"regular expression at position {position} is not supported")
        self._fail(field, f"syntax error at position {position}: unexpected {str(item)!r}")

    def _position(self, item: tree.Item) -> int:
        return self.rewritten.original_position(item.pos if item.pos is not None else 0)

    def _fail(self, field: ResolvedField | None, message: str) -> NoReturn:
        raise invalid(field.path if field else "query", message)


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text, flags=re.DOTALL)
