"""``fetch_files``: download, skip what is complete, resume partial files with Range, verify sha256."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest

from dlserve.client import ChecksumMismatch, Client, Download, NotFound, TransportError
from tests.unit.client.conftest import FakeClock, make_client
from tests.unit.client.fake_server import FakeServer, download_json, jsonl, result_json


def completed(server: FakeServer, sizes: tuple[int, ...] = (40, 25)) -> Download:
    body = download_json("5", "completed", sum(sizes), sum(sizes))
    body["results"] = [server.add_file("5", n, jsonl(size, n)) for n, size in enumerate(sizes, start=1)]
    return Download.from_json(body)


def ranges(server: FakeServer) -> list[str | None]:
    return [r.headers.get("range") for r in server.file_requests()]


def test_fetches_every_file_without_sending_the_token(
    client: Client, server: FakeServer, tmp_path: Path
) -> None:
    download = completed(server)
    paths = client.fetch_files(download, tmp_path / "out")
    assert [p.name for p in paths] == ["5_1.txt", "5_2.txt"]
    assert paths[0].read_bytes() == jsonl(40, 1)
    assert paths[1].read_bytes() == jsonl(25, 2)
    assert all("authorization" not in r.headers for r in server.file_requests())
    assert all(r.headers["accept-encoding"] == "identity" for r in server.file_requests())


def test_fetch_files_takes_an_id(client: Client, server: FakeServer, tmp_path: Path) -> None:
    download = completed(server)
    server.add_download("5", [download.raw])
    assert [p.name for p in client.fetch_files("5", tmp_path)] == ["5_1.txt", "5_2.txt"]


def test_complete_verified_files_are_skipped(client: Client, server: FakeServer, tmp_path: Path) -> None:
    download = completed(server)
    client.fetch_files(download, tmp_path)
    server.requests.clear()
    client.fetch_files(download, tmp_path)
    assert server.file_requests() == []


def test_a_cut_transfer_is_resumed_with_range_in_the_same_call(
    client: Client, server: FakeServer, clock: FakeClock, tmp_path: Path
) -> None:
    download = completed(server)
    first = download.results[0]
    assert first.bytes is not None
    server.cut_next[httpx.URL(first.url).path] = first.bytes // 2
    paths = client.fetch_files(download, tmp_path)
    assert paths[0].read_bytes() == jsonl(40, 1)
    assert ranges(server) == [None, f"bytes={first.bytes // 2}-", None]
    assert clock.sleeps == [0.5]


def test_a_partial_file_left_by_an_earlier_call_is_resumed(
    server: FakeServer, clock: FakeClock, tmp_path: Path
) -> None:
    download = completed(server)
    first = download.results[0]
    assert first.bytes is not None
    half = first.bytes // 2
    server.cut_next[httpx.URL(first.url).path] = half
    with make_client(server, clock, retries=0) as client:
        with pytest.raises(TransportError, match="connection reset"):
            client.fetch_files(download, tmp_path)
        assert (tmp_path / first.name).stat().st_size == half  # kept for the next call
        server.requests.clear()
        paths = client.fetch_files(download, tmp_path)
    assert ranges(server) == [f"bytes={half}-", None]
    assert paths[0].read_bytes() == jsonl(40, 1)
    assert hashlib.sha256(paths[0].read_bytes()).hexdigest() == first.sha256


def test_resume_false_starts_partial_files_over(client: Client, server: FakeServer, tmp_path: Path) -> None:
    download = completed(server, (40,))
    (tmp_path / "5_1.txt").write_bytes(jsonl(40, 1)[:100])
    client.fetch_files(download, tmp_path, resume=False)
    assert ranges(server) == [None]
    assert (tmp_path / "5_1.txt").read_bytes() == jsonl(40, 1)


def test_a_server_ignoring_range_gets_the_file_rewritten(
    client: Client, server: FakeServer, tmp_path: Path
) -> None:
    download = completed(server, (40,))
    (tmp_path / "5_1.txt").write_bytes(jsonl(40, 1)[:100])
    server.ignore_range = True
    client.fetch_files(download, tmp_path)
    assert ranges(server) == ["bytes=100-"]
    assert (tmp_path / "5_1.txt").read_bytes() == jsonl(40, 1)


def test_a_corrupt_complete_size_file_is_fetched_again(
    client: Client, server: FakeServer, tmp_path: Path
) -> None:
    download = completed(server, (40,))
    good = jsonl(40, 1)
    (tmp_path / "5_1.txt").write_bytes(b"X" * len(good))
    client.fetch_files(download, tmp_path)
    assert ranges(server) == [None]
    assert (tmp_path / "5_1.txt").read_bytes() == good


def test_a_longer_local_file_is_fetched_again(client: Client, server: FakeServer, tmp_path: Path) -> None:
    download = completed(server, (40,))
    (tmp_path / "5_1.txt").write_bytes(jsonl(40, 1) + b"junk\n")
    client.fetch_files(download, tmp_path)
    assert ranges(server) == [None]
    assert (tmp_path / "5_1.txt").read_bytes() == jsonl(40, 1)


def test_checksum_mismatch_removes_the_file(client: Client, server: FakeServer, tmp_path: Path) -> None:
    content = jsonl(10)
    bad = result_json("6", 1, content, sha256="0" * 64)
    server.files[httpx.URL(bad["url"]).path] = content
    download = Download.from_json({**download_json("6", "completed", 10, 10), "results": [bad]})
    with pytest.raises(ChecksumMismatch) as caught:
        client.fetch_files(download, tmp_path)
    assert caught.value.expected == "0" * 64
    assert caught.value.actual == hashlib.sha256(content).hexdigest()
    assert not (tmp_path / "6_1.txt").exists()
    # verify=False keeps whatever came.
    assert client.fetch_files(download, tmp_path, verify=False)[0].read_bytes() == content


def test_a_resumed_file_with_a_bad_prefix_fails_verification(
    client: Client, server: FakeServer, tmp_path: Path
) -> None:
    download = completed(server, (40,))
    (tmp_path / "5_1.txt").write_bytes(b"Y" * 100)
    with pytest.raises(ChecksumMismatch):
        client.fetch_files(download, tmp_path)
    assert ranges(server) == ["bytes=100-"]
    assert not (tmp_path / "5_1.txt").exists()


def test_a_body_shorter_than_its_content_length_is_resumed(
    client: Client, server: FakeServer, tmp_path: Path
) -> None:
    from tests.unit.client.fake_server import ShortStream

    download = completed(server, (40,))
    content = jsonl(40, 1)

    def short_once(request: httpx.Request) -> httpx.Response:
        headers = {"Content-Length": str(len(content))}
        return httpx.Response(200, headers=headers, stream=ShortStream(content[:50]))

    server.queue.append(short_once)
    client.fetch_files(download, tmp_path)
    assert (tmp_path / "5_1.txt").read_bytes() == content
    assert ranges(server) == [None, "bytes=50-"]


def test_416_for_a_file_that_is_already_whole_is_fine(
    client: Client, server: FakeServer, tmp_path: Path
) -> None:
    content = jsonl(10)
    plain = {"url": "http://files.test/v4/files/3/3_1.txt?sig=1"}  # no size or hash listed
    server.files["/v4/files/3/3_1.txt"] = content
    download = Download.from_json({**download_json("3", "completed", 10, 10), "results": [plain]})
    (tmp_path / "3_1.txt").write_bytes(content)
    assert client.fetch_files(download, tmp_path)[0].read_bytes() == content
    assert ranges(server) == [f"bytes={len(content)}-"]


def test_an_expired_or_missing_file_is_an_error(client: Client, server: FakeServer, tmp_path: Path) -> None:
    gone = result_json("4", 1, b"x\n")
    download = Download.from_json({**download_json("4", "completed", 1, 1), "results": [gone]})
    with pytest.raises(NotFound, match="This file does not exist"):
        client.fetch_files(download, tmp_path)


def test_a_hostile_file_name_stays_inside_dest(client: Client, server: FakeServer, tmp_path: Path) -> None:
    content = b"x\n"
    hostile = {**result_json("4", 1, content), "name": "../../etc/passwd"}
    server.files[httpx.URL(hostile["url"]).path] = content
    download = Download.from_json({**download_json("4", "completed", 1, 1), "results": [hostile]})
    dest = tmp_path / "out"
    [path] = client.fetch_files(download, dest)
    assert path.parent == dest
    assert path.name == ".._.._etc_passwd"


def test_416_for_a_local_file_longer_than_the_server_s_starts_over(
    client: Client, server: FakeServer, tmp_path: Path
) -> None:
    content = jsonl(10)
    plain = {"url": "http://files.test/v4/files/3/3_1.txt?sig=1"}  # no size or hash listed
    server.files["/v4/files/3/3_1.txt"] = content
    download = Download.from_json({**download_json("3", "completed", 10, 10), "results": [plain]})
    (tmp_path / "3_1.txt").write_bytes(content + b"stale tail\n")
    assert client.fetch_files(download, tmp_path)[0].read_bytes() == content
    assert ranges(server) == [f"bytes={len(content) + 11}-", None]


def test_retries_count_from_the_last_byte_received(
    server: FakeServer, clock: FakeClock, tmp_path: Path
) -> None:
    download = completed(server, (40,))
    path = httpx.URL(download.results[0].url).path
    cuts = [100, 100, 100]  # each transfer stops 100 bytes after where it started
    original = server._file

    def flaky_file(request: httpx.Request) -> httpx.Response:
        if cuts:
            server.cut_next[path] = cuts.pop()
        return original(request)

    server._file = flaky_file  # type: ignore[method-assign]
    with make_client(server, clock, retries=1) as client:
        [fetched] = client.fetch_files(download, tmp_path)
    assert fetched.read_bytes() == jsonl(40, 1)
    assert ranges(server) == [None, "bytes=100-", "bytes=200-", "bytes=300-"]
    assert clock.sleeps == [0.5, 0.5, 0.5]
