"""Immutable Parquet snapshots per data type, and the pointer to each type's current one.

A snapshot is a directory of numbered Parquet part files (``part-000000.parquet`` ...), each a
contiguous range of the load order, rows sorted by ``_seq`` inside. A load writes a whole new
snapshot directory, then switches the type's pointer to it in one database
transaction. Readers resolve the pointer once per request, so a query or an export that started on
the old snapshot finishes on it (old files are kept; see docs/records.md).
"""

from __future__ import annotations

import contextlib
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa

from dlserve.clock import Clock
from dlserve.db.engine import Database
from dlserve.db.rows import from_row
from dlserve.db.tables import datasets, snapshots
from dlserve.errors import NotFound
from dlserve.storage.interfaces import Storage
from dlserve.storage.snapshot_cache import SnapshotCache

PART_GLOB = "part-*.parquet"
INDEX_DIR = "index"  # the snapshot's search index (see dlserve.search), beside its parts


def part_name(index: int) -> str:
    return f"part-{index:06d}.parquet"


@dataclass(frozen=True)
class Snapshot:
    id: int
    data_type: str
    location: str
    record_count: int
    bytes: int
    created_at: datetime

    @property
    def path(self) -> Path:
        return Path(self.location)

    @property
    def scan_path(self) -> str:
        """What ``read_parquet`` reads: every part, in name order (= load order)."""
        return str(self.path / PART_GLOB)

    def part_files(self) -> list[Path]:
        return sorted(self.path.glob(PART_GLOB))


@dataclass(frozen=True)
class RemoteSnapshots:
    """Snapshots kept in object storage (S3) beside the result files, read through a local cache."""

    storage: Storage  # rooted at ``url``
    url: str  # e.g. s3://bucket/prefix
    cache: SnapshotCache


class SnapshotCatalog:
    def __init__(self, db: Database, root: Path, clock: Clock, remote: RemoteSnapshots | None = None) -> None:
        self._db = db
        self._root = root
        self._clock = clock
        self._remote = remote

    @contextlib.contextmanager
    def open(self, snapshot: Snapshot) -> Iterator[Path]:
        """A local directory holding the snapshot's part files for the duration of the block: the
        snapshot itself when it is local, else this machine's cached copy (downloaded once)."""
        if "://" not in snapshot.location:
            yield snapshot.path
            return
        if self._remote is None:
            raise NotFound(
                f"snapshot {snapshot.id} is in {snapshot.location}, and no S3 storage is configured"
            )
        with self._remote.cache.use(snapshot.location) as directory:
            yield directory

    def new_location(self, data_type: str) -> Path:
        """A fresh local directory name for a snapshot (not created: staging is renamed into it)."""
        folder = self._root / data_type
        folder.mkdir(parents=True, exist_ok=True)
        stamp = self._clock.now().strftime("%Y%m%dT%H%M%S")
        return folder / f"{stamp}-{uuid.uuid4().hex[:12]}"

    def staging_dir(self) -> Path:
        """Scratch space on the same filesystem as the snapshots, so finishing a load is a rename."""
        folder = self._root / ".staging"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def current(self, data_type: str) -> Snapshot | None:
        query = (
            sa.select(snapshots)
            .join(datasets, datasets.c.snapshot_id == snapshots.c.id)
            .where(datasets.c.data_type == data_type)
        )
        with self._db.read() as conn:
            row = conn.execute(query).mappings().first()
        return _snapshot(row) if row else None

    def get(self, snapshot_id: int) -> Snapshot:
        with self._db.read() as conn:
            row = conn.execute(sa.select(snapshots).where(snapshots.c.id == snapshot_id)).mappings().first()
        if row is None:
            raise NotFound(f"snapshot {snapshot_id} does not exist")
        return _snapshot(row)

    def store_and_publish(self, data_type: str, staged: Path, record_count: int) -> Snapshot:
        """Move a finished staging directory to where snapshots live (a local directory, or the
        object store) and make it the type's current data."""
        target = self.new_location(data_type)
        size = sum(part.stat().st_size for part in staged.glob(PART_GLOB))
        if self._remote is None:
            staged.rename(target)
            return self.publish(data_type, str(target), record_count, size)
        prefix = f"snapshots/{data_type}/{target.name}"
        for part in sorted(staged.glob(PART_GLOB)):
            self._remote.storage.put_file(f"{prefix}/{part.name}", part)
        # The search index (when built) travels with its snapshot; caches fetch every key. Its
        # dot files (writer locks, the writer's file list) are not needed to read it.
        for file in sorted(staged.glob(f"{INDEX_DIR}/*")):
            if file.is_file() and not file.name.startswith("."):
                self._remote.storage.put_file(f"{prefix}/{INDEX_DIR}/{file.name}", file)
        shutil.rmtree(staged, ignore_errors=True)
        return self.publish(data_type, f"{self._remote.url}/{prefix}", record_count, size)

    def publish(self, data_type: str, location: str, record_count: int, size: int) -> Snapshot:
        """Register a stored snapshot and make it the type's current data, atomically."""
        now = self._clock.now()
        with self._db.write() as conn:
            snapshot_id = conn.execute(
                snapshots.insert()
                .values(
                    data_type=data_type,
                    location=location,
                    record_count=record_count,
                    bytes=size,
                    created_at=now,
                )
                .returning(snapshots.c.id)
            ).scalar_one()
            moved = conn.execute(
                datasets.update()
                .where(datasets.c.data_type == data_type)
                .values(snapshot_id=snapshot_id, updated_at=now)
            ).rowcount
            if not moved:
                conn.execute(
                    datasets.insert().values(data_type=data_type, snapshot_id=snapshot_id, updated_at=now)
                )
        return Snapshot(int(snapshot_id), data_type, location, record_count, size, now)


def _snapshot(row: sa.RowMapping) -> Snapshot:
    return from_row(Snapshot, row)
