"""Names for delivered files: from the media's title, safe on every OS, and the HTTP headers for them.

``Content-Disposition`` carries the exact name in RFC 5987 ``filename*`` and an ASCII
transliteration in ``filename`` (``Canción – ñ`` → ``Cancion - n``) for clients that only read
that one (``curl -O -J``). ``filename*`` comes *first*: the seed's JavaScript example takes
everything after the first ``filename=``, which then is the plain quoted fallback.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

MAX_NAME_BYTES = 200  # leaves room for the extension and for ".part"-style suffixes within 255

_FORBIDDEN = re.compile(r'[\x00-\x1f\x7f/\\<>:"|?*]+')  # control chars and what Windows refuses
_SPACES = re.compile(r"\s+")
_ASCII_PUNCTUATION = str.maketrans(
    {"–": "-", "—": "-", "‐": "-", "‘": "'", "’": "'", "“": "'", "”": "'", "«": "'", "»": "'", "…": "..."}
)

CONTENT_TYPES = {
    "mp4": "video/mp4",
    "m4v": "video/mp4",
    "webm": "video/webm",
    "mkv": "video/x-matroska",
    "mov": "video/quicktime",
    "ts": "video/mp2t",
    "flv": "video/x-flv",
    "3gp": "video/3gpp",
    "avi": "video/x-msvideo",
    "m4a": "audio/mp4",
    "mp3": "audio/mpeg",
    "ogg": "audio/ogg",
    "oga": "audio/ogg",
    "opus": "audio/ogg",
    "weba": "audio/webm",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
}


def filename_for(title: str | None, ext: str) -> str:
    """``<title>.<ext>`` with characters no file system or shell likes removed."""
    name = unicodedata.normalize("NFC", title or "")
    name = _FORBIDDEN.sub(" ", name)
    name = _SPACES.sub(" ", name).strip().lstrip(".").rstrip(". ")
    encoded = name.encode("utf-8")[:MAX_NAME_BYTES]
    name = encoded.decode("utf-8", "ignore").rstrip(". ") or "download"
    return f"{name}.{ext}" if ext else name


def ascii_fallback(filename: str) -> str:
    """The closest plain-ASCII name: accents dropped, typographic punctuation simplified."""
    decomposed = unicodedata.normalize("NFKD", filename.translate(_ASCII_PUNCTUATION))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    ascii_only = "".join(ch if 0x20 <= ord(ch) < 0x7F and ch not in '"\\' else "_" for ch in stripped)
    return _SPACES.sub(" ", ascii_only).strip() or "download"


def content_disposition(filename: str) -> str:
    fallback = ascii_fallback(filename)
    if fallback == filename:
        return f'attachment; filename="{filename}"'
    return f"attachment; filename*=UTF-8''{quote(filename, safe='')}; filename=\"{fallback}\""


def content_type_for(filename: str) -> str:
    ext = filename.rpartition(".")[2].lower() if "." in filename else ""
    return CONTENT_TYPES.get(ext, "application/octet-stream")
