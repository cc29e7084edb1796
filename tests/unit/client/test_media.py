"""The media API calls (seed 004), against the contract; its real server comes with issue 6."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from dlserve.client import Client, DownloadFailed, MediaDownload, NotFound, TransportError, ValidationError
from tests.unit.client.conftest import FakeClock, make_client
from tests.unit.client.fake_server import FakeServer

VIDEO = bytes(range(256)) * 40


def test_media_download_list_get_and_remove(client: Client, server: FakeServer) -> None:
    media_id = client.media_download("https://videos.example/watch?v=1", quality="720p")
    assert media_id == "m-1"
    request = server.requests[-1]
    assert (request.method, request.url.path) == ("POST", "/api/download")
    assert json.loads(request.content) == {"url": "https://videos.example/watch?v=1", "quality": "720p"}
    assert request.headers["authorization"].startswith("Bearer ")  # same origin: sent when given
    [listed] = client.media_list()
    assert isinstance(listed, MediaDownload)
    assert (listed.id, listed.status, listed.quality) == ("m-1", "pending", "720p")
    assert client.media_get("m-1").url == "https://videos.example/watch?v=1"
    client.media_remove("m-1")
    assert server.requests[-1].method == "DELETE"
    assert server.requests[-1].url.path == "/api/downloads/m-1/remove"
    assert client.media_list() == []
    with pytest.raises(NotFound, match="Descarga no encontrada"):
        client.media_remove("m-1")


def test_default_quality_is_best(client: Client, server: FakeServer) -> None:
    client.media_download("https://videos.example/a.mp4")
    assert json.loads(server.requests[-1].content)["quality"] == "best"


def test_a_bad_quality_is_a_validation_error(client: Client) -> None:
    with pytest.raises(ValidationError) as caught:
        client.media_download("https://videos.example/a.mp4", quality="8k")
    assert caught.value.status_code == 422
    assert caught.value.details[0].field == "quality"


def test_media_wait_reports_progress_and_ends(client: Client, server: FakeServer, clock: FakeClock) -> None:
    media_id = client.media_download("https://videos.example/a.mp4")
    base = {"id": media_id, "url": "https://videos.example/a.mp4", "quality": "best", "title": "A"}
    server.media_states[media_id] = [
        {**base, "status": "downloading", "progress": 10.0, "downloaded_bytes": 100, "total_bytes": 1000},
        {**base, "status": "downloading", "progress": 10.0, "downloaded_bytes": 100, "total_bytes": 1000},
        {**base, "status": "downloading", "progress": 55.5, "downloaded_bytes": 555, "total_bytes": 1000},
        {
            **base,
            "status": "completed",
            "progress": 100.0,
            "downloaded_bytes": 1000,
            "total_bytes": 1000,
            "filename": "A.mp4",
            "created_at": "2024-05-01T12:00:00Z",
        },
    ]
    seen: list[float] = []
    done = client.media_wait(media_id, on_progress=lambda m: seen.append(m.progress), poll_interval=0.5)
    assert seen == [10.0, 55.5, 100.0]
    assert (done.status, done.filename, done.total_bytes) == ("completed", "A.mp4", 1000)
    assert clock.sleeps == [0.5, 0.5, 0.5]


def test_media_wait_raises_for_failed(client: Client, server: FakeServer) -> None:
    media_id = client.media_download("https://videos.example/a.mp4")
    server.media_states[media_id] = [{"id": media_id, "status": "failed", "error": "too large"}]
    with pytest.raises(DownloadFailed, match="too large") as caught:
        client.media_wait(media_id)
    assert isinstance(caught.value.download, MediaDownload)


@pytest.mark.parametrize(
    ("disposition", "name"),
    [
        ('attachment; filename="My Video.mp4"', "My Video.mp4"),
        ("attachment; filename=plain.webm", "plain.webm"),
        (
            'attachment; filename="Cancion de prueba _ n.m4a"; '
            "filename*=UTF-8''Canci%C3%B3n%20de%20prueba%20%E2%80%93%20%C3%B1.m4a",
            "Canción de prueba – ñ.m4a",
        ),
        ("attachment; filename*=UTF-8''%E2%9C%93.mp4; filename=\"_.mp4\"", "✓.mp4"),
        ('attachment; filename="../../x.mp4"', ".._.._x.mp4"),
        ("attachment", "m-1"),
    ],
)
def test_media_fetch_names_the_file_from_content_disposition(
    disposition: str, name: str, client: Client, server: FakeServer, tmp_path: Path
) -> None:
    server.media_files["m-1"] = (VIDEO, disposition)
    path = client.media_fetch("m-1", tmp_path / "media")
    assert path == tmp_path / "media" / name
    assert path.read_bytes() == VIDEO
    assert list(path.parent.iterdir()) == [path]  # no .part left


def test_media_fetch_not_completed_is_the_seed_404(client: Client, tmp_path: Path) -> None:
    with pytest.raises(NotFound) as caught:
        client.media_fetch("nope", tmp_path)
    assert caught.value.message == "Descarga no disponible o no completada"
    assert list(tmp_path.iterdir()) == []


def test_media_fetch_resumes_a_cut_transfer(
    client: Client, server: FakeServer, clock: FakeClock, tmp_path: Path
) -> None:
    server.media_files["m-1"] = (VIDEO, 'attachment; filename="v.mp4"')
    server.cut_next["/api/download/m-1/file"] = 1000
    path = client.media_fetch("m-1", tmp_path)
    assert path.read_bytes() == VIDEO
    assert [r.headers.get("range") for r in server.requests] == [None, "bytes=1000-"]


def test_media_fetch_leaves_nothing_when_it_gives_up(
    server: FakeServer, clock: FakeClock, tmp_path: Path
) -> None:
    server.media_files["m-1"] = (VIDEO, 'attachment; filename="v.mp4"')
    server.cut_next["/api/download/m-1/file"] = 1000
    with make_client(server, clock, retries=0) as client, pytest.raises(TransportError):
        client.media_fetch("m-1", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_media_calls_work_without_a_token(server: FakeServer) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=[])

    with Client("http://127.0.0.1:8000", None, transport=httpx.MockTransport(handler)) as client:
        assert client.media_list() == []
    assert "authorization" not in seen[0].headers
