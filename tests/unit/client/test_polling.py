"""Conditional polls and long polling: ``poll_download`` and ``wait`` against a server with ETags."""

from __future__ import annotations

import httpx
import pytest

from dlserve.client import AsyncClient, Client
from tests.unit.client.conftest import FakeClock, make_async_client
from tests.unit.client.fake_server import FakeServer, download_json, jsonl


def test_poll_download_sends_the_etag_and_reads_a_304_as_unchanged(
    client: Client, server: FakeServer
) -> None:
    server.conditional = True
    state = download_json("5", "in_progress", 10, 30)
    server.add_download("5", [state, state])
    first = client.poll_download("5")
    assert first.download is not None
    assert first.download.progress.done == 10
    assert first.etag is not None
    assert first.etag.startswith('W/"')
    assert "if-none-match" not in server.requests[-1].headers
    again = client.poll_download("5", first.etag, wait=25)
    assert again.download is None  # 304: nothing changed
    assert again.etag == first.etag
    sent = server.requests[-1]
    assert sent.headers["if-none-match"] == first.etag
    assert sent.url.params["wait"] == "25"
    # The read timeout covers the server holding the poll: the client's own plus the wait.
    assert sent.extensions["timeout"]["read"] == pytest.approx(30.0 + 25)


def test_poll_download_without_etag_support_is_a_plain_get(client: Client, server: FakeServer) -> None:
    server.add_download("6", [download_json("6", "queued", 0, 30)])
    polled = client.poll_download("6")
    assert polled.download is not None
    assert polled.download.status == "queued"
    assert polled.etag is None


def test_wait_long_polls_with_the_etag(client: Client, server: FakeServer, clock: FakeClock) -> None:
    server.conditional = True
    running = download_json("7", "in_progress", 10, 30)
    done = download_json("7", "completed", 30, 30)
    done["results"] = [server.add_file("7", 1, jsonl(30))]
    server.add_download("7", [download_json("7", "queued", 0, 30), running, running, running, done])
    seen: list[tuple[str, int]] = []
    final = client.wait("7", on_progress=lambda d: seen.append((d.status, d.progress.done)), long_poll=20)
    assert final.status == "completed"
    assert seen == [("queued", 0), ("in_progress", 10), ("completed", 30)]
    polls = [r for r in server.requests if r.url.path == "/v4/downloads/7"]
    assert [r.url.params.get("wait") for r in polls] == [None, "20", "20", "20", "20"]
    assert "if-none-match" not in polls[0].headers
    assert all(r.headers["if-none-match"].startswith('W/"') for r in polls[1:])
    # A change is polled again at once. The two 304s came back at once from this fake server
    # (0 s on the fake clock), so the client waited out poll_interval itself; from dlserve a 304
    # comes only after the server's wait, and then the client polls again at once.
    assert clock.sleeps == [0.0, 0.0, 1.0, 1.0]


def test_wait_cuts_the_long_poll_to_the_time_left(
    client: Client, server: FakeServer, clock: FakeClock
) -> None:
    server.conditional = True
    state = download_json("8", "in_progress", 1, 30)
    server.add_download("8", [state])
    with pytest.raises(TimeoutError):
        client.wait("8", timeout=2.5, long_poll=30)
    waits = [r.url.params.get("wait") for r in server.requests if r.url.path == "/v4/downloads/8"]
    assert waits[0] is None
    assert waits[1] == "2.5"
    assert all(float(w) <= 2.5 for w in waits[1:] if w is not None)


@pytest.mark.anyio
async def test_the_async_client_polls_the_same_way(server: FakeServer, clock: FakeClock) -> None:
    server.conditional = True
    state = download_json("9", "in_progress", 3, 30)
    server.add_download("9", [state, state, download_json("9", "cancelled", 3, 30)])
    async with make_async_client(server, clock) as client:
        assert isinstance(client, AsyncClient)
        first = await client.poll_download("9")
        assert first.download is not None
        assert first.etag is not None
        unchanged = await client.poll_download("9", first.etag, wait=10)
        assert unchanged.download is None
        final = await client.wait("9", long_poll=10)
    assert final.status == "cancelled"


def test_a_304_to_a_request_without_etag_never_breaks_wait(server: FakeServer, clock: FakeClock) -> None:
    """A 304 is only ever the answer to an If-None-Match: the first poll sends none."""
    server.conditional = True
    server.add_download("10", [download_json("10", "completed", 3, 3)])
    with Client("http://dl.test", "dls_test_token", transport=httpx.MockTransport(server)) as client:
        assert client.wait("10").status == "completed"
