"""`JobQueue`: durable jobs as rows of the ``jobs`` table, claimed with a lease.

A job's life::

    queued ──claim──▶ running ──complete──▶ done
      ▲                 │ │ └──fail (attempts left)──▶ queued, run_after = now + backoff
      │                 │ └────fail (no attempts left)──▶ dead
      └──release────────┘
    running, lease expired ──claim──▶ running (another worker; attempts + 1, checkpoint kept)
    running, lease expired, no attempts left ──reap──▶ dead

- **Claiming.** ``claim`` takes the oldest eligible job: queued and due, or running with an expired
  lease (its worker crashed or was killed). On PostgreSQL the pick is ``FOR UPDATE SKIP LOCKED``, so
  workers on many machines never wait for each other nor take the same row; on SQLite the write
  transaction is ``BEGIN IMMEDIATE`` and already admits one claimer at a time.
- **Attempts** are counted when a job is claimed, so a job that crashes its worker every time still
  runs out of attempts. ``release`` (graceful shutdown) gives the attempt back.
- **Fencing.** Every call a worker makes about its job updates the row only
  ``WHERE id = ? AND status = 'running' AND lease_owner = ? AND attempts = ?`` and reports whether a
  row changed. A zombie (a worker whose lease expired and was taken over, or whose job was cancelled)
  can therefore never heartbeat, checkpoint, complete, fail or release it. ``attempts`` is part of
  the check so that even a stale ``Job`` of an earlier claim by the same worker id is refused.
- **Dead jobs of crashed workers.** ``claim`` never hands out an expired job that has used all its
  attempts, and does not change it either: ``reap`` turns such jobs into ``dead`` and returns
  them, each exactly once across all callers, so the caller (the downloads janitor) marks their
  downloads failed. ``reap_in`` does the same inside the caller's transaction, so that marking can
  commit atomically with it. A job that fails by raising (``fail``) reports ``dead`` directly.

Every method is thread-safe: the queue keeps no state besides its settings, and each call runs in
its own transaction (or the caller's, for the ``*_in`` methods).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Connection, RowMapping, and_, func, or_, select

from dlserve.clock import Clock
from dlserve.db.engine import Database
from dlserve.db.tables import jobs
from dlserve.errors import NotFound


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    DEAD = "dead"


@dataclass(frozen=True)
class Job:
    """A job as it was when read; a worker passes the ``Job`` it claimed back to every call."""

    id: int
    kind: str
    download_id: int | None
    status: str
    attempts: int
    max_attempts: int
    checkpoint: dict[str, Any] | None
    lease_owner: str | None
    lease_expires_at: datetime | None
    run_after: datetime
    last_error: str | None

    @classmethod
    def from_row(cls, row: RowMapping) -> Job:
        checkpoint = row["checkpoint"]
        return cls(
            id=row["id"],
            kind=row["kind"],
            download_id=row["download_id"],
            status=row["status"],
            attempts=row["attempts"],
            max_attempts=row["max_attempts"],
            checkpoint=orjson.loads(checkpoint) if checkpoint is not None else None,
            lease_owner=row["lease_owner"],
            lease_expires_at=row["lease_expires_at"],
            run_after=row["run_after"],
            last_error=row["last_error"],
        )


# Columns that describe a lease; they are set only while a job is running.
_NO_LEASE: dict[str, Any] = {"lease_owner": None, "lease_expires_at": None}


class JobQueue:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        lease_seconds: float = 30.0,
        max_attempts: int = 5,
        retry_base_seconds: float = 2.0,
        retry_max_seconds: float = 300.0,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._db = db
        self._clock = clock
        self._lease = timedelta(seconds=lease_seconds)
        self._max_attempts = max_attempts
        self._retry_base_seconds = retry_base_seconds
        self._retry_max_seconds = retry_max_seconds

    # -- producers -------------------------------------------------------------------------------

    def enqueue_in(
        self, conn: Connection, kind: str, download_id: int | None, checkpoint: dict[str, Any] | None = None
    ) -> int:
        """Add a job, due now, inside the caller's write transaction; returns its id.

        ``checkpoint`` gives the job its starting state (an export part: which records it writes).
        """
        now = self._clock.now()
        job_id = conn.execute(
            jobs.insert()
            .values(
                kind=kind,
                download_id=download_id,
                checkpoint=orjson.dumps(checkpoint).decode() if checkpoint is not None else None,
                status=JobStatus.QUEUED.value,
                attempts=0,
                max_attempts=self._max_attempts,
                run_after=now,
                created_at=now,
                updated_at=now,
            )
            .returning(jobs.c.id)
        ).scalar_one()
        return int(job_id)

    def cancel_in(self, conn: Connection, download_id: int) -> None:
        """The download's job ends ``done`` and never runs again; a running worker loses its lease."""
        conn.execute(
            jobs.update()
            .where(
                jobs.c.download_id == download_id,
                jobs.c.status.in_([JobStatus.QUEUED.value, JobStatus.RUNNING.value]),
            )
            .values(status=JobStatus.DONE.value, updated_at=self._clock.now(), **_NO_LEASE)
        )

    # -- workers ---------------------------------------------------------------------------------

    def claim(self, worker_id: str, kinds: tuple[str, ...] = ("export",)) -> Job | None:
        """Lease the oldest eligible job of one of ``kinds`` to ``worker_id``; None when there is none."""
        now = self._clock.now()
        with self._db.write() as conn:
            job_id = conn.execute(
                select(jobs.c.id)
                .where(jobs.c.kind.in_(kinds), _claimable(now))
                .order_by(jobs.c.id)
                .limit(1)
                # PostgreSQL: rows other claimers hold are skipped, not waited for. SQLite renders
                # no locking clause; its BEGIN IMMEDIATE already serialises claimers.
                .with_for_update(skip_locked=True)
            ).scalar_one_or_none()
            if job_id is None:
                return None
            row = (
                conn.execute(
                    jobs.update()
                    .where(jobs.c.id == job_id)
                    .values(
                        status=JobStatus.RUNNING.value,
                        lease_owner=worker_id,
                        lease_expires_at=now + self._lease,
                        heartbeat_at=now,
                        attempts=jobs.c.attempts + 1,
                        updated_at=now,
                    )
                    .returning(*jobs.c)
                )
                .mappings()
                .one()
            )
        return Job.from_row(row)

    def heartbeat(self, job: Job, worker_id: str) -> bool:
        """Extend the lease; False if ``worker_id`` no longer holds it (stop working on the job)."""
        with self._db.write() as conn:
            return self._update_held(conn, job, worker_id, **self._renewed_lease())

    def save_checkpoint_in(
        self, conn: Connection, job: Job, worker_id: str, checkpoint: dict[str, Any]
    ) -> bool:
        """Record progress (and extend the lease) inside the caller's write transaction.

        False when ``worker_id`` no longer holds the lease: nothing was written to the job, and the
        caller must roll back whatever it wrote beside it (raise out of the transaction).
        """
        return self._update_held(
            conn, job, worker_id, checkpoint=orjson.dumps(checkpoint).decode(), **self._renewed_lease()
        )

    def complete(self, job: Job, worker_id: str) -> bool:
        """The job is finished (``done``); False if the lease was lost, and then nothing changed."""
        with self._db.write() as conn:
            return self.complete_in(conn, job, worker_id)

    def complete_in(self, conn: Connection, job: Job, worker_id: str) -> bool:
        return self._update_held(
            conn, job, worker_id, status=JobStatus.DONE.value, updated_at=self._clock.now(), **_NO_LEASE
        )

    def fail(self, job: Job, worker_id: str, error: str) -> JobStatus | None:
        """The attempt failed: retry later with exponential backoff, or ``dead`` after the last attempt.

        Returns the job's new status (``queued`` or ``dead``; on ``dead`` the caller fails the
        download), or None if the lease was lost and nothing changed.
        """
        now = self._clock.now()
        values: dict[str, Any] = {"last_error": error, "updated_at": now, **_NO_LEASE}
        if job.attempts >= job.max_attempts:
            status = JobStatus.DEAD
        else:
            status = JobStatus.QUEUED
            values["run_after"] = now + self.retry_delay(job.attempts)
        with self._db.write() as conn:
            changed = self._update_held(conn, job, worker_id, status=status.value, **values)
        return status if changed else None

    def release(self, job: Job, worker_id: str) -> bool:
        """Give the job back at shutdown: queued and due now, and this attempt does not count.

        False if the lease was already lost (then nothing changed).
        """
        now = self._clock.now()
        with self._db.write() as conn:
            return self._update_held(
                conn,
                job,
                worker_id,
                status=JobStatus.QUEUED.value,
                run_after=now,
                attempts=jobs.c.attempts - 1,
                updated_at=now,
                **_NO_LEASE,
            )

    def retry_delay(self, attempts: int) -> timedelta:
        """How long a job waits after its ``attempts``-th attempt failed."""
        seconds = self._retry_base_seconds * 2.0 ** max(0, attempts - 1)
        return timedelta(seconds=min(self._retry_max_seconds, seconds))

    # -- upkeep ----------------------------------------------------------------------------------

    def reap(self) -> list[Job]:
        """Turn expired jobs that have no attempts left into ``dead``; returns them (as now dead).

        Each such job is returned to exactly one caller, however many run this at once.
        """
        with self._db.write() as conn:
            return self.reap_in(conn)

    def reap_in(self, conn: Connection) -> list[Job]:
        """:meth:`reap` inside the caller's write transaction (to fail their downloads atomically)."""
        now = self._clock.now()
        rows = (
            conn.execute(
                jobs.update()
                .where(_expired_without_attempts(now))
                .values(
                    status=JobStatus.DEAD.value,
                    last_error="its worker stopped responding on the last attempt (lease expired)",
                    updated_at=now,
                    **_NO_LEASE,
                )
                .returning(*jobs.c)
            )
            .mappings()
            .all()
        )
        return sorted((Job.from_row(row) for row in rows), key=lambda job: job.id)

    def expired_dead(self) -> list[Job]:
        """The jobs the next :meth:`reap` would take (read-only: for inspection and health checks)."""
        with self._db.read() as conn:
            rows = conn.execute(
                select(jobs).where(_expired_without_attempts(self._clock.now())).order_by(jobs.c.id)
            ).mappings()
            return [Job.from_row(row) for row in rows]

    # -- reading ---------------------------------------------------------------------------------

    def get(self, job_id: int) -> Job:
        with self._db.read() as conn:
            row = conn.execute(select(jobs).where(jobs.c.id == job_id)).mappings().first()
        if row is None:
            raise NotFound(f"Job {job_id} was not found")
        return Job.from_row(row)

    def for_download(self, download_id: int) -> Job | None:
        """The download's job (the newest, should there ever be several)."""
        with self._db.read() as conn:
            row = (
                conn.execute(
                    select(jobs).where(jobs.c.download_id == download_id).order_by(jobs.c.id.desc()).limit(1)
                )
                .mappings()
                .first()
            )
        return Job.from_row(row) if row is not None else None

    def stats(self) -> dict[str, int]:
        """How many jobs are in each status (every status present, zeros included)."""
        counts = dict.fromkeys((status.value for status in JobStatus), 0)
        with self._db.read() as conn:
            for status, count in conn.execute(select(jobs.c.status, func.count()).group_by(jobs.c.status)):
                counts[status] = int(count)
        return counts

    # -- internals -------------------------------------------------------------------------------

    def _renewed_lease(self) -> dict[str, Any]:
        now = self._clock.now()
        return {"lease_expires_at": now + self._lease, "heartbeat_at": now, "updated_at": now}

    @staticmethod
    def _update_held(conn: Connection, job: Job, worker_id: str, **values: Any) -> bool:
        """Update the job only if ``worker_id`` still holds the lease of this very claim."""
        result = conn.execute(
            jobs.update()
            .where(
                jobs.c.id == job.id,
                jobs.c.status == JobStatus.RUNNING.value,
                jobs.c.lease_owner == worker_id,
                jobs.c.attempts == job.attempts,
            )
            .values(**values)
        )
        return result.rowcount == 1


def _claimable(now: datetime) -> ColumnElement[bool]:
    return or_(
        and_(jobs.c.status == JobStatus.QUEUED.value, jobs.c.run_after <= now),
        and_(
            jobs.c.status == JobStatus.RUNNING.value,
            jobs.c.lease_expires_at < now,
            jobs.c.attempts < jobs.c.max_attempts,
        ),
    )


def _expired_without_attempts(now: datetime) -> ColumnElement[bool]:
    return and_(
        jobs.c.status == JobStatus.RUNNING.value,
        jobs.c.lease_expires_at < now,
        jobs.c.attempts >= jobs.c.max_attempts,
    )
