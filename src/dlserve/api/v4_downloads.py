"""v4 downloads: the seed's download object (``id`` a string, ``results: [{url}]``) plus extensions.

``GET /v4/downloads/{id}`` is what every client polls, so it is built to cost little: one query
(:mod:`dlserve.downloads.reads`), a weak ``ETag`` of the download's state with ``304 Not Modified``
for an ``If-None-Match`` that still holds, and long polling (``?wait=SECONDS``, see docs/api.md):
the answer comes when the state changes, or at the end of the wait, without holding a thread.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import anyio.to_thread
import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from dlserve.api.bodies import download_json, file_link
from dlserve.api.deps import BearerAccount, ServicesDep, bearer_account
from dlserve.api.links import public_base_url
from dlserve.api.params import MAX_INT64, parse_id
from dlserve.api.responses import AUTHED, NOT_FOUND, NOT_MODIFIED, QUERY, v4_errors
from dlserve.container import Services
from dlserve.downloads.long_poll import download_etag, etag_matches, page_etag, wait_for_change
from dlserve.downloads.models import Download
from dlserve.errors import ErrorDetail, Invalid, NotFound

router = APIRouter(prefix="/v4")


def download_body(request: Request, services: Services, download: Download) -> dict[str, Any]:
    """The download object (:func:`dlserve.api.bodies.download_json`), links on this request's URL."""
    link = file_link(services.storage, services.link_signer, public_base_url(request, services))
    return download_json(download, services.clock.now(), link)


def parse_download_id(raw: str) -> int:
    download_id = parse_id(raw)
    if download_id is None:
        raise NotFound(f"Download {raw[:40]} was not found")
    return download_id


@router.get("/downloads", responses={**v4_errors(AUTHED, QUERY), **NOT_MODIFIED})
async def list_downloads(
    request: Request,
    current: BearerAccount,
    limit: int = Query(default=100, ge=1, le=1000),
    offset: int = Query(default=0, ge=0, le=MAX_INT64),
) -> Response:
    """A page of the account's downloads, with a weak ``ETag`` of the page (its total, bounds and
    each download's state) and ``304`` for an ``If-None-Match`` that still holds."""
    services = services_of(request)
    page_of = partial(services.downloads.list, current, limit=limit, offset=offset)
    total, page = await anyio.to_thread.run_sync(page_of)
    etag = page_etag(total, limit, offset, page)
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers={"ETag": etag})
    body = {"num_found": total, "records": [download_body(request, services, d) for d in page]}
    return json_response(body, headers={"ETag": etag})


@router.get(
    "/downloads/{download_id}",
    responses={
        **v4_errors(AUTHED, NOT_FOUND, QUERY),
        **NOT_MODIFIED,
    },
    openapi_extra={
        "parameters": [
            {
                "name": "download_id",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "title": "Download Id"},
            },
            {
                "name": "wait",
                "in": "query",
                "required": False,
                "schema": {"type": "number", "minimum": 0, "default": 0},
                "description": "Long poll: answer as soon as the download's state changes (from the "
                "state If-None-Match names, else from the state now), or after this many seconds "
                "(at most DLSERVE_LONG_POLL_MAX_SECONDS).",
            },
        ]
    },
)
async def get_download(request: Request) -> Response:
    """The route every client polls. Its token, id and ``wait`` are read here rather than declared
    as FastAPI dependencies and parameters (they are declared in ``openapi_extra``): resolving
    those costs more than the rest of the request."""
    download_id: str = request.path_params["download_id"]
    current = await bearer_account(request)
    wait = parse_wait(request.query_params.get("wait"))
    services = services_of(request)
    wanted = parse_download_id(download_id)
    read = partial(services.downloads.get, current, wanted)
    if_none_match = request.headers.get("if-none-match")
    # A settled download polled before costs neither a query nor a worker thread.
    download = services.downloads.settled(current, wanted)
    if download is None:
        download = await anyio.to_thread.run_sync(read)
    etag = download_etag(download)
    if wait > 0 and (if_none_match is None or etag_matches(if_none_match, etag)):
        download = await wait_for_change(
            read,
            etag,
            services.changes,
            download.id,
            timeout=min(wait, services.settings.long_poll_max_seconds),
            recheck_seconds=services.settings.long_poll_recheck_seconds,
        )
        etag = download_etag(download)
    if etag_matches(if_none_match, etag):
        return Response(status_code=304, headers={"ETag": etag})
    return json_response(download_body(request, services, download), headers={"ETag": etag})


def parse_wait(raw: str | None) -> float:
    if raw is None or raw == "":
        return 0.0
    try:
        wait = float(raw)
    except ValueError:
        wait = -1.0
    if not wait >= 0 or wait == float("inf"):  # also NaN
        message = "wait must be a number of seconds, 0 or more"
        raise Invalid(message, details=[ErrorDetail("wait", message)])
    return wait


def services_of(request: Request) -> Services:
    """The services, for the polling routes: read directly, as each dependency FastAPI resolves
    costs every request (these are the most frequent ones)."""
    services: Services = request.app.state.services
    return services


def json_response(body: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    """JSON straight from orjson: these bodies hold only str/int/float/None, no model to validate."""
    return Response(
        orjson.dumps(body), status_code=status_code, headers=headers, media_type="application/json"
    )


@router.delete("/downloads/{download_id}", responses=v4_errors(AUTHED, NOT_FOUND, 409))
def cancel_download(download_id: str, current: BearerAccount, services: ServicesDep) -> dict[str, str]:
    download = services.downloads.cancel(current, parse_download_id(download_id))
    kept = len(download.record_files)
    return {
        "message": f"Download {download.id} was cancelled; {kept} finished file{'s' if kept != 1 else ''} "
        f"with {download.num_downloaded} records kept"
    }
