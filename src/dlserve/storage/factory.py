"""Choosing the storage implementation from configuration (a URL or a path)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from dlserve.errors import ErrorDetail, Invalid
from dlserve.settings import Settings
from dlserve.storage.interfaces import Storage
from dlserve.storage.local import LocalStorage

if TYPE_CHECKING:
    from dlserve.storage.s3 import S3Options

_FIELD = "storage_url"


def storage_from_url(url: str | None, default_root: Path, settings: Settings | None = None) -> Storage:
    """``None``/``""`` → local storage in ``default_root``; ``file:///abs/path`` or a plain path →
    local storage there; ``s3://bucket/prefix`` → S3, reached as ``settings``' ``s3_*`` fields say
    (without ``settings``, boto3's defaults)."""
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
        return s3_storage_from_url(url, settings)
    raise _invalid(f"Unsupported storage URL scheme {scheme!r}; use a path, file:///path or s3://bucket")


def s3_storage_from_url(url: str, settings: Settings | None = None) -> Storage:
    """``s3://bucket/prefix`` as an :class:`~dlserve.storage.s3.S3Storage` (no request is sent yet)."""
    # Imported here: boto3 takes a while to import, and local storage never needs it.
    from dlserve.storage.s3 import S3Location, S3Options, S3Storage

    try:
        location = S3Location.parse(url)
        options = S3Options() if settings is None else s3_options(settings)
    except ValueError as error:
        raise _invalid(str(error)) from None
    return S3Storage(location, options)


def s3_options(settings: Settings) -> S3Options:
    """The S3 connection settings (``DLSERVE_S3_*``) as the storage takes them."""
    from dlserve.storage.s3 import S3Options

    secret = settings.s3_secret_access_key
    return S3Options(
        endpoint_url=settings.s3_endpoint_url or None,
        public_endpoint_url=settings.s3_public_endpoint_url or None,
        access_key_id=settings.s3_access_key_id or None,
        secret_access_key=secret.get_secret_value() if secret is not None else None,
        region=settings.s3_region,
        multipart_threshold=settings.s3_multipart_threshold,
        multipart_chunksize=settings.s3_multipart_chunksize,
        max_concurrency=settings.s3_max_concurrency,
    )


def _invalid(message: str) -> Invalid:
    return Invalid(message, [ErrorDetail(_FIELD, message)])
