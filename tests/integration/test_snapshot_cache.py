"""``SnapshotCache`` over snapshots in a real S3 server (``weed mini``)."""

from __future__ import annotations

import secrets
import subprocess
import sys
import threading
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dlserve.settings import Settings
from dlserve.storage import Storage
from dlserve.storage.factory import s3_storage_from_url
from dlserve.storage.snapshot_cache import MANIFEST, SnapshotCache
from tests.support.seaweed import S3Server, s3_server_fixture  # noqa: F401

pytestmark = pytest.mark.s3

ROWS_PER_PART = 2_000


class CountingStorageFor:
    """``storage_for`` that builds real S3 storages and counts how often it was asked."""

    def __init__(self, server: S3Server, tmp_path: Path) -> None:
        self.settings = Settings(data_dir=tmp_path / "data", **server.settings())  # type: ignore[arg-type]
        self.calls: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, location: str) -> Storage:
        with self.lock:
            self.calls.append(location)
        return s3_storage_from_url(location, self.settings)


@pytest.fixture
def storage_for(s3_server: S3Server, tmp_path: Path) -> CountingStorageFor:
    return CountingStorageFor(s3_server, tmp_path)


def publish_snapshot(
    server: S3Server, storage_for: CountingStorageFor, tmp_path: Path, parts: int = 3
) -> str:
    """Write a snapshot's Parquet parts to S3, as the loader would; return its location."""
    location = server.url(f"{server.fresh_prefix('cache')}/snapshots/businesses/20240101T000000-abc")
    target = s3_storage_from_url(location, storage_for.settings)
    scratch = tmp_path / secrets.token_hex(4)
    scratch.mkdir()
    for index in range(parts):
        first = index * ROWS_PER_PART
        table = pa.table(
            {
                "_seq": pa.array(range(first + 1, first + ROWS_PER_PART + 1), pa.int64()),
                "id": [f"b{n}" for n in range(first, first + ROWS_PER_PART)],
            }
        )
        local = scratch / f"part-{index:06d}.parquet"
        pq.write_table(table, local)
        target.put_file(f"part-{index:06d}.parquet", local)
    return location


def scan(directory: Path, columns: str) -> tuple[object, ...] | None:
    """What DuckDB reads from the cached parts, the way the record store scans a snapshot."""
    con = duckdb.connect()
    try:
        return con.execute(
            f"SELECT {columns} FROM read_parquet(?)", [f"{directory}/part-*.parquet"]
        ).fetchone()
    finally:
        con.close()


def snapshot_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.glob("part-*.parquet"))


def test_a_snapshot_is_downloaded_once_and_read_locally(
    s3_server: S3Server, storage_for: CountingStorageFor, tmp_path: Path
) -> None:
    location = publish_snapshot(s3_server, storage_for, tmp_path)
    cache = SnapshotCache(tmp_path / "cache", max_bytes=10**9, storage_for=storage_for)
    with cache.use(location) as directory:
        assert directory.parent == cache.root
        assert sorted(p.name for p in directory.glob("part-*.parquet")) == [
            f"part-{i:06d}.parquet" for i in range(3)
        ]
        assert scan(directory, "count(*), max(_seq)") == (3 * ROWS_PER_PART, 3 * ROWS_PER_PART)
    with cache.use(location) as again:
        assert again == directory
    assert storage_for.calls == [location]  # the second use touched no S3 at all
    [entry] = cache.entries()
    assert entry.location == location
    assert entry.bytes == snapshot_bytes(directory) == cache.total_bytes()
    assert (directory / MANIFEST).is_file()
    assert [p.name for p in cache.root.iterdir() if p.name.startswith(".")] == []


def test_threads_asking_at_once_share_one_download(
    s3_server: S3Server, storage_for: CountingStorageFor, tmp_path: Path
) -> None:
    location = publish_snapshot(s3_server, storage_for, tmp_path)
    cache = SnapshotCache(tmp_path / "cache", max_bytes=10**9, storage_for=storage_for)
    seen: list[Path] = []
    errors: list[BaseException] = []

    def read() -> None:
        try:
            with cache.use(location) as directory:
                seen.append(directory)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=read) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(set(seen)) == 1
    assert storage_for.calls == [location]


def test_least_recently_used_snapshots_are_evicted_past_the_budget(
    s3_server: S3Server, storage_for: CountingStorageFor, tmp_path: Path
) -> None:
    locations = [publish_snapshot(s3_server, storage_for, tmp_path, parts=1) for _ in range(4)]
    probe = SnapshotCache(tmp_path / "probe", max_bytes=10**9, storage_for=storage_for)
    with probe.use(locations[0]) as directory:
        one = snapshot_bytes(directory)
    cache = SnapshotCache(tmp_path / "cache", max_bytes=2 * one + 100, storage_for=storage_for)

    def cached() -> set[str]:
        return {entry.location for entry in cache.entries()}

    a, b, c, d = locations
    for location in (a, b):
        with cache.use(location):
            pass
    assert cached() == {a, b}
    with cache.use(c):
        pass
    assert cached() == {b, c}  # a was the least recently used
    with cache.use(b):  # b is now more recent than c
        pass
    with cache.use(d):
        pass
    assert cached() == {b, d}
    assert cache.total_bytes() <= cache.max_bytes


def test_a_snapshot_in_use_is_never_evicted(
    s3_server: S3Server, storage_for: CountingStorageFor, tmp_path: Path
) -> None:
    first = publish_snapshot(s3_server, storage_for, tmp_path, parts=1)
    second = publish_snapshot(s3_server, storage_for, tmp_path, parts=1)
    cache = SnapshotCache(tmp_path / "cache", max_bytes=0, storage_for=storage_for)
    with cache.use(first) as reading:
        with cache.use(second) as other:
            assert reading.is_dir()  # both over budget, but pinned
            assert cache.evict() == 0
            second_bytes = snapshot_bytes(other)
        assert cache.evict() == second_bytes
        assert {e.location for e in cache.entries()} == {first}
        assert scan(reading, "count(*)") == (ROWS_PER_PART,)
    assert cache.evict() > 0
    assert cache.entries() == []


def test_a_snapshot_another_process_reads_is_not_evicted(
    s3_server: S3Server, storage_for: CountingStorageFor, tmp_path: Path
) -> None:
    location = publish_snapshot(s3_server, storage_for, tmp_path, parts=1)
    cache = SnapshotCache(tmp_path / "cache", max_bytes=0, storage_for=storage_for)
    with cache.use(location):
        pass
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from dlserve.storage.snapshot_cache import SnapshotCache\n"
        "def no_download(location): raise AssertionError('must be cached')\n"
        "cache = SnapshotCache(Path(sys.argv[1]), 0, no_download)\n"
        "with cache.use(sys.argv[2]):\n"
        "    print('reading', flush=True)\n"
        "    sys.stdin.readline()\n"
    )
    reader = subprocess.Popen(
        [sys.executable, "-c", script, str(cache.root), location],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout is not None
        assert reader.stdout.readline().strip() == "reading"
        assert cache.evict() == 0
        assert len(cache.entries()) == 1
    finally:
        assert reader.stdin is not None
        reader.stdin.write("done\n")
        reader.stdin.close()
        assert reader.wait(30) == 0
    assert cache.evict() > 0
    assert cache.entries() == []


def test_a_location_without_files_is_an_error_and_caches_nothing(
    s3_server: S3Server, storage_for: CountingStorageFor, tmp_path: Path
) -> None:
    cache = SnapshotCache(tmp_path / "cache", max_bytes=10**9, storage_for=storage_for)
    with (
        pytest.raises(FileNotFoundError, match="no snapshot files"),
        cache.use(s3_server.url("nothing/here")),
    ):
        pass
    assert [p.name for p in cache.root.iterdir() if not p.name.endswith((".lock", ".fetch"))] == []


def test_a_failed_download_leaves_nothing_behind_and_the_next_use_retries(
    s3_server: S3Server, storage_for: CountingStorageFor, tmp_path: Path
) -> None:
    location = publish_snapshot(s3_server, storage_for, tmp_path)
    failures = iter([True])

    class Flaky:
        def __init__(self, inner: Storage) -> None:
            self.inner = inner

        def __getattr__(self, name: str) -> object:
            return getattr(self.inner, name)

        def open_read(self, key: str) -> object:
            if key.endswith("000001.parquet") and next(failures, False):
                raise ConnectionError("network down")
            return self.inner.open_read(key)

    def flaky_storage_for(location: str) -> Storage:
        return Flaky(storage_for(location))  # type: ignore[return-value]

    cache = SnapshotCache(
        tmp_path / "cache", max_bytes=10**9, storage_for=flaky_storage_for, download_threads=1
    )
    with pytest.raises(ConnectionError), cache.use(location):
        pass
    assert cache.entries() == []
    assert [p for p in cache.root.iterdir() if p.is_dir()] == []
    with cache.use(location) as directory:
        assert len(list(directory.glob("part-*.parquet"))) == 3
