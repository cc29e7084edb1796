"""Is a downloaded "media" file really media? Playlists and text are refused before ffmpeg sees them.

ffmpeg decides what a file is by its content, not its name: an HLS playlist saved as ``video.mp4``
is opened with the HLS demuxer, which then opens every segment URI written in it — including
``file:///…`` ones, i.e. files of this server. So every file a fetch downloads is sniffed here, and
anything that is not binary media is refused:

- a playlist or manifest anywhere in the first bytes (``#EXTM3U``, ``#EXT-X-``, ``<MPD``, ``<?xml``,
  SMIL, ``ffconcat``), in any encoding — NUL bytes are dropped before searching, which catches
  UTF-16 and UTF-32 in both byte orders;
- a byte-order mark (UTF-8, UTF-16, UTF-32): media containers never start with one;
- text: the head decodes as UTF-8 (a non-ASCII byte does not make a playlist binary) or is mostly
  printable bytes (any 8-bit encoding).

Media containers start with binary structure (``ftyp`` boxes, EBML, MPEG-TS sync bytes, ``ID3``
tags, Ogg pages) full of control bytes and NULs, so none of these rules refuses real media.
"""

from __future__ import annotations

from pathlib import Path

from dlserve.media.errors import FetchError

SNIFF_BYTES = 64 * 1024
_MARKERS = (b"#extm3u", b"#ext-x-", b"<mpd", b"<?xml", b"<smil", b"ffconcat", b"<!doctype", b"<html")
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")
_WHITESPACE = frozenset(b"\t\n\r\f\v ")
_PRINTABLE = frozenset(range(0x20, 0x7F)) | _WHITESPACE
# Compressed media has about 37% printable bytes; text in any 8-bit encoding has nearly all.
_TEXT_RATIO = 0.9


def refuse_non_media(path: Path) -> None:
    """Raise :class:`FetchError` when ``path`` holds a playlist, a manifest or text, not media."""
    try:
        with path.open("rb") as handle:
            head = handle.read(SNIFF_BYTES)
    except OSError:
        return  # merged/renamed away already; the final file is checked again before it is stored
    reason = non_media_reason(head)
    if reason is not None:
        raise FetchError(
            f"the server sent {reason} where media was expected; playlists and manifests inside "
            "media files are not followed",
            retryable=False,
        )


def non_media_reason(head: bytes) -> str | None:
    """Why ``head`` (a file's first bytes) is not media, or None when it looks like media."""
    if not head:
        return None
    folded = head.replace(b"\x00", b"").lower()
    for marker in _MARKERS:
        if marker in folded:
            return f"a playlist or markup ({marker.decode()!r})"
    if head.startswith(_BOMS):
        return "text (it starts with a byte-order mark)"
    if _is_text(head):
        first_line = head.split(b"\n", 1)[0][:60].decode("utf-8", "replace").strip()
        return f"text ({first_line!r})"
    return None


def _is_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    decoded: str | None
    try:
        decoded = head.decode("utf-8")
    except UnicodeDecodeError as error:
        # A multi-byte character cut by the end of the sniffed bytes is still text.
        decoded = head[: error.start].decode("utf-8") if error.start >= len(head) - 3 else None
    if decoded is not None and all(ch.isprintable() or ch in "\t\n\r\f\v" for ch in decoded):
        return True
    printable = sum(1 for byte in head if byte in _PRINTABLE)
    return printable >= _TEXT_RATIO * len(head)
