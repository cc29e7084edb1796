"""``GET``/``HEAD /v4/files/{download_id}/{name}``: result files behind signed, expiring links.

No ``Authorization`` header: the link's signature is the credential (see ``dlserve.storage.links``).
The router depends on a :class:`FileSource` (the link signer, the clock, the storage and a resolver
from ``(download_id, name)`` to a ``ResolvedFile``), built from the services like every other
router's dependencies, so it knows nothing about downloads. The response is
:func:`~dlserve.api.file_response.file_response`, shared with the media API.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from dlserve.api.deps import ServicesDep
from dlserve.api.file_response import stored_file_response
from dlserve.api.responses import success, v4_errors
from dlserve.clock import Clock
from dlserve.errors import Gone, NotFound
from dlserve.storage.interfaces import FileResolver, Storage
from dlserve.storage.links import LinkSigner, file_link_path

router = APIRouter()

FILE_NOT_FOUND_MESSAGE = "This file does not exist"
FILE_REMOVED_MESSAGE = "This file has expired and was removed"


@dataclass(frozen=True)
class FileSource:
    """What serving a result file needs (tests override :func:`file_source` with their own)."""

    signer: LinkSigner
    clock: Clock
    storage: Storage
    resolve: FileResolver


def file_source(services: ServicesDep) -> FileSource:
    return FileSource(services.link_signer, services.clock, services.storage, services.downloads.resolve_file)


FileSourceDep = Annotated[FileSource, Depends(file_source)]


# GET and HEAD as two routes (one api_route would give both operations one OpenAPI id).
_FILE_ROUTE: dict[str, Any] = dict(
    summary="Fetch a result file",
    response_class=Response,
    responses={
        **v4_errors(403, 404, 410, 416),
        **success(200, "The file", "application/octet-stream"),
        **success(206, "Part of the file (Range)", "application/octet-stream"),
    },
)


@router.get("/v4/files/{download_id}/{name}", **_FILE_ROUTE)
@router.head("/v4/files/{download_id}/{name}", **_FILE_ROUTE)
def get_file(
    request: Request,
    download_id: str,
    name: str,
    source: FileSourceDep,
    expires: Annotated[str | None, Query()] = None,
    signature: Annotated[str | None, Query()] = None,
) -> Response:
    source.signer.verify(file_link_path(download_id, name), expires, signature, source.clock.now())
    resolved = source.resolve(download_id, name)
    if resolved is None:
        raise NotFound(FILE_NOT_FOUND_MESSAGE)
    return stored_file_response(
        request, source.storage, resolved.storage_key, resolved.filename, Gone(FILE_REMOVED_MESSAGE)
    )
