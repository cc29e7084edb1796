"""What the interactive read path needs from an index, whatever engine is behind it.

Today one implementation: :class:`~dlserve.search.tantivy_index.TantivySearchIndex`, a local
Tantivy index per snapshot. Past what one machine's disk holds, an existing distributed engine
(OpenSearch/Elasticsearch, whose ``query_string`` is our dialect, or Quickwit) would implement
this same protocol.
"""

from __future__ import annotations

from typing import Protocol

from dlserve.query import nodes


class SearchIndex(Protocol):
    def count(self, query: nodes.Query) -> int:
        """How many records match."""
        ...

    def records(self, query: nodes.Query, limit: int, offset: int = 0) -> list[str]:
        """The stored JSON of the matches ``offset`` to ``offset + limit``, in the dataset's order."""
        ...

    def page(self, query: nodes.Query, limit: int, offset: int = 0) -> tuple[int, list[str]]:
        """``count`` and ``records`` at once (one pass where the engine allows)."""
        ...

    def lookup(self, record_id: str) -> str | None:
        """The stored JSON of the record with exactly this id, or None."""
        ...
