"""The JSON bodies of a v4 download and of a media download, apart from any request.

The routes answer with these, and webhook deliveries (:mod:`dlserve.webhooks`) POST exactly the same
bodies, so a receiver can parse a delivery with the code that parses ``GET /v4/downloads/{id}``.
Nothing here imports FastAPI: a worker process renders them too. A file's link comes from the
caller (``link``), since only it knows the public base URL (a request's, or the configured one).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from dlserve.api.timefmt import iso_z
from dlserve.downloads.models import Download, DownloadFile
from dlserve.media.models import MediaDownload
from dlserve.records.field_lists import v4_view
from dlserve.storage.interfaces import Storage
from dlserve.storage.links import LinkSigner, file_link_path

FileLink = Callable[[int, DownloadFile], str]


def file_link(storage: Storage, signer: LinkSigner, base_url: str) -> FileLink:
    """Links to result files: the storage's presigned URL (S3), else one signed by this app."""

    def link(download_id: int, file: DownloadFile) -> str:
        presigned = storage.presigned_url(file.storage_key, file.expires_at, file.name)
        if presigned:
            return presigned
        return signer.signed_url(base_url, file_link_path(download_id, file.name), file.expires_at)

    return link


def download_json(download: Download, now: datetime, link: FileLink) -> dict[str, Any]:
    """``GET /v4/downloads/{id}``: the seed's download object (``id`` a string) plus extensions."""
    progress = download.progress(now)
    return {
        "id": str(download.id),
        "status": download.status.value,
        "num_records": download.num_records,
        "results": [
            {
                "url": link(download.id, f),
                "name": f.name,
                "records": f.records,
                "bytes": f.bytes,
                "sha256": f.sha256,
                "expires_at": iso_z(f.expires_at),
                "kind": f.kind,  # records, or deleted: a delta download's deleted ids
            }
            for f in download.listed_files
            if f.deleted_at is None
        ],
        "created_at": iso_z(download.created_at),
        "updated_at": iso_z(download.updated_at),
        "num_downloaded": download.num_downloaded,
        "num_found": download.num_found,
        "data_type": download.data_type,
        "query": download.query,
        "view": v4_view(download.view),  # a view's name, or the field list as an array
        "format": download.format.upper(),
        "compress": download.compress,
        "error": download.error,
        "webhook_url": download.webhook_url,
        "progress": {
            "done": progress.done,
            "total": progress.total,
            "rate_per_s": progress.rate_per_s,
            "eta_s": progress.eta_s,
        },
        "since": None if download.since is None else str(download.since),
        "num_added": download.num_added,
        "num_changed": download.num_changed,
        "num_deleted": download.num_deleted,
    }


def media_json(download: MediaDownload) -> dict[str, Any]:
    """``GET /api/downloads/{id}``: one media download."""
    return {
        "id": download.id,
        "url": download.url,
        "quality": download.quality,
        "status": download.status.value,
        "title": download.title,
        "progress": round(download.progress, 1),
        "downloaded_bytes": download.downloaded_bytes,
        "total_bytes": download.total_bytes,
        "speed": download.speed,
        "eta": download.eta,
        "filename": download.filename,
        "filesize": download.file_bytes,
        "width": download.width,
        "height": download.height,
        "duration": download.duration,
        "error": download.error,
        "webhook_url": download.webhook_url,
        "created_at": iso_z(download.created_at),
        "updated_at": iso_z(download.updated_at),
        "completed_at": iso_z(download.completed_at),
    }
