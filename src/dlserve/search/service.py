"""``RecordSearch``: every interactive read (counts, previews, pages, a record by id) goes through
the snapshot's index when it has one, and through DuckDB (:class:`RecordStore`, the reference
implementation) when it has none (a snapshot loaded before indexes existed, or with indexing off)
or when the index cannot answer a query exactly.

Indexes are opened once per process and kept (a few, most recently used): opening maps the files,
and a snapshot never changes. With S3 storage the index is part of the snapshot's cached copy.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

import structlog

from dlserve.errors import NotFound
from dlserve.limits.admission import require_heavy_pool
from dlserve.query import CompiledQuery, nodes
from dlserve.records.snapshots import INDEX_DIR, Snapshot, SnapshotCatalog
from dlserve.records.store import RecordStore
from dlserve.search.interfaces import SearchIndex
from dlserve.search.tantivy_index import DEFAULT_MAX_EXPANSIONS, TantivySearchIndex
from dlserve.search.translate import Untranslatable

log = structlog.get_logger(__name__)
OPEN_INDEXES = 8


class RecordSearch:
    def __init__(
        self,
        store: RecordStore,
        catalog: SnapshotCatalog,
        *,
        use_index: bool = True,
        max_expansions: int = DEFAULT_MAX_EXPANSIONS,
    ) -> None:
        self._max_expansions = max_expansions
        self._store = store
        self._catalog = catalog
        self._use_index = use_index
        self._open: OrderedDict[Path, SearchIndex] = OrderedDict()
        self._lock = threading.Lock()

    def snapshot(self, data_type: str) -> Snapshot:
        return self._store.snapshot(data_type)

    def count(self, snapshot: Snapshot, tree: nodes.Query, compiled: CompiledQuery) -> int:
        index = self._index(snapshot)
        if index is not None:
            try:
                return index.count(tree)
            except (Untranslatable, ValueError) as exc:
                log.info("search.index_fallback", reason=str(exc))
        require_heavy_pool()
        return self._store.count(snapshot, compiled)

    def fetch(
        self, snapshot: Snapshot, tree: nodes.Query, compiled: CompiledQuery, limit: int, offset: int = 0
    ) -> list[str]:
        index = self._index(snapshot)
        if index is not None:
            try:
                return index.records(tree, limit, offset)
            except (Untranslatable, ValueError) as exc:
                log.info("search.index_fallback", reason=str(exc))
        require_heavy_pool()
        return self._store.fetch(snapshot, compiled, limit, offset)

    def page(
        self, snapshot: Snapshot, tree: nodes.Query, compiled: CompiledQuery, limit: int, offset: int = 0
    ) -> tuple[int, list[str]]:
        """The number of matches, and the matches ``offset`` to ``offset + limit`` in order."""
        index = self._index(snapshot)
        if index is not None:
            try:
                return index.page(tree, limit, offset)
            except (Untranslatable, ValueError) as exc:
                log.info("search.index_fallback", reason=str(exc))
        require_heavy_pool()
        num_found = self._store.count(snapshot, compiled)
        if limit <= 0 or offset >= num_found:
            return num_found, []
        return num_found, self._store.fetch(snapshot, compiled, limit, offset)

    def get(self, snapshot: Snapshot, record_id: str) -> str:
        index = self._index(snapshot)
        if index is None:
            return self._store.get(snapshot, record_id)
        record = index.lookup(record_id)
        if record is None:
            raise NotFound(f"No {snapshot.data_type} record has the id '{record_id}'")
        return record

    def _index(self, snapshot: Snapshot) -> SearchIndex | None:
        if not self._use_index:
            return None
        with self._catalog.open(snapshot) as directory:
            path = directory / INDEX_DIR
            with self._lock:
                index = self._open.get(path)
                if index is not None:
                    self._open.move_to_end(path)
                    return index
            if not (path / "meta.json").is_file():
                return None
            opened = TantivySearchIndex(path, self._max_expansions)
            with self._lock:
                index = self._open.setdefault(path, opened)
                while len(self._open) > OPEN_INDEXES:
                    self._open.popitem(last=False)
            return index
