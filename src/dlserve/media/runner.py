"""`MediaRunner`: one claimed media job → one stored file, with progress, cancellation and retries.

The fetch runs on the worker thread; beside it a :class:`~dlserve.media.monitor.ProgressMonitor`
heartbeats the job, publishes progress on the row, and cancels the fetch when the job was withdrawn
(remove/cancel), the row left ``downloading``, or the worker is shutting down. Every attempt works
in its own folder, deleted when the attempt ends whatever happened, so no partial file survives.

Outcomes: stored and marked ``completed`` together with the job in one transaction; a transient
failure goes back to the queue (``pending`` again) until attempts run out, then ``failed``; a
permanent one (refused address, too large, unsupported URL) is ``failed`` at once; a shutdown
gives the job back (``pending``) so the next start resumes it.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from dlserve.clock import Clock
from dlserve.db.engine import Database
from dlserve.db.tables import media_downloads
from dlserve.jobs.interfaces import Job, JobQueue, JobStatus
from dlserve.logs import get_logger
from dlserve.media import isobmff, signatures
from dlserve.media.errors import Cancelled, FetchError
from dlserve.media.ffmpeg import FfmpegTools, MediaInfo, probe
from dlserve.media.filenames import filename_for
from dlserve.media.interfaces import FetchedMedia, Fetcher, FetchRequest
from dlserve.media.models import MediaDownload, MediaStatus, storage_prefix
from dlserve.media.monitor import SHUTDOWN, ProgressMonitor
from dlserve.media.progress import ProgressTracker
from dlserve.media.quota import byte_limit_in
from dlserve.storage.interfaces import Storage
from dlserve.webhooks.events import media_ended_in

log = get_logger("dlserve.media.runner")


@dataclass(frozen=True)
class MediaRunSettings:
    scratch_dir: Path
    max_bytes: int | None
    tools: FfmpegTools | None
    quota_bytes: int | None = None  # per caller, see dlserve.media.quota


class MediaRunner:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        queue: JobQueue,
        storage: Storage,
        fetcher: Fetcher,
        settings: MediaRunSettings,
    ) -> None:
        self._db = db
        self._clock = clock
        self._queue = queue
        self._storage = storage
        self._fetcher = fetcher
        self._settings = settings

    def workdir_for(self, download_id: str) -> Path:
        return self._settings.scratch_dir / download_id

    def run(self, job: Job, worker_id: str, stop: threading.Event) -> None:
        download = self._start(job)
        if download is None:  # removed or cancelled before it ran
            self._queue.complete(job, worker_id)
            return
        workdir = self.workdir_for(download.id)
        shutil.rmtree(workdir, ignore_errors=True)  # an earlier attempt killed mid-way
        workdir.mkdir(parents=True)
        tracker = ProgressTracker(self._byte_limit(download))
        monitor = ProgressMonitor(
            self._queue, job, worker_id, lambda: self.publish(download.id, tracker), tracker, stop
        )
        monitor.start()
        try:
            fetched = self._fetcher.fetch(FetchRequest(download.url, download.quality, workdir), tracker)
            # The monitor keeps heartbeating while the file is stored: an upload can outlast a lease.
            self._store(job, worker_id, download, fetched)
        except Cancelled as cancelled:
            monitor.finish()
            self._stopped(job, worker_id, download, cancelled.message)
        except FetchError as error:
            monitor.finish()
            self._failed(job, worker_id, download, error.message, retryable=error.retryable)
        except Exception as error:
            monitor.finish()
            log.exception("media download crashed", download_id=download.id)
            self._failed(job, worker_id, download, f"{type(error).__name__}: {error}", retryable=True)
        finally:
            monitor.finish()
            shutil.rmtree(workdir, ignore_errors=True)

    def _byte_limit(self, download: MediaDownload) -> int | None:
        with self._db.read() as conn:
            return byte_limit_in(
                conn, download.account_id, download.id, self._settings.quota_bytes, self._settings.max_bytes
            )

    # -- the row's life -------------------------------------------------------------------------

    def _start(self, job: Job) -> MediaDownload | None:
        now = self._clock.now()
        with self._db.write() as conn:
            row = (
                conn.execute(sa.select(media_downloads).where(media_downloads.c.job_id == job.id))
                .mappings()
                .first()
            )
            if row is None or row["status"] not in (MediaStatus.PENDING, MediaStatus.DOWNLOADING):
                return None
            conn.execute(
                media_downloads.update()
                .where(media_downloads.c.id == row["id"])
                .values(
                    status=MediaStatus.DOWNLOADING.value,
                    progress=0.0,
                    downloaded_bytes=0,
                    total_bytes=None,
                    speed=None,
                    eta=None,
                    started_at=row["started_at"] or now,
                    updated_at=now,
                )
            )
            row = (
                conn.execute(sa.select(media_downloads).where(media_downloads.c.id == row["id"]))
                .mappings()
                .one()
            )
        log.info("media download started", download_id=row["id"], attempt=job.attempts)
        return MediaDownload.from_row(row)

    def publish(self, download_id: str, tracker: ProgressTracker) -> bool:
        """Write the latest progress; False when the row is no longer ``downloading``."""
        snapshot = tracker.snapshot()
        values: dict[str, object] = {
            "progress": snapshot.progress,
            "downloaded_bytes": snapshot.downloaded_bytes,
            "total_bytes": snapshot.total_bytes,
            "speed": snapshot.speed,
            "eta": snapshot.eta,
            "updated_at": self._clock.now(),
        }
        if snapshot.title:
            values["title"] = snapshot.title
        with self._db.write() as conn:
            return bool(
                conn.execute(
                    media_downloads.update()
                    .where(
                        media_downloads.c.id == download_id,
                        media_downloads.c.status == MediaStatus.DOWNLOADING.value,
                    )
                    .values(**values)
                ).rowcount
            )

    def _store(self, job: Job, worker_id: str, download: MediaDownload, fetched: FetchedMedia) -> None:
        measured = self._measure(fetched)  # ffprobe runs while the file is stored
        filename = filename_for(fetched.title, fetched.ext)
        # One key per attempt: a late, abandoned attempt can never overwrite or delete another's file.
        key = f"{storage_prefix(download.id)}attempt-{job.attempts}.{fetched.ext}"
        size = fetched.path.stat().st_size
        self._storage.put_file(key, fetched.path)
        info = measured()
        now = self._clock.now()
        try:
            with self._db.write() as conn:
                if not self._queue.complete_in(conn, job, worker_id):
                    raise _Dropped
                completed = conn.execute(
                    media_downloads.update()
                    .where(
                        media_downloads.c.id == download.id,
                        media_downloads.c.status == MediaStatus.DOWNLOADING.value,
                    )
                    .values(
                        status=MediaStatus.COMPLETED.value,
                        title=fetched.title,
                        filename=filename,
                        storage_key=key,
                        file_bytes=size,
                        progress=100.0,
                        downloaded_bytes=size,
                        total_bytes=size,
                        speed=None,
                        eta=0,
                        width=info.width if info else None,
                        height=info.height if info else None,
                        duration=info.duration if info else None,
                        error=None,
                        updated_at=now,
                        completed_at=now,
                    )
                ).rowcount
                if completed != 1:
                    raise _Dropped
                media_ended_in(conn, self._queue, self._clock, download.id)  # its webhook, if any
        except _Dropped:  # removed or cancelled at the last moment: the transaction is undone
            self._storage.delete(key)
            log.info("media download dropped after it finished", download_id=download.id)
            return
        for stale in list(self._storage.list_keys(storage_prefix(download.id))):
            if stale != key:  # left by an attempt that was killed after storing its file
                self._storage.delete(stale)
        log.info("media download completed", download_id=download.id, bytes=size, height=info and info.height)

    def _measure(self, fetched: FetchedMedia) -> Callable[[], MediaInfo | None]:
        """The file's dimensions: what the source said, else what an MP4/MOV file's own header
        says (:mod:`dlserve.media.isobmff`: no process to start), else — unless the file is not
        media ffmpeg could read (:mod:`dlserve.media.signatures`: then they are unknown) — ffprobe
        of a hard link to it, started now in a thread so that it overlaps storing the file (which
        moves or uploads it)."""
        if fetched.known is not None or self._settings.tools is None:
            return lambda: fetched.known
        header = isobmff.read_info(fetched.path)
        if header is not None:
            return lambda: header
        if not signatures.worth_probing(fetched.path, fetched.ext):
            log.info("media file announces no container: dimensions unknown", ext=fetched.ext)
            return lambda: None
        link = fetched.path.with_name(f"probe-{fetched.path.name}")  # in the attempt's folder
        try:
            os.link(fetched.path, link)
        except OSError:  # no hard links here: probe first, then store
            info = self._probe(fetched.path)
            return lambda: info
        result: list[MediaInfo | None] = []
        thread = threading.Thread(target=lambda: result.append(self._probe(link)), daemon=True)
        thread.start()

        def wait() -> MediaInfo | None:
            thread.join()
            return result[0] if result else None

        return wait

    def _probe(self, path: Path) -> MediaInfo | None:
        if self._settings.tools is None:
            return None
        try:
            return probe(self._settings.tools, path)
        except Exception:  # a measurement, not a reason to lose the file
            log.exception("probing the media failed", path=str(path))
            return None

    def _stopped(self, job: Job, worker_id: str, download: MediaDownload, reason: str) -> None:
        if reason != SHUTDOWN:  # removed or cancelled: the job is already withdrawn
            self._queue.complete(job, worker_id)  # usually already withdrawn: then nothing changes
            log.info("media download stopped", download_id=download.id, reason=reason)
            return
        with self._db.write() as conn:
            conn.execute(
                media_downloads.update()
                .where(
                    media_downloads.c.id == download.id,
                    media_downloads.c.status == MediaStatus.DOWNLOADING.value,
                )
                .values(status=MediaStatus.PENDING.value, speed=None, eta=None, updated_at=self._clock.now())
            )
        self._queue.release(job, worker_id)
        log.info("media download given back at shutdown", download_id=download.id)

    def _failed(
        self, job: Job, worker_id: str, download: MediaDownload, message: str, *, retryable: bool
    ) -> None:
        now = self._clock.now()
        if retryable:
            status = self._queue.fail(job, worker_id, message)
            if status is None:
                return  # the lease was lost (withdrawn, or another worker has the job): not ours to say
            final = status is JobStatus.DEAD
        else:
            final = True
        values: dict[str, object] = {"speed": None, "eta": None, "updated_at": now}
        if final:
            values.update(status=MediaStatus.FAILED.value, error=message, completed_at=now)
        else:
            values.update(status=MediaStatus.PENDING.value, error=f"retrying after: {message}")
        with self._db.write() as conn:
            if not retryable and not self._queue.complete_in(conn, job, worker_id):
                return
            changed = conn.execute(
                media_downloads.update()
                .where(
                    media_downloads.c.id == download.id,
                    media_downloads.c.status == MediaStatus.DOWNLOADING.value,
                )
                .values(**values)
            ).rowcount
            if final and changed == 1:
                media_ended_in(conn, self._queue, self._clock, download.id)
        log.warning("media download failed", download_id=download.id, error=message, final=final)


class _Dropped(Exception):
    """The download was removed or cancelled while its file was being stored."""
