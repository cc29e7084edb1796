"""The schedule tick on the in-memory job queue, with a frozen clock: each period runs once, missed
periods collapse into one run, refusals are recorded and the schedule goes on."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from dlserve.accounts.services import Account
from dlserve.db.tables import downloads
from dlserve.downloads.models import DownloadStatus
from dlserve.downloads.services import EXPORT_KINDS
from dlserve.errors import NotFound
from dlserve.schedules.models import RunStatus, Schedule
from dlserve.schedules.services import NewSchedule, ScheduleLimits, ScheduleService
from dlserve.schedules.ticker import ScheduleTicker
from tests.support.domain import ExportDomain, export_domain

RECORDS = [{"id": f"b{i:02d}", "name": f"Hotel {i}", "city": "Austin"} for i in range(6)]
HOUR = timedelta(hours=1)


@dataclass
class Scheduling:
    domain: ExportDomain
    schedules: ScheduleService
    ticker: ScheduleTicker

    def create(self, account: Account, every: str = "1h", **fields: object) -> Schedule:
        values: dict[str, object] = {"data_type": "businesses", "query": "*", "every": every, **fields}
        return self.schedules.create(account, NewSchedule(**values))  # type: ignore[arg-type]

    def runs(self, account: Account, schedule: Schedule) -> list[tuple[RunStatus, int | None]]:
        """(status, download id) of the schedule's runs, oldest first."""
        found = self.schedules.get(account, schedule.id).runs
        return [(run.status, run.download_id) for run in reversed(found)]

    def finish_downloads(self) -> None:
        """Run every queued export job to its end (plan, then parts)."""
        while (job := self.domain.queue.claim("w", EXPORT_KINDS)) is not None:
            self.domain.runner.run(job, "w", threading.Event())


@pytest.fixture
def scheduling(tmp_path: Path) -> Iterator[Scheduling]:
    with export_domain(tmp_path, RECORDS, records_per_file=10) as domain:
        schedules = ScheduleService(domain.db, domain.clock, ScheduleLimits(min_period_seconds=60))
        ticker = ScheduleTicker(domain.db, domain.clock, domain.accounts, domain.downloads)
        yield Scheduling(domain, schedules, ticker)


def test_an_interval_schedule_runs_at_creation_then_once_per_period(scheduling: Scheduling) -> None:
    account = scheduling.domain.account()
    created = scheduling.create(account)
    start = scheduling.domain.clock.now()
    assert created.next_run_at == start

    first = scheduling.ticker.tick()
    assert (len(first.claimed), len(first.started), first.failed) == (1, 1, [])
    assert scheduling.ticker.tick().claimed == []  # same period: nothing more
    scheduling.domain.clock.advance(minutes=59)
    assert scheduling.ticker.tick().claimed == []

    scheduling.domain.clock.advance(minutes=1)
    assert len(scheduling.ticker.tick().started) == 1

    shown = scheduling.schedules.get(account, created.id)
    assert [run.due_at for run in shown.runs] == [start + HOUR, start]
    assert shown.next_run_at == start + 2 * HOUR
    assert {run.download_status for run in shown.runs} == {DownloadStatus.QUEUED.value}
    downloads = {run.download_id for run in shown.runs}
    assert len(downloads) == 2
    assert None not in downloads
    assert scheduling.domain.downloads.list(account)[0] == 2


def test_missed_periods_after_downtime_run_once_and_the_cadence_is_kept(scheduling: Scheduling) -> None:
    account = scheduling.domain.account()
    created = scheduling.create(account)
    start = scheduling.domain.clock.now()
    scheduling.ticker.tick()

    scheduling.domain.clock.advance(hours=5, minutes=30)  # no tick for five and a half periods
    after_downtime = scheduling.ticker.tick()
    assert len(after_downtime.started) == 1
    assert scheduling.ticker.tick().claimed == []

    shown = scheduling.schedules.get(account, created.id)
    assert [run.due_at for run in shown.runs] == [start + HOUR, start]
    assert shown.next_run_at == start + 6 * HOUR


def test_a_short_balance_fails_the_run_with_the_reason_and_the_schedule_goes_on(
    scheduling: Scheduling,
) -> None:
    account = scheduling.domain.account(credits=3)  # the query matches 6 records
    created = scheduling.create(account)

    refused = scheduling.ticker.tick()
    assert (refused.started, len(refused.failed)) == ([], 1)
    run = scheduling.schedules.get(account, created.id).runs[0]
    assert (run.status, run.download_id) == (RunStatus.FAILED, None)
    assert run.reason is not None
    assert run.reason.startswith("Insufficient credits for this download")
    assert "needs 6 credits, the balance is 3" in run.reason

    scheduling.domain.accounts.grant(account.id, 100)
    scheduling.domain.clock.advance(hours=1)
    assert len(scheduling.ticker.tick().started) == 1
    assert [status for status, _ in scheduling.runs(account, created)] == [
        RunStatus.FAILED,
        RunStatus.STARTED,
    ]


def test_the_active_download_limit_applies_to_scheduled_runs(scheduling: Scheduling) -> None:
    account = scheduling.domain.account()
    for _ in range(5):  # the domain's limit
        scheduling.domain.create(account)
    scheduling.create(account)

    assert len(scheduling.ticker.tick().failed) == 1
    run = scheduling.schedules.list(account)[0]
    reason = scheduling.schedules.get(account, run.id).runs[0].reason
    assert reason is not None
    assert "already has 5 active downloads" in reason


def test_a_run_is_started_once_even_when_two_tickers_try(scheduling: Scheduling) -> None:
    account = scheduling.domain.account()
    created = scheduling.create(account)
    other = ScheduleTicker(
        scheduling.domain.db, scheduling.domain.clock, scheduling.domain.accounts, scheduling.domain.downloads
    )
    (run_id,) = scheduling.ticker.claim_due()
    assert other.claim_due() == []  # the period is claimed

    assert scheduling.ticker.start(run_id) is RunStatus.STARTED
    assert other.start(run_id) is None
    assert scheduling.domain.downloads.list(account)[0] == 1
    assert scheduling.runs(account, created) == [
        (RunStatus.STARTED, scheduling.domain.downloads.list(account)[1][0].id)
    ]


def test_a_run_left_pending_by_a_dead_process_is_started_once_it_is_stale(scheduling: Scheduling) -> None:
    account = scheduling.domain.account()
    created = scheduling.create(account)
    scheduling.ticker.claim_due()  # ... and the process died before starting it

    assert scheduling.ticker.tick().started == []  # not stale yet: its claimer may be at work
    scheduling.domain.clock.advance(minutes=3)
    assert len(scheduling.ticker.tick().started) == 1
    assert scheduling.ticker.tick().started == []
    assert [status for status, _ in scheduling.runs(account, created)] == [RunStatus.STARTED]


def test_a_deleted_schedule_never_runs_and_its_pending_run_is_skipped(scheduling: Scheduling) -> None:
    account = scheduling.domain.account()
    created = scheduling.create(account)
    (run_id,) = scheduling.ticker.claim_due()

    scheduling.schedules.delete(account, created.id)

    assert scheduling.ticker.start(run_id) is None
    scheduling.domain.clock.advance(hours=3)
    assert scheduling.ticker.tick().claimed == []
    assert scheduling.domain.downloads.list(account)[0] == 0
    with pytest.raises(NotFound):
        scheduling.schedules.get(account, created.id)
    assert scheduling.schedules.list(account) == []


def test_latest_names_the_newest_completed_run(scheduling: Scheduling) -> None:
    account = scheduling.domain.account()
    created = scheduling.create(account)
    scheduling.ticker.tick()
    with pytest.raises(NotFound, match="no completed download yet"):
        scheduling.schedules.latest_download_id(account, created.id)

    scheduling.finish_downloads()
    first = scheduling.schedules.latest_download_id(account, created.id)
    scheduling.domain.clock.advance(hours=1)
    scheduling.ticker.tick()
    assert scheduling.schedules.latest_download_id(account, created.id) == first  # still running

    scheduling.finish_downloads()
    newest = scheduling.schedules.latest_download_id(account, created.id)
    assert newest != first
    assert [download_id for _, download_id in scheduling.runs(account, created)] == [first, newest]


def test_another_accounts_schedule_is_not_found(scheduling: Scheduling) -> None:
    owner = scheduling.domain.account()
    scheduling.domain.clock.advance(seconds=1)  # the helper names accounts by the time
    stranger = scheduling.domain.account()
    created = scheduling.create(owner)
    for read in (
        scheduling.schedules.get,
        scheduling.schedules.delete,
        scheduling.schedules.latest_download_id,
    ):
        with pytest.raises(NotFound):
            read(stranger, created.id)
    assert scheduling.schedules.list(stranger) == []


def test_a_cron_schedule_first_runs_at_its_first_time(scheduling: Scheduling) -> None:
    account = scheduling.domain.account()
    created = scheduling.create(account, every="0 * * * *")  # 2024-12-25 10:00 is the clock's start
    assert created.next_run_at == scheduling.domain.clock.now() + HOUR
    assert scheduling.ticker.tick().claimed == []
    scheduling.domain.clock.advance(hours=1)
    assert len(scheduling.ticker.tick().started) == 1


def test_a_delta_schedule_asks_for_what_changed_since_its_newest_completed_run(
    scheduling: Scheduling,
) -> None:
    account = scheduling.domain.account()
    created = scheduling.create(account, delta=True)
    service = scheduling.domain.downloads

    scheduling.ticker.tick()  # the first run has nothing to compare with: a full download
    (_, first_id), *_ = scheduling.runs(account, created)
    assert first_id is not None
    first = service.get(account, first_id)
    assert (first.since, first.num_records) == (None, len(RECORDS))
    scheduling.finish_downloads()

    scheduling.domain.clock.advance(hours=1)
    scheduling.ticker.tick()
    second = service.get(account, scheduling.runs(account, created)[-1][1] or 0)
    assert (second.since, second.num_records) == (first_id, 0)  # nothing changed since
    scheduling.domain.clock.advance(hours=1)
    scheduling.ticker.tick()  # the second is still queued: the base stays the first
    third = service.get(account, scheduling.runs(account, created)[-1][1] or 0)
    assert third.since == first_id
    scheduling.finish_downloads()

    scheduling.domain.clock.advance(hours=1)
    scheduling.ticker.tick()
    fourth = service.get(account, scheduling.runs(account, created)[-1][1] or 0)
    assert fourth.since == third.id


def test_a_delta_run_whose_base_snapshot_is_gone_delivers_everything(scheduling: Scheduling) -> None:
    account = scheduling.domain.account()
    created = scheduling.create(account, delta=True)
    scheduling.ticker.tick()
    scheduling.finish_downloads()
    (_, base_id), *_ = scheduling.runs(account, created)
    with scheduling.domain.db.write() as conn:  # what removing the snapshot leaves behind
        conn.execute(downloads.update().where(downloads.c.id == base_id).values(snapshot_id=None))

    scheduling.domain.clock.advance(hours=1)
    assert len(scheduling.ticker.tick().started) == 1
    newest = scheduling.domain.downloads.get(account, scheduling.runs(account, created)[-1][1] or 0)
    assert (newest.since, newest.num_records) == (None, len(RECORDS))
