"""Bulk downloads: create, get, list, cancel, and ``wait`` with progress, failure and timeout."""

from __future__ import annotations

import json

import pytest

from dlserve.client import Client, Conflict, Download, DownloadFailed, NotFound, Progress, WaitTimeout
from tests.unit.client.conftest import FakeClock
from tests.unit.client.fake_server import FakeServer, download_json, jsonl


def test_create_download_posts_download_true(client: Client, server: FakeServer) -> None:
    download = client.create_download(
        "businesses", "province:TX", num_records=20, format="CSV", view="v", compress="gzip"
    )
    assert json.loads(server.requests[-1].content) == {
        "query": "province:TX",
        "num_records": 20,
        "format": "CSV",
        "view": "v",
        "compress": "gzip",
        "download": True,
    }
    assert isinstance(download, Download)
    assert (download.id, download.status, download.num_records) == ("100", "queued", 20)
    assert download.progress == Progress(done=0, total=20, rate_per_s=None, eta_s=None)
    assert download.results == []
    assert not download.ended


def test_a_parquet_download_sends_format_parquet(client: Client, server: FakeServer) -> None:
    client.create_download("businesses", "*", format="PARQUET", view="business_basic")
    body = json.loads(server.requests[-1].content)
    assert (body["format"], body["view"], "compress" in body) == ("PARQUET", "business_basic", False)


def test_minimal_create_sends_only_what_was_given(client: Client, server: FakeServer) -> None:
    client.create_download("businesses", "*")
    assert json.loads(server.requests[-1].content) == {"query": "*", "format": "JSON", "download": True}


def test_get_list_and_cancel(client: Client, server: FakeServer) -> None:
    first = client.create_download("businesses", "*")
    second = client.create_download("businesses", "name:x")
    assert client.get_download(first.id).id == first.id
    assert client.get_download(first).status == "queued"
    assert [d.id for d in client.list_downloads()] == [first.id, second.id]
    assert dict(server.requests[-1].url.params) == {"limit": "100", "offset": "0"}
    assert client.cancel_download(first) == f"Download {first.id} was cancelled"
    assert server.requests[-1].method == "DELETE"
    assert client.get_download(first.id).status == "cancelled"
    with pytest.raises(Conflict, match="already cancelled"):
        client.cancel_download(first.id)
    with pytest.raises(NotFound):
        client.get_download("999")


def test_wait_reports_each_change_once_and_returns_the_completed_download(
    client: Client, server: FakeServer, clock: FakeClock
) -> None:
    done = download_json("7", "completed", 30, 30)
    done["results"] = [server.add_file("7", 1, jsonl(30))]
    server.add_download(
        "7",
        [
            download_json("7", "queued", 0, 30),
            download_json("7", "in_progress", 10, 30),
            download_json("7", "in_progress", 10, 30),
            download_json("7", "in_progress", 20, 30),
            done,
        ],
    )
    seen: list[tuple[str, int]] = []
    final = client.wait("7", on_progress=lambda d: seen.append((d.status, d.progress.done)), poll_interval=2)
    assert seen == [("queued", 0), ("in_progress", 10), ("in_progress", 20), ("completed", 30)]
    assert final.status == "completed"
    assert final.results[0].name == "7_1.txt"
    assert clock.sleeps == [2, 2, 2, 2]


def test_wait_returns_a_cancelled_download(client: Client, server: FakeServer) -> None:
    server.add_download("8", [download_json("8", "cancelled", 5, 30)])
    assert client.wait("8").status == "cancelled"


def test_wait_raises_download_failed_with_the_reason(client: Client, server: FakeServer) -> None:
    server.add_download(
        "9",
        [download_json("9", "in_progress", 5, 30), download_json("9", "failed", 5, 30, error="disk full")],
    )
    with pytest.raises(DownloadFailed, match="download 9 failed: disk full") as caught:
        client.wait("9")
    assert isinstance(caught.value.download, Download)
    assert caught.value.download.error == "disk full"


def test_wait_times_out(client: Client, server: FakeServer, clock: FakeClock) -> None:
    server.add_download("10", [download_json("10", "in_progress", 5, 30)])
    with pytest.raises(WaitTimeout, match="still in_progress") as caught:
        client.wait("10", poll_interval=2, timeout=5)
    assert isinstance(caught.value, TimeoutError)
    assert clock.sleeps == [2, 2, 1]


def test_a_download_without_dlserve_extensions_still_parses() -> None:
    download = Download.from_json(
        {
            "id": 12,
            "status": "completed",
            "num_records": 3,
            "results": [{"url": "https://x.test/files/12_1.csv?sig=1"}],
            "created_at": "2024-01-01T00:00:00Z",
        }
    )
    assert download.id == "12"
    assert download.progress == Progress(done=0, total=3)
    assert download.results[0].name == "12_1.csv"
    assert download.results[0].sha256 is None
