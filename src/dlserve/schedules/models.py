"""A schedule and its runs as the services see them.

A run's life::

    pending ──(download created, same transaction)──▶ started    (the download says the rest)
       └────(refused: credits, limits, the query)───▶ failed     (``reason`` says why)
       └────(the schedule was deleted first)────────▶ skipped
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa

from dlserve.db.rows import from_row


class RunStatus(StrEnum):
    PENDING = "pending"
    STARTED = "started"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class ScheduleRun:
    id: int
    schedule_id: int
    due_at: datetime
    status: RunStatus
    reason: str | None
    download_id: int | None
    download_status: str | None  # the download's own status, once there is one
    created_at: datetime

    @classmethod
    def from_row(cls, row: sa.RowMapping) -> ScheduleRun:
        return from_row(cls, row, status=RunStatus(row["status"]))


@dataclass(frozen=True)
class Schedule:
    id: int
    account_id: int
    data_type: str
    query: str
    format: str
    view: str | None
    every: str
    delta: bool
    webhook_url: str | None
    next_run_at: datetime
    created_at: datetime
    deleted_at: datetime | None
    runs: list[ScheduleRun] = field(default_factory=list)  # newest first; filled by ``get``
    num_runs: int = 0

    @classmethod
    def from_row(cls, row: sa.RowMapping) -> Schedule:
        return from_row(cls, row, delta=bool(row["delta"]))
