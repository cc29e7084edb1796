"""The Fetcher interface: one URL at one quality → one local media file.

Kept free of yt-dlp imports, so the services and the CLI load without it; the real implementation
is :class:`dlserve.media.fetcher.YtDlpFetcher`, imported on the first download.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from dlserve.media.ffmpeg import MediaInfo
from dlserve.media.progress import ProgressTracker


@dataclass(frozen=True)
class FetchRequest:
    url: str
    quality: str
    workdir: Path


@dataclass(frozen=True)
class FetchedMedia:
    path: Path
    title: str
    ext: str
    # What the source said about the file, when it said all of it (then nothing probes the file).
    known: MediaInfo | None = None


class Fetcher(Protocol):
    def fetch(self, request: FetchRequest, tracker: ProgressTracker) -> FetchedMedia:
        """Download into ``request.workdir``; raise ``FetchError`` (or a subclass) on failure."""
        ...


class OnDemandFetcher:
    """Builds the real fetcher on first use (importing yt-dlp takes a noticeable fraction of a second)."""

    def __init__(self, build: Callable[[], Fetcher]) -> None:
        self._build = build
        self._fetcher: Fetcher | None = None
        self._lock = threading.Lock()

    def fetch(self, request: FetchRequest, tracker: ProgressTracker) -> FetchedMedia:
        with self._lock:
            if self._fetcher is None:
                self._fetcher = self._build()
        return self._fetcher.fetch(request, tracker)
