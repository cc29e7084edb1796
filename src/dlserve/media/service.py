"""`MediaService`: requesting, listing, removing and cancelling media downloads, and their files.

A request is one row plus one job (kind ``media``) written in the same transaction, so a queued
request survives any restart. Each caller sees only their own downloads: an account its own, and
anonymous callers (when the media API is open) the anonymous ones.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import ColumnElement, Connection

from dlserve.clock import Clock
from dlserve.db.engine import Database
from dlserve.db.tables import media_downloads
from dlserve.errors import ErrorDetail, Invalid, NotFound, TooManyRequests
from dlserve.jobs.interfaces import JobQueue
from dlserve.jobs.wakeup import WakeUp
from dlserve.logs import get_logger
from dlserve.media.formats import normalise_quality
from dlserve.media.guard import AddressPolicy, RefusedURL
from dlserve.media.models import ACTIVE_STATUSES, JOB_KIND, MediaDownload, MediaStatus, storage_prefix
from dlserve.media.quota import check_quota_in
from dlserve.storage.interfaces import Storage
from dlserve.webhooks.events import media_ended_in
from dlserve.webhooks.urls import checked_webhook_url

log = get_logger("dlserve.media")

# The seed's exact 404 messages for the file endpoint.
NOT_AVAILABLE_MESSAGE = "Descarga no disponible o no completada"
FILE_MISSING_MESSAGE = "Archivo físico no encontrado"
NOT_FOUND_MESSAGE = "Descarga no encontrada"
MAX_URL_LENGTH = 4096


@dataclass(frozen=True)
class MediaFile:
    download: MediaDownload
    storage_key: str
    filename: str


class MediaService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        queue: JobQueue,
        storage: Storage,
        policy: AddressPolicy,
        *,
        max_active_per_caller: int = 20,
        wakeup: WakeUp | None = None,
        quota_bytes: int | None = None,
        max_attempts: int = 3,
    ) -> None:
        self._wakeup = wakeup
        self._quota_bytes = quota_bytes
        self._db = db
        self._clock = clock
        self._queue = queue
        self._storage = storage
        self._policy = policy
        self._max_active = max_active_per_caller
        self._max_attempts = max_attempts

    def request(
        self, url: str, quality: str | None, account_id: int | None, webhook_url: str | None = None
    ) -> MediaDownload:
        """Queue a download; ``Invalid`` for a bad URL or quality, including refused addresses.
        ``webhook_url`` (accounts only): POSTed the download when it ends."""
        url = url.strip()
        if not url or len(url) > MAX_URL_LENGTH:
            raise _invalid("url", f"url must be between 1 and {MAX_URL_LENGTH} characters")
        try:
            canonical_quality = normalise_quality(quality)
        except ValueError as error:
            raise _invalid("quality", str(error)) from None
        try:
            self._policy.check_url(url)
        except RefusedURL as refused:
            raise _invalid("url", str(refused)) from None
        if webhook_url is not None and account_id is None:
            raise _invalid("webhook_url", "webhook_url needs an account: send a Bearer token")
        webhook_url = checked_webhook_url(self._policy, webhook_url)
        now = self._clock.now()
        download_id = str(uuid.uuid4())
        with self._db.write() as conn:
            active = conn.execute(
                sa.select(sa.func.count())
                .select_from(media_downloads)
                .where(_owned_by(account_id), media_downloads.c.status.in_(ACTIVE_STATUSES))
            ).scalar_one()
            if active >= self._max_active:
                raise TooManyRequests(
                    f"You already have {active} media downloads pending or in progress; "
                    "wait for some to finish or remove them"
                )
            check_quota_in(conn, account_id, self._quota_bytes)
            job_id = self._queue.enqueue_in(conn, JOB_KIND, download_id, max_attempts=self._max_attempts)
            conn.execute(
                media_downloads.insert().values(
                    id=download_id,
                    account_id=account_id,
                    job_id=job_id,
                    url=url,
                    quality=canonical_quality,
                    status=MediaStatus.PENDING.value,
                    progress=0.0,
                    downloaded_bytes=0,
                    webhook_url=webhook_url,
                    created_at=now,
                    updated_at=now,
                )
            )
        log.info("media download requested", download_id=download_id, quality=canonical_quality)
        if self._wakeup is not None:  # committed: an idle worker of this process starts it now
            self._wakeup.ring()
        return self.get(download_id, account_id)

    def list(self, account_id: int | None) -> list[MediaDownload]:
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(media_downloads)
                .where(_owned_by(account_id))
                .order_by(media_downloads.c.created_at, media_downloads.c.id)
            ).mappings()
            return [MediaDownload.from_row(row) for row in rows]

    def get(self, download_id: str, account_id: int | None) -> MediaDownload:
        download = self._find(download_id, account_id)
        if download is None:
            raise NotFound(NOT_FOUND_MESSAGE)
        return download

    def file(self, download_id: str, account_id: int | None) -> MediaFile:
        """The completed download's file; ``NotFound`` with the seed's two messages otherwise."""
        download = self._find(download_id, account_id)
        if download is None or download.status is not MediaStatus.COMPLETED or not download.storage_key:
            raise NotFound(NOT_AVAILABLE_MESSAGE)
        if not self._storage.exists(download.storage_key):
            raise NotFound(FILE_MISSING_MESSAGE)
        return MediaFile(download, download.storage_key, download.filename or "download")

    def cancel(self, download_id: str, account_id: int | None) -> MediaDownload:
        """Stop a pending or running download; it stays listed as ``cancelled``."""
        with self._db.write() as conn:
            download = self._find_in(conn, download_id, account_id)
            if download is None:
                raise NotFound(NOT_FOUND_MESSAGE)
            if download.is_active:
                self._withdraw_in(conn, download.job_id)
                cancelled = conn.execute(
                    media_downloads.update()
                    .where(media_downloads.c.id == download_id, media_downloads.c.status.in_(ACTIVE_STATUSES))
                    .values(
                        status=MediaStatus.CANCELLED.value,
                        error="cancelled by request",
                        speed=None,
                        eta=None,
                        updated_at=self._clock.now(),
                    )
                ).rowcount
                if cancelled == 1:
                    media_ended_in(conn, self._queue, self._clock, download_id)  # its webhook, if any
        log.info("media download cancelled", download_id=download_id)
        return self.get(download_id, account_id)

    def remove(self, download_id: str, account_id: int | None) -> None:
        """Cancel if running, then delete the entry and its file. The worker, seeing its job
        withdrawn, stops within a moment and deletes its partial files."""
        with self._db.write() as conn:
            download = self._find_in(conn, download_id, account_id)
            if download is None:
                raise NotFound(NOT_FOUND_MESSAGE)
            self._withdraw_in(conn, download.job_id)
            conn.execute(media_downloads.delete().where(media_downloads.c.id == download_id))
        # Every key of the download, not only the row's: an attempt killed right after storing its
        # file may have left one too.
        for key in list(self._storage.list_keys(storage_prefix(download_id))):
            self._storage.delete(key)
        log.info("media download removed", download_id=download_id, status=download.status.value)

    def _withdraw_in(self, conn: Connection, job_id: int | None) -> None:
        """The job never runs again; a worker running it loses its lease (its next heartbeat
        fails, and that is how it learns to stop)."""
        if job_id is not None:
            self._queue.withdraw_job_in(conn, job_id)

    def find(self, download_id: str) -> MediaDownload | None:
        """Any caller's download (webhook deliveries render it); None when there is none."""
        with self._db.read() as conn:
            row = conn.execute(
                sa.select(media_downloads).where(media_downloads.c.id == download_id)
            ).mappings()
            found = row.first()
        return MediaDownload.from_row(found) if found is not None else None

    def _find(self, download_id: str, account_id: int | None) -> MediaDownload | None:
        with self._db.read() as conn:
            return self._find_in(conn, download_id, account_id)

    @staticmethod
    def _find_in(conn: Connection, download_id: str, account_id: int | None) -> MediaDownload | None:
        row = (
            conn.execute(
                sa.select(media_downloads).where(media_downloads.c.id == download_id, _owned_by(account_id))
            )
            .mappings()
            .first()
        )
        return MediaDownload.from_row(row) if row is not None else None


def _owned_by(account_id: int | None) -> ColumnElement[bool]:
    if account_id is None:
        return media_downloads.c.account_id.is_(None)
    return media_downloads.c.account_id == account_id


def _invalid(field: str, message: str) -> Invalid:
    return Invalid(message, [ErrorDetail(field, message)])
