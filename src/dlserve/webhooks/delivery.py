"""The delivery job: one attempt per job, then the outcome and the next attempt in one transaction.

An attempt renders the body (the first one; later ones resend the stored bytes, so every attempt of
a delivery carries the same ``webhook-id`` and the same body), signs it with the account's current
secret and a fresh timestamp, POSTs it through the SSRF guard, and then, in ONE transaction: records
the attempt, updates the delivery (delivered / retry at / failed), completes this job and queues the
next attempt's job with ``run_after`` = its backoff time. Nothing waits in memory: a worker that
stops between attempts loses nothing, and one killed during a POST leaves a job whose lease expires
and is claimed again (receivers deduplicate by ``webhook-id``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from dlserve.clock import Clock
from dlserve.db.engine import Database
from dlserve.db.tables import webhook_attempts, webhook_deliveries
from dlserve.jobs.interfaces import Job, JobQueue, JobStopped, LeaseLost
from dlserve.logs import get_logger
from dlserve.webhooks.account_secret import WebhookSecrets
from dlserve.webhooks.models import JOB_KIND, JOB_MAX_ATTEMPTS, DeliveryStatus, RetrySchedule
from dlserve.webhooks.reads import delivery_from_row
from dlserve.webhooks.signing import signed_headers
from dlserve.webhooks.transport import Poster, PostOutcome

log = get_logger("dlserve.webhooks")

# (subject type, subject id) -> the JSON body to send, or None when the subject no longer exists.
PayloadRenderer = Callable[[str, str], bytes | None]
GONE_ERROR = "nothing to send: the download no longer exists"


@dataclass(frozen=True)
class DeliverySettings:
    schedule: RetrySchedule
    timeout_seconds: float = 10.0


class WebhookDeliverer:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        queue: JobQueue,
        secrets: WebhookSecrets,
        render: PayloadRenderer,
        post: Poster,
        settings: DeliverySettings,
    ) -> None:
        self._db = db
        self._clock = clock
        self._queue = queue
        self._secrets = secrets
        self._render = render
        self._post = post
        self._settings = settings

    def run(self, job: Job, worker_id: str, stop: threading.Event) -> None:
        """One attempt of the job's delivery (see the module docstring)."""
        with self._db.read() as conn:
            row = (
                conn.execute(sa.select(webhook_deliveries).where(webhook_deliveries.c.id == job.subject_id))
                .mappings()
                .first()
            )
        delivery = delivery_from_row(row) if row is not None else None
        if delivery is None or delivery.status is not DeliveryStatus.PENDING:
            self._queue.complete(job, worker_id)  # nothing (more) to do
            return
        if stop.is_set():
            raise JobStopped("worker is shutting down")
        payload = delivery.payload.encode("utf-8") if delivery.payload is not None else None
        if payload is None:
            payload = self._render(delivery.subject_type.value, delivery.subject_id)
        now = self._clock.now()
        if payload is None:
            self._record(
                job, worker_id, delivery.id, now, None, PostOutcome(None, GONE_ERROR), 0.0, final=True
            )
            return
        secret = self._secrets.get(delivery.account_id)
        headers = signed_headers(secret, delivery.id, now, payload)
        started = time.monotonic()
        outcome = self._post(delivery.url, payload, headers, self._settings.timeout_seconds)
        duration_ms = round((time.monotonic() - started) * 1000.0, 1)
        self._record(job, worker_id, delivery.id, now, payload, outcome, duration_ms)

    def _record(
        self,
        job: Job,
        worker_id: str,
        delivery_id: str,
        attempted_at: datetime,
        payload: bytes | None,
        outcome: PostOutcome,
        duration_ms: float,
        *,
        final: bool = False,
    ) -> None:
        now = self._clock.now()
        with self._db.write() as conn:
            row = (
                conn.execute(
                    sa.select(webhook_deliveries)
                    .where(webhook_deliveries.c.id == delivery_id)
                    .with_for_update()
                )
                .mappings()
                .one()
            )
            if not self._queue.complete_in(conn, job, worker_id):
                raise LeaseLost()  # another worker owns this attempt now: it records its own
            attempt = int(row["attempts"]) + 1
            conn.execute(
                webhook_attempts.insert().values(
                    delivery_id=delivery_id,
                    attempt=attempt,
                    attempted_at=attempted_at,
                    status_code=outcome.status_code,
                    error=outcome.error,
                    duration_ms=duration_ms,
                )
            )
            values: dict[str, object] = {"attempts": attempt, "updated_at": now}
            if payload is not None and row["payload"] is None:
                values["payload"] = payload.decode("utf-8")
            next_at = None
            if not outcome.delivered and not final:
                next_at = self._settings.schedule.next_attempt(row["created_at"], attempt, now)
            if outcome.delivered:
                values.update(status=DeliveryStatus.DELIVERED.value, next_attempt_at=None, finished_at=now)
            elif next_at is None:
                values.update(status=DeliveryStatus.FAILED.value, next_attempt_at=None, finished_at=now)
            else:
                values["next_attempt_at"] = next_at
                self._queue.enqueue_in(
                    conn, JOB_KIND, delivery_id, max_attempts=JOB_MAX_ATTEMPTS, run_after=next_at
                )
            conn.execute(
                webhook_deliveries.update().where(webhook_deliveries.c.id == delivery_id).values(**values)
            )
        log.info(
            "webhook attempt",
            webhook_id=delivery_id,
            attempt=attempt,
            status_code=outcome.status_code,
            error=outcome.error,
            next_attempt_at=next_at.isoformat() if next_at else None,
        )

    def fail_job(self, job: Job, error: str) -> None:
        """The job itself kept failing (not the receiver): the delivery fails, the error recorded."""
        self.fail_delivery(job.subject_id, f"delivery failed: {error}")

    def fail_delivery(self, delivery_id: str | None, error: str) -> None:
        if delivery_id is None:
            return
        with self._db.write() as conn:
            self._fail_in(conn, delivery_id, error)

    def reap_dead_jobs(self) -> int:
        """Attempts whose workers kept dying: their deliveries fail, in the same transaction."""
        with self._db.write() as conn:
            dead = self._queue.reap_in(conn, (JOB_KIND,))
            for job in dead:
                if job.subject_id is not None:
                    self._fail_in(conn, job.subject_id, "delivery failed: its worker stopped responding")
        return len(dead)

    def _fail_in(self, conn: sa.Connection, delivery_id: str, error: str) -> None:
        now = self._clock.now()
        changed = conn.execute(
            webhook_deliveries.update()
            .where(
                webhook_deliveries.c.id == delivery_id,
                webhook_deliveries.c.status == DeliveryStatus.PENDING.value,
            )
            .values(status=DeliveryStatus.FAILED.value, next_attempt_at=None, finished_at=now, updated_at=now)
        ).rowcount
        if changed:
            log.warning("webhook delivery failed", webhook_id=delivery_id, error=error)
