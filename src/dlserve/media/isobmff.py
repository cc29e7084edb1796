"""Dimensions and duration of an MP4/MOV/M4A file (ISO base media), read in Python from its
``moov`` box, so that measuring the most common plain media file needs no ffprobe process (whose
start-up, on a loaded machine, cost more than downloading 10 MB).

Only what ffprobe would report is read: the movie's duration (``mvhd``), and per track its handler
(``hdlr``: ``vide``/``soun``) and, for the first video track, the coded width and height of its
sample description (``stsd``). Anything unusual — not ISO base media, a fragmented file without a
duration, a ``moov`` missing, too large, truncated or malformed — gives None, and the caller asks
ffprobe as before. Nothing here opens anything but the file itself; every length is checked
against what is left, so a hostile file can only make this return None.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from dlserve.media.ffmpeg import MediaInfo

MAX_MOOV_BYTES = 32 * 1024 * 1024  # a moov this large is unusual: ffprobe decides
_FIRST_BOXES = (b"ftyp",)  # ISO base media starts with its file type box


def read_info(path: Path) -> MediaInfo | None:
    """The file's streams and duration, or None when this reader is not sure (ask ffprobe)."""
    try:
        with path.open("rb") as handle:
            moov = _find_moov(handle, path.stat().st_size)
            return _movie_info(moov) if moov is not None else None
    except (OSError, struct.error, ValueError):
        return None


def _find_moov(handle: BinaryIO, size: int) -> bytes | None:
    position = 0
    first = True
    while position + 8 <= size:
        handle.seek(position)
        header = handle.read(16)
        length, kind = struct.unpack(">I4s", header[:8])
        offset = 8
        if length == 1:
            (length,) = struct.unpack(">Q", header[8:16])
            offset = 16
        elif length == 0:
            length = size - position
        if length < offset or position + length > size:
            return None
        if first and kind not in _FIRST_BOXES:
            return None
        first = False
        if kind == b"moov":
            if length - offset > MAX_MOOV_BYTES:
                return None
            handle.seek(position + offset)
            body = handle.read(length - offset)
            return body if len(body) == length - offset else None
        position += length
    return None


def _boxes(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    """(type, body) of each box in ``data``; a malformed length raises ValueError."""
    position = 0
    while position + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, position)
        offset = 8
        if length == 1:
            (length,) = struct.unpack_from(">Q", data, position + 8)
            offset = 16
        elif length == 0:
            length = len(data) - position
        if length < offset or position + length > len(data):
            raise ValueError("box length out of bounds")
        yield kind, data[position + offset : position + length]
        position += length
    if position != len(data):
        raise ValueError("trailing bytes after the last box")


def _child(data: bytes, kind: bytes) -> bytes | None:
    return next((body for found, body in _boxes(data) if found == kind), None)


def _movie_info(moov: bytes) -> MediaInfo | None:
    mvhd = _child(moov, b"mvhd")
    if mvhd is None:
        return None
    if mvhd[0] == 1:
        timescale, duration = struct.unpack_from(">IQ", mvhd, 20)
    else:
        timescale, duration = struct.unpack_from(">II", mvhd, 12)
    if timescale == 0 or duration in (0, 0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF):
        return None  # fragmented or live: the duration is elsewhere
    width = height = None
    has_video = has_audio = False
    for kind, trak in _boxes(moov):
        if kind != b"trak":
            continue
        mdia = _child(trak, b"mdia")
        hdlr = _child(mdia, b"hdlr") if mdia is not None else None
        if mdia is None or hdlr is None or len(hdlr) < 12:
            return None
        handler = hdlr[8:12]
        if handler == b"soun":
            has_audio = True
        elif handler == b"vide" and not has_video:
            size = _coded_size(mdia)
            if size is None:
                return None
            width, height = size
            has_video = True
    return MediaInfo(
        width=width,
        height=height,
        duration=round(duration / timescale, 6),
        has_video=has_video,
        has_audio=has_audio,
    )


def _coded_size(mdia: bytes) -> tuple[int, int] | None:
    """Width and height of the track's first visual sample entry (what ffprobe reports)."""
    minf = _child(mdia, b"minf")
    stbl = _child(minf, b"stbl") if minf is not None else None
    stsd = _child(stbl, b"stsd") if stbl is not None else None
    if stsd is None or len(stsd) < 8 + 8 + 28:
        return None
    (entries,) = struct.unpack_from(">I", stsd, 4)
    if entries < 1:
        return None
    # The entry: size and type (8), reserved and data reference index (8), then the visual
    # sample entry's pre-defined and reserved fields (16) before width and height (2 + 2).
    width, height = struct.unpack_from(">HH", stsd, 8 + 8 + 8 + 16)
    return (width, height) if width and height else None
