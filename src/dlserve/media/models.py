"""The media download as the services see it, and its statuses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import RowMapping

JOB_KIND = "media"


class MediaStatus(StrEnum):
    PENDING = "pending"
    DOWNLOADING = "downloading"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


ACTIVE_STATUSES = (MediaStatus.PENDING.value, MediaStatus.DOWNLOADING.value)


def storage_prefix(download_id: str) -> str:
    """Where a download's files live in storage: ``media/<id>/`` (one key per attempt)."""
    return f"media/{download_id}/"


@dataclass(frozen=True)
class MediaDownload:
    id: str
    account_id: int | None
    job_id: int | None
    url: str
    quality: str
    status: MediaStatus
    title: str | None
    progress: float
    downloaded_bytes: int
    total_bytes: int | None
    speed: float | None
    eta: int | None
    filename: str | None
    storage_key: str | None
    file_bytes: int | None
    width: int | None
    height: int | None
    duration: float | None
    error: str | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    webhook_url: str | None = None

    @classmethod
    def from_row(cls, row: RowMapping) -> MediaDownload:
        values: dict[str, Any] = dict(row)
        values["status"] = MediaStatus(values["status"])
        return cls(**values)

    @property
    def is_active(self) -> bool:
        return self.status.value in ACTIVE_STATUSES
