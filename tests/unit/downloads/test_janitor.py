"""The export janitor on the in-memory queue, with a frozen clock: dead jobs, stragglers, expiry."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from dlserve.db.tables import downloads
from dlserve.downloads.models import DownloadStatus
from dlserve.downloads.services import EXPORT_KINDS
from dlserve.jobs.interfaces import JobStatus
from tests.support.domain import LEASE_S, ExportDomain, export_domain

RECORDS = [{"id": f"b{i}", "name": f"Hotel {i}"} for i in range(6)]


@pytest.fixture
def domain(tmp_path: Path) -> Iterator[ExportDomain]:
    with export_domain(tmp_path, RECORDS, records_per_file=4) as built:
        yield built


def run_all(domain: ExportDomain) -> None:
    while (job := domain.queue.claim("w", EXPORT_KINDS)) is not None:
        domain.runner.run(job, "w", threading.Event())


def test_a_job_whose_workers_kept_dying_fails_its_download(domain: ExportDomain) -> None:
    account = domain.account()
    download = domain.create(account)
    for _ in range(2):  # max_attempts=2: two workers die holding the plan
        assert domain.queue.claim("doomed", EXPORT_KINDS) is not None
        domain.clock.advance(seconds=LEASE_S + 1)
    assert domain.janitor.reap_dead_jobs() == 1
    failed = domain.downloads.get(account, download.id)
    assert failed.status is DownloadStatus.FAILED
    assert failed.error == "export failed: its worker stopped responding too many times"
    assert domain.queue.stats()["dead"] == 1
    assert domain.janitor.reap_dead_jobs() == 0


def test_a_job_that_failed_on_its_last_attempt_fails_its_download(domain: ExportDomain) -> None:
    account = domain.account()
    download = domain.create(account)
    job = domain.queue.claim("w", EXPORT_KINDS)
    assert job is not None
    domain.clock.advance(seconds=LEASE_S + 1)
    job = domain.queue.claim("w", EXPORT_KINDS)
    assert job is not None
    assert domain.queue.fail(job, "w", "boom") is JobStatus.DEAD
    domain.janitor.fail_job(job, "RuntimeError: boom")
    assert domain.downloads.get(account, download.id).error == "export failed: RuntimeError: boom"


def test_a_download_whose_job_just_died_is_failed_not_finished_by_the_straggler_check(
    domain: ExportDomain,
) -> None:
    """A worker marks its job dead, then fails the download, in two transactions: the straggler
    check running between them sees no job left and must still end it ``failed``, once."""
    account = domain.account()
    download = domain.create(account)
    job = domain.queue.claim("w", EXPORT_KINDS)
    assert job is not None
    domain.clock.advance(seconds=LEASE_S + 1)
    job = domain.queue.claim("w", EXPORT_KINDS)  # the last attempt
    assert job is not None
    with domain.db.write() as conn:  # in progress, as the failing attempt left it
        conn.execute(
            downloads.update()
            .where(downloads.c.id == download.id)
            .values(status=DownloadStatus.IN_PROGRESS.value)
        )
    assert domain.queue.fail(job, "w", "IOException: No files found") is JobStatus.DEAD

    assert domain.janitor.finish_stragglers() == 1  # between the worker's two transactions
    ended = domain.downloads.get(account, download.id)
    assert ended.status is DownloadStatus.FAILED
    assert ended.error == "export failed: IOException: No files found"
    domain.janitor.fail_job(job, "IOException: No files found")  # the worker's second one: no change
    assert domain.downloads.get(account, download.id).error == "export failed: IOException: No files found"
    assert domain.downloads.get(account, download.id).status is DownloadStatus.FAILED


def test_an_in_progress_download_with_no_job_left_is_finished(domain: ExportDomain) -> None:
    account = domain.account()
    download = domain.create(account)
    run_all(domain)
    with domain.db.write() as conn:  # as if the last part's transaction had not finished it
        conn.execute(
            downloads.update()
            .where(downloads.c.id == download.id)
            .values(status=DownloadStatus.IN_PROGRESS.value, completed_at=None)
        )
    other = domain.create(account)
    assert domain.queue.claim("w", EXPORT_KINDS) is not None  # `other` in progress, its plan running
    with domain.db.write() as conn:
        conn.execute(
            downloads.update()
            .where(downloads.c.id == other.id)
            .values(status=DownloadStatus.IN_PROGRESS.value)
        )

    assert domain.janitor.finish_stragglers() == 1
    assert domain.downloads.get(account, download.id).status is DownloadStatus.COMPLETED
    assert domain.downloads.get(account, other.id).status is DownloadStatus.IN_PROGRESS


def test_result_files_are_deleted_once_their_links_expire(domain: ExportDomain) -> None:
    account = domain.account()
    download = domain.create(account)
    run_all(domain)
    keys = [f.storage_key for f in domain.downloads.get(account, download.id).files]
    assert len(keys) == 2
    assert all(domain.storage.exists(key) for key in keys)

    domain.clock.advance(hours=1)
    assert domain.janitor.expire_files() == 0  # expires strictly after the link's lifetime
    domain.clock.advance(seconds=1)
    assert domain.janitor.expire_files() == 2
    assert not any(domain.storage.exists(key) for key in keys)
    assert domain.janitor.expire_files() == 0
    with domain.db.read() as conn:
        assert (
            conn.execute(sa.select(downloads.c.status).where(downloads.c.id == download.id)).scalar_one()
            == "completed"
        )
