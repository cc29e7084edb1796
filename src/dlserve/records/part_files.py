"""Which Parquet parts of a snapshot hold a range of ``_seq``.

An export part reads the records ``after < _seq <= through``. Over the snapshot's glob, DuckDB
opens every part and checks its row-group statistics before skipping it: at 3M records (30 parts)
that made each part's query ~0.2 s slower than reading its one part file (1.3 s against 1.1 s
for a 100k-record CSV part), and the cost grows with the snapshot, so an export's total grew
faster than its size. The ``_seq`` bounds of each part are read once per snapshot directory from
the Parquet footers (parts are immutable once published) and kept for the few snapshots a worker
is exporting from.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

import duckdb

from dlserve.records.snapshots import PART_GLOB

KEPT_SNAPSHOTS = 8  # a worker exports from the current snapshots (and a delta's older side)


class PartFiles:
    def __init__(self) -> None:
        self._bounds: OrderedDict[str, list[tuple[str, int | None, int | None]]] = OrderedDict()
        self._lock = threading.Lock()

    def holding(
        self, cursor: duckdb.DuckDBPyConnection, directory: Path, after: int, through: int
    ) -> list[str]:
        """The part files of ``directory`` that may hold a ``_seq`` in ``(after, through]`` (a part
        without statistics always may); the whole glob when none is known to."""
        files = [
            name
            for name, low, high in self._of(cursor, directory)
            if low is None or high is None or (high > after and low <= through)
        ]
        return files or [str(directory / PART_GLOB)]

    def _of(
        self, cursor: duckdb.DuckDBPyConnection, directory: Path
    ) -> list[tuple[str, int | None, int | None]]:
        key = str(directory)
        with self._lock:
            if key in self._bounds:
                self._bounds.move_to_end(key)
                return self._bounds[key]
        rows = cursor.execute(
            "SELECT file_name, min(TRY_CAST(stats_min_value AS BIGINT)), "
            "max(TRY_CAST(stats_max_value AS BIGINT)), "
            "bool_or(TRY_CAST(stats_min_value AS BIGINT) IS NULL "
            "OR TRY_CAST(stats_max_value AS BIGINT) IS NULL) "
            "FROM parquet_metadata(?) WHERE path_in_schema = '_seq' GROUP BY file_name ORDER BY file_name",
            [str(directory / PART_GLOB)],
        ).fetchall()
        bounds = [
            (str(name), None if unknown else low, None if unknown else high)
            for name, low, high, unknown in rows
        ]
        with self._lock:
            self._bounds[key] = bounds
            while len(self._bounds) > KEPT_SNAPSHOTS:
                self._bounds.popitem(last=False)
        return bounds


__all__ = ["PartFiles"]
