"""A download as the services see it: one row, its result files, and its state machine.

queued ──▶ in_progress ──▶ completed
   │            │  ╲
   └────────────┴──▶ cancelled        in_progress ──▶ failed (after the job's last attempt)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from dlserve.db.rows import from_row


class DownloadStatus(StrEnum):
    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"

    @property
    def is_active(self) -> bool:
        return self in (DownloadStatus.QUEUED, DownloadStatus.IN_PROGRESS)


ACTIVE_STATUSES = (DownloadStatus.QUEUED.value, DownloadStatus.IN_PROGRESS.value)


# A delta download's list of deleted ids is listed with its files as part 0: record files are
# numbered from 1, and part 0 is never charged (the ledger's rows are per record file).
DELETED_PART_NO = 0


@dataclass(frozen=True)
class DownloadFile:
    part_no: int
    name: str
    storage_key: str
    records: int
    bytes: int
    sha256: str
    created_at: datetime
    expires_at: datetime
    deleted_at: datetime | None
    id: int  # the download_files row: v3 shows it as the result's own id

    @property
    def kind(self) -> str:
        """``records``, or ``deleted`` for a delta download's list of deleted ids."""
        return "deleted" if self.part_no == DELETED_PART_NO else "records"

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> DownloadFile:
        return from_row(cls, row)


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    rate_per_s: float | None
    eta_s: float | None


@dataclass(frozen=True)
class Download:
    id: int
    account_id: int
    data_type: str
    query: str
    view: str | None
    format: str
    compress: str | None
    num_requested: int | None
    num_found: int | None
    num_records: int | None
    num_downloaded: int
    status: DownloadStatus
    error: str | None
    snapshot_id: int | None
    api_version: str
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    files: list[DownloadFile] = field(default_factory=list)
    webhook_url: str | None = None
    # Delta downloads only (None otherwise): the download this one is relative to, and the counts.
    since: int | None = None
    num_added: int | None = None
    num_changed: int | None = None
    num_deleted: int | None = None

    @property
    def is_delta(self) -> bool:
        return self.since is not None

    @property
    def record_files(self) -> list[DownloadFile]:
        """The files of records (what was delivered and charged), without a delta's deleted ids."""
        return [f for f in self.files if f.part_no != DELETED_PART_NO]

    @property
    def listed_files(self) -> list[DownloadFile]:
        """The files as results list them: the record files in order, then any deleted ids."""
        return self.record_files + [f for f in self.files if f.part_no == DELETED_PART_NO]

    @classmethod
    def from_row(cls, row: Mapping[Any, Any], files: list[DownloadFile]) -> Download:
        return from_row(cls, row, status=DownloadStatus(row["status"]), files=files)

    def progress(self, now: datetime) -> Progress:
        total = self.num_records or 0
        done = self.num_downloaded
        rate: float | None = None
        eta: float | None = None
        if self.started_at is not None and done > 0:
            end = self.completed_at or now
            elapsed = max((end - self.started_at).total_seconds(), 1e-3)
            rate = round(done / elapsed, 1)
            if self.status.is_active and rate > 0:
                eta = round(max(total - done, 0) / rate, 1)
        if not self.status.is_active:
            eta = 0.0 if self.status is DownloadStatus.COMPLETED else None
        return Progress(done, total, rate, eta)


def result_file_name(download_id: int, part_no: int, output_format: str, compress: str | None) -> str:
    """Datafiniti's names: ``{id}_{n}.csv`` for CSV, ``{id}_{n}.txt`` for JSON Lines (+ ``.gz``);
    ``{id}_{n}.parquet`` for Parquet (compressed inside, never gzip'd)."""
    extension = {"csv": "csv", "parquet": "parquet"}.get(output_format, "txt")
    return f"{download_id}_{part_no}.{extension}" + (".gz" if compress == "gzip" else "")


def deleted_file_name(download_id: int, output_format: str, compress: str | None) -> str:
    """A delta download's deleted ids: ``{id}_deleted.csv`` (CSV) or ``{id}_deleted.txt`` (JSON)."""
    extension = "csv" if output_format == "csv" else "txt"
    return f"{download_id}_deleted.{extension}" + (".gz" if compress == "gzip" else "")


def storage_key(download_id: int, name: str) -> str:
    return f"downloads/{download_id}/{name}"
