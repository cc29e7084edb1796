"""Where files live (a local directory or an S3 bucket), what they are called when they leave, and
the signed links that serve result files."""

from __future__ import annotations

from dlserve.storage.factory import storage_from_url
from dlserve.storage.interfaces import FileResolver, ResolvedFile, Storage, validate_key
from dlserve.storage.links import LinkSigner, file_link_path
from dlserve.storage.local import LocalStorage

__all__ = [
    "FileResolver",
    "LinkSigner",
    "LocalStorage",
    "ResolvedFile",
    "Storage",
    "file_link_path",
    "storage_from_url",
    "validate_key",
]
