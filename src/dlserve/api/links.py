"""Absolute, signed (or presigned) URLs for result files, as the routers hand them out."""

from __future__ import annotations

from fastapi import Request

from dlserve.container import Services
from dlserve.downloads.models import DownloadFile
from dlserve.storage.links import file_link_path


def public_base_url(request: Request, services: Services) -> str:
    """The configured public URL, else the URL this request came in on."""
    if services.settings.public_url:
        return services.settings.public_url.rstrip("/")
    return str(request.base_url).rstrip("/")


def file_url(request: Request, services: Services, download_id: int, file: DownloadFile) -> str:
    presigned = services.storage.presigned_url(file.storage_key, file.expires_at, file.name)
    if presigned:
        return presigned
    path = file_link_path(download_id, file.name)
    return services.link_signer.signed_url(public_base_url(request, services), path, file.expires_at)
