"""The worker runtime on the in-memory queue: dispatch by kind, heartbeats, outcomes, upkeep."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest

from dlserve.clock import FrozenClock
from dlserve.db.engine import Database
from dlserve.jobs.interfaces import Job, JobStatus, JobStopped
from dlserve.jobs.memory import InMemoryJobQueue
from dlserve.jobs.worker import Handler, JobContext, UpkeepTask, WorkerRuntime

LEASE_S = 30.0
WAIT_S = 10.0  # a deadline for conditions, never a delay


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def queue(clock: FrozenClock) -> InMemoryJobQueue:
    return InMemoryJobQueue(clock, lease_seconds=LEASE_S, max_attempts=2, retry_base_seconds=1.0)


@pytest.fixture
def db() -> Iterator[Database]:
    database = Database("sqlite://")  # only a transaction for enqueue_in to join
    yield database
    database.dispose()


def enqueue(queue: InMemoryJobQueue, db: Database, kind: str, subject_id: str = "s") -> int:
    with db.write() as conn:
        return queue.enqueue_in(conn, kind, subject_id)


def wait_until(condition: Callable[[], bool]) -> None:
    done = threading.Event()
    for _ in range(int(WAIT_S / 0.01)):
        if condition():
            return
        done.wait(0.01)
    raise AssertionError("condition not met in time")


def test_threads_claim_every_registered_kind_and_dispatch_by_kind(
    queue: InMemoryJobQueue, db: Database
) -> None:
    seen: list[tuple[str, str | None]] = []

    def handle(job: Job, context: JobContext) -> None:
        seen.append((job.kind, job.subject_id))
        assert queue.complete(job, context.worker_id)

    runtime = WorkerRuntime(queue, idle_poll_s=0.01)
    runtime.register(Handler(kinds=("export", "export_part"), run=handle))
    runtime.register(Handler(kinds=("media",), run=handle))
    runtime.add_threads("all", 2)
    enqueue(queue, db, "export", "1")
    enqueue(queue, db, "media", "m")
    enqueue(queue, db, "export_part", "1")
    runtime.start()
    try:
        wait_until(lambda: queue.stats()["done"] == 3)
    finally:
        runtime.stop()
    assert sorted(seen) == [("export", "1"), ("export_part", "1"), ("media", "m")]


def test_a_group_claims_only_its_kinds(queue: InMemoryJobQueue, db: Database) -> None:
    runtime = WorkerRuntime(queue, idle_poll_s=0.01)
    runtime.register(Handler(kinds=("export",), run=lambda job, ctx: None))
    runtime.register(Handler(kinds=("media",), run=lambda job, ctx: None))
    runtime.add_threads("media", 1, ("media",))
    media, export = enqueue(queue, db, "media"), enqueue(queue, db, "export")
    runtime.start()
    try:
        wait_until(lambda: queue.get(media).status == JobStatus.RUNNING)  # ran, returned, still held
    finally:
        runtime.stop()
    assert queue.get(export).status == JobStatus.QUEUED


def test_a_running_job_is_heartbeaten_whatever_its_handler_does(
    queue: InMemoryJobQueue, db: Database, clock: FrozenClock
) -> None:
    job_id = enqueue(queue, db, "export")

    def long_plan(job: Job, context: JobContext) -> None:
        clock.advance(seconds=LEASE_S - 1)  # the claim's lease is nearly over
        wait_until(lambda: queue.get(job.id).lease_expires_at == clock.now() + timedelta(seconds=LEASE_S))
        clock.advance(seconds=LEASE_S - 1)  # past the claim's lease: still ours
        assert queue.claim("thief", ("export",)) is None
        assert queue.complete(job, context.worker_id)

    runtime = WorkerRuntime(queue, idle_poll_s=0.01, heartbeat_every_s=0.01)
    runtime.register(Handler(kinds=("export",), run=long_plan))
    runtime.add_threads("export", 1)
    runtime.start()
    try:
        wait_until(lambda: queue.get(job_id).status == JobStatus.DONE)
    finally:
        runtime.stop()


def test_a_lost_lease_is_flagged_to_the_handler(queue: InMemoryJobQueue, db: Database) -> None:
    job_id = enqueue(queue, db, "media")
    noticed = threading.Event()

    def fetch(job: Job, context: JobContext) -> None:
        with db.write() as conn:  # the user removes the download meanwhile
            assert queue.withdraw_job_in(conn, job.id)
        if context.lease_lost.wait(WAIT_S):
            noticed.set()

    runtime = WorkerRuntime(queue, idle_poll_s=0.01, heartbeat_every_s=0.01)
    runtime.register(Handler(kinds=("media",), run=fetch))
    runtime.add_threads("media", 1)
    runtime.start()
    try:
        assert noticed.wait(WAIT_S)
    finally:
        runtime.stop()
    assert queue.get(job_id).status == JobStatus.DONE


def test_a_failing_handler_is_retried_then_its_subject_is_told(
    queue: InMemoryJobQueue, db: Database, clock: FrozenClock
) -> None:
    dead: list[tuple[str | None, str]] = []

    def broken(job: Job, context: JobContext) -> None:
        raise RuntimeError(f"attempt {job.attempts}")

    runtime = WorkerRuntime(queue)
    runtime.register(
        Handler(
            kinds=("export",), run=broken, on_dead=lambda job, error: dead.append((job.subject_id, error))
        )
    )
    job_id = enqueue(queue, db, "export", "7")
    first = queue.claim("w", ("export",))
    assert first is not None
    runtime.run_one(first, "w")
    assert (queue.get(job_id).status, queue.get(job_id).last_error, dead) == (
        "queued",
        "RuntimeError: attempt 1",
        [],
    )
    clock.advance(seconds=1)
    second = queue.claim("w", ("export",))
    assert second is not None
    runtime.run_one(second, "w")
    assert queue.get(job_id).status == JobStatus.DEAD
    assert dead == [("7", "RuntimeError: attempt 2")]


def test_a_job_stopped_at_shutdown_is_given_back_without_using_an_attempt(
    queue: InMemoryJobQueue, db: Database
) -> None:
    def stops(job: Job, context: JobContext) -> None:
        assert context.stop.is_set()
        raise JobStopped("worker is shutting down")

    runtime = WorkerRuntime(queue)
    runtime.register(Handler(kinds=("export",), run=stops))
    job_id = enqueue(queue, db, "export")
    job = queue.claim("w", ("export",))
    assert job is not None
    runtime.stop_event.set()
    runtime.run_one(job, "w")
    released = queue.get(job_id)
    assert (released.status, released.attempts, released.lease_owner) == ("queued", 0, None)


def test_upkeep_runs_on_its_schedule_only_in_a_process_with_worker_threads(queue: InMemoryJobQueue) -> None:
    ran: list[str] = []
    runtime = WorkerRuntime(queue, idle_poll_s=0.01)
    runtime.register(Handler(kinds=("export",), run=lambda job, ctx: None))
    runtime.add_upkeep(UpkeepTask("often", lambda: ran.append("often"), every_s=0.01))
    runtime.add_upkeep(UpkeepTask("once", lambda: ran.append("once"), every_s=float("inf")))
    runtime.add_threads("none", 0)
    runtime.start()
    assert runtime.threads_wanted == 0
    assert ran == []
    runtime.stop()

    runtime = WorkerRuntime(queue, idle_poll_s=0.01)
    runtime.register(Handler(kinds=("export",), run=lambda job, ctx: None))
    runtime.add_upkeep(UpkeepTask("often", lambda: ran.append("often"), every_s=0.01))
    runtime.add_upkeep(UpkeepTask("broken", lambda: 1 / 0, every_s=0.01))  # logged, never fatal
    runtime.add_upkeep(UpkeepTask("once", lambda: ran.append("once"), every_s=float("inf")))
    runtime.add_threads("export", 1)
    runtime.start()
    try:
        wait_until(lambda: ran.count("often") >= 3)
    finally:
        runtime.stop()
    assert ran.count("once") == 1


def test_registration_mistakes_are_refused(queue: InMemoryJobQueue) -> None:
    runtime = WorkerRuntime(queue)
    runtime.register(Handler(kinds=("export",), run=lambda job, ctx: None))
    with pytest.raises(ValueError, match="already registered"):
        runtime.register(Handler(kinds=("export",), run=lambda job, ctx: None))
    with pytest.raises(ValueError, match="no handler"):
        runtime.add_threads("media", 1, ("media",))
