"""Media upkeep on the in-memory queue, with a frozen clock: abandoned jobs, retention, scratch."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from dlserve.clock import FrozenClock
from dlserve.db.engine import Database
from dlserve.db.tables import media_downloads
from dlserve.jobs.interfaces import JobStatus
from dlserve.jobs.memory import InMemoryJobQueue
from dlserve.media.models import JOB_KIND
from dlserve.media.upkeep import MediaUpkeep
from dlserve.storage.local import LocalStorage
from tests.support.domain import database_without_jobs

LEASE_S = 30.0


@dataclass
class Media:
    db: Database
    clock: FrozenClock
    queue: InMemoryJobQueue
    storage: LocalStorage
    scratch: Path
    upkeep: MediaUpkeep

    def request(self, download_id: str, status: str = "pending") -> int:
        now = self.clock.now()
        with self.db.write() as conn:
            job_id = self.queue.enqueue_in(conn, JOB_KIND, download_id)
            conn.execute(
                media_downloads.insert().values(
                    id=download_id,
                    job_id=job_id,
                    url="http://127.0.0.1/v.mp4",
                    quality="best",
                    status=status,
                    created_at=now,
                    updated_at=now,
                )
            )
        return job_id

    def status(self, download_id: str) -> tuple[str, str | None]:
        with self.db.read() as conn:
            row = conn.execute(
                sa.select(media_downloads.c.status, media_downloads.c.error).where(
                    media_downloads.c.id == download_id
                )
            ).one()
        return row.status, row.error


@pytest.fixture
def media(tmp_path: Path) -> Iterator[Media]:
    clock = FrozenClock()
    db = database_without_jobs(tmp_path / "media.db")
    queue = InMemoryJobQueue(clock, lease_seconds=LEASE_S, max_attempts=1)
    storage = LocalStorage(tmp_path / "files")
    scratch = tmp_path / "scratch"
    upkeep = MediaUpkeep(db, clock, queue, storage, scratch, retention=timedelta(hours=1))
    yield Media(db, clock, queue, storage, scratch, upkeep)
    db.dispose()


def test_a_crashed_worker_on_the_last_attempt_fails_the_row_and_the_job_is_reaped(media: Media) -> None:
    job_id = media.request("crashed", "downloading")
    media.request("healthy", "downloading")
    assert media.queue.claim("killed", (JOB_KIND,)) is not None  # `crashed`
    healthy = media.queue.claim("alive", (JOB_KIND,))
    assert healthy is not None
    media.clock.advance(seconds=LEASE_S - 1)
    assert media.queue.heartbeat(healthy, "alive")
    assert media.upkeep.fail_abandoned() == 0  # nothing has expired yet
    media.clock.advance(seconds=2)

    assert media.upkeep.fail_abandoned() == 1
    status, error = media.status("crashed")
    assert status == "failed"
    assert error is not None
    assert error.startswith("interrupted and not retried: its worker stopped responding")
    assert media.queue.get(job_id).status == JobStatus.DEAD
    assert media.status("healthy") == ("downloading", None)
    assert media.upkeep.fail_abandoned() == 0


def test_a_row_left_active_after_its_job_ended_is_failed_with_the_jobs_reason(media: Media) -> None:
    media.request("orphan", "downloading")
    job = media.queue.claim("w", (JOB_KIND,))
    assert job is not None
    assert media.queue.fail(job, "w", "HTTP 500 from the origin") is JobStatus.DEAD
    assert media.upkeep.fail_abandoned() == 1
    assert media.status("orphan") == ("failed", "interrupted and not retried: HTTP 500 from the origin")


def test_retention_removes_finished_downloads_and_their_files(media: Media, tmp_path: Path) -> None:
    media.request("old", "completed")
    media.request("active", "downloading")
    blob = tmp_path / "blob"
    blob.write_bytes(b"x")
    media.storage.put_file("media/old/attempt-1.mp4", blob)
    media.clock.advance(hours=1)
    assert media.upkeep.expire_completed() == 0
    media.clock.advance(seconds=1)
    assert media.upkeep.expire_completed() == 1
    assert list(media.storage.list_keys("media/")) == []
    with media.db.read() as conn:
        assert list(conn.execute(sa.select(media_downloads.c.id)).scalars()) == ["active"]


def test_scratch_folders_of_inactive_downloads_are_swept(media: Media) -> None:
    media.request("active", "downloading")
    for name in ("active", "gone"):
        (media.scratch / name).mkdir(parents=True)
    assert media.upkeep.sweep_scratch() == 1
    assert sorted(p.name for p in media.scratch.iterdir()) == ["active"]
