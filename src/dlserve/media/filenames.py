"""Names for delivered media files: from the media's title, safe on every OS.

Their HTTP headers (``Content-Type``, ``Content-Disposition``) are :mod:`dlserve.storage.content`'s.
"""

from __future__ import annotations

import re
import unicodedata

MAX_NAME_BYTES = 200  # leaves room for the extension and for ".part"-style suffixes within 255

_FORBIDDEN = re.compile(r'[\x00-\x1f\x7f/\\<>:"|?*]+')  # control chars and what Windows refuses
_SPACES = re.compile(r"\s+")


def filename_for(title: str | None, ext: str) -> str:
    """``<title>.<ext>`` with characters no file system or shell likes removed."""
    name = unicodedata.normalize("NFC", title or "")
    name = _FORBIDDEN.sub(" ", name)
    name = _SPACES.sub(" ", name).strip().lstrip(".").rstrip(". ")
    encoded = name.encode("utf-8")[:MAX_NAME_BYTES]
    name = encoded.decode("utf-8", "ignore").rstrip(". ") or "download"
    return f"{name}.{ext}" if ext else name
