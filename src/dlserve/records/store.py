"""The record store: DuckDB queries over a type's current Parquet snapshot.

One DuckDB connection per store; each call runs on its own cursor, because a DuckDB connection
must not be shared between threads while a cursor may be created per call cheaply.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from dlserve.errors import ErrorDetail, Gone, NotFound
from dlserve.limits.query_cost import interrupt_after
from dlserve.query import CompiledQuery
from dlserve.records import delta, duck
from dlserve.records.delta import DeltaCounts
from dlserve.records.snapshots import PART_GLOB, Snapshot, SnapshotCatalog


class RecordStore:
    def __init__(
        self, catalog: SnapshotCatalog, memory_limit: str = "2GB", query_timeout: float | None = None
    ) -> None:
        self._catalog = catalog
        self._query_timeout = query_timeout
        self._con = duck.connect({"memory_limit": memory_limit, "preserve_insertion_order": True})
        self._lock = threading.Lock()

    @property
    def catalog(self) -> SnapshotCatalog:
        return self._catalog

    def close(self) -> None:
        self._con.close()

    def snapshot(self, data_type: str) -> Snapshot:
        """The type's current snapshot; a type with no data loaded yet is an error users can act on."""
        snapshot = self._catalog.current(data_type)
        if snapshot is None:
            raise NotFound(
                f"No {data_type} data has been loaded on this server (dlserve load {data_type} FILE)"
            )
        return snapshot

    def count(self, snapshot: Snapshot, query: CompiledQuery) -> int:
        with self._catalog.open(snapshot) as directory:
            rows = self._run(
                f"SELECT count(*) FROM read_parquet(?) WHERE {query.sql}", [_parts(directory), *query.params]
            )
        return int(rows[0][0]) if rows else 0

    def fetch(self, snapshot: Snapshot, query: CompiledQuery, limit: int, offset: int = 0) -> list[str]:
        """Matching records (their stored JSON), in the dataset's one deterministic order.

        No ORDER BY: parts are sorted by ``_seq`` and DuckDB keeps insertion order, so the scan
        can stop after ``offset + limit`` matches instead of sorting every match.
        """
        with self._catalog.open(snapshot) as directory:
            rows = self._run(
                f"SELECT _record FROM read_parquet(?) WHERE {query.sql} LIMIT ? OFFSET ?",
                [_parts(directory), *query.params, limit, offset],
            )
        return [row[0] for row in rows]

    def get(self, snapshot: Snapshot, record_id: str) -> str:
        with self._catalog.open(snapshot) as directory:
            rows = self._run(
                "SELECT _record FROM read_parquet(?) WHERE id = ? LIMIT 1", [_parts(directory), record_id]
            )
        if not rows:
            raise NotFound(f"No {snapshot.data_type} record has the id '{record_id}'")
        return str(rows[0][0])

    def delta_counts(self, new: Snapshot, old: Snapshot, query: CompiledQuery) -> DeltaCounts:
        """How the query's matches changed from ``old`` to ``new`` (see dlserve.records.delta)."""
        with self._catalog.open(new) as new_dir, self._open_kept(old) as old_dir:
            with self._lock:
                cursor = self._con.cursor()
            with interrupt_after(cursor, self._query_timeout):
                return delta.counts(cursor, delta.DeltaSides.of(cursor, new_dir, old_dir), query)

    @contextlib.contextmanager
    def _open_kept(self, snapshot: Snapshot) -> Iterator[Path]:
        """An older snapshot, or ``Gone`` when its files are no longer there."""
        gone = Gone(
            f"The {snapshot.data_type} snapshot {snapshot.id} is no longer kept",
            [ErrorDetail("since", "the data that download was made from is gone")],
        )
        try:
            with self._catalog.open(snapshot) as directory:
                if not any(directory.glob(PART_GLOB)):
                    raise gone
                yield directory
        except FileNotFoundError:
            raise gone from None

    def _run(self, sql: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        with self._lock:
            cursor = self._con.cursor()
        with interrupt_after(cursor, self._query_timeout):
            return cursor.execute(sql, list(params)).fetchall()


def _parts(directory: Path) -> str:
    return str(directory / PART_GLOB)
