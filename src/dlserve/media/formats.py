"""Quality names → yt-dlp format selection.

- ``best``: the best video with the best audio (merged when they come separately), else the best
  single file.
- ``<N>p``: the same, but sorted by ``res:N``: the highest resolution *not above* N, falling back
  to the nearest lower; when nothing is at or below N, the smallest one above it ("whatever
  exists"). Formats whose height is unknown (a bare file URL) can't be ranked: they are taken as
  they are, and the height actually delivered is measured and reported afterwards.
- ``audio``: the best audio-only stream, m4a preferred, kept as is; when the source only has
  streams with video, the audio is extracted from the one with the best audio (copied, not
  re-encoded: AAC ends up as .m4a, Opus as .opus, ...).
"""

from __future__ import annotations

from typing import Any

VIDEO_HEIGHTS = {
    "2160p": 2160,
    "1440p": 1440,
    "1080p": 1080,
    "720p": 720,
    "480p": 480,
    "360p": 360,
    "240p": 240,
}
QUALITIES = ("best", *VIDEO_HEIGHTS, "audio")
DEFAULT_QUALITY = "best"


def normalise_quality(value: str | None) -> str:
    """The canonical quality name, or ``ValueError`` naming the accepted ones."""
    quality = (value or DEFAULT_QUALITY).strip().lower()
    if quality.isdigit():
        quality += "p"
    if quality not in QUALITIES:
        raise ValueError(f"quality must be one of: {', '.join(QUALITIES)}")
    return quality


def selection_options(quality: str) -> dict[str, Any]:
    """The ``YoutubeDL`` params that select (and post-process) the formats for ``quality``."""
    if quality == "audio":
        return {
            "format": "ba[ext=m4a]/ba/b",
            # Among files with video, prefer the better audio, then the smaller picture (fewer bytes).
            "format_sort": ["abr", "+res"],
            "postprocessors": [
                {"key": "FFmpegExtractAudio", "preferredcodec": "best", "nopostoverwrites": False}
            ],
        }
    if quality == "best":
        return {"format": "bv*+ba/b"}
    height = VIDEO_HEIGHTS[quality]
    return {"format": "bv*+ba/b", "format_sort": [f"res:{height}"]}


def is_audio_only(quality: str) -> bool:
    return quality == "audio"
