"""Polling a download until it ends: when to report a change, when to give up."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from dlserve.client.errors import DownloadFailed, WaitTimeout
from dlserve.client.models import FAILED, Download, MediaDownload

T = TypeVar("T", Download, MediaDownload)


def download_state(download: Download) -> Hashable:
    return (download.status, download.progress.done, download.num_downloaded, len(download.results))


def media_state(media: MediaDownload) -> Hashable:
    return (media.status, media.progress, media.downloaded_bytes, media.total_bytes)


class Watch(Generic[T]):
    """Remembers the last state reported to ``on_progress`` and the deadline."""

    def __init__(
        self,
        state: Callable[[T], Hashable],
        timeout: float | None,
        clock: Callable[[], float],
    ) -> None:
        self._state: Callable[[T], Hashable] = state
        self._last: Hashable = object()
        self._clock = clock
        self._deadline = None if timeout is None else clock() + timeout

    def changed(self, item: T) -> bool:
        state = self._state(item)
        if state == self._last:
            return False
        self._last = state
        return True

    def next_delay(self, item: T, poll_interval: float) -> float:
        """Seconds until the next poll; raises ``WaitTimeout`` once the deadline has passed."""
        if self._deadline is None:
            return poll_interval
        remaining = self._deadline - self._clock()
        if remaining <= 0:
            raise WaitTimeout(f"download {item.id} is still {item.status}", item)
        return min(poll_interval, remaining)


def ended_or_raise(item: T) -> bool:
    """Whether ``item`` has ended; raises ``DownloadFailed`` if it failed."""
    if item.status == FAILED:
        raise DownloadFailed(f"download {item.id} failed: {item.error or 'no reason given'}", item)
    return item.ended
