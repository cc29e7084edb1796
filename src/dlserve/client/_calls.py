"""Every API call as data — method, path, body, and how to read the answer — so the sync and the
async client share it all and differ only in how they send (httpx's "sans-I/O" split)."""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx

from dlserve.client.errors import DlserveError
from dlserve.client.models import (
    Account,
    Changes,
    Download,
    MediaDownload,
    Schedule,
    SearchResult,
    WebhookDelivery,
)

T = TypeVar("T")

Record = dict[str, Any]


@dataclass(frozen=True)
class Call(Generic[T]):
    method: str
    path: str
    parse: Callable[[Any], T]
    json: dict[str, Any] | None = None
    params: dict[str, str | int] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    extra_read_timeout: float = 0.0  # a long poll may keep the answer back this long

    def build(self, http: httpx.Client | httpx.AsyncClient) -> httpx.Request:
        request = http.build_request(
            self.method, self.path, json=self.json, params=self.params or None, headers=self.headers or None
        )
        if self.extra_read_timeout:
            timeout = http.timeout
            read = None if timeout.read is None else timeout.read + self.extra_read_timeout
            request.extensions["timeout"] = httpx.Timeout(timeout).as_dict() | {"read": read}
        return request

    def read(self, response: httpx.Response) -> T:
        """The parsed answer of a 2xx ``response``; a body of an unexpected shape is an error."""
        try:
            return self.parse(response.json() if response.content else None)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise DlserveError(
                f"unexpected answer to {self.method} {self.path}: {exc!r}",
                status_code=response.status_code,
                response=response,
            ) from exc


def _segment(value: str) -> str:
    return quote(str(value), safe="")


def _without_none(**values: Any) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


# -- v4 ---------------------------------------------------------------------------------------------


def login(email: str, password: str) -> Call[str]:
    return Call("POST", "/v4/auth", lambda body: str(body["token"]), {"email": email, "password": password})


def account() -> Call[Account]:
    return Call("GET", "/v4/account", Account.from_json)


ViewParam = str | list[str] | None


def view_of(view: str | None, fields: Sequence[str] | None) -> ViewParam:
    """The ``view`` a request sends: a view's name, or a field list (sent as a JSON array)."""
    if fields is None:
        return view
    if view is not None:
        raise ValueError("give a view or fields, not both")
    if isinstance(fields, str):  # "id,name" would otherwise become ["i", "d", ...]
        return [name.strip() for name in fields.split(",")]
    return list(fields)


def search(
    data_type: str, query: str, num_records: int | None, view: ViewParam, format: str
) -> Call[SearchResult]:
    body = _without_none(query=query, num_records=num_records, format=format, view=view)
    return Call("POST", f"/v4/{_segment(data_type)}/search", SearchResult.from_json, body)


def count(data_type: str, query: str) -> Call[int]:
    body = {"query": query, "num_records": 0}
    return Call("POST", f"/v4/{_segment(data_type)}/search", lambda b: int(b["num_found"]), body)


def count_changes(data_type: str, query: str, since: str) -> Call[Changes]:
    body = {"query": query, "num_records": 0, "since": since}
    return Call("POST", f"/v4/{_segment(data_type)}/search", Changes.from_json, body)


def paginate_page(
    data_type: str, query: str, page: int, limit: int, view: ViewParam, format: str
) -> Call[list[Record]]:
    body = _without_none(query=query, format=format, view=view)
    return Call(
        "POST",
        f"/v4/{_segment(data_type)}/paginate",
        lambda b: page_records(b["records"]),
        body,
        {"page": page, "limit": limit},
    )


def page_records(records: list[Any]) -> list[Record]:
    """A page's records as dicts: JSON objects as they are, CSV lines (header first) as rows keyed
    by the header's column names."""
    if not records or isinstance(records[0], dict):
        return list(records)
    header, *rows = list(csv.reader(str(line) for line in records))
    return [dict(zip(header, row, strict=False)) for row in rows]


def get_record(data_type: str, record_id: str, view: ViewParam) -> Call[Record]:
    # A query parameter: a field list travels comma-separated, as the server reads a view string.
    spelled = ",".join(view) if isinstance(view, list) else view
    params: dict[str, str | int] = {"view": spelled} if spelled else {}
    return Call("GET", f"/v4/{_segment(data_type)}/{_segment(record_id)}", dict, params=params)


def create_download(
    data_type: str,
    query: str,
    num_records: int | None,
    format: str,
    view: ViewParam,
    compress: str | None,
    webhook_url: str | None = None,
    since: str | None = None,
) -> Call[Download]:
    body = _without_none(
        query=query,
        num_records=num_records,
        format=format,
        view=view,
        compress=compress,
        webhook_url=webhook_url,
        since=since,
        download=True,
    )
    return Call("POST", f"/v4/{_segment(data_type)}/search", Download.from_json, body)


def get_download(download_id: str) -> Call[Download]:
    return Call("GET", f"/v4/downloads/{_segment(download_id)}", Download.from_json)


@dataclass(frozen=True)
class Polled:
    """One conditional poll of a download: ``download`` is None when it had not changed (304).
    ``etag`` is the state's ETag, to send back as ``If-None-Match``; None from a server without
    conditional requests (then ``wait`` was not honoured either)."""

    download: Download | None
    etag: str | None


def poll_download(download_id: str, etag: str | None, wait: float | None) -> Call[Download]:
    """``GET /v4/downloads/{id}`` with ``If-None-Match: etag`` and, given ``wait``, as a long poll."""
    params: dict[str, str | int] = {"wait": f"{wait:g}"} if wait else {}
    return Call(
        "GET",
        f"/v4/downloads/{_segment(download_id)}",
        Download.from_json,
        params=params,
        headers={"If-None-Match": etag} if etag else {},
        extra_read_timeout=wait or 0.0,
    )


def list_downloads(limit: int, offset: int) -> Call[list[Download]]:
    return Call(
        "GET",
        "/v4/downloads",
        lambda b: [Download.from_json(d) for d in b["records"]],
        params={"limit": limit, "offset": offset},
    )


def download_webhooks(download_id: str) -> Call[list[WebhookDelivery]]:
    return Call("GET", f"/v4/downloads/{_segment(download_id)}/webhooks", _deliveries)


def rotate_webhook_secret() -> Call[str]:
    return Call("POST", "/v4/account/webhook-secret", lambda b: str(b["webhook_secret"]))


def _deliveries(body: dict[str, Any]) -> list[WebhookDelivery]:
    return [WebhookDelivery.from_json(d) for d in body["deliveries"]]


def cancel_download(download_id: str) -> Call[str]:
    return Call(
        "DELETE", f"/v4/downloads/{_segment(download_id)}", lambda b: str((b or {}).get("message", ""))
    )


# -- scheduled downloads ----------------------------------------------------------------------------


def create_schedule(
    data_type: str,
    query: str,
    every: str,
    format: str,
    view: ViewParam,
    delta: bool,
    webhook_url: str | None,
) -> Call[Schedule]:
    body = _without_none(
        data_type=data_type,
        query=query,
        every=every,
        format=format,
        view=view,
        delta=delta,
        webhook_url=webhook_url,
    )
    return Call("POST", "/v4/schedules", Schedule.from_json, body)


def list_schedules() -> Call[list[Schedule]]:
    return Call("GET", "/v4/schedules", lambda b: [Schedule.from_json(s) for s in b["records"]])


def get_schedule(schedule_id: str) -> Call[Schedule]:
    return Call("GET", f"/v4/schedules/{_segment(schedule_id)}", Schedule.from_json)


def delete_schedule(schedule_id: str) -> Call[str]:
    return Call(
        "DELETE", f"/v4/schedules/{_segment(schedule_id)}", lambda b: str((b or {}).get("message", ""))
    )


def schedule_latest(schedule_id: str) -> Call[None]:
    """Answered ``303`` with ``Location: /v4/downloads/{id}`` (the client reads it itself)."""
    return Call("GET", f"/v4/schedules/{_segment(schedule_id)}/latest", lambda _body: None)


def download_at(location: str) -> Call[Download]:
    """The download a ``Location`` names (a path on the server, or an absolute URL)."""
    return Call("GET", location, Download.from_json)


# -- media API (seed 004) ---------------------------------------------------------------------------


def media_download(url: str, quality: str, webhook_url: str | None = None) -> Call[str]:
    body = _without_none(url=url, quality=quality, webhook_url=webhook_url)
    return Call("POST", "/api/download", lambda b: str(b["download_id"]), body)


def media_webhooks(media_id: str) -> Call[list[WebhookDelivery]]:
    return Call("GET", f"/api/downloads/{_segment(media_id)}/webhooks", _deliveries)


def media_list() -> Call[list[MediaDownload]]:
    return Call("GET", "/api/downloads", lambda b: [MediaDownload.from_json(d) for d in b])


def media_get(media_id: str) -> Call[MediaDownload]:
    return Call("GET", f"/api/downloads/{_segment(media_id)}", MediaDownload.from_json)


def media_remove(media_id: str) -> Call[None]:
    return Call("DELETE", f"/api/downloads/{_segment(media_id)}/remove", lambda _body: None)


def media_file_path(media_id: str) -> str:
    return f"/api/download/{_segment(media_id)}/file"
