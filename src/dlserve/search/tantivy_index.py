"""The Tantivy implementation of :class:`~dlserve.search.interfaces.SearchIndex`: one snapshot's
index, opened once per process and shared by every request (a searcher is thread-safe, and the
index never changes: snapshots are immutable)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import tantivy

from dlserve.query import nodes
from dlserve.query.leaves import too_many_expansions
from dlserve.search import proximity
from dlserve.search.geo import circle_query
from dlserve.search.layout import ID, RECORD, SEQ, match_count, open_index
from dlserve.search.translate import Translator

_ASC = tantivy.Order.Asc


# How many index terms one wildcard, fuzzy or regex term may expand to (DLSERVE_QUERY_MAX_EXPANSIONS).
DEFAULT_MAX_EXPANSIONS = 10_000


class TantivySearchIndex:
    def __init__(self, path: Path, max_expansions: int = DEFAULT_MAX_EXPANSIONS) -> None:
        self.path = path
        self.max_expansions = max_expansions
        self._index = open_index(path)
        self._schema = self._index.schema
        self._searcher = self._index.searcher()
        self._translator = Translator(self._schema, self._geo, self._check_expansions, self._near)
        self._first_seq = self._contiguous_seqs()

    @property
    def num_docs(self) -> int:
        return int(self._searcher.num_docs)

    def count(self, query: nodes.Query) -> int:
        if isinstance(query, nodes.MatchAll):
            return self.num_docs
        return match_count(self._searcher.search(self._translator.translate(query), limit=1, count=True))

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
        result = self._searcher.search(
            self._translator.translate(query),
            limit=max(1, limit),  # Tantivy's collector needs room for one hit
            offset=offset,
            count=True,
            order_by_field=SEQ,
            order=_ASC,
        )
        return match_count(result), [self._record(address) for _, address in result.hits[:limit]]

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

    def _contiguous_seqs(self) -> int | None:
        """The first ``_seq`` when the snapshot's are consecutive (a load numbers its rows 1..n,
        an append continues after the previous maximum): then the k-th record of everything is
        the one with ``_seq`` first + k, and a deep page of ``*`` is a small range, not a sort."""
        if self.num_docs == 0:
            return None
        everything = tantivy.Query.all_query()
        first = self._searcher.search(everything, limit=1, count=False, order_by_field=SEQ, order=_ASC)
        last = self._searcher.search(
            everything, limit=1, count=False, order_by_field=SEQ, order=tantivy.Order.Desc
        )
        low, high = int(first.hits[0][0]), int(last.hits[0][0])
        return low if high - low + 1 == self.num_docs else None

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
