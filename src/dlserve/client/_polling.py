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

    def remaining(self) -> float | None:
        """Seconds left before the deadline (None: no deadline)."""
        return None if self._deadline is None else max(0.0, self._deadline - self._clock())

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


def long_poll_wait(watch: Watch[Download], etag: str | None, long_poll: float) -> float | None:
    """How long to ask the server to hold the next poll: nothing before the first answer (it
    must come at once) or without an ETag; else ``long_poll``, cut to the time left."""
    if etag is None or long_poll <= 0:
        return None
    remaining = watch.remaining()
    wait = long_poll if remaining is None else min(long_poll, remaining)
    return wait if wait > 0 else None


def delay_after_poll(polled_changed: bool, etag: str | None, elapsed: float, delay: float) -> float:
    """Seconds to sleep before the next poll. A server that long-polls (it sent an ETag) either
    answered a change (poll again at once: the next poll waits on the server) or kept the poll
    until its wait ended; only an unchanged answer that came back early (a proxy, a server that
    ignores ``wait``) waits out the rest of ``delay`` here. Without an ETag: ``delay``."""
    if etag is None:
        return delay
    if polled_changed:
        return 0.0
    return max(0.0, delay - elapsed)
