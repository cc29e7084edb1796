"""The job queue's contract, run against every implementation: in memory, SQLite and PostgreSQL.

Claiming, leases, fencing, retries, withdrawing, reaping and the counts the domains ask for. The
in-memory queue still joins a real (SQLite) transaction for the ``*_in`` methods.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from dlserve.clock import FrozenClock, SystemClock
from dlserve.db.engine import Database
from dlserve.errors import NotFound
from dlserve.jobs.interfaces import Job, JobQueue, JobStatus
from dlserve.jobs.memory import InMemoryJobQueue
from dlserve.jobs.queue import SqlJobQueue
from tests.conftest import DATABASE_KINDS, database_url_for

LEASE_S = 30.0
KINDS = ("export",)

_IMPLEMENTATIONS = [
    pytest.param(("memory", "sqlite"), id="memory"),
    *(pytest.param(("sql", kind.values[0]), id=kind.id, marks=kind.marks) for kind in DATABASE_KINDS),
]


@pytest.fixture(params=_IMPLEMENTATIONS)
def implementation(request: pytest.FixtureRequest) -> tuple[str, str]:
    chosen: tuple[str, str] = request.param
    return chosen


@pytest.fixture
def database_url(implementation: tuple[str, str], request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The conftest's database for this implementation's kind (the in-memory queue uses SQLite)."""
    return database_url_for(implementation[1], request, tmp_path)


@pytest.fixture
def queue(implementation: tuple[str, str], db: Database, clock: FrozenClock) -> JobQueue:
    settings: dict[str, Any] = {
        "lease_seconds": LEASE_S,
        "max_attempts": 3,
        "retry_base_seconds": 2.0,
        "retry_max_seconds": 5.0,
    }
    if implementation[0] == "memory":
        return InMemoryJobQueue(clock, **settings)
    return SqlJobQueue(db, clock, **settings)


def enqueue(
    queue: JobQueue, db: Database, count: int = 1, *, kind: str = "export", subject_id: str | None = None
) -> list[int]:
    with db.write() as conn:
        return [queue.enqueue_in(conn, kind, subject_id) for _ in range(count)]


def claimed(queue: JobQueue, worker_id: str, kinds: tuple[str, ...] = KINDS) -> Job:
    job = queue.claim(worker_id, kinds)
    assert job is not None, f"{worker_id} found no job"
    return job


# -- claiming -------------------------------------------------------------------------------------


def test_claim_takes_the_oldest_due_job_and_leases_it(
    queue: JobQueue, db: Database, clock: FrozenClock
) -> None:
    first, second = enqueue(queue, db, 2)
    job = claimed(queue, "w1")
    assert job.id == first
    assert job.status == JobStatus.RUNNING
    assert job.attempts == 1
    assert job.lease_owner == "w1"
    assert job.lease_expires_at == clock.now() + timedelta(seconds=LEASE_S)
    assert job.checkpoint is None
    assert claimed(queue, "w2").id == second
    assert queue.claim("w3", KINDS) is None


def test_claim_respects_run_after_and_kinds(queue: JobQueue, db: Database, clock: FrozenClock) -> None:
    (later,) = enqueue(queue, db)
    assert queue.fail(claimed(queue, "w1"), "w1", "try again in 2 s") == JobStatus.QUEUED
    (sooner,) = enqueue(queue, db)
    enqueue(queue, db, kind="media")
    assert claimed(queue, "w1").id == sooner
    assert queue.claim("w1", KINDS) is None  # `later` is not due and `media` is not asked for
    clock.advance(seconds=2)
    assert claimed(queue, "w1").id == later


def test_claim_by_kind(queue: JobQueue, db: Database) -> None:
    (media,) = enqueue(queue, db, kind="media")
    assert queue.claim("w1", KINDS) is None
    job = queue.claim("w1", ("export", "media"))
    assert job is not None
    assert (job.id, job.kind) == (media, "media")


def test_threads_racing_never_claim_a_job_twice(queue: JobQueue, db: Database) -> None:
    ids = enqueue(queue, db, 20)
    got: dict[str, list[int]] = {}
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        mine: list[int] = []
        got[name] = mine
        try:
            start.wait()
            while (job := queue.claim(name, KINDS)) is not None:
                mine.append(job.id)
        except BaseException as error:  # surfaced below: a thread's exception would be lost
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    every = [job_id for mine in got.values() for job_id in mine]
    assert sorted(every) == ids  # each job exactly once
    for name, mine in got.items():
        assert all(queue.get(job_id).lease_owner == name for job_id in mine)


# -- leases ---------------------------------------------------------------------------------------


def test_heartbeat_extends_the_lease(queue: JobQueue, db: Database, clock: FrozenClock) -> None:
    enqueue(queue, db)
    job = claimed(queue, "w1")
    clock.advance(seconds=LEASE_S - 1)
    assert queue.heartbeat(job, "w1")
    assert queue.get(job.id).lease_expires_at == clock.now() + timedelta(seconds=LEASE_S)
    clock.advance(seconds=LEASE_S - 1)
    assert queue.claim("w2", KINDS) is None  # without the heartbeat the lease would have expired by now
    assert not queue.heartbeat(job, "someone-else")


def test_an_expired_lease_goes_to_another_worker_with_its_checkpoint(
    queue: JobQueue, db: Database, clock: FrozenClock
) -> None:
    enqueue(queue, db)
    job = claimed(queue, "crashed")
    with db.write() as conn:
        assert queue.save_checkpoint_in(conn, job, "crashed", {"part_no": 2, "delivered": 200})
    clock.advance(seconds=LEASE_S)
    assert queue.claim("rescuer", KINDS) is None  # expires strictly after lease_expires_at
    clock.advance(seconds=1)
    taken = claimed(queue, "rescuer")
    assert taken.id == job.id
    assert taken.attempts == 2
    assert taken.lease_owner == "rescuer"
    assert taken.checkpoint == {"part_no": 2, "delivered": 200}


def test_a_zombie_cannot_touch_the_job_after_takeover(
    queue: JobQueue, db: Database, clock: FrozenClock
) -> None:
    enqueue(queue, db)
    zombie = claimed(queue, "zombie")
    clock.advance(seconds=LEASE_S + 1)
    rescuer = claimed(queue, "rescuer")

    assert not queue.heartbeat(zombie, "zombie")
    with db.write() as conn:
        assert not queue.save_checkpoint_in(conn, zombie, "zombie", {"part_no": 9})
    assert not queue.complete(zombie, "zombie")
    with db.write() as conn:
        assert not queue.complete_in(conn, zombie, "zombie")
    assert queue.fail(zombie, "zombie", "boom") is None
    assert not queue.release(zombie, "zombie")

    after = queue.get(zombie.id)
    assert (after.status, after.lease_owner, after.attempts, after.checkpoint) == (
        "running",
        "rescuer",
        2,
        None,
    )
    assert after.last_error is None
    assert queue.complete(rescuer, "rescuer")
    assert queue.get(zombie.id).status == JobStatus.DONE


def test_a_stale_job_of_an_earlier_claim_is_refused_even_for_the_same_worker(
    queue: JobQueue, db: Database, clock: FrozenClock
) -> None:
    enqueue(queue, db)
    first = claimed(queue, "w1")
    clock.advance(seconds=LEASE_S + 1)
    second = claimed(queue, "w1")
    assert not queue.complete(first, "w1")
    assert queue.complete(second, "w1")


def test_checkpoint_round_trips_and_replaces(queue: JobQueue, db: Database) -> None:
    enqueue(queue, db)
    job = claimed(queue, "w1")
    with db.write() as conn:
        assert queue.save_checkpoint_in(conn, job, "w1", {"part_no": 1, "last_seq": 10, "note": "é"})
    with db.write() as conn:
        assert queue.save_checkpoint_in(
            conn, job, "w1", {"part_no": 2, "last_seq": 20, "nested": [1, {"a": None}]}
        )
    assert queue.get(job.id).checkpoint == {"part_no": 2, "last_seq": 20, "nested": [1, {"a": None}]}


def test_a_checkpoint_rolls_back_with_the_callers_transaction(queue: JobQueue, db: Database) -> None:
    enqueue(queue, db)
    job = claimed(queue, "w1")

    def checkpoint_then_fail() -> None:
        with db.write() as conn:
            assert queue.save_checkpoint_in(conn, job, "w1", {"part_no": 1})
            raise RuntimeError("the result file failed to commit")

    with pytest.raises(RuntimeError, match="result file"):
        checkpoint_then_fail()
    assert queue.get(job.id).checkpoint is None


def test_complete(queue: JobQueue, db: Database) -> None:
    enqueue(queue, db)
    job = claimed(queue, "w1")
    assert queue.complete(job, "w1")
    done = queue.get(job.id)
    assert (done.status, done.lease_owner, done.lease_expires_at) == ("done", None, None)
    assert not queue.complete(job, "w1")  # only once


# -- failures -------------------------------------------------------------------------------------


def test_fail_retries_with_backoff_then_the_job_is_dead(
    queue: JobQueue, db: Database, clock: FrozenClock
) -> None:
    enqueue(queue, db)
    job = claimed(queue, "w1")
    assert queue.fail(job, "w1", "first") == JobStatus.QUEUED
    failed = queue.get(job.id)
    assert (failed.status, failed.lease_owner, failed.last_error) == ("queued", None, "first")
    assert failed.run_after == clock.now() + timedelta(seconds=2)  # base * 2**0

    clock.advance(seconds=1.9)
    assert queue.claim("w1", KINDS) is None
    clock.advance(seconds=0.1)
    job = claimed(queue, "w1")
    assert job.attempts == 2
    assert queue.fail(job, "w1", "second") == JobStatus.QUEUED
    assert queue.get(job.id).run_after == clock.now() + timedelta(seconds=4)  # base * 2**1

    clock.advance(seconds=4)
    job = claimed(queue, "w1")
    assert job.attempts == 3
    assert queue.fail(job, "w1", "third") == JobStatus.DEAD
    dead = queue.get(job.id)
    assert (dead.status, dead.last_error, dead.lease_owner) == ("dead", "third", None)
    clock.advance(days=1)
    assert queue.claim("w1", KINDS) is None


def test_retry_delay_doubles_up_to_the_maximum(queue: JobQueue) -> None:
    assert [queue.retry_delay(n).total_seconds() for n in range(1, 6)] == [2.0, 4.0, 5.0, 5.0, 5.0]


def test_release_gives_the_job_back_without_counting_the_attempt(
    queue: JobQueue, db: Database, clock: FrozenClock
) -> None:
    enqueue(queue, db)
    for _ in range(5):  # more than max_attempts: released attempts never kill the job
        job = claimed(queue, "w1")
        assert job.attempts == 1
        with db.write() as conn:
            assert queue.save_checkpoint_in(conn, job, "w1", {"part_no": 1})
        assert queue.release(job, "w1")
        released = queue.get(job.id)
        assert (released.status, released.attempts, released.lease_owner) == ("queued", 0, None)
        assert released.run_after == clock.now()
        assert released.checkpoint == {"part_no": 1}
    assert claimed(queue, "w2").attempts == 1


# -- cancel, lookups, stats -----------------------------------------------------------------------


def test_withdraw_in_ends_the_subjects_pending_jobs(queue: JobQueue, db: Database) -> None:
    with db.write() as conn:
        running = queue.enqueue_in(conn, "export", "1")
        waiting = queue.enqueue_in(conn, "export", "2")
        other_kind = queue.enqueue_in(conn, "media", "2")
        other = queue.enqueue_in(conn, "export", "3")
    job = claimed(queue, "w1")
    assert (job.id, job.subject_id) == (running, "1")

    with db.write() as conn:
        assert queue.withdraw_in(conn, KINDS, "2") == 1
        assert queue.withdraw_in(conn, KINDS, "1") == 1
        assert queue.withdraw_in(conn, KINDS, "1") == 0  # already withdrawn
    assert queue.get(waiting).status == JobStatus.DONE
    assert queue.get(job.id).status == JobStatus.DONE
    assert queue.get(other_kind).status == JobStatus.QUEUED  # another kind's job of the same id
    assert not queue.heartbeat(job, "w1")  # the running worker notices it lost the job
    assert claimed(queue, "w2").id == other
    assert queue.claim("w2", KINDS) is None


def test_withdraw_job_in_and_its_rollback(queue: JobQueue, db: Database) -> None:
    (job_id,) = enqueue(queue, db, kind="media", subject_id="uuid-1")

    def withdraw_then_fail() -> None:
        with db.write() as conn:
            assert queue.withdraw_job_in(conn, job_id)
            raise RuntimeError("deleting the row failed")

    with pytest.raises(RuntimeError, match="deleting"):
        withdraw_then_fail()
    assert queue.get(job_id).status == JobStatus.QUEUED
    with db.write() as conn:
        assert queue.withdraw_job_in(conn, job_id)
        assert not queue.withdraw_job_in(conn, job_id)
    assert queue.get(job_id).status == JobStatus.DONE


def test_latest_for_and_get(queue: JobQueue, db: Database) -> None:
    assert queue.latest_for(KINDS, "7") is None
    with db.write() as conn:
        queue.enqueue_in(conn, "export", "7")
        job_id = queue.enqueue_in(conn, "export", "7", {"part_no": 1}, max_attempts=5)
    job = queue.latest_for(KINDS, "7")
    assert job is not None
    assert (job.id, job.subject_id, job.status, job.attempts, job.max_attempts, job.checkpoint) == (
        job_id,
        "7",
        "queued",
        0,
        5,
        {"part_no": 1},
    )
    assert queue.latest_for(("media",), "7") is None
    assert queue.get(job_id) == job
    with pytest.raises(NotFound):
        queue.get(job_id + 1000)


def test_what_a_subject_has_pending(queue: JobQueue, db: Database) -> None:
    with db.write() as conn:
        queue.enqueue_in(conn, "export", "1")
        queue.enqueue_in(conn, "export_part", "1", {"written": 0})
        queue.enqueue_in(conn, "export_part", "2", {"written": 0})
        queue.enqueue_in(conn, "media", "3")
    kinds = ("export", "export_part")
    assert queue.complete(claimed(queue, "w1"), "w1")  # subject 1's plan
    part = claimed(queue, "w1", kinds)  # subject 1's part
    with db.write() as conn:
        assert queue.save_checkpoint_in(conn, part, "w1", {"written": 40})
    with db.read() as conn:
        assert queue.pending_in(conn, kinds, "1") == 1
        assert queue.pending_in(conn, kinds, "3") == 0
        assert queue.subjects_pending_in(conn, kinds, ["1", "2", "3", "4"]) == {"1", "2"}
        assert queue.subjects_pending_in(conn, kinds, []) == set()
        assert queue.running_checkpoints_in(conn, "export_part", ["1", "2"]) == [("1", {"written": 40})]
    assert queue.complete(part, "w1")
    with db.read() as conn:
        assert queue.pending_in(conn, kinds, "1") == 0
        assert queue.running_checkpoints_in(conn, "export_part", ["1", "2"]) == []


def test_stats_counts_jobs_by_status(queue: JobQueue, db: Database) -> None:
    assert queue.stats() == {"queued": 0, "running": 0, "done": 0, "dead": 0}
    enqueue(queue, db, 4)
    assert queue.complete(claimed(queue, "w1"), "w1")
    claimed(queue, "w1")
    claimed(queue, "w1")
    assert queue.stats() == {"queued": 1, "running": 2, "done": 1, "dead": 0}
    enqueue(queue, db, kind="media")
    assert queue.counts() == {
        ("export", "queued"): 1,
        ("export", "running"): 2,
        ("export", "done"): 1,
        ("media", "queued"): 1,
    }


def test_oldest_queued_at(queue: JobQueue, db: Database, clock: FrozenClock) -> None:
    assert queue.oldest_queued_at() is None
    first = clock.now()
    enqueue(queue, db)
    clock.advance(seconds=5)
    enqueue(queue, db)
    assert queue.oldest_queued_at() == first
    claimed(queue, "w1")
    assert queue.oldest_queued_at() == first + timedelta(seconds=5)


# -- crashed workers on their last attempt ----------------------------------------------------------


def test_reap_turns_expired_jobs_without_attempts_left_dead(
    queue: JobQueue, db: Database, clock: FrozenClock
) -> None:
    doomed, healthy, busy = enqueue(queue, db, 3)
    for _ in range(3):  # three workers crash on `doomed`, one after another
        job = claimed(queue, "crasher")
        assert job.id == doomed
        clock.advance(seconds=LEASE_S + 1)
    assert job.attempts == job.max_attempts == 3
    claimed(queue, "slow")  # `healthy`: expired, but attempts left → claimable, not reaped
    busy_job = claimed(queue, "busy")
    assert busy_job.id == busy
    clock.advance(seconds=LEASE_S + 1)
    assert queue.heartbeat(busy_job, "busy")  # a live lease is never reaped

    # claim skips the dead-to-be job and hands out what it can
    assert [j.id for j in queue.expired_dead()] == [doomed]
    rescued = claimed(queue, "rescuer")
    assert (rescued.id, rescued.attempts) == (healthy, 2)
    assert queue.claim("rescuer", KINDS) is None
    assert queue.get(doomed).status == JobStatus.RUNNING

    reaped = queue.reap()
    assert [(j.id, j.status, j.lease_owner) for j in reaped] == [(doomed, "dead", None)]
    assert reaped[0].last_error is not None
    assert queue.reap() == []  # each dead job is reported once
    assert queue.expired_dead() == []
    assert queue.stats() == {"queued": 0, "running": 2, "done": 0, "dead": 1}


def test_reap_in_commits_with_the_callers_writes(queue: JobQueue, db: Database, clock: FrozenClock) -> None:
    enqueue(queue, db, subject_id="42")
    for _ in range(3):
        claimed(queue, "crasher")
        clock.advance(seconds=LEASE_S + 1)

    def reap_then_fail() -> None:
        with db.write() as conn:
            assert [j.subject_id for j in queue.reap_in(conn, KINDS)] == ["42"]
            raise RuntimeError("marking the download failed did not work")

    with pytest.raises(RuntimeError, match="marking"):
        reap_then_fail()
    assert queue.reap(("media",)) == []  # each domain reaps its own kinds
    assert [j.subject_id for j in queue.reap()] == ["42"]  # still there to reap


def test_abandoned_jobs_are_done_dead_or_expired_without_attempts(
    queue: JobQueue, db: Database, clock: FrozenClock
) -> None:
    done, dead, doomed, retrying, queued = enqueue(queue, db, 5)
    assert queue.complete(claimed(queue, "w"), "w")
    job = claimed(queue, "w")
    while (status := queue.fail(job, "w", "boom")) is not JobStatus.DEAD:
        assert status is JobStatus.QUEUED
        clock.advance(seconds=10)
        job = claimed(queue, "w")
    for _ in range(3):  # `doomed` ends expired on its last attempt
        assert claimed(queue, "crasher").id == doomed
        clock.advance(seconds=LEASE_S + 1)
    retrying_job = claimed(queue, "slow")
    assert retrying_job.id == retrying
    clock.advance(seconds=LEASE_S + 1)  # expired, attempts left: another worker will take it
    with db.read() as conn:
        assert queue.abandoned_in(conn, [done, dead, doomed, retrying, queued, 999]) == {
            done: None,
            dead: "boom",
            doomed: None,
        }
        assert queue.abandoned_in(conn, []) == {}


# -- several processes on one PostgreSQL ------------------------------------------------------------


def _drain(database_url: str, worker_id: str, ready: Any, results: Any) -> None:
    """A worker process: claim, checkpoint and complete until the queue is empty; report the ids."""
    db = Database(database_url)
    queue = SqlJobQueue(db, SystemClock())
    completed: list[int] = []
    try:
        ready.wait(60)  # start together, so the processes really race for the same rows
        while (job := queue.claim(worker_id, KINDS)) is not None:
            with db.write() as conn:
                assert queue.save_checkpoint_in(conn, job, worker_id, {"by": worker_id})
            time.sleep(0.005)  # some work, so the processes interleave
            assert queue.complete(job, worker_id)
            completed.append(job.id)
        results.put((worker_id, completed))
    except BaseException as error:
        results.put((worker_id, repr(error)))
        raise
    finally:
        db.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("implementation", [("sql", "postgresql")], ids=["postgresql"], indirect=True)
def test_worker_processes_complete_each_job_exactly_once(database_url: str) -> None:
    """Machines share a server, not a file: several processes on one PostgreSQL."""
    db = Database(database_url)
    queue = SqlJobQueue(db, SystemClock())
    context = multiprocessing.get_context("spawn")
    ready, results = context.Barrier(3), context.Queue()
    processes = [
        context.Process(target=_drain, args=(database_url, f"proc-{n}", ready, results)) for n in range(3)
    ]
    try:
        with db.write() as conn:
            ids = [queue.enqueue_in(conn, "export", None) for _ in range(30)]
        for process in processes:
            process.start()
        reports = dict(results.get(timeout=60) for _ in processes)
        for process in processes:
            process.join(10)
        assert all(isinstance(completed, list) for completed in reports.values()), reports
        assert [process.exitcode for process in processes] == [0, 0, 0]

        counts = Counter(job_id for completed in reports.values() for job_id in completed)
        assert sorted(counts) == ids
        assert set(counts.values()) == {1}
        assert queue.stats() == {"queued": 0, "running": 0, "done": 30, "dead": 0}
        for worker_id, completed in reports.items():
            for job_id in completed:
                job = queue.get(job_id)
                assert (job.attempts, job.checkpoint) == (1, {"by": worker_id})
    finally:
        for process in processes:
            if process.is_alive():
                process.kill()
        db.dispose()


# -- delayed jobs ---------------------------------------------------------------------------------


def test_a_delayed_job_is_claimed_only_once_it_is_due(
    queue: JobQueue, db: Database, clock: FrozenClock
) -> None:
    with db.write() as conn:
        later = queue.enqueue_in(conn, "export", "s", run_after=clock.now() + timedelta(seconds=60))
        now = queue.enqueue_in(conn, "export", "t")

    first = claimed(queue, "w1")
    assert first.id == now
    assert queue.complete(first, "w1")
    assert queue.claim("w1", KINDS) is None
    assert queue.get(later).run_after == clock.now() + timedelta(seconds=60)
    clock.advance(seconds=59)
    assert queue.claim("w1", KINDS) is None
    clock.advance(seconds=1)
    assert claimed(queue, "w1").id == later


def test_the_error_of_a_subjects_dead_job(queue: JobQueue, db: Database) -> None:
    kinds = ("export", "export_part")
    with db.write() as conn:
        queue.enqueue_in(conn, "export", "1", max_attempts=1)
        queue.enqueue_in(conn, "export_part", "2", {"written": 0}, max_attempts=1)
        queue.enqueue_in(conn, "media", "1", max_attempts=1)
    first = claimed(queue, "w1", kinds)
    assert first.subject_id == "1"
    with db.read() as conn:
        assert queue.dead_error_in(conn, kinds, "1") is None  # running: not dead
    assert queue.fail(first, "w1", "IOException: no files") is JobStatus.DEAD
    media = claimed(queue, "w1", ("media",))
    assert queue.fail(media, "w1", "a media error") is JobStatus.DEAD
    with db.read() as conn:
        assert queue.dead_error_in(conn, kinds, "1") == "IOException: no files"
        assert queue.dead_error_in(conn, ("media",), "1") == "a media error"
        assert queue.dead_error_in(conn, kinds, "2") is None  # queued
        assert queue.dead_error_in(conn, kinds, "3") is None  # no job at all
    assert queue.complete(claimed(queue, "w1", kinds), "w1")
    with db.read() as conn:
        assert queue.dead_error_in(conn, kinds, "2") is None  # done is not dead
