"""Media downloads as durable jobs: cancellation, limits, restarts, crashed workers, retention."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from dlserve.container import Services
from dlserve.db.tables import media_downloads
from dlserve.jobs.interfaces import Job
from tests.support.media import MediaServer
from tests.support.media_app import OffsetClock, media_app, media_settings, media_workers, start, wait_for


def eventually(check: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def job_of(services: Services, download_id: str) -> Job:
    job = services.queue.latest_for(("media",), download_id)
    assert job is not None
    return job


def test_remove_during_a_transfer_stops_it_promptly_and_leaves_no_file(
    server: MediaServer, database_url: str, tmp_path: Path
) -> None:
    with media_app(media_settings(tmp_path, database_url)) as (services, client), media_workers(services):
        download_id = start(client, server.url("/slow/v1080.mp4?rate=20000"))  # ~6 s of transfer
        wait_for(client, download_id, ("downloading",), until=lambda e: e["downloaded_bytes"] > 0)
        workdir = services.media.runner.workdir_for(download_id)
        assert workdir.is_dir()

        removed_at = time.monotonic()
        assert client.delete(f"/api/downloads/{download_id}/remove").status_code == 200
        eventually(lambda: server.open_transfers == 0 and not workdir.exists(), seconds=3)
        assert time.monotonic() - removed_at < 3
        assert list(services.storage.list_keys("media/")) == []
        assert client.get("/api/downloads").json() == []
        assert media_job_statuses(services) == ["done"]


def media_job_statuses(services: Services) -> list[str]:
    return [
        status
        for (kind, status), count in services.queue.counts().items()
        if kind == "media"
        for _ in range(count)
    ]


def test_cancel_keeps_the_entry_as_cancelled(server: MediaServer, database_url: str, tmp_path: Path) -> None:
    with media_app(media_settings(tmp_path, database_url)) as (services, client), media_workers(services):
        download_id = start(client, server.url("/slow/v1080.mp4?rate=20000"))
        wait_for(client, download_id, ("downloading",), until=lambda e: e["downloaded_bytes"] > 0)
        cancelled = client.post(f"/api/downloads/{download_id}/cancel")
        assert cancelled.status_code == 200
        assert cancelled.json()["status"] == "cancelled"
        eventually(lambda: server.open_transfers == 0, seconds=3)
        assert client.get(f"/api/downloads/{download_id}").json()["status"] == "cancelled"
        assert client.get(f"/api/download/{download_id}/file").status_code == 404
        assert list(services.storage.list_keys("media/")) == []


def test_a_download_over_the_size_limit_fails_with_a_clear_error(
    server: MediaServer, database_url: str, tmp_path: Path
) -> None:
    settings = media_settings(tmp_path, database_url, media_max_bytes=1_000_000)
    with media_app(settings) as (services, client), media_workers(services):
        download_id = start(client, server.url("/big/video.mp4?bytes=50000000"))
        entry = wait_for(client, download_id, ("failed",))
        assert "larger than the limit of 1,000,000 bytes" in entry["error"]
        assert entry["downloaded_bytes"] < 5_000_000
        assert job_of(services, download_id).attempts == 1  # not retried: it would fail again
        assert not services.media.runner.workdir_for(download_id).exists()


def test_a_restart_loses_no_queued_request_and_no_completed_file(
    server: MediaServer, database_url: str, tmp_path: Path
) -> None:
    settings = media_settings(tmp_path, database_url)
    with media_app(settings) as (services, client):
        with media_workers(services):
            done_id = start(client, server.url("/v360.mp4"))
            wait_for(client, done_id)
        queued_id = start(client, server.url("/dash.mpd"), "720p")
        assert client.get(f"/api/downloads/{queued_id}").json()["status"] == "pending"
        first_bytes = client.get(f"/api/download/{done_id}/file").content

    with media_app(settings) as (services, client):  # a new process, the same database and files
        assert client.get(f"/api/download/{done_id}/file").content == first_bytes
        assert client.get(f"/api/downloads/{queued_id}").json()["status"] == "pending"
        with media_workers(services):
            entry = wait_for(client, queued_id)
        assert entry["height"] == 720


def test_shutdown_during_a_transfer_gives_the_job_back(
    server: MediaServer, database_url: str, tmp_path: Path
) -> None:
    settings = media_settings(tmp_path, database_url)
    with media_app(settings) as (services, client):
        runtime = services.worker_runtime(0, 1)
        runtime.start()
        download_id = start(client, server.url("/slow/v720.mp4?rate=40000"))
        wait_for(client, download_id, ("downloading",), until=lambda e: e["downloaded_bytes"] > 0)
        runtime.stop()
        entry = client.get(f"/api/downloads/{download_id}").json()
        assert entry["status"] == "pending"
        assert job_of(services, download_id).status == "queued"
        assert job_of(services, download_id).attempts == 0  # a shutdown does not use up an attempt
        assert not services.media.runner.workdir_for(download_id).exists()
        with media_workers(services):
            assert wait_for(client, download_id)["height"] == 720


def _crash_mid_download(services: Services, download_id: str) -> None:
    """What a worker killed with SIGKILL leaves: its job running under a lease nobody renews, the
    row ``downloading``, a half-written work folder."""
    media = services.media
    job = services.queue.claim("killed-worker", ("media",))
    assert job is not None
    with services.db.write() as conn:
        conn.execute(
            media_downloads.update()
            .where(media_downloads.c.id == download_id)
            .values(status="downloading", downloaded_bytes=1234, progress=12.0)
        )
    workdir = media.runner.workdir_for(download_id)
    workdir.mkdir(parents=True)
    (workdir / "media.mp4.part").write_bytes(b"\x00" * 1234)
    # Killed between storing its file and committing: an orphan object.
    orphan = workdir.parent / "orphan.mp4"
    orphan.write_bytes(b"\x00" * 10)
    services.storage.put_file(f"media/{download_id}/attempt-1.mp4", orphan)


def test_an_interrupted_download_is_retried_by_another_worker(
    server: MediaServer, database_url: str, tmp_path: Path
) -> None:
    settings = media_settings(tmp_path, database_url, job_lease_seconds=1.0)
    with media_app(settings) as (services, client):
        download_id = start(client, server.url("/master.m3u8"), "480p")
        _crash_mid_download(services, download_id)
        assert client.get(f"/api/downloads/{download_id}").json()["status"] == "downloading"
        with media_workers(services):
            entry = wait_for(client, download_id)
        assert entry["height"] == 360
        assert entry["progress"] == 100.0
        assert job_of(services, download_id).attempts == 2
        assert not services.media.runner.workdir_for(download_id).exists()
        assert list(services.storage.list_keys("media/")) == [f"media/{download_id}/attempt-2.mp4"]


def test_an_interrupted_download_without_attempts_left_fails_clearly(
    server: MediaServer, database_url: str, tmp_path: Path
) -> None:
    clock = OffsetClock()
    settings = media_settings(tmp_path, database_url, job_lease_seconds=0.5, media_max_attempts=1)
    with media_app(settings, clock) as (services, client):
        download_id = start(client, server.url("/v360.mp4"))
        _crash_mid_download(services, download_id)
        clock.offset = timedelta(seconds=1)  # the killed worker's lease has expired
        assert services.media.upkeep.fail_abandoned() == 1
        entry = client.get(f"/api/downloads/{download_id}").json()
        assert entry["status"] == "failed"
        assert entry["error"].startswith("interrupted and not retried")
        assert services.media.upkeep.sweep_scratch() == 1
        assert not services.media.runner.workdir_for(download_id).exists()
        assert client.delete(f"/api/downloads/{download_id}/remove").status_code == 200
        assert list(services.storage.list_keys("media/")) == []  # the orphan went with it


def test_retention_removes_old_finished_downloads_with_their_files(
    server: MediaServer, database_url: str, tmp_path: Path
) -> None:
    clock = OffsetClock()
    settings = media_settings(tmp_path, database_url, media_retention_hours=1)
    with media_app(settings, clock) as (services, client):
        with media_workers(services):
            download_id = start(client, server.url("/v360.mp4"))
            wait_for(client, download_id)
        assert services.media.upkeep.expire_completed() == 0
        clock.offset = timedelta(hours=1, minutes=1)
        assert services.media.upkeep.expire_completed() == 1
        assert client.get("/api/downloads").json() == []
        assert list(services.storage.list_keys("media/")) == []


def test_many_downloads_run_side_by_side(server: MediaServer, database_url: str, tmp_path: Path) -> None:
    with media_app(media_settings(tmp_path, database_url)) as (services, client), media_workers(services, 3):
        wanted = [
            ("/master.m3u8", "360p"),
            ("/dash.mpd", "audio"),
            ("/v720.mp4", "best"),
            ("/master.m3u8", "1080p"),
        ]
        ids = [start(client, server.url(path), quality) for path, quality in wanted]
        entries = [wait_for(client, download_id) for download_id in ids]
        assert [e["height"] for e in entries] == [360, None, 720, 1080]
        assert len({e["filesize"] for e in entries}) == 4
