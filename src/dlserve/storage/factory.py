"""Choosing the storage implementation from configuration (a URL or a path)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from dlserve.errors import ErrorDetail, Invalid
from dlserve.storage.interfaces import Storage
from dlserve.storage.local import LocalStorage

_FIELD = "storage_url"


def storage_from_url(url: str | None, default_root: Path) -> Storage:
    """``None``/``""`` → local storage in ``default_root``; ``file:///abs/path`` or a plain path →
    local storage there; ``s3://bucket/prefix`` → S3 (not implemented yet)."""
    if not url:
        return LocalStorage(default_root)
    if "://" not in url:
        return LocalStorage(Path(url))
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "file":
        # file://host/path names another machine's file; only the local forms make sense here.
        if parts.netloc not in ("", "localhost"):
            raise _invalid(f"A file: storage URL cannot name a host: {url}")
        if not parts.path.startswith("/"):
            raise _invalid(f"A file: storage URL needs an absolute path: {url}")
        return LocalStorage(Path(unquote(parts.path)))
    if scheme == "s3":
        raise _invalid("S3 storage is not available yet")
    raise _invalid(f"Unsupported storage URL scheme {scheme!r}; use a path, file:///path or s3://bucket")


def _invalid(message: str) -> Invalid:
    return Invalid(message, [ErrorDetail(_FIELD, message)])
