"""Deliveries and attempts as the services see them, and the retry schedule."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

JOB_KIND = "webhook"  # one job per attempt; its subject id is the delivery's id
JOB_MAX_ATTEMPTS = 5  # the *job's* budget, for workers that die mid-attempt (not HTTP failures)


class SubjectType(StrEnum):
    DOWNLOAD = "download"
    MEDIA = "media"


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # an attempt is queued (now or after a backoff)
    DELIVERED = "delivered"  # a 2xx answer
    FAILED = "failed"  # retried for the whole retry period without success, or nothing to send


@dataclass(frozen=True)
class Attempt:
    attempt: int
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: float


@dataclass(frozen=True)
class Delivery:
    id: str  # the webhook-id header
    account_id: int
    subject_type: SubjectType
    subject_id: str
    event: str
    url: str
    status: DeliveryStatus
    attempts: int
    payload: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    finished_at: datetime | None
    history: tuple[Attempt, ...] = ()


@dataclass(frozen=True)
class RetrySchedule:
    """Exponential backoff: ``base * 2^(n-1)`` after the n-th failure, capped at ``max_delay``;
    attempts go on until ``retry_for`` has passed since the event, then the delivery fails."""

    base: timedelta = timedelta(seconds=10)
    max_delay: timedelta = timedelta(hours=1)
    retry_for: timedelta = timedelta(hours=24)

    def delay(self, failed_attempts: int) -> timedelta:
        seconds = self.base.total_seconds() * 2.0 ** max(0, failed_attempts - 1)
        return min(self.max_delay, timedelta(seconds=seconds))

    def next_attempt(self, created_at: datetime, failed_attempts: int, now: datetime) -> datetime | None:
        """When to try again after ``failed_attempts`` failures, or None: give up (the retry
        period is over; the last attempt was made after it ended, so retries span all of it)."""
        if now - created_at >= self.retry_for:
            return None
        return now + self.delay(failed_attempts)
