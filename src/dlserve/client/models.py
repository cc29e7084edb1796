"""What the SDK returns: small frozen dataclasses built from the server's JSON.

Each keeps the whole JSON object in ``raw`` so a field the server adds later is reachable before the
SDK names it. Fields the Datafiniti API itself does not send (dlserve's extensions) are optional.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

# Download statuses (v4): the seed's four, plus dlserve's ``failed``.
QUEUED, IN_PROGRESS, COMPLETED, CANCELLED, FAILED = (
    "queued",
    "in_progress",
    "completed",
    "cancelled",
    "failed",
)
DOWNLOAD_ENDED = frozenset({COMPLETED, CANCELLED, FAILED})
# Media download statuses.
MEDIA_PENDING, MEDIA_DOWNLOADING = "pending", "downloading"
MEDIA_ENDED = frozenset({COMPLETED, CANCELLED, FAILED})


@dataclass(frozen=True)
class SearchResult:
    """A search preview. ``records`` are dicts for JSON, CSV lines (the header first) for CSV."""

    num_found: int
    total_cost: int
    records: list[Any]

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> SearchResult:
        return cls(
            num_found=int(body.get("num_found") or 0),
            total_cost=int(body.get("total_cost") or 0),
            records=list(body.get("records") or []),
        )


@dataclass(frozen=True)
class Changes:
    """What a delta download ``since`` an earlier one would hold (a free count): ``num_found``
    records to deliver (one credit each) = ``num_added`` + ``num_changed``; ``num_deleted`` ids."""

    num_found: int
    num_added: int
    num_changed: int
    num_deleted: int
    num_matching: int  # every match of the query now

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Changes:
        return cls(
            num_found=int(body["num_found"]),
            num_added=int(body["num_added"]),
            num_changed=int(body["num_changed"]),
            num_deleted=int(body["num_deleted"]),
            num_matching=int(body.get("num_matching") or 0),
        )


@dataclass(frozen=True)
class Progress:
    """``done`` of ``total`` records; ``rate_per_s`` and ``eta_s`` once the server can tell."""

    done: int
    total: int
    rate_per_s: float | None = None
    eta_s: float | None = None


@dataclass(frozen=True)
class ResultFile:
    """One result file of a download. ``url`` is a signed link (no token needed or sent)."""

    url: str
    name: str
    records: int | None = None
    bytes: int | None = None
    sha256: str | None = None
    expires_at: datetime | None = None
    # ``records``, or ``deleted``: a delta download's list of deleted ids ({id}_deleted.txt/.csv).
    kind: str = "records"

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> ResultFile:
        url = str(body["url"])
        return cls(
            url=url,
            name=str(body.get("name") or _basename(url)),
            records=_int_or_none(body.get("records")),
            bytes=_int_or_none(body.get("bytes")),
            sha256=str(body["sha256"]).lower() if body.get("sha256") else None,
            expires_at=parse_datetime(body.get("expires_at")),
            kind=str(body.get("kind") or "records"),
        )


@dataclass(frozen=True)
class Download:
    """A bulk download (the v4 download object)."""

    id: str
    status: str
    num_records: int | None
    results: list[ResultFile]
    created_at: datetime | None
    progress: Progress
    updated_at: datetime | None = None
    num_downloaded: int | None = None
    num_found: int | None = None
    data_type: str | None = None
    query: str | None = None
    view: str | list[str] | None = None  # a view's name, or a field list
    format: str | None = None
    compress: str | None = None
    error: str | None = None
    webhook_url: str | None = None
    # A delta download (``since``): the download it is relative to, and what changed since.
    since: str | None = None
    num_added: int | None = None
    num_changed: int | None = None
    num_deleted: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def ended(self) -> bool:
        """``completed``, ``cancelled`` or ``failed``: nothing more will change."""
        return self.status in DOWNLOAD_ENDED

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Download:
        num_records = _int_or_none(body.get("num_records"))
        num_downloaded = _int_or_none(body.get("num_downloaded"))
        raw_progress = body.get("progress")
        if isinstance(raw_progress, dict):
            progress = Progress(
                done=int(raw_progress.get("done") or 0),
                total=int(raw_progress.get("total") or 0),
                rate_per_s=_float_or_none(raw_progress.get("rate_per_s")),
                eta_s=_float_or_none(raw_progress.get("eta_s")),
            )
        else:  # a server without dlserve's extensions
            progress = Progress(done=num_downloaded or 0, total=num_records or 0)
        return cls(
            id=str(body["id"]),
            status=str(body.get("status", "")),
            num_records=num_records,
            results=[ResultFile.from_json(r) for r in body.get("results") or []],
            created_at=parse_datetime(body.get("created_at")),
            progress=progress,
            updated_at=parse_datetime(body.get("updated_at")),
            num_downloaded=num_downloaded,
            num_found=_int_or_none(body.get("num_found")),
            data_type=_str_or_none(body.get("data_type")),
            query=_str_or_none(body.get("query")),
            view=_view_of(body.get("view")),
            format=_str_or_none(body.get("format")),
            compress=_str_or_none(body.get("compress")),
            error=_str_or_none(body.get("error")),
            webhook_url=_str_or_none(body.get("webhook_url")),
            since=_str_or_none(body.get("since")),
            num_added=_int_or_none(body.get("num_added")),
            num_changed=_int_or_none(body.get("num_changed")),
            num_deleted=_int_or_none(body.get("num_deleted")),
            raw=body,
        )

    @property
    def record_files(self) -> list[ResultFile]:
        """The result files holding records (a delta's list of deleted ids left out)."""
        return [r for r in self.results if r.kind != "deleted"]

    @property
    def deleted_files(self) -> list[ResultFile]:
        """A delta download's list of deleted ids (empty otherwise)."""
        return [r for r in self.results if r.kind == "deleted"]


@dataclass(frozen=True)
class Account:
    id: str
    email: str
    available_credits: int
    plan_id: str | None = None
    created_at: datetime | None = None
    webhook_secret: str | None = None  # whsec_...: verifies webhook deliveries (docs/sdk.md)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Account:
        return cls(
            id=str(body["id"]),
            email=str(body.get("email", "")),
            available_credits=int(body.get("available_credits") or 0),
            plan_id=_str_or_none(body.get("plan_id")),
            created_at=parse_datetime(body.get("created_at")),
            webhook_secret=_str_or_none(body.get("webhook_secret")),
            raw=body,
        )


@dataclass(frozen=True)
class MediaDownload:
    """A media download: ``progress`` is 0–100; status ``pending``, ``downloading``, ``completed``,
    ``failed`` or ``cancelled``."""

    id: str
    status: str
    url: str | None = None
    quality: str | None = None
    title: str | None = None
    progress: float = 0.0
    downloaded_bytes: int | None = None
    total_bytes: int | None = None
    speed: float | None = None
    eta: float | None = None
    filename: str | None = None
    error: str | None = None
    created_at: datetime | None = None
    webhook_url: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def ended(self) -> bool:
        return self.status in MEDIA_ENDED

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> MediaDownload:
        return cls(
            id=str(body["id"]),
            status=str(body.get("status", "")),
            url=_str_or_none(body.get("url")),
            quality=_str_or_none(body.get("quality")),
            title=_str_or_none(body.get("title")),
            progress=_float_or_none(body.get("progress")) or 0.0,
            downloaded_bytes=_int_or_none(body.get("downloaded_bytes")),
            total_bytes=_int_or_none(body.get("total_bytes")),
            speed=_float_or_none(body.get("speed")),
            eta=_float_or_none(body.get("eta")),
            filename=_str_or_none(body.get("filename")),
            error=_str_or_none(body.get("error")),
            created_at=parse_datetime(body.get("created_at")),
            webhook_url=_str_or_none(body.get("webhook_url")),
            raw=body,
        )


@dataclass(frozen=True)
class WebhookAttempt:
    """One POST of a webhook: ``status_code`` None when there was no answer (see ``error``)."""

    attempt: int
    attempted_at: datetime | None
    status_code: int | None
    error: str | None
    duration_ms: float

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> WebhookAttempt:
        return cls(
            attempt=int(body["attempt"]),
            attempted_at=parse_datetime(body.get("attempted_at")),
            status_code=_int_or_none(body.get("status_code")),
            error=_str_or_none(body.get("error")),
            duration_ms=float(body.get("duration_ms") or 0.0),
        )


@dataclass(frozen=True)
class WebhookDelivery:
    """A download's webhook event (``download.completed``...): ``status`` ``pending`` (an attempt
    is due at ``next_attempt_at``), ``delivered`` or ``failed``; ``webhook_id`` is the header every
    attempt carried."""

    webhook_id: str
    event: str
    url: str
    status: str
    attempts: list[WebhookAttempt]
    next_attempt_at: datetime | None = None
    created_at: datetime | None = None
    finished_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> WebhookDelivery:
        return cls(
            webhook_id=str(body["webhook_id"]),
            event=str(body.get("event", "")),
            url=str(body.get("url", "")),
            status=str(body.get("status", "")),
            attempts=[WebhookAttempt.from_json(a) for a in body.get("attempts") or []],
            next_attempt_at=parse_datetime(body.get("next_attempt_at")),
            created_at=parse_datetime(body.get("created_at")),
            finished_at=parse_datetime(body.get("finished_at")),
            raw=body,
        )


@dataclass(frozen=True)
class ScheduleRun:
    """One period of a schedule: ``status`` is ``pending``, ``started`` (``download_id`` is set and
    ``download_status`` follows it), ``failed`` (``reason`` says why, e.g. a short balance) or
    ``skipped``."""

    id: str
    due_at: datetime | None
    status: str
    reason: str | None = None
    download_id: str | None = None
    download_status: str | None = None
    created_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> ScheduleRun:
        return cls(
            id=str(body["id"]),
            due_at=parse_datetime(body.get("due_at")),
            status=str(body.get("status", "")),
            reason=_str_or_none(body.get("reason")),
            download_id=_str_or_none(body.get("download_id")),
            download_status=_str_or_none(body.get("download_status")),
            created_at=parse_datetime(body.get("created_at")),
            raw=body,
        )


@dataclass(frozen=True)
class Schedule:
    """A scheduled download: a download of ``query`` at each time of ``every`` (an interval such as
    ``1d`` or a cron expression, UTC). ``runs`` (newest first) come with ``get_schedule`` and
    ``create_schedule``, not with ``list_schedules``."""

    id: str
    data_type: str
    query: str
    every: str
    format: str | None = None
    view: str | list[str] | None = None  # a view's name, or a field list
    delta: bool = False
    webhook_url: str | None = None
    next_run_at: datetime | None = None
    created_at: datetime | None = None
    num_runs: int | None = None
    runs: list[ScheduleRun] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Schedule:
        return cls(
            id=str(body["id"]),
            data_type=str(body.get("data_type", "")),
            query=str(body.get("query", "")),
            every=str(body.get("every", "")),
            format=_str_or_none(body.get("format")),
            view=_view_of(body.get("view")),
            delta=bool(body.get("delta")),
            webhook_url=_str_or_none(body.get("webhook_url")),
            next_run_at=parse_datetime(body.get("next_run_at")),
            created_at=parse_datetime(body.get("created_at")),
            num_runs=_int_or_none(body.get("num_runs")),
            runs=[ScheduleRun.from_json(r) for r in body.get("runs") or []],
            raw=body,
        )


def parse_datetime(value: Any) -> datetime | None:
    """ISO 8601 (``2024-05-01T12:00:00Z``); ``None`` for anything else rather than an error."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _basename(url: str) -> str:
    return unquote(PurePosixPath(urlsplit(url).path).name)


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)


def _view_of(value: Any) -> str | list[str] | None:
    if isinstance(value, list):
        return [str(name) for name in value]
    return _str_or_none(value)


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)
