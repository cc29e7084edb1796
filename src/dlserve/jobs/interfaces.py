"""The job queue as an interface: what every domain may ask of it, whatever keeps the jobs.

A job has a *kind* (which handler runs it: ``export``, ``export_part``, ``media``, …) and a
*subject id* (which thing of that domain it works on: a download's id, a media download's UUID).
The queue knows nothing else about subjects: domains ask it about their jobs by kind and subject id
and never read the ``jobs`` table themselves.

Two implementations pass the same contract tests (``tests/integration/test_job_queue.py``):
:class:`~dlserve.jobs.queue.SqlJobQueue` (the ``jobs`` table, SQLite or PostgreSQL) and
:class:`~dlserve.jobs.memory.InMemoryJobQueue` (unit tests of the domains' state machines).

Methods named ``*_in`` take the caller's open write transaction, so what they change commits or
rolls back together with the caller's own rows (a part's file row, its charge and its job's
completion, for instance).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import Connection


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    DEAD = "dead"


# Jobs that will still run (or are running): what "the subject has work pending" means.
PENDING_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)


@dataclass(frozen=True)
class Job:
    """A job as it was when read; a worker passes the ``Job`` it claimed back to every call."""

    id: int
    kind: str
    subject_id: str | None
    status: str
    attempts: int
    max_attempts: int
    checkpoint: dict[str, Any] | None
    lease_owner: str | None
    lease_expires_at: datetime | None
    run_after: datetime
    last_error: str | None
    created_at: datetime


class QueueTimings:
    """Lease length, attempts and retry backoff: what both queue implementations compute alike."""

    def __init__(
        self,
        *,
        lease_seconds: float = 30.0,
        max_attempts: int = 5,
        retry_base_seconds: float = 2.0,
        retry_max_seconds: float = 300.0,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._lease = timedelta(seconds=lease_seconds)
        self._max_attempts = max_attempts
        self._retry_base_seconds = retry_base_seconds
        self._retry_max_seconds = retry_max_seconds

    @property
    def lease_seconds(self) -> float:
        return self._lease.total_seconds()

    def retry_delay(self, attempts: int) -> timedelta:
        """How long a job waits after its ``attempts``-th attempt failed (doubling, capped)."""
        seconds = self._retry_base_seconds * 2.0 ** max(0, attempts - 1)
        return timedelta(seconds=min(self._retry_max_seconds, seconds))

    def attempts_for(self, max_attempts: int | None) -> int:
        """A new job's attempt budget: the caller's (a domain's own), else the queue's."""
        return max(1, max_attempts or self._max_attempts)


class LeaseLost(Exception):
    """Another worker owns the job now (ours expired) or it was withdrawn: stop, touch nothing."""


class JobStopped(Exception):
    """The job's subject no longer wants it (cancelled), or this worker is shutting down."""


class JobQueue(Protocol):
    """Durable jobs claimed with a lease; see :mod:`dlserve.jobs.queue` for the life of a job."""

    @property
    def lease_seconds(self) -> float:
        """How long a claim (or a heartbeat) keeps a job; a worker heartbeats well within it."""
        ...

    @property
    def in_database(self) -> bool:
        """Whether the jobs are rows of the database's ``jobs`` table, so that a statement may
        include what :mod:`dlserve.jobs.subqueries` builds over them (one round trip)."""
        ...

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
        """Add a job, due now (or at ``run_after``: a delayed job, e.g. a webhook's next attempt);
        returns its id. ``checkpoint`` is its starting state."""
        ...

    def withdraw_in(self, conn: Connection, kinds: Collection[str], subject_id: str) -> int:
        """The subject's pending jobs of ``kinds`` end ``done`` and never run again; a worker running
        one loses its lease (its next heartbeat or commit fails). Returns how many were withdrawn."""
        ...

    def withdraw_job_in(self, conn: Connection, job_id: int) -> bool:
        """:meth:`withdraw_in` for one job by id; False when it was no longer pending."""
        ...

    # -- workers ---------------------------------------------------------------------------------

    def claim(self, worker_id: str, kinds: Collection[str]) -> Job | None:
        """Lease the oldest eligible job of one of ``kinds`` to ``worker_id``; None when none is."""
        ...

    def heartbeat(self, job: Job, worker_id: str) -> bool:
        """Extend the lease; False if ``worker_id`` no longer holds it (stop working on the job)."""
        ...

    def save_checkpoint_in(
        self, conn: Connection, job: Job, worker_id: str, checkpoint: Mapping[str, Any]
    ) -> bool:
        """Record progress (and extend the lease); False when the lease is lost (nothing written)."""
        ...

    def complete(self, job: Job, worker_id: str) -> bool:
        """The job is finished (``done``); False if the lease was lost, and then nothing changed."""
        ...

    def complete_in(self, conn: Connection, job: Job, worker_id: str) -> bool: ...

    def fail(self, job: Job, worker_id: str, error: str) -> JobStatus | None:
        """Retry later with backoff (``queued``), or ``dead`` after the last attempt; None if the
        lease was lost and nothing changed."""
        ...

    def release(self, job: Job, worker_id: str) -> bool:
        """Give the job back at shutdown: due now, and this attempt does not count."""
        ...

    def retry_delay(self, attempts: int) -> timedelta:
        """How long a job waits after its ``attempts``-th attempt failed."""
        ...

    # -- upkeep ----------------------------------------------------------------------------------

    def reap_in(self, conn: Connection, kinds: Collection[str] | None = None) -> list[Job]:
        """Turn expired jobs (of ``kinds``; of any kind when None) without attempts left into
        ``dead`` and return them, each exactly once across all callers. Each domain reaps its own
        kinds in the transaction that fails their subjects."""
        ...

    def reap(self, kinds: Collection[str] | None = None) -> list[Job]: ...

    def expired_dead(self) -> list[Job]:
        """The jobs the next :meth:`reap` would take (read-only)."""
        ...

    def abandoned_in(self, conn: Connection, job_ids: Collection[int]) -> dict[int, str | None]:
        """Of ``job_ids``, those that will never run (again): done, dead, or expired with no attempt
        left; each with its last error."""
        ...

    # -- reading ---------------------------------------------------------------------------------

    def get(self, job_id: int) -> Job:
        """The job; ``NotFound`` when there is none."""
        ...

    def latest_for(self, kinds: Collection[str], subject_id: str) -> Job | None:
        """The subject's newest job of ``kinds``."""
        ...

    def pending_in(self, conn: Connection, kinds: Collection[str], subject_id: str) -> int:
        """How many of the subject's jobs of ``kinds`` are queued or running."""
        ...

    def subjects_pending_in(
        self, conn: Connection, kinds: Collection[str], subject_ids: Collection[str]
    ) -> set[str]:
        """Which of ``subject_ids`` have a queued or running job of ``kinds``."""
        ...

    def dead_error_in(self, conn: Connection, kinds: Collection[str], subject_id: str) -> str | None:
        """The last error of the subject's newest ``dead`` job of ``kinds`` (``""`` when it has
        none recorded); None when no such job died."""
        ...

    def running_checkpoints_in(
        self, conn: Connection, kind: str, subject_ids: Collection[str]
    ) -> list[tuple[str, dict[str, Any]]]:
        """(subject id, checkpoint) of every running job of ``kind`` for ``subject_ids``."""
        ...

    def stats(self) -> dict[str, int]:
        """How many jobs are in each status (every status present, zeros included)."""
        ...

    def counts(self) -> dict[tuple[str, str], int]:
        """How many jobs of each (kind, status) there are (only pairs that occur)."""
        ...

    def oldest_queued_at(self) -> datetime | None:
        """When the oldest job still queued was created (queue latency), None when none is."""
        ...
