"""Finding ffmpeg (Debian's, else the imageio-ffmpeg wheel's) and measuring a media file.

Debian's package also has ffprobe, which yt-dlp uses for a few fixups; the wheel has ffmpeg only,
which is enough to merge streams and extract audio. Probing passes the options of
:mod:`dlserve.media.ffmpeg_inputs`, so that no file, whatever it contains, makes ffmpeg open a
network URL or another local file, and reads at most :data:`FORMAT_PROBE_BYTES` of the file's
head to decide what container it is.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from dlserve.media.ffmpeg_inputs import SAFE_INPUT_OPTIONS

PROBE_TIMEOUT_S = 60
# How much of the head ffmpeg may read to recognise the container (its `-formatprobesize`; 1 MiB by
# default). Every container it may open here (the MEDIA_DEMUXERS) is recognised in the first few
# KiB — MP4/MOV, Matroska, Ogg, FLAC, RIFF by their magic, MPEG-TS/PS, MP3, AAC by a few packets or
# frames, MP3 behind a long ID3 tag by the tag. Bytes that no demuxer recognises are the case this
# bounds: ffmpeg ran *every* demuxer's probe (not only the whitelisted ones) over a buffer doubling
# from 2 KiB up to the limit, ~0.25 s of CPU per file at 1 MiB — more than downloading 10 MB.
# `-probesize` would not help: it bounds reading packets once the container is known, not this.
FORMAT_PROBE_BYTES = 64 * 1024


@dataclass(frozen=True)
class FfmpegTools:
    ffmpeg: str
    ffprobe: str | None


@dataclass(frozen=True)
class MediaInfo:
    width: int | None
    height: int | None
    duration: float | None
    has_video: bool
    has_audio: bool


def find_tools(configured: str | None = None) -> FfmpegTools | None:
    """``configured`` (a path to ffmpeg), else ffmpeg on PATH, else the imageio-ffmpeg binary."""
    ffmpeg = configured or shutil.which("ffmpeg") or _wheel_ffmpeg()
    if ffmpeg is None:
        return None
    sibling = Path(ffmpeg).with_name("ffprobe")
    ffprobe = str(sibling) if sibling.is_file() else shutil.which("ffprobe")
    return FfmpegTools(ffmpeg, ffprobe)


def _wheel_ffmpeg() -> str | None:
    try:
        import imageio_ffmpeg

        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except (ImportError, RuntimeError):
        return None


def probe(tools: FfmpegTools, path: Path) -> MediaInfo:
    """Streams and duration of a local file (ffprobe's JSON, else ffmpeg's stream summary)."""
    done = subprocess.run(  # noqa: S603 - a fixed argv, no shell; the path is ours
        probe_command(tools, path), capture_output=True, text=True, timeout=PROBE_TIMEOUT_S, check=False
    )
    if tools.ffprobe:
        # ffprobe failing means ffmpeg would not understand the file either.
        return _from_ffprobe(json.loads(done.stdout or "{}") if done.returncode == 0 else {})
    return _from_ffmpeg_banner(done.stderr)


def probe_command(tools: FfmpegTools, path: Path) -> list[str]:
    """The argv :func:`probe` runs: ffprobe's JSON when there is an ffprobe, else ``ffmpeg -i``
    with no output (it prints the stream summary, then exits with an error: nothing to write)."""
    head = ["-formatprobesize", str(FORMAT_PROBE_BYTES), *SAFE_INPUT_OPTIONS]
    if tools.ffprobe:
        return [tools.ffprobe, "-v", "error", *head, "-show_streams", "-show_format", "-of", "json",
                f"file:{path}"]  # fmt: skip
    return [tools.ffmpeg, "-hide_banner", *head, "-i", f"file:{path}"]


def _from_ffprobe(data: dict[str, object]) -> MediaInfo:
    streams = [s for s in data.get("streams") or [] if isinstance(s, dict)]  # type: ignore[attr-defined]
    video = next((s for s in streams if s.get("codec_type") == "video" and not _is_cover(s)), None)
    fmt = data.get("format") or {}
    duration = fmt.get("duration") if isinstance(fmt, dict) else None
    return MediaInfo(
        width=int(video["width"]) if video and video.get("width") else None,
        height=int(video["height"]) if video and video.get("height") else None,
        duration=float(duration) if duration else None,
        has_video=video is not None,
        has_audio=any(s.get("codec_type") == "audio" for s in streams),
    )


def _is_cover(stream: dict[str, object]) -> bool:
    disposition = stream.get("disposition")
    return isinstance(disposition, dict) and bool(disposition.get("attached_pic"))


_VIDEO_LINE = re.compile(r"Stream #\d+:\d+.*?: Video: (?!.*attached pic).*?, (\d{2,5})x(\d{2,5})")
_DURATION = re.compile(r"Duration: (\d+):(\d{2}):(\d{2}(?:\.\d+)?)")


def _from_ffmpeg_banner(text: str) -> MediaInfo:
    video = _VIDEO_LINE.search(text)
    duration = _DURATION.search(text)
    seconds = None
    if duration:
        hours, minutes, secs = duration.groups()
        seconds = int(hours) * 3600 + int(minutes) * 60 + float(secs)
    return MediaInfo(
        width=int(video[1]) if video else None,
        height=int(video[2]) if video else None,
        duration=seconds,
        has_video=video is not None,
        has_audio=re.search(r"Stream #\d+:\d+.*?: Audio: ", text) is not None,
    )
