"""`InMemoryJobQueue`: the queue's contract without a ``jobs`` table, for unit tests of the domains.

It passes the same contract tests as :class:`~dlserve.jobs.queue.SqlJobQueue`. The ``*_in`` methods
join the caller's SQLAlchemy transaction the only way a dict can: a change made inside it is
visible at once, and undone if that transaction rolls back (the queue's state as it was when the
transaction first touched it is restored). That is exact for one thread at a time, which is how the
unit tests drive it; concurrent writers inside transactions would see each other's uncommitted
changes, so it is not a production queue.
"""

from __future__ import annotations

import copy
import dataclasses
import threading
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, event

from dlserve.clock import Clock
from dlserve.errors import NotFound
from dlserve.jobs.interfaces import PENDING_STATUSES, Job, JobStatus, QueueTimings
from dlserve.jobs.queue import LOST_WORKER_ERROR


class InMemoryJobQueue(QueueTimings):
    in_database = False  # callers ask running_checkpoints_in instead of joining the jobs table

    def __init__(self, clock: Clock, **timings: Any) -> None:
        """``timings``: see :class:`QueueTimings` (lease, attempts, retry backoff)."""
        super().__init__(**timings)
        self._clock = clock
        self._jobs: dict[int, Job] = {}
        self._next_id = 1
        self._lock = threading.RLock()
        self._joined: set[int] = set()  # id() of the transactions that already saved a restore point

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
        with self._lock:
            self._join(conn)
            now = self._clock.now()
            job = Job(
                id=self._next_id,
                kind=kind,
                subject_id=subject_id,
                status=JobStatus.QUEUED.value,
                attempts=0,
                max_attempts=self.attempts_for(max_attempts),
                checkpoint=copy.deepcopy(dict(checkpoint)) if checkpoint is not None else None,
                lease_owner=None,
                lease_expires_at=None,
                run_after=run_after if run_after is not None else now,
                last_error=None,
                created_at=now,
            )
            self._jobs[job.id] = job
            self._next_id += 1
            return job.id

    def withdraw_in(self, conn: Connection, kinds: Collection[str], subject_id: str) -> int:
        with self._lock:
            self._join(conn)
            hits = [j for j in self._pending() if j.kind in kinds and j.subject_id == subject_id]
            for job in hits:
                self._set(job, status=JobStatus.DONE.value, lease_owner=None, lease_expires_at=None)
            return len(hits)

    def withdraw_job_in(self, conn: Connection, job_id: int) -> bool:
        with self._lock:
            self._join(conn)
            job = self._jobs.get(job_id)
            if job is None or job.status not in PENDING_STATUSES:
                return False
            self._set(job, status=JobStatus.DONE.value, lease_owner=None, lease_expires_at=None)
            return True

    # -- workers ---------------------------------------------------------------------------------

    def claim(self, worker_id: str, kinds: Collection[str]) -> Job | None:
        with self._lock:
            now = self._clock.now()
            for job in sorted(self._jobs.values(), key=lambda j: j.id):
                if job.kind in kinds and _claimable(job, now):
                    return self._set(
                        job,
                        status=JobStatus.RUNNING.value,
                        lease_owner=worker_id,
                        lease_expires_at=now + self._lease,
                        attempts=job.attempts + 1,
                    )
            return None

    def heartbeat(self, job: Job, worker_id: str) -> bool:
        with self._lock:
            return self._update_held(job, worker_id, lease_expires_at=self._clock.now() + self._lease)

    def save_checkpoint_in(
        self, conn: Connection, job: Job, worker_id: str, checkpoint: Mapping[str, Any]
    ) -> bool:
        with self._lock:
            self._join(conn)
            return self._update_held(
                job,
                worker_id,
                checkpoint=copy.deepcopy(dict(checkpoint)),
                lease_expires_at=self._clock.now() + self._lease,
            )

    def complete(self, job: Job, worker_id: str) -> bool:
        with self._lock:
            return self._update_held(
                job, worker_id, status=JobStatus.DONE.value, lease_owner=None, lease_expires_at=None
            )

    def complete_in(self, conn: Connection, job: Job, worker_id: str) -> bool:
        with self._lock:
            self._join(conn)
            return self.complete(job, worker_id)

    def fail(self, job: Job, worker_id: str, error: str) -> JobStatus | None:
        with self._lock:
            values: dict[str, Any] = {"last_error": error, "lease_owner": None, "lease_expires_at": None}
            if job.attempts >= job.max_attempts:
                status = JobStatus.DEAD
            else:
                status = JobStatus.QUEUED
                values["run_after"] = self._clock.now() + self.retry_delay(job.attempts)
            return status if self._update_held(job, worker_id, status=status.value, **values) else None

    def release(self, job: Job, worker_id: str) -> bool:
        with self._lock:
            return self._update_held(
                job,
                worker_id,
                status=JobStatus.QUEUED.value,
                run_after=self._clock.now(),
                attempts=job.attempts - 1,
                lease_owner=None,
                lease_expires_at=None,
            )

    # -- upkeep ----------------------------------------------------------------------------------

    def reap(self, kinds: Collection[str] | None = None) -> list[Job]:
        with self._lock:
            return self._reap(kinds)

    def reap_in(self, conn: Connection, kinds: Collection[str] | None = None) -> list[Job]:
        with self._lock:
            self._join(conn)
            return self._reap(kinds)

    def _reap(self, kinds: Collection[str] | None) -> list[Job]:
        now = self._clock.now()
        doomed = [
            job
            for job in self._jobs.values()
            if _expired_without_attempts(job, now) and (kinds is None or job.kind in kinds)
        ]
        return [
            self._set(
                job,
                status=JobStatus.DEAD.value,
                last_error=LOST_WORKER_ERROR,
                lease_owner=None,
                lease_expires_at=None,
            )
            for job in sorted(doomed, key=lambda j: j.id)
        ]

    def expired_dead(self) -> list[Job]:
        with self._lock:
            now = self._clock.now()
            return sorted(
                (j for j in self._jobs.values() if _expired_without_attempts(j, now)), key=lambda j: j.id
            )

    def abandoned_in(self, conn: Connection, job_ids: Collection[int]) -> dict[int, str | None]:
        with self._lock:
            now = self._clock.now()
            return {
                job.id: job.last_error
                for job_id in job_ids
                if (job := self._jobs.get(job_id)) is not None
                and (job.status in (JobStatus.DONE, JobStatus.DEAD) or _expired_without_attempts(job, now))
            }

    # -- reading ---------------------------------------------------------------------------------

    def get(self, job_id: int) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise NotFound(f"Job {job_id} was not found")
        return job

    def latest_for(self, kinds: Collection[str], subject_id: str) -> Job | None:
        with self._lock:
            mine = [j for j in self._jobs.values() if j.kind in kinds and j.subject_id == subject_id]
        return max(mine, key=lambda j: j.id, default=None)

    def pending_in(self, conn: Connection, kinds: Collection[str], subject_id: str) -> int:
        with self._lock:
            return sum(1 for j in self._pending() if j.kind in kinds and j.subject_id == subject_id)

    def subjects_pending_in(
        self, conn: Connection, kinds: Collection[str], subject_ids: Collection[str]
    ) -> set[str]:
        with self._lock:
            wanted = set(subject_ids)
            return {
                j.subject_id
                for j in self._pending()
                if j.kind in kinds and j.subject_id is not None and j.subject_id in wanted
            }

    def dead_error_in(self, conn: Connection, kinds: Collection[str], subject_id: str) -> str | None:
        with self._lock:
            dead = [
                job
                for job in self._jobs.values()
                if job.kind in kinds and job.subject_id == subject_id and job.status == JobStatus.DEAD
            ]
        return None if not dead else (max(dead, key=lambda job: job.id).last_error or "")

    def running_checkpoints_in(
        self, conn: Connection, kind: str, subject_ids: Collection[str]
    ) -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            wanted = set(subject_ids)
            return [
                (j.subject_id, copy.deepcopy(j.checkpoint or {}))
                for j in self._jobs.values()
                if j.kind == kind
                and j.status == JobStatus.RUNNING
                and j.subject_id is not None
                and j.subject_id in wanted
            ]

    def stats(self) -> dict[str, int]:
        counts = dict.fromkeys((status.value for status in JobStatus), 0)
        for (_kind, status), count in self.counts().items():
            counts[status] += count
        return counts

    def counts(self) -> dict[tuple[str, str], int]:
        with self._lock:
            counts: dict[tuple[str, str], int] = {}
            for job in self._jobs.values():
                counts[(job.kind, job.status)] = counts.get((job.kind, job.status), 0) + 1
            return counts

    def oldest_queued_at(self) -> datetime | None:
        with self._lock:
            return min(
                (j.created_at for j in self._jobs.values() if j.status == JobStatus.QUEUED), default=None
            )

    # -- internals -------------------------------------------------------------------------------

    def _pending(self) -> list[Job]:
        return [job for job in self._jobs.values() if job.status in PENDING_STATUSES]

    def _set(self, job: Job, **values: Any) -> Job:
        updated = dataclasses.replace(job, **values)
        self._jobs[job.id] = updated
        return updated

    def _update_held(self, job: Job, worker_id: str, **values: Any) -> bool:
        current = self._jobs.get(job.id)
        if (
            current is None
            or current.status != JobStatus.RUNNING
            or current.lease_owner != worker_id
            or current.attempts != job.attempts
        ):
            return False
        self._set(current, **values)
        return True

    def _join(self, conn: Connection) -> None:
        """Save a restore point the first time a transaction touches the queue."""
        key = id(conn)
        if key in self._joined:
            return
        self._joined.add(key)
        saved = (dict(self._jobs), self._next_id)

        def restore(_conn: Connection) -> None:
            with self._lock:
                self._jobs, self._next_id = dict(saved[0]), saved[1]
                self._joined.discard(key)

        def forget(_conn: Connection) -> None:
            self._joined.discard(key)

        event.listen(conn, "rollback", restore)
        event.listen(conn, "commit", forget)


def _claimable(job: Job, now: datetime) -> bool:
    if job.status == JobStatus.QUEUED:
        return job.run_after <= now
    return (
        job.status == JobStatus.RUNNING
        and job.lease_expires_at is not None
        and job.lease_expires_at < now
        and job.attempts < job.max_attempts
    )


def _expired_without_attempts(job: Job, now: datetime) -> bool:
    return (
        job.status == JobStatus.RUNNING
        and job.lease_expires_at is not None
        and job.lease_expires_at < now
        and job.attempts >= job.max_attempts
    )
