"""Media upkeep no request triggers: downloads whose job died, retention, leftover work folders.

A job whose workers kept dying ends with its lease expired and no attempts left: it is reaped
(``dead``) and its row failed in one transaction. A row whose job is done or dead while the row is
still active (a crash between the two writes) is failed too, so no download stays ``downloading``.
Which jobs will never run again is the queue's to say (:meth:`JobQueue.abandoned_in`).
"""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from dlserve.clock import Clock
from dlserve.db.engine import Database
from dlserve.db.tables import media_downloads
from dlserve.jobs.interfaces import JobQueue
from dlserve.logs import get_logger
from dlserve.media.models import ACTIVE_STATUSES, JOB_KIND, MediaStatus, storage_prefix
from dlserve.storage.interfaces import Storage
from dlserve.webhooks.events import media_ended_in

log = get_logger("dlserve.media.upkeep")


class MediaUpkeep:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        queue: JobQueue,
        storage: Storage,
        scratch_dir: Path,
        retention: timedelta | None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._queue = queue
        self._storage = storage
        self._scratch_dir = scratch_dir
        self._retention = retention

    def run_once(self) -> None:
        self.fail_abandoned()
        self.expire_completed()
        self.sweep_scratch()

    def fail_abandoned(self) -> int:
        """Active downloads whose job will never run again end ``failed``, with the job's reason."""
        now = self._clock.now()
        with self._db.write() as conn:
            self._queue.reap_in(conn, (JOB_KIND,))
            active = conn.execute(
                sa.select(media_downloads.c.id, media_downloads.c.job_id).where(
                    media_downloads.c.status.in_(ACTIVE_STATUSES), media_downloads.c.job_id.is_not(None)
                )
            ).all()
            abandoned = self._queue.abandoned_in(conn, [job_id for _id, job_id in active])
            rows = [(download_id, abandoned[job_id]) for download_id, job_id in active if job_id in abandoned]
            for download_id, last_error in rows:
                failed = conn.execute(
                    media_downloads.update()
                    .where(media_downloads.c.id == download_id, media_downloads.c.status.in_(ACTIVE_STATUSES))
                    .values(
                        status=MediaStatus.FAILED.value,
                        error=f"interrupted and not retried: {last_error or 'its worker stopped responding'}",
                        speed=None,
                        eta=None,
                        updated_at=now,
                        completed_at=now,
                    )
                ).rowcount
                if failed == 1:
                    media_ended_in(conn, self._queue, self._clock, download_id)  # its webhook, if any
        for download_id, _error in rows:
            log.warning("media download failed: its job will not run again", download_id=download_id)
        return len(rows)

    def expire_completed(self) -> int:
        """With a retention period set: finished downloads older than it go, entry and file."""
        if self._retention is None:
            return 0
        cutoff = self._clock.now() - self._retention
        finished = (MediaStatus.COMPLETED.value, MediaStatus.FAILED.value, MediaStatus.CANCELLED.value)
        with self._db.write() as conn:
            removed = (
                conn.execute(
                    sa.delete(media_downloads)
                    .where(media_downloads.c.status.in_(finished), media_downloads.c.updated_at < cutoff)
                    .returning(media_downloads.c.id)
                )
                .scalars()
                .all()
            )
        for download_id in removed:
            for key in list(self._storage.list_keys(storage_prefix(download_id))):
                self._storage.delete(key)
        if removed:
            log.info("expired media downloads removed", count=len(removed))
        return len(removed)

    def sweep_scratch(self) -> int:
        """Work folders of downloads that are no longer active (left by a killed process)."""
        if not self._scratch_dir.is_dir():
            return 0
        with self._db.read() as conn:
            active = set(
                conn.execute(
                    sa.select(media_downloads.c.id).where(media_downloads.c.status.in_(ACTIVE_STATUSES))
                ).scalars()
            )
        swept = 0
        for folder in self._scratch_dir.iterdir():
            if folder.is_dir() and folder.name not in active:
                shutil.rmtree(folder, ignore_errors=True)
                swept += 1
        return swept
