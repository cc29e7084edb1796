"""`ProgressTracker`: what yt-dlp's progress hooks report, turned into one download's progress.

The hooks run on the fetching thread, inside yt-dlp's read loop, so they are also where the fetch
stops: a cancelled download or one over the size limit raises here and yt-dlp unwinds. The worker's
monitor thread reads :meth:`ProgressTracker.snapshot` to publish progress; nothing here touches the
database.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlserve.media.errors import Cancelled, TooLarge
from dlserve.media.sniff import refuse_non_media


@dataclass(frozen=True)
class ProgressSnapshot:
    progress: float  # 0-100
    downloaded_bytes: int
    total_bytes: int | None
    speed: float | None
    eta: int | None
    title: str | None


@dataclass
class _Stream:
    downloaded: int = 0
    total: int | None = None
    finished: bool = False


class ProgressTracker:
    def __init__(self, max_bytes: int | None = None) -> None:
        self.max_bytes = max_bytes or None
        self.title: str | None = None
        self._streams: dict[str, _Stream] = {}
        self._expected_streams = 1
        self._speed: float | None = None
        self._eta: int | None = None
        self._lock = threading.Lock()
        self._cancel_reason: str | None = None
        self._on_cancel: list[Callable[[], None]] = []
        self.started = time.monotonic()

    # -- control (any thread) --------------------------------------------------------------------

    def cancel(self, reason: str) -> None:
        """Stop the fetch: the next hook raises, and registered callbacks cut open connections."""
        with self._lock:
            if self._cancel_reason is not None:
                return
            self._cancel_reason = reason
            callbacks = list(self._on_cancel)
        for callback in callbacks:
            callback()

    def on_cancel(self, callback: Callable[[], None]) -> None:
        with self._lock:
            self._on_cancel.append(callback)

    @property
    def cancel_reason(self) -> str | None:
        return self._cancel_reason

    def check(self) -> None:
        if self._cancel_reason is not None:
            raise Cancelled(self._cancel_reason)

    # -- yt-dlp hooks (fetching thread) ----------------------------------------------------------

    def hook(self, status: dict[str, Any]) -> None:
        self.check()
        info = status.get("info_dict") or {}
        key = str(info.get("format_id") or status.get("filename") or "media")
        with self._lock:
            self._expected_streams = max(1, len(info.get("requested_formats") or ()), len(self._streams))
            stream = self._streams.setdefault(key, _Stream())
            stream.downloaded = int(status.get("downloaded_bytes") or stream.downloaded)
            total = status.get("total_bytes") or status.get("total_bytes_estimate")
            stream.total = int(total) if total else stream.total
            self._speed = _number(status.get("speed"))
            eta = _number(status.get("eta"))
            self._eta = int(eta) if eta is not None else None
            if status.get("status") == "finished":
                stream.finished = True
                stream.total = stream.total or stream.downloaded
            downloaded = sum(s.downloaded for s in self._streams.values())
            known_total = sum(s.total or 0 for s in self._streams.values())
        size = max(downloaded, known_total)
        if self.max_bytes is not None and size > self.max_bytes:
            how = "so far" if downloaded > known_total else "announced"
            raise TooLarge(
                f"the media is larger than the limit of {self.max_bytes:,} bytes ({size:,} bytes {how})"
            )
        if status.get("status") == "finished" and status.get("filename"):
            refuse_text_file(Path(str(status["filename"])))

    def postprocessor_hook(self, status: dict[str, Any]) -> None:
        self.check()

    def check_expected_size(self, size: int | None) -> None:
        """Refuse before any transfer when the extractor already knows the exact size."""
        if self.max_bytes is not None and size is not None and size > self.max_bytes:
            raise TooLarge(f"the media is {size:,} bytes, more than the limit of {self.max_bytes:,} bytes")

    # -- reading (monitor thread) ----------------------------------------------------------------

    def snapshot(self) -> ProgressSnapshot:
        with self._lock:
            streams = list(self._streams.values())
            expected = max(self._expected_streams, len(streams))
            fractions = [
                1.0 if s.finished else (min(s.downloaded / s.total, 1.0) if s.total else 0.0) for s in streams
            ]
            progress = 100.0 * sum(fractions) / expected
            totals = [s.total for s in streams]
            total = (
                sum(t for t in totals if t) if totals and all(totals) and len(streams) >= expected else None
            )
            return ProgressSnapshot(
                progress=round(min(progress, 99.9), 1),
                downloaded_bytes=sum(s.downloaded for s in streams),
                total_bytes=total,
                speed=round(self._speed, 1) if self._speed is not None else None,
                eta=self._eta,
                title=self.title,
            )


def refuse_text_file(path: Path) -> None:
    """Raise when ``path`` is a playlist, manifest or text rather than media (see :mod:`.sniff`)."""
    refuse_non_media(path)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None
