"""The media download API (seed 004): ``/api/download`` and ``/api/downloads``.

Errors are FastAPI's ``{"detail": "..."}`` (``api.errors`` gives every ``/api/`` path that
envelope). Access: with no ``Authorization`` header the API is open when the server is bound to a
loopback address (or ``DLSERVE_MEDIA_ANONYMOUS=true``); otherwise a Bearer token of an account is
required. A token, when sent, must be valid, and then the caller sees only that account's downloads.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from dlserve.api.bodies import media_json
from dlserve.api.deps import ServicesDep
from dlserve.api.errors import UNAUTHORIZED_MESSAGE
from dlserve.api.file_response import stored_file_response
from dlserve.api.responses import AUTHED, JSON_BODY, NOT_FOUND, media_errors, success
from dlserve.errors import NotFound, Unauthorized
from dlserve.media.service import FILE_MISSING_MESSAGE, MediaService
from dlserve.settings import Settings

router = APIRouter(prefix="/api", tags=["media"])


class DownloadRequest(BaseModel):
    url: str = Field(description="A page or media URL (http/https).")
    quality: str | None = Field(
        default="best", description="best, 2160p, 1440p, 1080p, 720p, 480p, 360p, 240p or audio."
    )
    webhook_url: str | None = Field(
        default=None, description="POSTed the download (signed) when it ends; needs a Bearer token."
    )


def media_caller(request: Request, services: ServicesDep) -> int | None:
    """The caller's account id, or None for an anonymous caller where that is allowed."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized(UNAUTHORIZED_MESSAGE)
        return services.authenticate(token.strip()).id
    if anonymous_allowed(services.settings):
        return None
    raise Unauthorized(UNAUTHORIZED_MESSAGE)


def anonymous_allowed(settings: Settings) -> bool:
    if settings.media_anonymous is not None:
        return settings.media_anonymous
    host = settings.host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


Caller = Annotated[int | None, Depends(media_caller)]


def _media(services: ServicesDep) -> MediaService:
    return services.media.service


Media = Annotated[MediaService, Depends(_media)]


wire = media_json  # one media download, as every route (and a webhook delivery) shows it


@router.post("/download", summary="Start a download", responses=media_errors(JSON_BODY, AUTHED))
def start_download(body: DownloadRequest, media: Media, caller: Caller) -> dict[str, str]:
    download = media.request(body.url, body.quality, caller, webhook_url=body.webhook_url)
    return {"download_id": download.id, "status": download.status.value}


@router.get("/downloads", summary="List downloads", responses=media_errors(AUTHED))
def list_downloads(media: Media, caller: Caller) -> list[dict[str, Any]]:
    return [wire(download) for download in media.list(caller)]


@router.get("/downloads/{download_id}", summary="One download", responses=media_errors(AUTHED, NOT_FOUND))
def get_download(download_id: str, media: Media, caller: Caller) -> dict[str, Any]:
    return wire(media.get(download_id, caller))


@router.post(
    "/downloads/{download_id}/cancel",
    summary="Cancel a download, keeping its entry",
    responses=media_errors(AUTHED, NOT_FOUND),
)
def cancel_download(download_id: str, media: Media, caller: Caller) -> dict[str, Any]:
    return wire(media.cancel(download_id, caller))


@router.delete(
    "/downloads/{download_id}/remove",
    summary="Cancel if running, delete the file and the entry",
    responses=media_errors(AUTHED, NOT_FOUND),
)
def remove_download(download_id: str, media: Media, caller: Caller) -> dict[str, str]:
    media.remove(download_id, caller)
    return {"message": "Descarga eliminada", "download_id": download_id}


# GET and HEAD as two routes (one api_route would give both operations one OpenAPI id).
_FILE_ROUTE: dict[str, Any] = dict(
    summary="Get File",
    response_class=Response,
    responses={
        **media_errors(AUTHED, NOT_FOUND, 416),
        **success(200, "The file", "application/octet-stream"),
        **success(206, "Part of the file (Range)", "application/octet-stream"),
    },
)


@router.get("/download/{download_id}/file", **_FILE_ROUTE)
@router.head("/download/{download_id}/file", **_FILE_ROUTE)
def get_file(
    request: Request, download_id: str, media: Media, services: ServicesDep, caller: Caller
) -> Response:
    found = media.file(download_id, caller)
    return stored_file_response(
        request, services.storage, found.storage_key, found.filename, NotFound(FILE_MISSING_MESSAGE)
    )
