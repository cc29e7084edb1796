"""What a delivered file is called and what it is: ``Content-Type`` and ``Content-Disposition``.

One module for every way a file leaves the service — the app's result-file and media responses,
and the headers S3 stores with an object (so presigned downloads are labelled the same way).

``Content-Disposition`` carries the exact name in RFC 5987 ``filename*`` and an ASCII
transliteration in ``filename`` (``Canción – ñ`` → ``Cancion - n``) for clients that only read
that one (``curl -O -J``). ``filename*`` comes *first*: the media seed's JavaScript example takes
everything after the first ``filename=``, which then is the plain quoted fallback.
"""

from __future__ import annotations

import mimetypes
import re
import unicodedata
from urllib.parse import quote

# Exact types where the guess would be wrong or vague: result files (JSON Lines are named .txt, as
# Datafiniti does) and the media formats yt-dlp and ffmpeg produce.
CONTENT_TYPES = {
    "gz": "application/gzip",
    "csv": "text/csv; charset=utf-8",
    "txt": "text/plain; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",  # registered with IANA in 2024
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
OCTET_STREAM = "application/octet-stream"
# Python's own table only, not the machine's /etc/mime.types: the same name gets the same type on
# every server (the system file calls ``.xyz`` ``chemical/x-xyz``, for one).
_BUILT_IN_TYPES = mimetypes.MimeTypes()

_SPACES = re.compile(r"\s+")
_ASCII_PUNCTUATION = str.maketrans(
    {"–": "-", "—": "-", "‐": "-", "‘": "'", "’": "'", "“": "'", "”": "'", "«": "'", "»": "'", "…": "..."}
)


def content_type_for(filename: str) -> str:
    ext = filename.rpartition(".")[2].lower() if "." in filename else ""
    if ext in CONTENT_TYPES:
        return CONTENT_TYPES[ext]
    guessed, encoding = _BUILT_IN_TYPES.guess_type(filename, strict=False)
    # With an encoding (x.csv.bz2) the guess describes the decoded content, not these bytes.
    if guessed is None or encoding is not None:
        return OCTET_STREAM
    return f"{guessed}; charset=utf-8" if guessed.startswith("text/") else guessed


def ascii_fallback(filename: str) -> str:
    """The closest plain-ASCII name: accents dropped, typographic punctuation simplified."""
    decomposed = unicodedata.normalize("NFKD", filename.translate(_ASCII_PUNCTUATION))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    ascii_only = "".join(ch if 0x20 <= ord(ch) < 0x7F and ch not in '"\\' else "_" for ch in stripped)
    return _SPACES.sub(" ", ascii_only).strip() or "download"


def content_disposition(filename: str) -> str:
    """``attachment`` with ``filename``, plus ``filename*`` when the name is not plain ASCII."""
    fallback = ascii_fallback(filename)
    if fallback == filename:
        return f'attachment; filename="{filename}"'
    return f"attachment; filename*=UTF-8''{quote(filename, safe='')}; filename=\"{fallback}\""
