"""The media API over HTTP on a real database (SQLite and PostgreSQL), with real yt-dlp and ffmpeg
fetching from a loopback server (``DLSERVE_MEDIA_ALLOW_PRIVATE`` on, as the issue prescribes)."""

from __future__ import annotations

import uuid
from pathlib import Path
from urllib.parse import unquote

import pytest

from dlserve.media.service import FILE_MISSING_MESSAGE, NOT_AVAILABLE_MESSAGE
from tests.support.media import MediaServer, probe_streams, write_page
from tests.support.media_app import media_app, media_settings, media_workers, start, wait_for


def test_start_poll_fetch_remove(server: MediaServer, database_url: str, tmp_path: Path) -> None:
    with media_app(media_settings(tmp_path, database_url)) as (services, client), media_workers(services):
        response = client.post("/api/download", json={"url": server.url("/master.m3u8"), "quality": "720p"})
        assert response.status_code == 200
        download_id = response.json()["download_id"]
        assert uuid.UUID(download_id).version == 4

        entry = wait_for(client, download_id)
        listing = client.get("/api/downloads").json()
        assert isinstance(listing, list)
        assert [item["id"] for item in listing] == [download_id]
        assert listing[0] == entry
        assert entry["url"] == server.url("/master.m3u8")
        assert entry["quality"] == "720p"
        assert entry["progress"] == 100.0
        assert entry["title"] == "master"
        assert entry["filename"] == "master.mp4"
        assert entry["height"] == 720
        assert entry["downloaded_bytes"] == entry["total_bytes"] == entry["filesize"] > 0
        assert entry["error"] is None
        assert entry["created_at"].endswith("Z")
        assert set(entry) >= {"id", "url", "quality", "status", "title", "progress", "downloaded_bytes",
                              "total_bytes", "speed", "eta", "filename", "error", "created_at"}  # fmt: skip

        file = client.get(f"/api/download/{download_id}/file")
        assert file.status_code == 200
        assert file.headers["content-type"] == "video/mp4"
        assert file.headers["content-disposition"] == 'attachment; filename="master.mp4"'
        assert file.headers["accept-ranges"] == "bytes"
        assert int(file.headers["content-length"]) == len(file.content) == entry["filesize"]
        saved = tmp_path / "saved.mp4"
        saved.write_bytes(file.content)
        assert probe_streams(saved)["height"] == 720

        part = client.get(f"/api/download/{download_id}/file", headers={"Range": "bytes=10-109"})
        assert part.status_code == 206
        assert part.content == file.content[10:110]
        assert part.headers["content-range"] == f"bytes 10-109/{len(file.content)}"
        tail = client.get(f"/api/download/{download_id}/file", headers={"Range": "bytes=-16"})
        assert tail.content == file.content[-16:]
        beyond = client.get(
            f"/api/download/{download_id}/file", headers={"Range": f"bytes={len(file.content)}-"}
        )
        assert beyond.status_code == 416
        head = client.head(f"/api/download/{download_id}/file")
        assert head.status_code == 200
        assert head.content == b""
        assert head.headers["content-length"] == str(len(file.content))
        # The same file response as result files: validators, and If-Range for resuming.
        assert file.headers["etag"].startswith('"')
        assert file.headers["last-modified"].endswith("GMT")
        resumed = client.get(
            f"/api/download/{download_id}/file",
            headers={"Range": "bytes=10-", "If-Range": file.headers["etag"]},
        )
        assert (resumed.status_code, resumed.content) == (206, file.content[10:])
        changed = client.get(
            f"/api/download/{download_id}/file", headers={"Range": "bytes=10-", "If-Range": '"other"'}
        )
        assert (changed.status_code, changed.content) == (200, file.content)

        removed = client.delete(f"/api/downloads/{download_id}/remove")
        assert removed.status_code == 200
        assert list(services.storage.list_keys("media/")) == []
        assert client.get(f"/api/download/{download_id}/file").json() == {"detail": NOT_AVAILABLE_MESSAGE}
        assert client.get(f"/api/downloads/{download_id}").status_code == 404
        assert client.delete(f"/api/downloads/{download_id}/remove").status_code == 404
        assert client.get("/api/downloads").json() == []


def test_the_two_not_found_messages(server: MediaServer, database_url: str, tmp_path: Path) -> None:
    with media_app(media_settings(tmp_path, database_url)) as (services, client):
        unknown = client.get(f"/api/download/{uuid.uuid4()}/file")
        assert (unknown.status_code, unknown.json()) == (404, {"detail": NOT_AVAILABLE_MESSAGE})
        assert client.get("/api/download/not-a-uuid/file").json() == {"detail": NOT_AVAILABLE_MESSAGE}

        pending = start(client, server.url("/v360.mp4"))  # no worker yet: stays pending
        response = client.get(f"/api/download/{pending}/file")
        assert (response.status_code, response.json()) == (404, {"detail": NOT_AVAILABLE_MESSAGE})

        with media_workers(services):
            wait_for(client, pending)
        key = next(iter(services.storage.list_keys("media/")))
        services.storage.delete(key)  # the file is gone from storage behind the service's back
        response = client.get(f"/api/download/{pending}/file")
        assert (response.status_code, response.json()) == (404, {"detail": FILE_MISSING_MESSAGE})


def test_a_non_ascii_title_round_trips_through_content_disposition(
    server: MediaServer, media_dir: Path, database_url: str, tmp_path: Path
) -> None:
    page = write_page(media_dir, "cancion", "Canción de prueba – ñ", server.url("/v360.mp4"))
    with media_app(media_settings(tmp_path, database_url)) as (services, client), media_workers(services):
        download_id = start(client, server.url(page), "audio")
        entry = wait_for(client, download_id)
        assert entry["title"] == "Canción de prueba – ñ"
        assert entry["filename"] == "Canción de prueba – ñ.m4a"
        response = client.get(f"/api/download/{download_id}/file")
        assert response.headers["content-type"] == "audio/mp4"
        header = response.headers["content-disposition"]
        encoded = header.split("filename*=UTF-8''", 1)[1].split(";", 1)[0]
        assert unquote(encoded) == "Canción de prueba – ñ.m4a"
        assert header.endswith('filename="Cancion de prueba - n.m4a"')
        saved = tmp_path / unquote(encoded)
        saved.write_bytes(response.content)
        assert probe_streams(saved)["video"] is False


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"url": "http://example.com/v.mp4", "quality": "4k"}, "quality must be one of: best, 2160p"),
        ({"url": "file:///etc/passwd"}, "Only http:// and https:// URLs can be downloaded"),
        ({"url": "ftp://example.com/v.mp4"}, "Only http:// and https://"),
        ({"url": "not a url"}, "Only http:// and https://"),
        ({"url": ""}, "url must be between 1 and 4096 characters"),
        ({"quality": "720p"}, "url: Field required"),
        ({"url": 5}, "url: Input should be a valid string"),
    ],
)
def test_bad_requests_get_a_clear_400(
    database_url: str, tmp_path: Path, body: dict[str, object], detail: str
) -> None:
    with media_app(media_settings(tmp_path, database_url)) as (_services, client):
        response = client.post("/api/download", json=body)
        assert response.status_code == 400
        assert detail in response.json()["detail"]
        assert list(response.json()) == ["detail"]
        assert client.get("/api/downloads").json() == []


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "0x7f.1", "2130706433", "[::ffff:127.0.0.1]", "[::1]", "169.254.169.254", "10.0.0.1"],
)
def test_internal_addresses_are_refused_by_default(
    server: MediaServer, database_url: str, tmp_path: Path, host: str
) -> None:
    # Literal addresses need no DNS; the refusal happens before any job exists, so nothing is sent.
    settings = media_settings(tmp_path, database_url, media_allow_private=False)
    with media_app(settings) as (_services, client):
        response = client.post("/api/download", json={"url": f"http://{host}:{server.port}/v360.mp4"})
        assert response.status_code == 400
        assert "non-public address" in response.json()["detail"]
        assert client.get("/api/downloads").json() == []


def test_access_rules(server: MediaServer, database_url: str, tmp_path: Path) -> None:
    url = server.url("/v360.mp4")
    with media_app(media_settings(tmp_path / "loop", database_url)) as (services, client):
        alice = {"Authorization": "Bearer " + services.accounts.create_account("a@example.com").token}
        bob = {"Authorization": "Bearer " + services.accounts.create_account("b@example.com").token}
        anonymous_id = start(client, url)
        alice_id = start(client, url, headers=alice)
        assert [d["id"] for d in client.get("/api/downloads").json()] == [anonymous_id]
        assert [d["id"] for d in client.get("/api/downloads", headers=alice).json()] == [alice_id]
        assert client.get("/api/downloads", headers=bob).json() == []
        assert client.get(f"/api/downloads/{alice_id}", headers=bob).status_code == 404
        assert client.delete(f"/api/downloads/{alice_id}/remove", headers=bob).status_code == 404
        assert client.get(f"/api/downloads/{alice_id}").status_code == 404
        bad = client.get("/api/downloads", headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 401
        assert list(bad.json()) == ["detail"]

    public = media_settings(tmp_path / "public", database_url, host="0.0.0.0")
    with media_app(public) as (services, client):
        token = {"Authorization": "Bearer " + services.accounts.create_account("c@example.com").token}
        refused = client.post("/api/download", json={"url": url})
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith("Bearer")
        assert client.get("/api/downloads").status_code == 401
        assert client.post("/api/download", json={"url": url}, headers=token).status_code == 200

    anonymous = media_settings(tmp_path / "anon", database_url, host="0.0.0.0", media_anonymous=True)
    with media_app(anonymous) as (_services, client):
        assert client.post("/api/download", json={"url": url}).status_code == 200
