"""Issue 12, finding 6: media storage quota per caller, and finished media expiring by default."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dlserve.settings import Settings
from tests.support.media import MediaServer, shared_media
from tests.support.media_app import media_app, media_settings, media_workers, wait_for


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MediaServer]:
    running = MediaServer(shared_media(tmp_path_factory.getbasetemp())).start()
    yield running
    running.stop()


def test_finished_media_expires_by_default() -> None:
    assert Settings().media_retention_hours == 24
    assert Settings().media_quota_bytes == 10 * 1024**3


def test_a_download_may_not_fetch_more_than_what_is_left_of_the_quota(
    server: MediaServer, database_url: str, tmp_path: Path
) -> None:
    size = (shared_media(tmp_path.parent) / "v360.mp4").stat().st_size
    settings = media_settings(tmp_path, database_url, media_quota_bytes=size + size // 2)
    with media_app(settings) as (services, client), media_workers(services):
        first = client.post("/api/download", json={"url": server.url("/v360.mp4"), "quality": "best"})
        assert first.status_code == 200
        done = wait_for(client, first.json()["download_id"])
        assert done["status"] == "completed"
        # Half a file of quota left: the next one starts but may not fetch more than that.
        second = client.post("/api/download", json={"url": server.url("/v360.mp4"), "quality": "best"})
        assert second.status_code == 200
        failed = wait_for(client, second.json()["download_id"], ("failed",))
        assert f"limit of {size // 2:,} bytes" in failed["error"]  # what the quota had left


def test_a_used_up_quota_refuses_new_requests_until_files_are_removed(
    server: MediaServer, database_url: str, tmp_path: Path
) -> None:
    size = (shared_media(tmp_path.parent) / "v360.mp4").stat().st_size
    full = media_settings(tmp_path, database_url, media_quota_bytes=size)
    with media_app(full) as (services, client), media_workers(services):
        first = client.post("/api/download", json={"url": server.url("/v360.mp4"), "quality": "best"})
        assert wait_for(client, first.json()["download_id"])["status"] == "completed"
        refused = client.post("/api/download", json={"url": server.url("/v360.mp4"), "quality": "best"})
        assert refused.status_code == 413
        assert set(refused.json()) == {"detail"}
        assert "media_quota_bytes" in refused.json()["detail"]
        client.delete(f"/api/downloads/{first.json()['download_id']}/remove")  # removing frees it
        again = client.post("/api/download", json={"url": server.url("/v360.mp4"), "quality": "best"})
        assert again.status_code == 200
