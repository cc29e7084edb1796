"""The ``Storage`` contract, run against both backends: a local directory and the real S3 server.

What every implementation promises (see :class:`dlserve.storage.interfaces.Storage`): objects by
key, ``put_file`` moves its source and replaces atomically, missing objects raise
``FileNotFoundError``, ``list_keys`` is a sorted plain string-prefix match, readers seek, and
unsafe keys are refused by every method before anything is touched. What only one backend does
(rename on one filesystem, multipart uploads, presigned URLs) stays in its own test module.
"""

from __future__ import annotations

import io
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dlserve.storage import LocalStorage, Storage
from dlserve.storage.s3 import S3Location, S3Options, S3Storage
from tests.support.seaweed import S3Server, s3_server_fixture  # noqa: F401

UNSAFE_KEYS = ["", "../x", "a/../../x", "/abs", "a//b", "a/", "a\\b", "./a", ".hidden", "a/.x.tmp", "a\nb"]


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        return LocalStorage(tmp_path / "files")
    server: S3Server = request.getfixturevalue("s3_server")
    return S3Storage(
        S3Location(server.bucket, server.fresh_prefix() + "/"),
        S3Options(
            endpoint_url=server.endpoint_url,
            access_key_id=server.access_key_id,
            secret_access_key=server.secret_access_key,
            region=server.region,
        ),
    )


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    path = tmp_path / "scratch"
    path.mkdir()
    return path


def put(storage: Storage, key: str, content: bytes, scratch: Path) -> Path:
    source = scratch / f"source-{len(list(scratch.iterdir()))}"
    source.write_bytes(content)
    storage.put_file(key, source)
    return source


def read(storage: Storage, key: str) -> bytes:
    with storage.open_read(key) as handle:
        return handle.read()


def test_it_implements_the_storage_protocol(storage: Storage) -> None:
    assert isinstance(storage, Storage)


def test_put_moves_the_source_then_read_size_exists_delete(storage: Storage, scratch: Path) -> None:
    key = "downloads/12/12_1.csv"
    assert not storage.exists(key)
    source = put(storage, key, b"id,name\r\n1,a\r\n", scratch)
    assert not source.exists(), "put_file moves the file"
    assert storage.exists(key)
    assert storage.size(key) == 14
    assert read(storage, key) == b"id,name\r\n1,a\r\n"
    assert not storage.exists("downloads/12")  # a "folder" is not an object
    storage.delete(key)
    assert not storage.exists(key)
    storage.delete(key)  # idempotent


def test_missing_objects_raise_file_not_found(storage: Storage) -> None:
    with pytest.raises(FileNotFoundError):
        storage.open_read("downloads/1/1_1.csv")
    with pytest.raises(FileNotFoundError):
        storage.size("downloads/1/1_1.csv")
    assert not storage.exists("downloads/1/1_1.csv")
    storage.delete("downloads/1/1_1.csv")
    assert list(storage.list_keys()) == []


def test_put_replaces_an_object_and_empty_files_work(storage: Storage, scratch: Path) -> None:
    put(storage, "a.txt", b"first version", scratch)
    put(storage, "a.txt", b"second", scratch)
    assert read(storage, "a.txt") == b"second"
    put(storage, "empty.txt", b"", scratch)
    assert storage.size("empty.txt") == 0
    assert read(storage, "empty.txt") == b""


def test_delete_removes_only_that_object(storage: Storage, scratch: Path) -> None:
    put(storage, "downloads/12/12_1.csv", b"1", scratch)
    put(storage, "downloads/12/12_2.csv", b"2", scratch)
    storage.delete("downloads/12/12_1.csv")
    assert list(storage.list_keys()) == ["downloads/12/12_2.csv"]


def test_readers_seek(storage: Storage, scratch: Path) -> None:
    data = bytes(range(256)) * 4096  # 1 MiB
    put(storage, "big.bin", data, scratch)
    with storage.open_read("big.bin") as handle:
        assert handle.seekable()
        assert handle.read(10) == data[:10]
        handle.seek(500_000)
        assert handle.read(100) == data[500_000:500_100]
        handle.seek(-5, io.SEEK_END)
        assert handle.read() == data[-5:]
        assert handle.read() == b""
        handle.seek(0)
        assert handle.read() == data


def test_list_keys_is_a_sorted_string_prefix_match(storage: Storage, scratch: Path) -> None:
    keys = ["downloads/12/12_2.csv", "downloads/12/12_1.csv", "downloads/123/123_1.txt", "snap/a.parquet"]
    for key in [*keys, "é.txt"]:
        put(storage, key, key.encode(), scratch)
    # Plain string prefixes: "downloads/12" also matches "downloads/123/...", "downloads/12/" does not.
    assert list(storage.list_keys("downloads/12")) == [
        "downloads/12/12_1.csv",
        "downloads/12/12_2.csv",
        "downloads/123/123_1.txt",
    ]
    assert list(storage.list_keys("downloads/12/")) == ["downloads/12/12_1.csv", "downloads/12/12_2.csv"]
    assert list(storage.list_keys("downloads/12/12_2")) == ["downloads/12/12_2.csv"]
    assert list(storage.list_keys("nothing/here/")) == []
    # (Whether "a-c" lists before "a/b", as AWS S3 and local storage order them, is not part of
    # the contract: SeaweedFS walks folders first.)
    assert list(storage.list_keys()) == sorted([*keys, "é.txt"])


@pytest.mark.parametrize("key", UNSAFE_KEYS)
def test_every_method_refuses_unsafe_keys_and_touches_nothing(
    storage: Storage, scratch: Path, key: str
) -> None:
    source = scratch / "s"
    source.write_bytes(b"x")
    expires = datetime.now(UTC) + timedelta(hours=1)
    for operation in (
        lambda: storage.put_file(key, source),
        lambda: storage.open_read(key),
        lambda: storage.size(key),
        lambda: storage.exists(key),
        lambda: storage.delete(key),
        lambda: storage.local_path(key),
        lambda: storage.presigned_url(key, expires, "f.csv"),
    ):
        with pytest.raises(ValueError, match="storage key"):
            operation()
    assert source.exists(), "a refused put must not touch the source"
    assert list(storage.list_keys()) == []


@pytest.mark.parametrize("prefix", ["../", "/abs", "a//", "a\\", ".."])
def test_unsafe_prefixes_are_refused(storage: Storage, prefix: str) -> None:
    with pytest.raises(ValueError, match="storage key"):
        list(storage.list_keys(prefix))


def test_concurrent_puts_and_reads_from_threads(storage: Storage, scratch: Path) -> None:
    """Worker threads share one storage object."""
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            data = f"file {n}\n".encode() * 1000
            source = scratch / f"thread-{n}"
            source.write_bytes(data)
            storage.put_file(f"t/{n}.txt", source)
            assert read(storage, f"t/{n}.txt") == data
        except BaseException as error:  # surfaced below: a thread's exception would be lost
            errors.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(list(storage.list_keys("t/"))) == 8
