"""The export runner's state machine on the in-memory queue, with a frozen clock."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from dlserve.downloads.models import DownloadStatus
from dlserve.downloads.services import EXPORT_KINDS, PART_KIND, PLAN_KIND
from dlserve.jobs.interfaces import Job, JobStatus, JobStopped, LeaseLost
from tests.support.domain import LEASE_S, ExportDomain, export_domain

RECORDS = [{"id": f"b{i:02d}", "name": f"Hotel {i}", "city": "Austin"} for i in range(12)]


@pytest.fixture
def domain(tmp_path: Path) -> Iterator[ExportDomain]:
    with export_domain(tmp_path, RECORDS, records_per_file=5) as built:
        yield built


def claim(domain: ExportDomain, worker: str = "w1") -> Job:
    job = domain.queue.claim(worker, EXPORT_KINDS)
    assert job is not None
    return job


def run(domain: ExportDomain, job: Job, worker: str = "w1") -> None:
    domain.runner.run(job, worker, threading.Event())


def test_a_plan_cuts_the_download_into_one_job_per_file(domain: ExportDomain) -> None:
    download = domain.create(domain.account(), num_records=12)
    plan = claim(domain)
    assert (plan.kind, plan.subject_id) == (PLAN_KIND, str(download.id))

    run(domain, plan)

    assert domain.queue.get(plan.id).status == JobStatus.DONE
    parts = [domain.queue.claim(f"w{n}", EXPORT_KINDS) for n in range(4)]
    assert [(p.kind, p.checkpoint) for p in parts if p is not None] == [
        (PART_KIND, {"part_no": 1, "after_seq": 0, "through_seq": 5, "records": 5, "written": 0}),
        (PART_KIND, {"part_no": 2, "after_seq": 5, "through_seq": 10, "records": 5, "written": 0}),
        (PART_KIND, {"part_no": 3, "after_seq": 10, "through_seq": 12, "records": 2, "written": 0}),
    ]
    assert parts[3] is None
    assert domain.downloads.get(domain.account_of(download), download.id).status is DownloadStatus.IN_PROGRESS


def test_parts_complete_the_download_once_the_last_one_commits(domain: ExportDomain) -> None:
    account = domain.account()
    download = domain.create(account, num_records=12)
    run(domain, claim(domain))
    first, second, third = (claim(domain, f"w{n}") for n in range(3))
    for n, part in ((2, third), (0, first)):  # out of order: numbering comes from the plan
        run(domain, part, f"w{n}")
        assert domain.downloads.get(account, download.id).status is DownloadStatus.IN_PROGRESS
    run(domain, second, "w1")

    finished = domain.downloads.get(account, download.id)
    assert finished.status is DownloadStatus.COMPLETED
    assert (finished.num_downloaded, [f.records for f in finished.files]) == (12, [5, 5, 2])
    assert domain.accounts.balance(account.id) == 1000 - 12
    assert domain.queue.stats() == {"queued": 0, "running": 0, "done": 4, "dead": 0}


def test_a_plan_whose_lease_was_taken_over_queues_nothing(domain: ExportDomain) -> None:
    download = domain.create(domain.account(), num_records=12)
    slow = claim(domain, "slow")
    domain.clock.advance(seconds=LEASE_S + 1)
    rescuer = claim(domain, "rescuer")
    assert rescuer.id == slow.id

    with pytest.raises(LeaseLost):
        run(domain, slow, "slow")
    assert domain.queue.claim("anyone", (PART_KIND,)) is None  # the parts rolled back with it

    run(domain, rescuer, "rescuer")
    with domain.db.read() as conn:
        assert domain.queue.pending_in(conn, EXPORT_KINDS, str(download.id)) == 3  # planned once


def test_cancel_withdraws_the_parts_and_a_claimed_part_adds_nothing(domain: ExportDomain) -> None:
    account = domain.account()
    download = domain.create(account, num_records=12)
    run(domain, claim(domain))
    first, in_flight = claim(domain, "w1"), claim(domain, "w2")
    run(domain, first, "w1")

    cancelled = domain.downloads.cancel(account, download.id)

    assert (cancelled.status, cancelled.num_downloaded) == (DownloadStatus.CANCELLED, 5)
    assert domain.queue.claim("w3", EXPORT_KINDS) is None  # the third part was withdrawn
    run(domain, in_flight, "w2")  # claimed before the cancel: sees it and ends without a file
    after = domain.downloads.get(account, download.id)
    assert ([f.part_no for f in after.files], after.num_downloaded) == ([1], 5)
    assert list(domain.storage.list_keys("")) == [after.files[0].storage_key]
    assert domain.accounts.balance(account.id) == 1000 - 5


def test_a_shutdown_mid_part_raises_stopped_and_keeps_the_job(domain: ExportDomain) -> None:
    domain.create(domain.account(), num_records=12)
    run(domain, claim(domain))
    part = claim(domain)
    stop = threading.Event()
    stop.set()
    with pytest.raises(JobStopped):
        domain.runner.run(part, "w1", stop)
    assert domain.queue.get(part.id).status == JobStatus.RUNNING  # the runtime gives it back
    assert domain.queue.release(part, "w1")


def test_in_flight_records_count_toward_num_downloaded(domain: ExportDomain) -> None:
    account = domain.account()
    download = domain.create(account, num_records=12)
    run(domain, claim(domain))
    part = claim(domain)
    with domain.db.write() as conn:
        assert domain.queue.save_checkpoint_in(conn, part, "w1", {**(part.checkpoint or {}), "written": 3})
    assert domain.downloads.get(account, download.id).num_downloaded == 3
