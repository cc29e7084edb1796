"""`ScheduleTicker`: turns due schedules into downloads, each period exactly once.

A tick has two steps, each its own transaction:

1. **Claim.** The due schedules (``next_run_at <= now``, not deleted) are locked — ``FOR UPDATE SKIP
   LOCKED`` on PostgreSQL, so tickers on other machines skip them instead of waiting; on SQLite the
   ``BEGIN IMMEDIATE`` write transaction admits one ticker at a time — and for each one the run row
   of its due period is inserted (``pending``) and ``next_run_at`` moves to the first time after
   now. The unique ``(schedule_id, due_at)`` makes a second claim of a period impossible whatever
   races, and moving to the first time *after now* makes every time missed during downtime one run.
2. **Start.** Each claimed run creates its download through :class:`DownloadService` (a normal
   download: same limits, same credit hold). The run turns ``started`` and records the download id
   inside the download's own transaction (``on_created_in``), only if it is still ``pending``: a
   run two tickers start at once yields one download, the other's rolls back. A refusal (credits
   short, too many active downloads, ...) records the run ``failed`` with the reason; the schedule
   goes on. A ``delta`` schedule's run is a delta download (``since``) against the download of the
   schedule's newest completed run; the first run, with none, is a full download.

A process that dies between the two steps leaves a ``pending`` run; any ticker starts it once it
is ``stale_after`` old.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from dlserve.accounts.services import AccountService
from dlserve.catalog.services import prepare
from dlserve.clock import Clock
from dlserve.db.engine import Database
from dlserve.db.tables import schedule_runs, schedules
from dlserve.downloads.services import DownloadService
from dlserve.errors import DlserveError, Gone
from dlserve.limits.query_cost import QueryCostLimits
from dlserve.logs import get_logger
from dlserve.records.field_lists import stored_field_list
from dlserve.schedules.models import RunStatus, Schedule
from dlserve.schedules.periods import parse_every
from dlserve.schedules.services import latest_completed_download_in

log = get_logger("dlserve.schedules")

CLAIM_BATCH = 100
STALE_AFTER = timedelta(minutes=2)
# A schedule whose ``every`` no longer parses (it was valid when created) is retried this much later.
UNREADABLE_RETRY = timedelta(days=1)


class _RunTaken(Exception):
    """Another ticker started (or the owner skipped) this run first: roll our download back."""


@dataclass
class TickResult:
    claimed: list[int] = field(default_factory=list)  # run ids claimed by this tick
    started: list[int] = field(default_factory=list)  # runs that created their download
    failed: list[int] = field(default_factory=list)  # runs refused, with their reason recorded


class ScheduleTicker:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        accounts: AccountService,
        downloads: DownloadService,
        *,
        query_limits: QueryCostLimits | None = None,
        stale_after: timedelta = STALE_AFTER,
        batch: int = CLAIM_BATCH,
    ) -> None:
        self._db = db
        self._clock = clock
        self._accounts = accounts
        self._downloads = downloads
        self._query_limits = query_limits or QueryCostLimits()
        self._stale_after = stale_after
        self._batch = batch

    def tick(self) -> TickResult:
        """Claim every due period, then start its run (and any run a dead process left pending)."""
        result = TickResult()
        while True:  # batches, so a backlog of many schedules is claimed in short transactions
            claimed = self.claim_due()
            result.claimed.extend(claimed)
            for run_id in claimed:
                self._start_counted(run_id, result)
            if len(claimed) < self._batch:
                break
        for run_id in self.stale_pending():
            self._start_counted(run_id, result)
        return result

    # -- step 1: claim -----------------------------------------------------------------------------

    def claim_due(self) -> list[int]:
        """Insert the run of each due schedule's period and advance it; the new runs' ids."""
        now = self._clock.now()
        claimed: list[int] = []
        with self._db.write() as conn:
            due = (
                conn.execute(
                    sa.select(schedules.c.id, schedules.c.every, schedules.c.next_run_at)
                    .where(schedules.c.deleted_at.is_(None), schedules.c.next_run_at <= now)
                    .order_by(schedules.c.next_run_at, schedules.c.id)
                    .limit(self._batch)
                    # PostgreSQL: schedules another ticker holds are skipped, not waited for.
                    .with_for_update(skip_locked=True)
                )
                .mappings()
                .all()
            )
            for row in due:
                claimed.append(self._claim_in(conn, row["id"], row["every"], row["next_run_at"], now))
        return claimed

    def _claim_in(
        self, conn: sa.Connection, schedule_id: int, every: str, due: datetime, now: datetime
    ) -> int:
        try:
            following = parse_every(every, min_seconds=0, now=now).next_after(due, now)
        except DlserveError:
            log.error("a schedule's period no longer parses", schedule_id=schedule_id, every=every)
            following = now + UNREADABLE_RETRY
        run_id = conn.execute(
            schedule_runs.insert()
            .values(
                schedule_id=schedule_id,
                due_at=due,
                status=RunStatus.PENDING.value,
                created_at=now,
                updated_at=now,
            )
            .returning(schedule_runs.c.id)
        ).scalar_one()
        conn.execute(
            schedules.update()
            .where(schedules.c.id == schedule_id, schedules.c.next_run_at == due)
            .values(next_run_at=following)
        )
        return int(run_id)

    def stale_pending(self) -> list[int]:
        """Runs claimed long enough ago that the process which claimed them must have died."""
        cutoff = self._clock.now() - self._stale_after
        with self._db.read() as conn:
            found = conn.execute(
                sa.select(schedule_runs.c.id)
                .where(
                    schedule_runs.c.status == RunStatus.PENDING.value,
                    schedule_runs.c.created_at <= cutoff,
                )
                .order_by(schedule_runs.c.id)
                .limit(self._batch)
            ).scalars()
            return [int(run_id) for run_id in found]

    # -- step 2: start -----------------------------------------------------------------------------

    def _start_counted(self, run_id: int, result: TickResult) -> None:
        try:
            outcome = self.start(run_id)
        except Exception:  # a database hiccup: the run stays pending and is retried once stale
            log.exception("starting a scheduled run failed", run_id=run_id)
            return
        if outcome is RunStatus.STARTED:
            result.started.append(run_id)
        elif outcome is RunStatus.FAILED:
            result.failed.append(run_id)

    def start(self, run_id: int) -> RunStatus | None:
        """Create the pending run's download; what the run became (None: not ours to start)."""
        with self._db.read() as conn:
            row = (
                conn.execute(
                    sa.select(schedules, schedule_runs.c.status.label("run_status"))
                    .select_from(schedule_runs.join(schedules, schedules.c.id == schedule_runs.c.schedule_id))
                    .where(schedule_runs.c.id == run_id)
                )
                .mappings()
                .first()
            )
            if row is None or row["run_status"] != RunStatus.PENDING.value:
                return None
            schedule = Schedule.from_row(row)
            since = latest_completed_download_in(conn, schedule.id) if schedule.delta else None
        if schedule.deleted_at is not None:
            self._settle(run_id, RunStatus.SKIPPED, "the schedule was deleted")
            return RunStatus.SKIPPED
        try:
            self._create_download(run_id, schedule, since)
        except _RunTaken:
            return None
        except DlserveError as refused:
            reason = "; ".join([refused.message, *(detail.message for detail in refused.details)])
            if self._settle(run_id, RunStatus.FAILED, reason):
                log.info("scheduled run refused", run_id=run_id, schedule_id=schedule.id, reason=reason)
                return RunStatus.FAILED
            return None
        return RunStatus.STARTED

    def _create_download(self, run_id: int, schedule: Schedule, since: int | None) -> None:
        account = self._accounts.get_account(schedule.account_id)
        prepared = prepare(
            schedule.data_type,
            schedule.query,
            stored_field_list(schedule.view) or schedule.view,
            schedule.format,
            self._query_limits,
        )

        def record_in(conn: sa.Connection, download_id: int) -> None:
            updated = conn.execute(
                schedule_runs.update()
                .where(schedule_runs.c.id == run_id, schedule_runs.c.status == RunStatus.PENDING.value)
                .values(status=RunStatus.STARTED.value, download_id=download_id, updated_at=self._clock.now())
            )
            if updated.rowcount != 1:
                raise _RunTaken(run_id)

        try:
            download = self._downloads.create(
                account,
                prepared,
                None,
                since=since,
                webhook_url=schedule.webhook_url,
                on_created_in=record_in,
            )
        except Gone:
            if since is None:
                raise
            # The previous run's snapshot is no longer kept: this run delivers everything again (a
            # delta against nothing), and the next ones are deltas against it.
            log.info("delta base gone; a full download instead", run_id=run_id, since=since)
            download = self._downloads.create(
                account,
                prepared,
                None,
                webhook_url=schedule.webhook_url,
                on_created_in=record_in,
            )
        log.info(
            "scheduled download created", run_id=run_id, schedule_id=schedule.id, download_id=download.id
        )

    def _settle(self, run_id: int, status: RunStatus, reason: str) -> bool:
        """A pending run ends without a download; False when it was no longer pending."""
        with self._db.write() as conn:
            updated = conn.execute(
                schedule_runs.update()
                .where(schedule_runs.c.id == run_id, schedule_runs.c.status == RunStatus.PENDING.value)
                .values(status=status.value, reason=reason[:2000], updated_at=self._clock.now())
            )
        return bool(updated.rowcount == 1)
