"""One file response for every file the service sends (result files, media): streamed from an open
handle, with single byte ranges, ``ETag``, ``Last-Modified`` and ``If-Range``.

Not Starlette's ``FileResponse``, because that one answers an unknown range unit with 400 (RFC 9110
§14.2 says such a header MUST be ignored), answers range errors with plain-text bodies instead of
our envelopes, turns a file deleted between the check and the send into a 500, and needs a local
path. An open handle also keeps serving a file that expiry cleanup unlinks mid-transfer (POSIX keeps
the inode alive), and works for S3 objects (which get no validators: they have no ``fstat``).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import AsyncIterator, Callable
from email.utils import formatdate
from typing import BinaryIO

import anyio.to_thread
from fastapi import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from dlserve.api.errors import error_response
from dlserve.storage.content import content_disposition, content_type_for
from dlserve.storage.interfaces import Storage

RANGE_NOT_SATISFIABLE_MESSAGE = "The requested range is not satisfiable"

# Big enough that a large download isn't dominated by thread hand-offs, small enough per connection.
CHUNK_SIZE = 256 * 1024

# 30 digits is far beyond any file size, and bounds the work of parsing a hostile header.
_INT_RANGE = re.compile(r"([0-9]{1,30})-([0-9]{0,30})")
_SUFFIX_RANGE = re.compile(r"-([0-9]{1,30})")


def stored_file_response(
    request: Request, storage: Storage, key: str, filename: str, missing: Exception
) -> Response:
    """:func:`file_response` for the object ``key`` of ``storage``; raises ``missing`` when it is gone."""
    try:
        handle = storage.open_read(key)
    except FileNotFoundError:
        raise missing from None
    try:
        return file_response(request, handle, filename, lambda: storage.size(key))
    except BaseException:
        handle.close()
        raise


def file_response(
    request: Request, handle: BinaryIO, filename: str, stored_size: Callable[[], int]
) -> Response:
    """The response for ``request`` (GET or HEAD, maybe with Range) sending ``handle`` as
    ``filename``; it owns the handle from here and always closes it. ``stored_size`` is asked only
    when the handle cannot tell its own size (not a local file)."""
    # The bytes being sent, not a database record, decide lengths and ranges: a Content-Length that
    # disagrees with the body breaks the connection.
    stat = _stat_of(handle)
    size = stat.st_size if stat is not None else stored_size()
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Disposition": content_disposition(filename),
        # Customer data: browsers may keep it, shared caches must not; and never sniff a CSV as HTML.
        "Cache-Control": "private",
        "X-Content-Type-Options": "nosniff",
    }
    if stat is not None:
        headers.update(_validators(stat))

    byte_range: tuple[int, int] | None = None
    if _if_range_allows(request.headers.get("if-range"), headers):
        try:
            byte_range = parse_range(request.headers.get("range"), size)
        except RangeNotSatisfiableError:
            handle.close()
            return error_response(
                request,
                416,
                RANGE_NOT_SATISFIABLE_MESSAGE,
                headers={"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"},
            )

    status, start, end = 200, 0, size
    if byte_range is not None:
        status, (start, end) = 206, byte_range
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    headers["Content-Length"] = str(end - start)
    media_type = content_type_for(filename)

    if request.method == "HEAD":
        handle.close()
        return Response(status_code=status, headers=headers, media_type=media_type)
    return OpenFileResponse(handle, start, end - start, status, headers, media_type)


class RangeNotSatisfiableError(Exception):
    """The Range header asks only for bytes past the end of the file (416)."""


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The single byte range ``header`` asks for as ``(start, end_exclusive)``, or ``None`` to send
    the whole file.

    Headers we don't honour are ignored rather than rejected, as RFC 9110 §14.2 allows (and for an
    unknown unit, requires): other units, malformed or inverted ranges, and several ranges (nothing
    in our clients asks for multipart/byteranges). Raises ``RangeNotSatisfiableError`` when the
    range starts at or past the end of the file, or is the empty suffix ``-0``.
    """
    if header is None:
        return None
    unit, equals, specifier = header.partition("=")
    if not equals or unit.strip().lower() != "bytes":
        return None
    # Empty list elements are legal in HTTP lists (``bytes=0-1,``); they don't count as ranges.
    parts = [part.strip() for part in specifier.split(",") if part.strip()]
    if len(parts) != 1:
        return None
    part = parts[0]
    if suffix := _SUFFIX_RANGE.fullmatch(part):
        length = int(suffix[1])
        if length == 0:
            raise RangeNotSatisfiableError
        # An empty file has no last bytes to select; its whole (empty) body is the answer.
        return (max(size - length, 0), size) if size > 0 else None
    if bounded := _INT_RANGE.fullmatch(part):
        first = int(bounded[1])
        last = int(bounded[2]) if bounded[2] else None
        if last is not None and last < first:
            return None
        if first >= size:
            raise RangeNotSatisfiableError
        return first, size if last is None else min(last + 1, size)
    return None


def _stat_of(handle: BinaryIO) -> os.stat_result | None:
    """The open file's own metadata (not the path's, which may already name another file)."""
    try:
        return os.fstat(handle.fileno())
    except (AttributeError, OSError, ValueError):
        return None


def _validators(stat: os.stat_result) -> dict[str, str]:
    """ETag and Last-Modified, so browsers and download managers can resume with If-Range. The
    inode is part of the tag because a rewritten part file can have the same size and mtime."""
    identity = f"{stat.st_dev}:{stat.st_ino}:{stat.st_size}:{stat.st_mtime_ns}"
    etag = hashlib.sha256(identity.encode()).hexdigest()[:32]
    return {"ETag": f'"{etag}"', "Last-Modified": formatdate(stat.st_mtime, usegmt=True)}


def _if_range_allows(if_range: str | None, headers: dict[str, str]) -> bool:
    """RFC 9110 §13.1.5: honour Range only if the client's copy is still current (strong match)."""
    if if_range is None:
        return True
    if_range = if_range.strip()
    if if_range.startswith("W/"):
        return False
    if if_range.startswith('"'):
        return if_range == headers.get("ETag")
    return if_range == headers.get("Last-Modified")


class OpenFileResponse(StreamingResponse):
    """Streams ``length`` bytes from ``start`` of an open file, and always closes it (also when the
    client disconnects mid-transfer and Starlette cancels the stream)."""

    def __init__(
        self,
        handle: BinaryIO,
        start: int,
        length: int,
        status_code: int,
        headers: dict[str, str],
        media_type: str,
    ) -> None:
        super().__init__(_read_chunks(handle, start, length), status_code, headers, media_type)
        self._handle = handle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._handle.close()


async def _read_chunks(handle: BinaryIO, start: int, length: int) -> AsyncIterator[bytes]:
    if start:
        await anyio.to_thread.run_sync(handle.seek, start)
    remaining = length
    while remaining > 0:
        chunk = await anyio.to_thread.run_sync(handle.read, min(CHUNK_SIZE, remaining))
        if not chunk:
            # Content-Length is already sent; failing loudly makes the server drop the connection,
            # so the client sees a broken transfer instead of a silently short file.
            raise RuntimeError(f"file ended {remaining} bytes before its size")
        remaining -= len(chunk)
        yield chunk
