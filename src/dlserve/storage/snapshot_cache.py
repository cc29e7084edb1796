"""``SnapshotCache``: a worker's local copies of record snapshots that live in S3.

DuckDB scans snapshots many times per export, so each machine downloads a snapshot's part files
once into a local directory and reads them there. Snapshots are immutable and every version has
its own location, so a location names its bytes forever: a cached copy never goes stale, and the
cache only has to decide what to evict when it grows past its size budget (least recently used
first).

Several worker processes may share one cache directory. Coordination is by ``flock`` on a small
lock file per snapshot, which also works between threads of one process (each use opens its own
descriptor):

- a *user* holds a shared lock for as long as it reads the copy (:meth:`SnapshotCache.use`);
- the *evictor* deletes a copy only with an exclusive lock, taken without waiting, so a copy in use
  is never deleted; it is renamed away first, so a copy is either complete or absent;
- a *fetcher* downloads under a second, per-snapshot exclusive lock into a staging directory and
  renames it into place, so a snapshot is downloaded once even when many ask for it at once.

Lock files are a few bytes and are kept: deleting one while another process waits on it would let
two processes believe they hold the same lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from dlserve.storage.interfaces import Storage

MANIFEST = ".snapshot.json"  # a dot name: never matched by the snapshot's part-file glob
COPY_BUFFER = 1024 * 1024

# A snapshot location (e.g. s3://bucket/prefix/snapshots/businesses/2024...-abc) → storage rooted there.
StorageFor = Callable[[str], Storage]


@dataclass(frozen=True)
class CachedSnapshot:
    location: str
    path: Path
    bytes: int
    last_used: float


class SnapshotCache:
    def __init__(
        self, root: Path, max_bytes: int, storage_for: StorageFor, download_threads: int = 4
    ) -> None:
        if max_bytes < 0 or download_threads < 1:
            raise ValueError("max_bytes must be ≥ 0 and download_threads ≥ 1")
        self.root = Path(root).expanduser().resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self._storage_for = storage_for
        self._download_threads = download_threads

    def __repr__(self) -> str:
        return f"SnapshotCache({str(self.root)!r}, max_bytes={self.max_bytes})"

    @contextlib.contextmanager
    def use(self, location: str) -> Iterator[Path]:
        """The local directory holding the snapshot at ``location`` (downloaded on first use),
        safe from eviction until the block ends. Raises ``FileNotFoundError`` for a location with
        no files."""
        entry = self.entry_name(location)
        with _flocked(self.root / f"{entry}.lock", fcntl.LOCK_SH):
            fetched = self._ensure(entry, location)
            directory = self.root / entry
            os.utime(directory)  # the LRU clock
            if fetched:
                self.evict()
            yield directory

    def entry_name(self, location: str) -> str:
        """The cache directory name for a location: its hash, so any location is a safe name."""
        return hashlib.sha256(location.encode("utf-8")).hexdigest()[:32]

    def entries(self) -> list[CachedSnapshot]:
        """The complete copies in the cache, least recently used first."""
        found: list[CachedSnapshot] = []
        for directory in self.root.iterdir():
            if directory.name.startswith(".") or not directory.is_dir():
                continue
            try:
                manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
                last_used = directory.stat().st_mtime
            except (OSError, ValueError):
                continue  # being evicted right now
            found.append(CachedSnapshot(manifest["location"], directory, int(manifest["bytes"]), last_used))
        return sorted(found, key=lambda e: e.last_used)

    def total_bytes(self) -> int:
        return sum(entry.bytes for entry in self.entries())

    def evict(self) -> int:
        """Delete least recently used copies that nobody is reading until the cache fits its budget;
        return the bytes freed. Copies in use stay, even if that leaves the cache over budget."""
        self._remove_trash()
        entries = self.entries()
        total = sum(entry.bytes for entry in entries)
        freed = 0
        for entry in entries:
            if total <= self.max_bytes:
                break
            if self._evict_if_unused(entry):
                total -= entry.bytes
                freed += entry.bytes
        return freed

    # -- internals -------------------------------------------------------------------------------

    def _ensure(self, entry: str, location: str) -> bool:
        """Download the snapshot unless a complete copy exists; True if this call downloaded it."""
        if (self.root / entry).is_dir():
            return False
        with _flocked(self.root / f"{entry}.fetch", fcntl.LOCK_EX):
            if (self.root / entry).is_dir():  # another thread or process fetched it meanwhile
                return False
            # Holding the fetch lock, any staging directory of this entry is a crashed fetch's.
            for stale in self.root.glob(f".staging-{entry}-*"):
                shutil.rmtree(stale, ignore_errors=True)
            staging = self.root / f".staging-{entry}-{secrets.token_hex(4)}"
            try:
                self._download(location, staging)
                os.rename(staging, self.root / entry)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            _fsync_directory(self.root)
        return True

    def _download(self, location: str, staging: Path) -> None:
        storage = self._storage_for(location)
        keys = list(storage.list_keys())
        if not keys:
            raise FileNotFoundError(f"no snapshot files at {location}")
        staging.mkdir()

        def fetch(key: str) -> int:
            target = staging.joinpath(*key.split("/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            with storage.open_read(key) as source, target.open("xb") as sink:
                shutil.copyfileobj(source, sink, COPY_BUFFER)
                sink.flush()
                # Flushed before the rename publishes the copy: a power cut must not leave a
                # complete-looking copy with empty part files.
                os.fsync(sink.fileno())
                return sink.tell()

        with ThreadPoolExecutor(max_workers=min(self._download_threads, len(keys))) as pool:
            sizes = list(pool.map(fetch, keys))
        manifest = {"location": location, "bytes": sum(sizes), "files": dict(zip(keys, sizes, strict=True))}
        (staging / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")

    def _evict_if_unused(self, entry: CachedSnapshot) -> bool:
        lock = self.root / f"{entry.path.name}.lock"
        descriptor = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False  # someone is reading it
            trash = self.root / f".trash-{entry.path.name}-{secrets.token_hex(4)}"
            try:
                os.rename(entry.path, trash)
            except FileNotFoundError:
                return False  # another evictor was first
            shutil.rmtree(trash, ignore_errors=True)
            return True
        finally:
            os.close(descriptor)  # closing releases the lock

    def _remove_trash(self) -> None:
        # Copies renamed away by an evictor that died before deleting them.
        for trash in self.root.glob(".trash-*"):
            shutil.rmtree(trash, ignore_errors=True)


@contextlib.contextmanager
def _flocked(path: Path, operation: int) -> Iterator[None]:
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(descriptor, operation)
        yield
    finally:
        os.close(descriptor)


def _fsync_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
