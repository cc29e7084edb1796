"""The Tantivy implementation of :class:`~dlserve.search.interfaces.SearchIndex`: one snapshot's
index, opened once per process and shared by every request (a searcher is thread-safe, and the
index never changes: snapshots are immutable)."""

from __future__ import annotations

import heapq
import itertools
import json
import math
from collections.abc import Callable
from pathlib import Path

import tantivy

from dlserve.query import nodes
from dlserve.query.leaves import too_many_expansions
from dlserve.search import proximity
from dlserve.search.geo import cells_size, circle_parts, circle_query, inside, ring_size
from dlserve.search.layout import ID, RECORD, SEQ, match_count, open_index
from dlserve.search.translate import Translator

_ASC = tantivy.Order.Asc
_MUST = tantivy.Occur.Must


# How many index terms one wildcard, fuzzy or regex term may expand to (DLSERVE_QUERY_MAX_EXPANSIONS).
DEFAULT_MAX_EXPANSIONS = 10_000
# Matches of a query whose count is known are looked for in a window of ``_seq`` values first
# (see ``_matches``) when there are this many: ordering fewer is cheaper than the window's range.
_WINDOW_MIN_MATCHES = 20_000
# The window: this many times the width that should hold the matches wanted, plus a few records.
_WINDOW_MARGIN = 2.0
_WINDOW_EXTRA = 256
# From this offset on, a page is deep: the window starts near the offset-th match (at this fraction
# of its expected place), and a query whose count is not known is counted first.
_DEEP_OFFSET = 1_000
_DEEP_GUESS = 0.95


class TantivySearchIndex:
    def __init__(self, path: Path, max_expansions: int = DEFAULT_MAX_EXPANSIONS) -> None:
        self.path = path
        self.max_expansions = max_expansions
        self._index = open_index(path)
        self._schema = self._index.schema
        self._searcher = self._index.searcher()
        self._translator = Translator(self._schema, self._geo, self._check_expansions, self._near)
        self._seq_bounds = self._lowest_and_highest_seq()
        low, high = self._seq_bounds or (0, -1)
        # The first ``_seq`` when the snapshot's are consecutive (a load numbers its rows 1..n, an
        # append continues after the previous maximum): then the k-th record of everything is the
        # one with ``_seq`` first + k, and a deep page of ``*`` is a small range, not a sort.
        self._first_seq = low if self._seq_bounds and high - low + 1 == self.num_docs else None
        # A term's document frequency counts deleted documents too: exact only without deletes
        # (snapshot indexes are only ever added to; this guards an index that is not).
        self._exact_doc_freq = _without_deletes(path)

    @property
    def num_docs(self) -> int:
        return int(self._searcher.num_docs)

    def count(self, query: nodes.Query) -> int:
        known = self._known_count(query)
        if known is not None:
            return known
        circle = _circle_and_rest(query)
        if circle is not None:
            return self._circle_page(*circle, limit=0, offset=0)[0]
        return self._count(self._translator.translate(query))

    def _known_count(self, query: nodes.Query) -> int | None:
        """The count without a search, where the index already holds it: everything, one term
        (its document frequency), or everything but such a query."""
        match query:
            case nodes.MatchAll():
                return self.num_docs
            case nodes.MatchNothing():
                return 0
            case nodes.Not(part):
                excluded = self._known_count(part)
                return None if excluded is None else self.num_docs - excluded
        term = self._translator.single_term(query)
        if term is None or not self._exact_doc_freq:
            return None
        return int(self._searcher.doc_freq(*term))

    def records(self, query: nodes.Query, limit: int, offset: int = 0) -> list[str]:
        """The stored JSON of matches ``offset`` to ``offset + limit``, in ``_seq`` order."""
        return self.page(query, limit, offset)[1] if limit > 0 else []

    def page(self, query: nodes.Query, limit: int, offset: int = 0) -> tuple[int, list[str]]:
        """The number of matches and the stored JSON of matches ``offset`` to ``offset + limit``,
        in ``_seq`` order: one pass over the matches."""
        if limit <= 0 or offset >= self.num_docs:
            # (past the last record nothing can match; Tantivy would size its heap by the offset)
            return self.count(query), []
        if isinstance(query, nodes.MatchAll) and self._first_seq is not None:
            return self.num_docs, self._seq_range(self._first_seq + offset, limit)
        circle = _circle_and_rest(query)
        if circle is not None:
            found, addresses = self._circle_page(*circle, limit=limit, offset=offset)
            return found, [self._record(address) for address in addresses]
        translated = self._translator.translate(query)
        known = self._known_count(query)
        if known is None and offset >= _DEEP_OFFSET:
            known = self._count(translated)  # (a deep page: counting first spares the long sort)
        if known is None:
            result = self._searcher.search(
                translated, limit=limit, offset=offset, count=True, order_by_field=SEQ, order=_ASC
            )
            return match_count(result), [self._record(address) for _, address in result.hits[:limit]]
        if offset >= known:
            return known, []
        return known, [self._record(address) for address in self._matches(translated, known, limit, offset)]

    def _matches(self, query: tantivy.Query, found: int, limit: int, offset: int) -> list[tantivy.DocAddress]:
        return [address for _, address in self._match_hits(query, found, limit, offset)]

    def _match_hits(
        self, query: tantivy.Query, found: int, limit: int, offset: int
    ) -> list[tuple[int, tantivy.DocAddress]]:
        """``(_seq, address)`` of matches ``offset`` to ``offset + limit`` (in ``_seq`` order) of a
        query with ``found`` matches. What costs is ordering every match (and keeping ``offset +
        limit`` of them), so with many matches they are first looked for in a window of ``_seq``
        values:

        - for a deep page, the window starts a little before where the ``offset``-th match should
          be if matches are spread evenly; the matches before it are counted (a count keeps
          nothing), and must be at most ``offset``;
        - the window should hold twice the matches wanted. If it holds enough of them, they are
          the ones (every later match has a higher ``_seq``); if not, every match is ordered."""
        if self._seq_bounds is not None and found >= _WINDOW_MIN_MATCHES:
            low, high = self._seq_bounds
            per_match = (high - low + 1) / found
            start, before = low, 0
            if offset >= _DEEP_OFFSET:
                guess = low + int(offset * per_match * _DEEP_GUESS)
                for _ in range(2):  # a second guess from the density the first one saw
                    if guess <= low:
                        break
                    counted = self._count(self._within(query, low, guess - 1))
                    if counted <= offset:
                        start, before = guess, counted
                        break
                    guess = low + int((guess - low) * offset / counted * _DEEP_GUESS)
            skip = offset - before
            width = math.ceil((skip + limit) * per_match * _WINDOW_MARGIN) + _WINDOW_EXTRA
            result = self._searcher.search(
                self._within(query, start, start + width - 1),
                limit=limit,
                offset=skip,
                count=True,
                order_by_field=SEQ,
                order=_ASC,
            )
            if match_count(result) >= min(skip + limit, found - before):
                return [(int(seq), address) for seq, address in result.hits]
        result = self._searcher.search(
            query, limit=limit, offset=offset, count=False, order_by_field=SEQ, order=_ASC
        )
        return [(int(seq), address) for seq, address in result.hits]

    def _circle_page(
        self, circle: nodes.GeoDistance, rest: list[nodes.Query], limit: int, offset: int
    ) -> tuple[int, list[tantivy.DocAddress]]:
        """A geo circle, alone or AND other clauses: the matches of the circle's inner part (and
        the rest), then those of its ring (and the rest) that the exact formula puts inside,
        merged by ``_seq``. Counted and paged from both parts, without building the ring's
        matches into a query (a set of ``_seq`` terms costs a scan of every record)."""
        parts = circle_parts(self._schema, circle)
        others = [self._translator.translate(part) for part in rest]

        def also(query: tantivy.Query) -> tantivy.Query:
            return tantivy.Query.boolean_query([(_MUST, q) for q in [query, *others]]) if others else query

        checked = inside(
            self._searcher, circle, also(parts.ring), parts.bound, ring_size(self._searcher, parts)
        )
        if parts.inner is None:
            return len(checked), [address for _, address in checked[offset : offset + limit]]
        if not others and parts.inner_cells and self._exact_doc_freq:
            # the circle alone: its inner cells' document frequencies count it, no search; its
            # first matches are looked for like those of any query whose count is known
            inner_found = cells_size(self._searcher, parts.inner_cells)
            if limit <= 0:
                return inner_found + len(checked), []
            hits = self._match_hits(parts.inner, inner_found, offset + limit, 0) if inner_found else []
        else:
            result = self._searcher.search(
                also(parts.inner), limit=max(1, offset + limit), count=True, order_by_field=SEQ, order=_ASC
            )
            inner_found, hits = match_count(result), result.hits
            if limit <= 0:
                return inner_found + len(checked), []
        found = inner_found + len(checked)
        inner = ((int(seq), address) for seq, address in hits)
        merged = heapq.merge(inner, checked, key=lambda hit: hit[0])
        return found, [address for _, address in itertools.islice(merged, offset, offset + limit)]

    def _within(self, query: tantivy.Query, first: int, last: int) -> tantivy.Query:
        """``query``, and ``first <= _seq <= last``."""
        window = tantivy.Query.range_query(self._schema, SEQ, tantivy.FieldType.Unsigned, first, last)
        return tantivy.Query.boolean_query([(_MUST, query), (_MUST, window)])

    def _count(self, query: tantivy.Query) -> int:
        # (ordered by a fast field, the search scores nothing: a count needs no relevance)
        return match_count(self._searcher.search(query, limit=1, count=True, order_by_field=SEQ, order=_ASC))

    def seqs(self, query: nodes.Query, limit: int, offset: int = 0) -> list[int]:
        """``_seq`` of the matches ``offset`` to ``offset + limit``, ascending."""
        if limit <= 0:
            return []
        result = self._searcher.search(
            self._translator.translate(query),
            limit=limit,
            offset=offset,
            count=False,
            order_by_field=SEQ,
            order=_ASC,
        )
        return [int(seq) for seq, _ in result.hits]

    def lookup(self, record_id: str) -> str | None:
        result = self._searcher.search(
            tantivy.Query.term_query(self._schema, ID, record_id), limit=1, count=False
        )
        return self._record(result.hits[0][1]) if result.hits else None

    def _lowest_and_highest_seq(self) -> tuple[int, int] | None:
        if self.num_docs == 0:
            return None
        everything = tantivy.Query.all_query()
        first = self._searcher.search(everything, limit=1, count=False, order_by_field=SEQ, order=_ASC)
        last = self._searcher.search(
            everything, limit=1, count=False, order_by_field=SEQ, order=tantivy.Order.Desc
        )
        return int(first.hits[0][0]), int(last.hits[0][0])

    def _seq_range(self, first: int, limit: int) -> list[str]:
        window = tantivy.Query.range_query(
            self._schema, SEQ, tantivy.FieldType.Unsigned, first, first + limit - 1
        )
        result = self._searcher.search(window, limit=limit, count=False, order_by_field=SEQ, order=_ASC)
        return [self._record(address) for _, address in result.hits]

    def _record(self, address: tantivy.DocAddress) -> str:
        return str(self._searcher.doc(address).get_first(RECORD))

    def _geo(self, circle: nodes.GeoDistance) -> tantivy.Query:
        return circle_query(self._searcher, self._schema, circle)

    def _near(self, query: nodes.Proximity, field_name: str) -> tantivy.Query:
        superset = proximity.candidates(self._schema, field_name, query)
        if proximity.is_exact_in_index(query):
            return superset
        return proximity.checked_matches(self._searcher, self._schema, query, superset, self._record)

    def _check_expansions(
        self, field_name: str, prefix: str, matches: Callable[[str], bool], text: str
    ) -> None:
        """Refuse a term that matches more than ``max_expansions`` terms of the field: walks the
        term dictionary from the term's literal prefix (all of it for a leading wildcard or a
        fuzzy term)."""
        expanded = 0
        for term, _ in self._searcher.terms_with_prefix(field_name, prefix):
            if matches(term):
                expanded += 1
                if expanded > self.max_expansions:
                    raise too_many_expansions(text, self.max_expansions)


def _without_deletes(path: Path) -> bool:
    """Whether no segment of the index at ``path`` has deleted documents (its ``meta.json``)."""
    try:
        meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
        return all(not (segment.get("deletes") or {}).get("num_deleted_docs") for segment in meta["segments"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def _circle_and_rest(query: nodes.Query) -> tuple[nodes.GeoDistance, list[nodes.Query]] | None:
    """A geo circle alone, or the one circle of a top-level AND and its other clauses."""
    if isinstance(query, nodes.GeoDistance):
        return query, []
    if isinstance(query, nodes.And):
        circles = [n for n, part in enumerate(query.parts) if isinstance(part, nodes.GeoDistance)]
        if len(circles) == 1:
            circle = query.parts[circles[0]]
            assert isinstance(circle, nodes.GeoDistance)
            return circle, [part for n, part in enumerate(query.parts) if n != circles[0]]
    return None
