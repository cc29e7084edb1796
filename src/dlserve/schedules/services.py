"""Creating, reading and deleting an account's schedules (``/v4/schedules``). The runs themselves are
started by :mod:`dlserve.schedules.ticker`.

Every read is scoped to the account: another account's schedule is not found (404), as downloads.
A deleted schedule keeps its row (its runs still name it) but is not found either.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import sqlalchemy as sa

from dlserve.accounts.services import Account
from dlserve.catalog.services import prepare
from dlserve.clock import Clock
from dlserve.db.engine import Database
from dlserve.db.tables import downloads, schedule_runs, schedules
from dlserve.downloads.models import DownloadStatus
from dlserve.errors import Conflict, ErrorDetail, Invalid, NotFound
from dlserve.limits.query_cost import QueryCostLimits
from dlserve.records.field_lists import RequestedView
from dlserve.schedules.models import RunStatus, Schedule, ScheduleRun
from dlserve.schedules.periods import parse_every

RUNS_SHOWN = 100  # a schedule's newest runs in GET /v4/schedules/{id}
MAX_URL_LENGTH = 2048


@dataclass(frozen=True)
class ScheduleLimits:
    min_period_seconds: float = 3600.0
    max_per_account: int = 20


@dataclass(frozen=True)
class NewSchedule:
    """What ``POST /v4/schedules`` asks for, as the wire gave it (validated by ``create``)."""

    data_type: str
    query: str
    format: str | None = "JSON"
    view: RequestedView = None  # a view's name, or a field list
    every: str = "1d"
    delta: bool = False
    webhook_url: str | None = None


class ScheduleService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        limits: ScheduleLimits | None = None,
        query_limits: QueryCostLimits | None = None,
        check_webhook_url: Callable[[str | None], str | None] | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._limits = limits or ScheduleLimits()
        self._query_limits = query_limits or QueryCostLimits()
        # The downloads' own check (the SSRF guard, dlserve.webhooks.urls), so a schedule is refused
        # at once for a URL its runs' downloads would be refused for.
        self._check_webhook_url = check_webhook_url or check_webhook_url_shape

    def create(self, account: Account, new: NewSchedule) -> Schedule:
        now = self._clock.now()
        try:
            prepared = prepare(new.data_type, new.query, new.view, new.format, self._query_limits)
        except NotFound as unknown:  # a body field, not the URL: a 400 naming it
            raise Invalid(unknown.message, [ErrorDetail("data_type", unknown.message)]) from None
        period = parse_every(new.every, min_seconds=self._limits.min_period_seconds, now=now)
        webhook_url = self._check_webhook_url(new.webhook_url)
        with self._db.write() as conn:
            live = conn.execute(
                sa.select(sa.func.count())
                .select_from(schedules)
                .where(schedules.c.account_id == account.id, schedules.c.deleted_at.is_(None))
            ).scalar_one()
            if live >= self._limits.max_per_account:
                raise Conflict(
                    f"This account already has {live} schedules (the limit is "
                    f"{self._limits.max_per_account}); delete one first"
                )
            schedule_id = conn.execute(
                schedules.insert()
                .values(
                    account_id=account.id,
                    data_type=prepared.schema.name,
                    query=prepared.query_text,
                    format=prepared.format.value,
                    view=prepared.stored_view,
                    every=new.every.strip(),
                    delta=new.delta,
                    webhook_url=webhook_url,
                    next_run_at=period.first_due(now),
                    created_at=now,
                )
                .returning(schedules.c.id)
            ).scalar_one()
        return self.get(account, int(schedule_id))

    def list(self, account: Account) -> list[Schedule]:
        """The account's schedules, newest first (without their runs)."""
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(schedules)
                .where(schedules.c.account_id == account.id, schedules.c.deleted_at.is_(None))
                .order_by(schedules.c.id.desc())
            ).mappings()
            return [Schedule.from_row(row) for row in rows]

    def get(self, account: Account, schedule_id: int) -> Schedule:
        """The schedule with its newest runs."""
        with self._db.read() as conn:
            row = self._owned(conn, account, schedule_id)
            runs = read_runs(conn, schedule_id, limit=RUNS_SHOWN)
            total = conn.execute(
                sa.select(sa.func.count())
                .select_from(schedule_runs)
                .where(schedule_runs.c.schedule_id == schedule_id)
            ).scalar_one()
        schedule = Schedule.from_row(row)
        return Schedule(**{**schedule.__dict__, "runs": runs, "num_runs": int(total)})

    def delete(self, account: Account, schedule_id: int) -> Schedule:
        """No more runs; a run not started yet is skipped. Downloads already made are kept."""
        now = self._clock.now()
        with self._db.write() as conn:
            row = self._owned(conn, account, schedule_id)
            conn.execute(schedules.update().where(schedules.c.id == schedule_id).values(deleted_at=now))
            conn.execute(
                schedule_runs.update()
                .where(
                    schedule_runs.c.schedule_id == schedule_id,
                    schedule_runs.c.status == RunStatus.PENDING.value,
                )
                .values(status=RunStatus.SKIPPED.value, reason="the schedule was deleted", updated_at=now)
            )
        schedule = Schedule.from_row(row)
        return Schedule(**{**schedule.__dict__, "deleted_at": now})

    def latest_download_id(self, account: Account, schedule_id: int) -> int:
        """The download of the schedule's newest run that completed; NotFound when none has."""
        with self._db.read() as conn:
            self._owned(conn, account, schedule_id)
            found = latest_completed_download_in(conn, schedule_id)
        if found is None:
            raise NotFound(f"Schedule {schedule_id} has no completed download yet")
        return found

    def _owned(self, conn: sa.Connection, account: Account, schedule_id: int) -> sa.RowMapping:
        row = (
            conn.execute(
                sa.select(schedules).where(
                    schedules.c.id == schedule_id,
                    schedules.c.account_id == account.id,
                    schedules.c.deleted_at.is_(None),
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            raise NotFound(f"Schedule {schedule_id} was not found")
        return row


def read_runs(conn: sa.Connection, schedule_id: int, *, limit: int) -> list[ScheduleRun]:
    """The schedule's newest runs, each with its download's status."""
    rows = conn.execute(
        sa.select(*schedule_runs.c, downloads.c.status.label("download_status"))
        .select_from(schedule_runs.outerjoin(downloads, downloads.c.id == schedule_runs.c.download_id))
        .where(schedule_runs.c.schedule_id == schedule_id)
        .order_by(schedule_runs.c.due_at.desc())
        .limit(limit)
    ).mappings()
    return [ScheduleRun.from_row(row) for row in rows]


def latest_completed_download_in(conn: sa.Connection, schedule_id: int) -> int | None:
    """The download of the schedule's newest run whose download completed."""
    found = conn.execute(
        sa.select(schedule_runs.c.download_id)
        .select_from(schedule_runs.join(downloads, downloads.c.id == schedule_runs.c.download_id))
        .where(
            schedule_runs.c.schedule_id == schedule_id,
            downloads.c.status == DownloadStatus.COMPLETED.value,
        )
        .order_by(schedule_runs.c.due_at.desc())
        .limit(1)
    ).scalar_one_or_none()
    return None if found is None else int(found)


def check_webhook_url_shape(url: str | None) -> str | None:
    """An absolute http(s) URL, or None (the check without an address policy)."""
    if url is None or url.strip() == "":
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
        usable = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        usable = False
    if len(url) > MAX_URL_LENGTH or not usable:
        message = (
            f"webhook_url must be an absolute http:// or https:// URL of at most {MAX_URL_LENGTH} characters"
        )
        raise Invalid(message, [ErrorDetail("webhook_url", message)])
    return url
