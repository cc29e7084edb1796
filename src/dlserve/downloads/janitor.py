"""Upkeep that no request triggers: downloads whose job died, and result files past their expiry."""

from __future__ import annotations

import sqlalchemy as sa

from dlserve.clock import Clock
from dlserve.db.engine import Database
from dlserve.db.tables import download_files, downloads
from dlserve.downloads.models import DownloadStatus
from dlserve.downloads.part import fail_download_in, finish_if_done
from dlserve.downloads.services import EXPORT_KINDS
from dlserve.jobs.interfaces import Job, JobQueue
from dlserve.logs import get_logger
from dlserve.storage.interfaces import Storage

log = get_logger("dlserve.janitor")


class Janitor:
    def __init__(self, db: Database, clock: Clock, queue: JobQueue, storage: Storage) -> None:
        self._db = db
        self._clock = clock
        self._queue = queue
        self._storage = storage

    def run_once(self) -> None:
        self.reap_dead_jobs()
        self.finish_stragglers()
        self.expire_files()

    def finish_stragglers(self) -> int:
        """A download in progress with no export job left is complete (a safety net: the last
        part's own transaction normally says so)."""
        with self._db.write() as conn:
            in_progress = [
                str(download_id)
                for download_id in conn.execute(
                    sa.select(downloads.c.id).where(downloads.c.status == DownloadStatus.IN_PROGRESS.value)
                ).scalars()
            ]
            pending = self._queue.subjects_pending_in(conn, EXPORT_KINDS, in_progress)
            stuck = [int(download_id) for download_id in in_progress if download_id not in pending]
            for download_id in stuck:
                finish_if_done(conn, self._clock, self._queue, download_id)
        return len(stuck)

    def reap_dead_jobs(self) -> int:
        """Jobs whose workers kept dying: their downloads end ``failed``, in the same transaction."""
        with self._db.write() as conn:
            dead = self._queue.reap_in(conn, EXPORT_KINDS)
            for job in dead:
                self._fail_in(
                    conn, _download_id(job), "export failed: its worker stopped responding too many times"
                )
        return len(dead)

    def fail_job(self, job: Job, error: str) -> None:
        """An export job failed on its last attempt: its download ends ``failed``."""
        self.fail_download(_download_id(job), f"export failed: {error}")

    def fail_download(self, download_id: int | None, error: str) -> None:
        """The job will not run again: the download ends ``failed`` (its finished files stay)."""
        with self._db.write() as conn:
            self._fail_in(conn, download_id, error)

    def _fail_in(self, conn: sa.Connection, download_id: int | None, error: str) -> None:
        if download_id is not None:
            fail_download_in(conn, self._clock, self._queue, download_id, error)

    def expire_files(self) -> int:
        """Delete result files past ``expires_at`` and mark them gone; returns how many."""
        now = self._clock.now()
        with self._db.read() as conn:
            expired = conn.execute(
                sa.select(download_files.c.id, download_files.c.storage_key).where(
                    download_files.c.expires_at < now, download_files.c.deleted_at.is_(None)
                )
            ).all()
        for row in expired:
            self._storage.delete(row.storage_key)
            with self._db.write() as conn:
                conn.execute(
                    download_files.update().where(download_files.c.id == row.id).values(deleted_at=now)
                )
        if expired:
            log.info("expired result files removed", files=len(expired))
        return len(expired)


def _download_id(job: Job) -> int | None:
    return int(job.subject_id) if job.subject_id is not None else None
