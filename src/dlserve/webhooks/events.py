"""Queueing a delivery: called in the very transaction that ends a download, so the status change
and its webhook commit together (a crash cannot lose one without the other).

Each caller changes the status with a conditional update and calls here only when its update
changed the row, so every download that ends gets exactly one delivery.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from dlserve.clock import Clock
from dlserve.db.tables import downloads, media_downloads, webhook_deliveries
from dlserve.jobs.interfaces import JobQueue
from dlserve.logs import get_logger
from dlserve.webhooks.models import JOB_KIND, JOB_MAX_ATTEMPTS, DeliveryStatus, SubjectType

log = get_logger("dlserve.webhooks")


def new_webhook_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def download_ended_in(conn: sa.Connection, queue: JobQueue, clock: Clock, download_id: int) -> str | None:
    """The download just ended: queue its webhook (if it has a URL); returns the delivery's id."""
    row = conn.execute(
        sa.select(downloads.c.account_id, downloads.c.status, downloads.c.webhook_url).where(
            downloads.c.id == download_id
        )
    ).first()
    if row is None or not row.webhook_url:
        return None
    return _enqueue_in(
        conn,
        queue,
        clock,
        row.account_id,
        SubjectType.DOWNLOAD,
        str(download_id),
        row.status,
        row.webhook_url,
    )


def media_ended_in(conn: sa.Connection, queue: JobQueue, clock: Clock, media_id: str) -> str | None:
    """:func:`download_ended_in` for a media download (anonymous ones have no webhook)."""
    row = conn.execute(
        sa.select(
            media_downloads.c.account_id, media_downloads.c.status, media_downloads.c.webhook_url
        ).where(media_downloads.c.id == media_id)
    ).first()
    if row is None or not row.webhook_url or row.account_id is None:
        return None
    return _enqueue_in(
        conn, queue, clock, row.account_id, SubjectType.MEDIA, media_id, row.status, row.webhook_url
    )


def _enqueue_in(
    conn: sa.Connection,
    queue: JobQueue,
    clock: Clock,
    account_id: int,
    subject_type: SubjectType,
    subject_id: str,
    status: str,
    url: str,
) -> str:
    now = clock.now()
    delivery_id = new_webhook_id()
    conn.execute(
        webhook_deliveries.insert().values(
            id=delivery_id,
            account_id=account_id,
            subject_type=subject_type.value,
            subject_id=subject_id,
            event=f"{subject_type.value}.{status}",
            url=url,
            status=DeliveryStatus.PENDING.value,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )
    )
    queue.enqueue_in(conn, JOB_KIND, delivery_id, max_attempts=JOB_MAX_ATTEMPTS)
    log.info("webhook queued", webhook_id=delivery_id, subject_type=subject_type.value, subject_id=subject_id)
    return delivery_id
