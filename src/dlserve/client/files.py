"""The local side of fetching files: where a file goes, what is already there, and checking it.

No network here; ``Client`` and ``AsyncClient`` drive the transfers. A result file is written under
its final name and judged by the server's listing (``bytes``, ``sha256``): a shorter file is a partial
one to resume with ``Range: bytes=<size>-``, a file of the right size and hash is complete.
"""

from __future__ import annotations

import codecs
import hashlib
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO
from urllib.parse import unquote

import httpx

from dlserve.client.errors import ChecksumMismatch, DlserveError
from dlserve.client.models import ResultFile

CHUNK_SIZE = 256 * 1024
# Leaves room for a ".part" suffix within the usual 255-byte limit of a file name.
_MAX_NAME_BYTES = 240
_PARAM = re.compile(r';\s*([!#$%&\'*+.^_`|~0-9A-Za-z-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
_UNSATISFIED_RANGE = re.compile(r"bytes\s+\*/(\d+)")


@dataclass(frozen=True)
class FilePlan:
    """What to do for one result file: nothing (``skip``), or fetch from ``offset``."""

    path: Path
    skip: bool
    offset: int


def plan_fetch(result: ResultFile, path: Path, *, resume: bool, verify: bool) -> FilePlan:
    """Skip a file that is complete (and verified when ``verify``); resume a shorter one."""
    size = path.stat().st_size if path.is_file() else 0
    expected = result.bytes
    if size and expected is not None and size == expected:
        if not verify or result.sha256 is None or sha256_of(path) == result.sha256:
            return FilePlan(path, skip=True, offset=size)
        return FilePlan(path, skip=False, offset=0)  # right size, wrong bytes: start over
    if not resume or (expected is not None and size > expected):
        return FilePlan(path, skip=False, offset=0)
    return FilePlan(path, skip=False, offset=size)


class PartialFile:
    """A file being written from ``offset`` on, hashing as it goes (the kept prefix is hashed first,
    so a resumed file is verified without being read twice)."""

    def __init__(self, path: Path, offset: int = 0) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._hasher = hashlib.sha256()
        self.size = 0
        self._handle: BinaryIO = path.open("r+b" if offset and path.is_file() else "wb")
        if offset:
            self._hash_prefix(offset)
        self._handle.truncate(self.size)

    def _hash_prefix(self, offset: int) -> None:
        while self.size < offset:
            chunk = self._handle.read(min(CHUNK_SIZE, offset - self.size))
            if not chunk:
                break
            self._hasher.update(chunk)
            self.size += len(chunk)

    def restart(self) -> None:
        """Forget what was written (the server sent the whole file instead of the asked range)."""
        self._handle.seek(0)
        self._handle.truncate(0)
        self._hasher = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self._handle.write(chunk)
        self._hasher.update(chunk)
        self.size += len(chunk)

    def hexdigest(self) -> str:
        return self._hasher.hexdigest()

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> PartialFile:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def sha256_of(path: Path) -> str:
    hasher = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_SIZE):
            hasher.update(chunk)
    return hasher.hexdigest()


def range_start(status_code: int, content_range: str | None) -> int | None:
    """Where a 200/206 body starts in the file (0 for a whole-file 200); ``None`` if unusable."""
    if status_code == 200:
        return 0
    if status_code == 206 and content_range and (match := _CONTENT_RANGE.fullmatch(content_range.strip())):
        return int(match[1])
    return None


def unsatisfied_range_size(content_range: str | None) -> int | None:
    """The full size a 416 answer reports (``Content-Range: bytes */<size>``)."""
    if content_range and (match := _UNSATISFIED_RANGE.fullmatch(content_range.strip())):
        return int(match[1])
    return None


def filename_from_content_disposition(header: str | None) -> str | None:
    """The file name a ``Content-Disposition`` header gives; RFC 5987 ``filename*`` preferred over
    the ASCII ``filename`` fallback (RFC 6266 §4.3)."""
    if not header:
        return None
    params: dict[str, str] = {}
    for name, value in _PARAM.findall(";" + header.split(";", 1)[1] if ";" in header else ""):
        value = value.strip()
        if value.startswith('"') and value.endswith('"') and len(value) >= 2:
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        params.setdefault(name.lower(), value)
    extended = params.get("filename*")
    if extended:
        charset, _, rest = extended.partition("'")
        _language, _, encoded = rest.partition("'")
        try:
            codecs.lookup(charset or "utf-8")
            decoded = unquote(encoded, encoding=charset or "utf-8", errors="strict")
        except (LookupError, UnicodeDecodeError):
            decoded = ""
        if decoded:
            return decoded
    return params.get("filename") or None


def safe_filename(name: str | None, fallback: str) -> str:
    """``name`` made safe to create in a chosen folder: no directories, no control characters,
    not ``.``/``..``, at most 240 bytes (the extension kept)."""
    cleaned = "".join(
        "_" if ch in "/\\" else ch for ch in (name or "") if unicodedata.category(ch)[0] != "C"
    ).strip()
    if cleaned in ("", ".", ".."):
        cleaned = fallback
    if len(cleaned.encode()) > _MAX_NAME_BYTES:
        stem, dot, ext = cleaned.rpartition(".")
        ext = f"{dot}{ext}" if dot and len(ext.encode()) < 32 else ""
        stem = stem if ext else cleaned
        budget = _MAX_NAME_BYTES - len(ext.encode())
        cleaned = stem.encode()[:budget].decode(errors="ignore") + ext
    return cleaned


def result_path(dest: Path, result: ResultFile) -> Path:
    fallback = f"file-{hashlib.sha256(result.url.encode()).hexdigest()[:12]}"
    return dest / safe_filename(result.name, fallback=fallback)


def check_fetched(result: ResultFile, path: Path, size: int, digest: str, *, verify: bool) -> None:
    """After a transfer: with ``verify``, a file whose sha256 (or, without one, size) is not what the
    server listed is removed and reported."""
    if not verify:
        return
    if result.sha256 is not None and digest != result.sha256:
        path.unlink(missing_ok=True)
        raise ChecksumMismatch(result.name, result.sha256, digest)
    if result.sha256 is None and result.bytes is not None and size != result.bytes:
        path.unlink(missing_ok=True)
        raise DlserveError(f"{result.name}: got {size} bytes, the server listed {result.bytes}")


def begin_body(response: httpx.Response, part: PartialFile) -> None:
    """Line ``part`` up with the body of ``response``: append after a 206 for the asked range, start
    over after a 200 (the server sent the whole file)."""
    start = range_start(response.status_code, response.headers.get("content-range"))
    if start is None or start not in (0, part.size):
        raise DlserveError(
            f"asked for bytes {part.size}- of {response.request.url.path}, the server answered "
            f"{response.status_code} {response.headers.get('content-range', '')}".rstrip(),
            status_code=response.status_code,
        )
    if start == 0 and part.size:
        part.restart()


def end_body(response: httpx.Response, received: int, part: PartialFile, expected: int | None) -> None:
    """Raise ``httpx.RemoteProtocolError`` (a transfer error, retried by resuming) when the body
    stopped before its ``Content-Length`` or before the size the server listed."""
    length = response.headers.get("content-length")
    short_body = length is not None and length.isdigit() and received < int(length)
    if short_body or (expected is not None and part.size < expected):
        raise httpx.RemoteProtocolError(
            f"the transfer stopped at byte {part.size} of {expected if expected is not None else length}",
            request=response.request,
        )
