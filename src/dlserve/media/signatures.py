"""Is a downloaded file worth an ffprobe run? Not when its name says a container that announces
itself in its first bytes and those bytes announce no media at all.

Measuring a file ffprobe cannot read is the costliest thing a plain download does after the
transfer: starting ffprobe (Debian's loads over 200 shared libraries: 0.15–0.5 s on a busy machine)
only to be told "invalid data". Most containers say what they are at offset 0 — MP4/MOV boxes,
Matroska/WebM's EBML, ``OggS``, ``fLaC``, ``RIFF``, ``FORM``, ``FLV``, ASF's GUID — so a file named
``.mp4`` (by its URL or its ``Content-Type``) whose head matches none of the signatures below is
neither what it claims nor anything else ffmpeg may open here (:mod:`~.ffmpeg_inputs`): its
dimensions are unknown (``null``), as they would be after the probe.

Raw streams (MP3 without a tag, AAC, AC-3, H.264, MPEG-TS/PS…) are found by ffmpeg by scanning for
frames anywhere in the head, which this module does not imitate: files with those names, or with
any name it does not know, are always probed (a probe bounded by
:data:`~.ffmpeg.FORMAT_PROBE_BYTES`). Every signature is also looked for whatever the name says, so
a Matroska file served as ``video/mp4`` is still measured. A wrong guess here can only cost a probe
or leave a value ``null``; it never changes what is stored or served.
"""

from __future__ import annotations

from pathlib import Path

HEAD_BYTES = 512

# Names of containers whose files start with a signature (ffmpeg's own probes score them by it).
SELF_IDENTIFYING = frozenset(
    {
        "mp4", "m4a", "m4v", "m4b", "mov", "qt", "3gp", "3g2", "mj2",  # ISO base media / QuickTime
        "mkv", "mka", "webm",  # Matroska: EBML
        "ogg", "oga", "ogv", "opus", "flac",
        "wav", "avi",  # RIFF
        "aif", "aiff", "aifc",  # IFF FORM
        "flv", "asf", "wmv", "wma",
    }
)  # fmt: skip

# Box types ffmpeg's mov probe accepts as a file's first box (offset 4).
_ISO_BOXES = frozenset(
    {
        b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"udta", b"junk",
        b"pict", b"uuid", b"styp", b"sidx", b"moof", b"prfl", b"ediw",
    }
)  # fmt: skip
_PREFIXES = (
    b"\x1a\x45\xdf\xa3",  # EBML: Matroska, WebM
    b"OggS",
    b"fLaC",
    b"RIFF", b"RF64", b"BW64",  # WAV, AVI
    b"FORM",  # AIFF
    b"FLV\x01",
    b"\x30\x26\xb2\x75\x8e\x66\xcf\x11",  # ASF header GUID: WMV, WMA
    b"ID3",  # an ID3v2 tag, before MP3, AAC or FLAC
    b"\x00\x00\x01",  # MPEG start codes: program stream, MPEG video, H.264/HEVC Annex B
    b"\x00\x00\x00\x01",
    b"\x0b\x77",  # AC-3, E-AC-3
)  # fmt: skip
_TS_PACKET = 188


def worth_probing(path: Path, ext: str) -> bool:
    """False only when ``ext`` names a self-identifying container and the file's head announces no
    media of any kind (ffprobe would find nothing); True when unsure."""
    if ext.lower() not in SELF_IDENTIFYING:
        return True
    try:
        with path.open("rb") as handle:
            head = handle.read(HEAD_BYTES)
    except OSError:
        return True  # the probe will say what is wrong
    return announces_media(head)


def announces_media(head: bytes) -> bool:
    """True when a file's first bytes carry the signature of a container or stream ffmpeg reads."""
    return (
        head[4:8] in _ISO_BOXES
        or head.startswith(_PREFIXES)
        or _frame_sync(head)
        or _transport_stream(head, 0)
        or _transport_stream(head, 4)  # M2TS: a 4-byte timestamp before each packet
    )


def _frame_sync(head: bytes) -> bool:
    """An MPEG audio frame (MP3) or ADTS (AAC) header: eleven set bits."""
    return len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0


def _transport_stream(head: bytes, offset: int) -> bool:
    stride = _TS_PACKET + offset
    positions = [offset + n * stride for n in range(2)]
    return all(position < len(head) and head[position] == 0x47 for position in positions)
