"""The ``Storage`` interface: where result files, media files and record snapshots live, by key.

A key is a relative POSIX path such as ``downloads/12/12_1.csv``. The same key names the same object
on every implementation (:class:`~dlserve.storage.local.LocalStorage`, a directory;
:class:`~dlserve.storage.s3.S3Storage`, a bucket and prefix), so the rest of the code stores keys,
never paths or URLs. Both pass one contract suite (``tests/integration/test_storage_contract.py``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

# Control characters would end up in URLs, headers and log lines; nothing legitimate needs them.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@runtime_checkable
class Storage(Protocol):
    """Objects by key. Missing objects raise ``FileNotFoundError`` (except ``exists``/``delete``)."""

    def put_file(self, key: str, source: Path) -> None:
        """Move the finished local file ``source`` to ``key``, replacing any object there.

        Atomic: a reader sees the old object or the whole new one, never a partial one.
        ``source`` no longer exists afterwards.
        """
        ...

    def open_read(self, key: str) -> BinaryIO:
        """A binary file object positioned at the start of the object; the caller closes it."""
        ...

    def size(self, key: str) -> int: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Remove the object; a missing object is not an error (deleting is idempotent)."""
        ...

    def local_path(self, key: str) -> Path | None:
        """The object's path on this machine, if it has one (local storage), else ``None``."""
        ...

    def presigned_url(self, key: str, expires_at: datetime, filename: str) -> str | None:
        """A URL clients can fetch directly until ``expires_at``, or ``None`` when the app must serve
        the object itself (then it hands out links signed by :class:`~dlserve.storage.links.LinkSigner`).
        """
        ...

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        """Keys starting with ``prefix`` (a plain string prefix, as on S3), in sorted order."""
        ...


@dataclass(frozen=True)
class ResolvedFile:
    """What the file-serving endpoint needs to know about one downloadable file."""

    storage_key: str
    filename: str
    size: int


# (download_id, name) -> the file, or None when no such file exists (404).
FileResolver = Callable[[str, str], ResolvedFile | None]


def validate_key(key: str) -> str:
    """Return ``key`` if it is a safe, canonical key; raise ``ValueError`` otherwise.

    Canonical matters as much as safe: if ``a/./b`` and ``a/b`` were both accepted, two keys would
    name one object. Segments may not start with a dot, which rules out ``.``/``..`` and keeps the
    names implementations use for their temporary files out of the key space.
    """
    if not isinstance(key, str) or not key:
        raise ValueError("storage key must be a non-empty string")
    _check_characters(key)
    for segment in key.split("/"):
        _check_segment(key, segment)
    return key


def validate_prefix(prefix: str) -> str:
    """Like :func:`validate_key`, but ``""`` and a trailing ``/`` (a "folder") are allowed."""
    if prefix == "":
        return prefix
    _check_characters(prefix)
    segments = prefix.split("/")
    if segments[-1] == "":
        segments.pop()
    for segment in segments:
        _check_segment(prefix, segment)
    return prefix


def _check_characters(key: str) -> None:
    if key.startswith("/"):
        raise ValueError(f"storage key must be relative: {key!r}")
    if "\\" in key:
        raise ValueError(f"storage key must use '/' separators, not backslashes: {key!r}")
    if _CONTROL.search(key):
        raise ValueError(f"storage key must not contain control characters: {key!r}")


def _check_segment(key: str, segment: str) -> None:
    if segment == "":
        raise ValueError(f"storage key must not contain empty segments: {key!r}")
    if segment.startswith("."):
        raise ValueError(f"storage key segments must not start with '.': {key!r}")
