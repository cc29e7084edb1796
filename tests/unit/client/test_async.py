"""``AsyncClient``: the same calls as ``Client``, awaited."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from dlserve.client import (
    AsyncClient,
    AuthenticationError,
    ChecksumMismatch,
    Download,
    DownloadFailed,
    NotFound,
    RateLimited,
    TransportError,
    ValidationError,
    WaitTimeout,
)
from tests.unit.client.conftest import FakeClock, make_async_client
from tests.unit.client.fake_server import (
    API,
    FakeServer,
    download_json,
    envelope,
    json_response,
    jsonl,
    result_json,
)

pytestmark = pytest.mark.anyio


async def test_records_calls(server: FakeServer, clock: FakeClock) -> None:
    async with make_async_client(server, clock) as client:
        result = await client.search("businesses", "*", num_records=2)
        assert result.records == server.records[:2]
        assert await client.count("businesses", "*") == 25
        ids = [record["id"] async for record in client.paginate("businesses", "*", page_size=10)]
        assert ids == [f"r{i}" for i in range(25)]
        assert await client.get_record("businesses", "r3") == {"id": "r3", "name": "Hotel 3"}
        assert (await client.account()).available_credits == 990
    assert [r.url.params.get("page") for r in server.requests if "paginate" in r.url.path] == [
        "1",
        "2",
        "3",
        "4",
    ]


async def test_login(server: FakeServer) -> None:
    client = await AsyncClient.login(API, "a@example.com", "pw", transport=server.transport())
    async with client:
        assert await client.count("businesses", "*") == 25
    with pytest.raises(AuthenticationError):
        await AsyncClient.login(API, "a@example.com", "wrong", transport=server.transport())


async def test_errors_map_the_same_way(server: FakeServer, clock: FakeClock) -> None:
    async with make_async_client(server, clock) as client:
        with pytest.raises(ValidationError) as caught:
            await client.search("businesses", "nosuchfield:x")
        assert caught.value.details[0].field == "query"
        with pytest.raises(NotFound):
            await client.get_download("404")
        with pytest.raises(NotFound, match="Descarga no disponible o no completada"):
            await client.media_fetch("nope", Path("/nonexistent-never-created"))


async def test_downloads_create_wait_cancel(server: FakeServer, clock: FakeClock) -> None:
    async with make_async_client(server, clock) as client:
        created = await client.create_download("businesses", "*", num_records=20)
        assert json.loads(server.requests[-1].content)["download"] is True
        assert [d.id for d in await client.list_downloads()] == [created.id]
        assert "cancelled" in await client.cancel_download(created.id)
        assert (await client.wait(created)).status == "cancelled"


async def test_wait_with_a_coroutine_callback_and_timeout(server: FakeServer, clock: FakeClock) -> None:
    server.add_download(
        "7",
        [download_json("7", "queued", 0, 30), download_json("7", "in_progress", 10, 30)],
    )
    seen: list[int] = []

    async def report(download: Download) -> None:
        seen.append(download.progress.done)

    async with make_async_client(server, clock) as client:
        with pytest.raises(WaitTimeout):
            await client.wait("7", on_progress=report, poll_interval=1, timeout=3)
    assert seen == [0, 10]
    assert clock.sleeps == [1, 1, 1]


async def test_wait_failed(server: FakeServer, clock: FakeClock) -> None:
    server.add_download("9", [download_json("9", "failed", 0, 30, error="boom")])
    async with make_async_client(server, clock) as client:
        with pytest.raises(DownloadFailed, match="boom"):
            await client.wait("9", on_progress=lambda d: None)


async def test_retry_after_and_no_resent_post(server: FakeServer, clock: FakeClock) -> None:
    server.queue.append(lambda r: json_response(429, envelope(429, "busy"), {"Retry-After": "4"}))
    async with make_async_client(server, clock) as client:
        assert (await client.create_download("businesses", "*")).status == "queued"
        assert clock.sleeps == [4.0]

        def reset(request: httpx.Request) -> httpx.Response:
            raise httpx.ReadError("reset", request=request)

        server.queue.append(reset)
        with pytest.raises(TransportError):
            await client.create_download("businesses", "*")
        assert clock.sleeps == [4.0]
        server.queue.append(lambda r: json_response(429, envelope(429, "busy"), {"Retry-After": "9999"}))
        with pytest.raises(RateLimited):
            await client.count("businesses", "*")


async def test_fetch_files_resumes_a_cut_transfer_and_verifies(
    server: FakeServer, clock: FakeClock, tmp_path: Path
) -> None:
    body = download_json("5", "completed", 65, 65)
    body["results"] = [server.add_file("5", 1, jsonl(40, 1)), server.add_file("5", 2, jsonl(25, 2))]
    download = Download.from_json(body)
    half = body["results"][0]["bytes"] // 2
    server.cut_next[httpx.URL(body["results"][0]["url"]).path] = half
    async with make_async_client(server, clock, retries=0) as client:
        with pytest.raises(TransportError):
            await client.fetch_files(download, tmp_path)
        assert (tmp_path / "5_1.txt").stat().st_size == half
        server.requests.clear()
        paths = await client.fetch_files(download, tmp_path)
        assert [p.read_bytes() for p in paths] == [jsonl(40, 1), jsonl(25, 2)]
        assert [r.headers.get("range") for r in server.requests] == [f"bytes={half}-", None]
        server.requests.clear()
        await client.fetch_files(download, tmp_path)
        assert server.requests == []  # complete and verified: skipped


async def test_fetch_files_in_call_resume_and_checksum_mismatch(
    server: FakeServer, clock: FakeClock, tmp_path: Path
) -> None:
    body = download_json("5", "completed", 40, 40)
    body["results"] = [server.add_file("5", 1, jsonl(40, 1))]
    server.cut_next[httpx.URL(body["results"][0]["url"]).path] = 100
    async with make_async_client(server, clock) as client:
        [path] = await client.fetch_files(Download.from_json(body), tmp_path)
        assert path.read_bytes() == jsonl(40, 1)
        assert [r.headers.get("range") for r in server.requests] == [None, "bytes=100-"]
        bad = result_json("6", 1, b"x\n", sha256="f" * 64)
        server.files[httpx.URL(bad["url"]).path] = b"x\n"
        broken = Download.from_json({**download_json("6", "completed", 1, 1), "results": [bad]})
        with pytest.raises(ChecksumMismatch):
            await client.fetch_files(broken, tmp_path)
        assert not (tmp_path / "6_1.txt").exists()


async def test_media_calls(server: FakeServer, clock: FakeClock, tmp_path: Path) -> None:
    async with make_async_client(server, clock) as client:
        media_id = await client.media_download("https://videos.example/a.mp4", "audio")
        assert [m.id for m in await client.media_list()] == [media_id]
        server.media_states[media_id] = [{"id": media_id, "status": "completed", "progress": 100}]
        assert (await client.media_wait(media_id)).status == "completed"
        assert (await client.media_get(media_id)).progress == 100.0
        server.media_files[media_id] = (b"audio" * 1000, "attachment; filename*=UTF-8''%C3%B1.m4a")
        server.cut_next[f"/api/download/{media_id}/file"] = 10
        path = await client.media_fetch(media_id, tmp_path)
        assert path.name == "ñ.m4a"
        assert path.read_bytes() == b"audio" * 1000
        await client.media_remove(media_id)
        assert await client.media_list() == []
