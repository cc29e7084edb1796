"""Datafiniti v3 wire format: the same accounts, records and downloads as v4, spelled the v3 way.

Nothing is decided here. Searches go through :mod:`dlserve.catalog`, downloads through
:class:`~dlserve.downloads.services.DownloadService` (a v3 download *is* a v4 download, marked
``api_version="v3"``); this module only reads v3's parameters and writes v3's objects:

- auth is HTTP Basic with the API token as the username (the password is ignored; v3 leaves it empty);
- a download's ``id`` is the v4 id as an integer; its status is ``STARTED`` while queued or running and
  ``COMPLETED`` once it ended, however it ended: a cancelled or failed download says why in ``error``;
- dates are ``2017-1-11 15:52:42`` (UTC), see :func:`~dlserve.api.timefmt.v3_date`.

See ``docs/api-v3.md`` for the v3 ↔ v4 mapping.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from dlserve.accounts.services import Account
from dlserve.api.deps import ServicesDep
from dlserve.api.errors import NOT_FOUND_MESSAGE, UNAUTHORIZED_MESSAGE
from dlserve.api.links import file_url
from dlserve.api.params import parse_count, parse_id
from dlserve.api.responses import AUTHED, NOT_FOUND, PAID, QUERY, success, v3_errors
from dlserve.api.timefmt import v3_date
from dlserve.api.v4_downloads import json_response
from dlserve.catalog.services import prepare
from dlserve.container import Services
from dlserve.downloads.models import Download, DownloadStatus
from dlserve.errors import DlserveError, ErrorDetail, Invalid, NotFound, Unauthorized
from dlserve.limits.admission import require_heavy_pool
from dlserve.limits.query_cost import check_query_length
from dlserve.records.field_lists import v3_view

router = APIRouter(prefix="/v3", tags=["v3"])

STARTED = "STARTED"
COMPLETED = "COMPLETED"
# The service layer names parameters the v4 way; v3 users know them by these names.
V3_PARAMETER_NAMES = {"num_records": "records", "query": "q"}
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"", "false", "0", "no"})
# GET /v3/requests pages: the seed shows a bare array, so the default page is that array's first
# (newest) requests; the rest are one ?page= away (Link header).
REQUESTS_PER_PAGE = 100
MAX_REQUESTS_PER_PAGE = 1000


async def basic_account(request: Request, services: ServicesDep) -> Account:
    """v3 auth: ``Authorization: Basic base64(TOKEN:)`` (``curl --user TOKEN:``, ``https://TOKEN:@host``)."""
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        raise Unauthorized(UNAUTHORIZED_MESSAGE)
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthorized(UNAUTHORIZED_MESSAGE) from None
    token, _, _password = decoded.partition(":")
    try:
        return await services.authenticate_async(token.strip())
    except Unauthorized:
        # One answer for every failure, exactly the seed's: a wrong token reveals nothing more.
        raise Unauthorized(UNAUTHORIZED_MESSAGE) from None


BasicAccount = Annotated[Account, Depends(basic_account)]


# -- the v3 objects -------------------------------------------------------------------------------


def request_body(download: Download, account: Account) -> dict[str, Any]:
    """Seed 002's request object, fields in the seed's order."""
    num_found = download.num_found or 0
    started = v3_date(download.created_at)
    return {
        "id": download.id,
        "records": "" if download.num_requested is None else str(download.num_requested),
        "query": download.query,
        "dataType": download.data_type,
        "dataFormat": download.format.lower(),
        "accountId": str(download.account_id),
        "planId": account.plan_id,
        "view": v3_view(download.view, download.data_type),
        "async": 1,
        "status": v3_status(download),
        "error": request_error(download),
        "numDownloaded": download.num_downloaded,
        "numFound": num_found,
        "numRequested": num_found if download.num_requested is None else download.num_requested,
        "date_started": started,
        # The seed: "May match date_started if still in progress".
        "date_completed": v3_date(download.completed_at) if download.completed_at else started,
        # A delta download (since=, see docs/api-v3.md) also says what it is relative to.
        **(
            {
                "since": download.since,
                "numAdded": download.num_added,
                "numChanged": download.num_changed,
                "numDeleted": download.num_deleted,
            }
            if download.is_delta
            else {}
        ),
    }


def v3_status(download: Download) -> str:
    """v3 knows two states: anything no longer running is COMPLETED; ``error`` tells how it ended."""
    return STARTED if download.status.is_active else COMPLETED


def request_error(download: Download) -> str:
    if download.status is DownloadStatus.CANCELLED:
        kept = len(download.record_files)
        return (
            f"cancelled by the user; the {kept} file{'s' if kept != 1 else ''} finished before the "
            f"cancel ({download.num_downloaded} records) are in the results"
        )
    if download.status is DownloadStatus.FAILED:
        return f"the download failed: {download.error or 'unknown error'}"
    return download.error or ""


def results_body(request: Request, services: Services, download: Download) -> list[dict[str, Any]]:
    """Seed 001's result objects: one per result file still available."""
    return [
        {
            "id": f.id,
            "url": file_url(request, services, download.id, f),
            "request_id": download.id,
            "downloaded": f.records,
            "imported": f.records,
            "date_created": v3_date(f.created_at),
            **({"kind": f.kind} if download.is_delta else {}),
        }
        for f in download.listed_files
        if f.deleted_at is None
    ]


# -- routes ---------------------------------------------------------------------------------------


@router.get(
    "/data/{data_type}",
    summary="Preview a search, or start a download (download=true)",
    responses={
        # 503: the query timeout; 410: a delta's base (since) was made from data no longer kept
        **v3_errors(AUTHED, QUERY, NOT_FOUND, PAID, 410, 503),
        **success(303, "The download was queued; Location names its request"),
    },
)
async def data(
    data_type: str,
    current: BasicAccount,
    services: ServicesDep,
    q: str | None = Query(default=None, description="The query"),
    view: str | None = Query(
        default=None,
        description="A view (v3 or v4 spelling), or a comma-separated field list (id,name,reviews.rating)",
    ),
    output_format: str | None = Query(default=None, alias="format", description="json or csv"),
    records: str | None = Query(default=None, description="How many records (preview: default 10)"),
    download: str | None = Query(default=None, description="true: start a download, answer 303"),
    webhook_url: str | None = Query(
        default=None, description="With download=true: POSTed the download (signed) when it ends"
    ),
    since: str | None = Query(
        default=None, description="A delta: only what changed since this earlier request (its id)"
    ),
) -> Response:
    def run() -> Response:  # on the interactive pool, or the heavy one (see dlserve.limits.admission)
        wanted = _parse_records(records)
        since_id = _parse_since(since)
        prepared = prepare(data_type, q, view, output_format, services.query_limits)
        if _parse_download(download):
            require_heavy_pool()
            created = services.downloads.create(
                current, prepared, wanted, api_version="v3", webhook_url=webhook_url, since=since_id
            )
            return JSONResponse(
                request_body(created, current),
                status_code=303,
                headers={"Location": f"/v3/requests/{created.id}"},
            )
        if since_id is not None:  # a free count of what the delta would deliver
            if wanted not in (None, 0):
                raise Invalid("with since, a search only counts (records=0); download=true delivers them")
            require_heavy_pool()  # two scans in DuckDB, never an index read
            matching, changes = services.downloads.delta_count(current, prepared, since_id)
            return JSONResponse(
                {
                    "estimated total": changes.delivered,
                    "records": [],
                    "since": since_id,
                    "numMatching": matching,
                    "numAdded": changes.added,
                    "numChanged": changes.changed,
                    "numDeleted": changes.deleted,
                }
            )
        preview = services.catalog.preview(current, prepared, wanted)
        return json_response({"estimated total": preview.num_found, "records": preview.records})

    with v3_messages():
        check_query_length(q or "", services.query_limits)
        return await services.admission.run_interactive(current.id, run)


@router.get(
    "/requests",
    summary="The account's download requests, newest first, a page at a time",
    responses=v3_errors(AUTHED, QUERY),
)
def list_requests(
    request: Request,
    response: Response,
    current: BasicAccount,
    services: ServicesDep,
    page: int = Query(default=1, ge=1, le=1_000_000, description="Page number, from 1"),
    per_page: int = Query(
        default=REQUESTS_PER_PAGE, ge=1, le=MAX_REQUESTS_PER_PAGE, description="Requests per page"
    ),
) -> list[dict[str, Any]]:
    """Still the seed's bare array; the total and the next page travel in headers (docs/api-v3.md)."""
    total, downloads = services.downloads.list(current, limit=per_page, offset=(page - 1) * per_page)
    response.headers["X-Total-Count"] = str(total)
    if page * per_page < total:
        next_url = request.url.include_query_params(page=page + 1, per_page=per_page)
        response.headers["Link"] = f'<{next_url.path}?{next_url.query}>; rel="next"'
    return [request_body(download, current) for download in downloads]


@router.get("/requests/{request_id}", summary="One download request", responses=v3_errors(AUTHED, NOT_FOUND))
def get_request(request_id: str, current: BasicAccount, services: ServicesDep) -> dict[str, Any]:
    return request_body(_own_download(services, current, request_id), current)


@router.get(
    "/results/{request_id}",
    summary="The result files of a COMPLETED request",
    responses=v3_errors(AUTHED, NOT_FOUND),
)
def get_results(
    request_id: str, request: Request, current: BasicAccount, services: ServicesDep
) -> list[dict[str, Any]]:
    download = _own_download(services, current, request_id)
    if v3_status(download) != COMPLETED:
        raise NotFound(NOT_FOUND_MESSAGE)  # the seed: results don't exist until COMPLETED
    return results_body(request, services, download)


# -- helpers --------------------------------------------------------------------------------------


def _own_download(services: Services, account: Account, raw_id: str) -> Download:
    """The account's download, or the seed's 404 (unknown, foreign and malformed ids alike)."""
    download_id = parse_id(raw_id)
    if download_id is None:
        raise NotFound(NOT_FOUND_MESSAGE)
    try:
        return services.downloads.get(account, download_id)
    except NotFound:
        raise NotFound(NOT_FOUND_MESSAGE) from None


def _parse_records(raw: str | None) -> int | None:
    if raw is None or raw.strip() == "":
        return None
    return parse_count(raw, "records")


def _parse_since(raw: str | None) -> int | None:
    if raw is None or raw.strip() == "":
        return None
    since = parse_id(raw.strip())
    if since is None:
        raise Invalid("since must be the id of one of your requests", [ErrorDetail("since", "not an id")])
    return since


def _parse_download(raw: str | None) -> bool:
    value = (raw or "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise Invalid(f"download must be true or false, not '{raw}'")


@contextmanager
def v3_messages() -> Iterator[None]:
    """v3's error body has no ``details``: fold them into the message, with v3's parameter names."""
    try:
        yield
    except DlserveError as error:
        extra = [d for d in error.details if d.message != error.message]
        error.message = _v3_words(error.message)
        if extra:
            error.message += " (" + "; ".join(_v3_detail(d) for d in extra) + ")"
        raise


def _v3_detail(detail: ErrorDetail) -> str:
    return f"{V3_PARAMETER_NAMES.get(detail.field, detail.field)}: {_v3_words(detail.message)}"


def _v3_words(text: str) -> str:
    return text.replace("num_records", "records").replace("download: true", "download=true")
