"""v4 downloads: the seed's download object (``id`` a string, ``results: [{url}]``) plus extensions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request

from dlserve.api.deps import BearerAccount, ServicesDep
from dlserve.api.links import file_url
from dlserve.api.params import MAX_INT64, parse_id
from dlserve.api.responses import AUTHED, NOT_FOUND, QUERY, v4_errors
from dlserve.api.timefmt import iso_z
from dlserve.container import Services
from dlserve.downloads.models import Download
from dlserve.errors import NotFound

router = APIRouter(prefix="/v4")


def download_body(request: Request, services: Services, download: Download) -> dict[str, Any]:
    progress = download.progress(services.clock.now())
    return {
        "id": str(download.id),
        "status": download.status.value,
        "num_records": download.num_records,
        "results": [
            {
                "url": file_url(request, services, download.id, f),
                "name": f.name,
                "records": f.records,
                "bytes": f.bytes,
                "sha256": f.sha256,
                "expires_at": iso_z(f.expires_at),
            }
            for f in download.files
            if f.deleted_at is None
        ],
        "created_at": iso_z(download.created_at),
        "updated_at": iso_z(download.updated_at),
        "num_downloaded": download.num_downloaded,
        "num_found": download.num_found,
        "data_type": download.data_type,
        "query": download.query,
        "view": download.view,
        "format": download.format.upper(),
        "compress": download.compress,
        "error": download.error,
        "progress": {
            "done": progress.done,
            "total": progress.total,
            "rate_per_s": progress.rate_per_s,
            "eta_s": progress.eta_s,
        },
    }


def parse_download_id(raw: str) -> int:
    download_id = parse_id(raw)
    if download_id is None:
        raise NotFound(f"Download {raw[:40]} was not found")
    return download_id


@router.get("/downloads", responses=v4_errors(AUTHED, QUERY))
def list_downloads(
    request: Request,
    current: BearerAccount,
    services: ServicesDep,
    limit: int = Query(default=100, ge=1, le=1000),
    offset: int = Query(default=0, ge=0, le=MAX_INT64),
) -> dict[str, Any]:
    total, page = services.downloads.list(current, limit=limit, offset=offset)
    return {"num_found": total, "records": [download_body(request, services, d) for d in page]}


@router.get("/downloads/{download_id}", responses=v4_errors(AUTHED, NOT_FOUND))
def get_download(
    download_id: str, request: Request, current: BearerAccount, services: ServicesDep
) -> dict[str, Any]:
    return download_body(request, services, services.downloads.get(current, parse_download_id(download_id)))


@router.delete("/downloads/{download_id}", responses=v4_errors(AUTHED, NOT_FOUND, 409))
def cancel_download(download_id: str, current: BearerAccount, services: ServicesDep) -> dict[str, str]:
    download = services.downloads.cancel(current, parse_download_id(download_id))
    kept = len(download.files)
    return {
        "message": f"Download {download.id} was cancelled; {kept} finished file{'s' if kept != 1 else ''} "
        f"with {download.num_downloaded} records kept"
    }
