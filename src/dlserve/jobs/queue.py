"""`SqlJobQueue`: durable jobs as rows of the ``jobs`` table, claimed with a lease.

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
- **Subjects.** A job names what it works on by ``subject_id`` (a download's id, a media download's
  UUID); with its kind that is all a domain needs to find, withdraw or count its jobs. Only this
  module (and :mod:`.memory`) reads or writes the ``jobs`` table.

Every method is thread-safe: the queue keeps no state besides its settings, and each call runs in
its own transaction (or the caller's, for the ``*_in`` methods).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Connection, RowMapping, and_, func, or_, select

from dlserve.clock import Clock
from dlserve.db.engine import Database
from dlserve.db.rows import from_row
from dlserve.db.tables import jobs
from dlserve.errors import NotFound
from dlserve.jobs.interfaces import PENDING_STATUSES, Job, JobStatus, QueueTimings

# Columns that describe a lease; they are set only while a job is running.
_NO_LEASE: dict[str, Any] = {"lease_owner": None, "lease_expires_at": None}
_PENDING = [status.value for status in PENDING_STATUSES]
LOST_WORKER_ERROR = "its worker stopped responding on the last attempt (lease expired)"


def job_from_row(row: RowMapping) -> Job:
    checkpoint = row["checkpoint"]
    return from_row(Job, row, checkpoint=orjson.loads(checkpoint) if checkpoint is not None else None)


class SqlJobQueue(QueueTimings):
    in_database = True  # statements elsewhere may include jobs/subqueries.py's fragments

    def __init__(self, db: Database, clock: Clock, **timings: Any) -> None:
        """``timings``: see :class:`QueueTimings` (lease, attempts, retry backoff)."""
        super().__init__(**timings)
        self._db = db
        self._clock = clock

    # -- producers -------------------------------------------------------------------------------

    def enqueue_in(
        self,
        conn: Connection,
        kind: str,
        subject_id: str | None,
        checkpoint: Mapping[str, Any] | None = None,
        *,
        max_attempts: int | None = None,
        run_after: datetime | None = None,
    ) -> int:
        now = self._clock.now()
        job_id = conn.execute(
            jobs.insert()
            .values(
                kind=kind,
                subject_id=subject_id,
                checkpoint=_dumps(checkpoint),
                status=JobStatus.QUEUED.value,
                attempts=0,
                max_attempts=self.attempts_for(max_attempts),
                run_after=run_after if run_after is not None else now,
                created_at=now,
                updated_at=now,
            )
            .returning(jobs.c.id)
        ).scalar_one()
        return int(job_id)

    def withdraw_in(self, conn: Connection, kinds: Collection[str], subject_id: str) -> int:
        return self._withdraw(conn, and_(jobs.c.kind.in_(list(kinds)), jobs.c.subject_id == subject_id))

    def withdraw_job_in(self, conn: Connection, job_id: int) -> bool:
        return self._withdraw(conn, jobs.c.id == job_id) == 1

    def _withdraw(self, conn: Connection, which: ColumnElement[bool]) -> int:
        result = conn.execute(
            jobs.update()
            .where(which, jobs.c.status.in_(_PENDING))
            .values(status=JobStatus.DONE.value, updated_at=self._clock.now(), **_NO_LEASE)
        )
        return int(result.rowcount)

    # -- workers ---------------------------------------------------------------------------------

    def claim(self, worker_id: str, kinds: Collection[str]) -> Job | None:
        now = self._clock.now()
        with self._db.write() as conn:
            job_id = conn.execute(
                select(jobs.c.id)
                .where(jobs.c.kind.in_(list(kinds)), _claimable(now))
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
        return job_from_row(row)

    def heartbeat(self, job: Job, worker_id: str) -> bool:
        with self._db.write() as conn:
            return self._update_held(conn, job, worker_id, **self._renewed_lease())

    def save_checkpoint_in(
        self, conn: Connection, job: Job, worker_id: str, checkpoint: Mapping[str, Any]
    ) -> bool:
        """False when ``worker_id`` no longer holds the lease: nothing was written to the job, and the
        caller must roll back whatever it wrote beside it (raise out of the transaction)."""
        return self._update_held(conn, job, worker_id, checkpoint=_dumps(checkpoint), **self._renewed_lease())

    def complete(self, job: Job, worker_id: str) -> bool:
        with self._db.write() as conn:
            return self.complete_in(conn, job, worker_id)

    def complete_in(self, conn: Connection, job: Job, worker_id: str) -> bool:
        return self._update_held(
            conn, job, worker_id, status=JobStatus.DONE.value, updated_at=self._clock.now(), **_NO_LEASE
        )

    def fail(self, job: Job, worker_id: str, error: str) -> JobStatus | None:
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

    # -- upkeep ----------------------------------------------------------------------------------

    def reap(self, kinds: Collection[str] | None = None) -> list[Job]:
        with self._db.write() as conn:
            return self.reap_in(conn, kinds)

    def reap_in(self, conn: Connection, kinds: Collection[str] | None = None) -> list[Job]:
        now = self._clock.now()
        which = _expired_without_attempts(now)
        if kinds is not None:
            which = and_(which, jobs.c.kind.in_(list(kinds)))
        rows = (
            conn.execute(
                jobs.update()
                .where(which)
                .values(
                    status=JobStatus.DEAD.value, last_error=LOST_WORKER_ERROR, updated_at=now, **_NO_LEASE
                )
                .returning(*jobs.c)
            )
            .mappings()
            .all()
        )
        return sorted((job_from_row(row) for row in rows), key=lambda job: job.id)

    def expired_dead(self) -> list[Job]:
        with self._db.read() as conn:
            rows = conn.execute(
                select(jobs).where(_expired_without_attempts(self._clock.now())).order_by(jobs.c.id)
            ).mappings()
            return [job_from_row(row) for row in rows]

    def abandoned_in(self, conn: Connection, job_ids: Collection[int]) -> dict[int, str | None]:
        if not job_ids:
            return {}
        finished = jobs.c.status.in_([JobStatus.DONE.value, JobStatus.DEAD.value])
        rows = conn.execute(
            select(jobs.c.id, jobs.c.last_error).where(
                jobs.c.id.in_(list(job_ids)), or_(finished, _expired_without_attempts(self._clock.now()))
            )
        )
        return {int(job_id): last_error for job_id, last_error in rows}

    # -- reading ---------------------------------------------------------------------------------

    def get(self, job_id: int) -> Job:
        with self._db.read() as conn:
            row = conn.execute(select(jobs).where(jobs.c.id == job_id)).mappings().first()
        if row is None:
            raise NotFound(f"Job {job_id} was not found")
        return job_from_row(row)

    def latest_for(self, kinds: Collection[str], subject_id: str) -> Job | None:
        with self._db.read() as conn:
            row = (
                conn.execute(
                    select(jobs)
                    .where(jobs.c.kind.in_(list(kinds)), jobs.c.subject_id == subject_id)
                    .order_by(jobs.c.id.desc())
                    .limit(1)
                )
                .mappings()
                .first()
            )
        return job_from_row(row) if row is not None else None

    def pending_in(self, conn: Connection, kinds: Collection[str], subject_id: str) -> int:
        return int(
            conn.execute(
                select(func.count())
                .select_from(jobs)
                .where(
                    jobs.c.kind.in_(list(kinds)),
                    jobs.c.subject_id == subject_id,
                    jobs.c.status.in_(_PENDING),
                )
            ).scalar_one()
        )

    def subjects_pending_in(
        self, conn: Connection, kinds: Collection[str], subject_ids: Collection[str]
    ) -> set[str]:
        if not subject_ids:
            return set()
        rows = conn.execute(
            select(jobs.c.subject_id)
            .distinct()
            .where(
                jobs.c.kind.in_(list(kinds)),
                jobs.c.subject_id.in_(list(subject_ids)),
                jobs.c.status.in_(_PENDING),
            )
        ).scalars()
        return {str(subject_id) for subject_id in rows}

    def dead_error_in(self, conn: Connection, kinds: Collection[str], subject_id: str) -> str | None:
        row = conn.execute(
            select(jobs.c.last_error)
            .where(
                jobs.c.kind.in_(list(kinds)),
                jobs.c.subject_id == subject_id,
                jobs.c.status == JobStatus.DEAD.value,
            )
            .order_by(jobs.c.id.desc())
            .limit(1)
        ).first()
        return None if row is None else (row.last_error or "")

    def running_checkpoints_in(
        self, conn: Connection, kind: str, subject_ids: Collection[str]
    ) -> list[tuple[str, dict[str, Any]]]:
        if not subject_ids:
            return []
        rows = conn.execute(
            select(jobs.c.subject_id, jobs.c.checkpoint).where(
                jobs.c.kind == kind,
                jobs.c.subject_id.in_(list(subject_ids)),
                jobs.c.status == JobStatus.RUNNING.value,
            )
        )
        return [
            (str(subject_id), orjson.loads(checkpoint) if checkpoint else {})
            for subject_id, checkpoint in rows
        ]

    def stats(self) -> dict[str, int]:
        counts = dict.fromkeys((status.value for status in JobStatus), 0)
        for (_kind, status), count in self.counts().items():
            counts[status] = counts.get(status, 0) + count
        return counts

    def counts(self) -> dict[tuple[str, str], int]:
        with self._db.read() as conn:
            rows = conn.execute(
                select(jobs.c.kind, jobs.c.status, func.count()).group_by(jobs.c.kind, jobs.c.status)
            )
            return {(str(kind), str(status)): int(count) for kind, status, count in rows}

    def oldest_queued_at(self) -> datetime | None:
        with self._db.read() as conn:
            first: datetime | None = conn.execute(
                select(func.min(jobs.c.created_at)).where(jobs.c.status == JobStatus.QUEUED.value)
            ).scalar()
        return first

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


def _dumps(checkpoint: Mapping[str, Any] | None) -> str | None:
    return orjson.dumps(dict(checkpoint)).decode() if checkpoint is not None else None


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
