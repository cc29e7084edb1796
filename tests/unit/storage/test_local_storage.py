"""LocalStorage: the Storage contract on a directory, atomic publishing, and safe keys."""

from __future__ import annotations

import errno
import os
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dlserve.errors import Invalid
from dlserve.storage import LocalStorage, storage_from_url, validate_key


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "files")


def put(storage: LocalStorage, key: str, content: bytes, scratch: Path) -> None:
    # put_file moves the source away, so one scratch name can be reused.
    source = scratch / "next.part"
    source.write_bytes(content)
    storage.put_file(key, source)


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    path = tmp_path / "scratch"
    path.mkdir()
    return path


def test_objects_are_files_under_the_root_and_need_no_presigned_url(
    storage: LocalStorage, scratch: Path
) -> None:
    put(storage, "downloads/12/12_1.csv", b"id,name\n1,A\n", scratch)
    assert storage.local_path("downloads/12/12_1.csv") == storage.root / "downloads" / "12" / "12_1.csv"
    assert (
        storage.presigned_url("downloads/12/12_1.csv", datetime(2030, 1, 1, tzinfo=UTC), "12_1.csv") is None
    )


def test_list_keys_orders_like_aws_s3(storage: LocalStorage, scratch: Path) -> None:
    # '-' (0x2d) sorts before '/' (0x2f): whole-key order, not folder-by-folder walk order.
    # (The rest of list_keys is the storage contract: tests/integration/test_storage_contract.py.)
    for key in ["a/b", "a-c"]:
        put(storage, key, b"x", scratch)
    assert list(storage.list_keys()) == ["a-c", "a/b"]


def test_list_keys_hides_temporary_files(storage: LocalStorage, scratch: Path) -> None:
    put(storage, "downloads/12/12_1.csv", b"x", scratch)
    (storage.root / "downloads" / "12" / ".12_2.csv.0123456789abcdef.tmp").write_bytes(b"half")
    # Dot-folders (editor or tool droppings) can't hold valid keys, so they are not walked either.
    (storage.root / ".trash" / "downloads").mkdir(parents=True)
    (storage.root / ".trash" / "downloads" / "old.csv").write_bytes(b"x")
    assert list(storage.list_keys()) == ["downloads/12/12_1.csv"]


def test_put_replaces_atomically_and_open_readers_keep_the_old_bytes(
    storage: LocalStorage, scratch: Path
) -> None:
    put(storage, "k/file.csv", b"old" * 1000, scratch)
    reader = storage.open_read("k/file.csv")
    put(storage, "k/file.csv", b"new" * 2000, scratch)
    with reader:
        assert reader.read() == b"old" * 1000
    with storage.open_read("k/file.csv") as handle:
        assert handle.read() == b"new" * 2000
    assert storage.size("k/file.csv") == 6000
    assert os.listdir(storage.root / "k") == ["file.csv"]


def test_concurrent_readers_never_see_a_partial_object(storage: LocalStorage, scratch: Path) -> None:
    versions = [bytes([65 + n]) * 300_000 for n in range(8)]
    put(storage, "k/f.bin", versions[0], scratch)
    seen: list[bytes] = []
    stop = threading.Event()

    def read_repeatedly() -> None:
        while not stop.is_set():
            with storage.open_read("k/f.bin") as handle:
                seen.append(handle.read())

    reader = threading.Thread(target=read_repeatedly)
    reader.start()
    try:
        for version in versions[1:] * 5:
            put(storage, "k/f.bin", version, scratch)
    finally:
        stop.set()
        reader.join()
    assert seen
    assert all(content in versions for content in seen)


def test_put_across_filesystems_copies_beside_the_target(
    storage: LocalStorage, scratch: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A source on another filesystem: rename fails with EXDEV, so copy to a temporary name beside
    the target and rename that. A second os.replace call must find the temp file beside the target."""
    real_replace = os.replace
    calls: list[tuple[str, str]] = []

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        calls.append((os.fspath(src), os.fspath(dst)))
        if len(calls) == 1:
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    source = scratch / "export.csv"
    source.write_bytes(b"payload")
    storage.put_file("downloads/7/7_1.csv", source)

    target = storage.root / "downloads" / "7" / "7_1.csv"
    assert target.read_bytes() == b"payload"
    assert not source.exists()
    temporary = Path(calls[1][0])
    assert temporary.parent == target.parent
    assert temporary.name.startswith(".")
    assert os.listdir(target.parent) == ["7_1.csv"]


@pytest.mark.skipif(
    not Path("/dev/shm").is_dir() or os.stat("/dev/shm").st_dev == os.stat(tempfile.gettempdir()).st_dev,
    reason="needs /dev/shm on a different filesystem than the temporary directory",
)
def test_put_from_a_real_other_filesystem(storage: LocalStorage) -> None:
    with tempfile.NamedTemporaryFile(dir="/dev/shm", delete=False) as handle:
        handle.write(b"from tmpfs")
    source = Path(handle.name)
    try:
        storage.put_file("x/y.txt", source)
        assert not source.exists()
        assert (storage.root / "x" / "y.txt").read_bytes() == b"from tmpfs"
        assert os.listdir(storage.root / "x") == ["y.txt"]
    finally:
        source.unlink(missing_ok=True)


def test_put_of_a_missing_source_fails_and_publishes_nothing(storage: LocalStorage, scratch: Path) -> None:
    with pytest.raises(FileNotFoundError):
        storage.put_file("k/f.csv", scratch / "nope.csv")
    assert not storage.exists("k/f.csv")


@pytest.mark.parametrize(
    "key",
    [
        "",
        "../x",
        "a/../../x",
        "a/..",
        "/abs",
        "/etc/passwd",
        "a//b",
        "a/",
        "a\\b",
        "..\\x",
        "./a",
        "a/./b",
        ".hidden",
        "a/.x.0123.tmp",
        "a\x00b",
        "a\nb",
    ],
)
def test_unsafe_keys_are_rejected_everywhere(storage: LocalStorage, scratch: Path, key: str) -> None:
    source = scratch / "s"
    source.write_bytes(b"x")
    with pytest.raises(ValueError, match="storage key"):
        validate_key(key)
    for operation in (
        lambda: storage.put_file(key, source),
        lambda: storage.open_read(key),
        lambda: storage.size(key),
        lambda: storage.exists(key),
        lambda: storage.delete(key),
        lambda: storage.local_path(key),
    ):
        with pytest.raises(ValueError, match="storage key"):
            operation()
    assert source.exists(), "a rejected put must not touch the source"
    assert not (storage.root.parent / "x").exists()


@pytest.mark.parametrize("key", ["a", "downloads/12/12_1.csv", "a.b/c-d_e f.csv.gz", "données/é.csv"])
def test_ordinary_keys_are_accepted(key: str) -> None:
    assert validate_key(key) == key


def test_storage_from_url(tmp_path: Path) -> None:
    default = tmp_path / "default"

    def root_of(url: str | None) -> Path:
        storage = storage_from_url(url, default)
        assert isinstance(storage, LocalStorage)
        return storage.root

    assert root_of(None) == default.resolve()
    assert root_of("") == default.resolve()
    elsewhere = tmp_path / "else where"
    assert root_of(f"file://{tmp_path}/else%20where") == elsewhere
    assert root_of(f"file://localhost{elsewhere}") == elsewhere
    assert root_of(str(elsewhere)) == elsewhere


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("s3://", "not a valid S3 bucket name"),
        ("S3://Bucket/prefix", "not a valid S3 bucket name"),
        ("file://otherhost/data", "cannot name a host"),
        ("http://127.0.0.1/files", "Unsupported storage URL"),
    ],
)
def test_storage_from_url_rejects_what_it_cannot_serve(tmp_path: Path, url: str, message: str) -> None:
    with pytest.raises(Invalid, match=message) as raised:
        storage_from_url(url, tmp_path)
    assert raised.value.status_code == 400
    assert raised.value.details[0].field == "storage_url"
