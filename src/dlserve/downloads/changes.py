"""`DownloadChanges`: "download N changed", from the thread that changed it to the long polls
waiting for it in this process (``GET /v4/downloads/{id}?wait=``).

Worker threads call :meth:`DownloadChanges.notify` after they commit a change; each waiting long
poll holds an ``asyncio.Event`` on the API's event loop, set through ``call_soon_threadsafe``, so
a waiter costs no thread. Changes made by other processes arrive through PostgreSQL's
LISTEN/NOTIFY (:mod:`dlserve.downloads.change_feed`); on SQLite, and as a fallback, a long poll
also re-reads the database every ``long_poll_recheck_seconds`` (:mod:`dlserve.downloads.long_poll`).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_Waiter = tuple[asyncio.AbstractEventLoop, asyncio.Event]


class DownloadChanges:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: dict[int, set[_Waiter]] = {}
        self._changed = threading.Condition(self._lock)  # lets tests wait for a waiter to arrive

    def notify(self, download_id: int) -> None:
        """Wake every long poll of ``download_id`` in this process (call it after the commit)."""
        with self._lock:
            waiters = list(self._waiters.get(download_id, ()))
        for loop, event in waiters:
            with contextlib.suppress(RuntimeError):  # that loop has closed: its waiter is gone too
                loop.call_soon_threadsafe(event.set)

    def notify_all(self) -> None:
        """Wake every long poll in this process (changes may have been missed: they re-read)."""
        with self._lock:
            waiters = [waiter for waiting in self._waiters.values() for waiter in waiting]
        for loop, event in waiters:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(event.set)

    @contextmanager
    def subscribe(self, download_id: int) -> Iterator[asyncio.Event]:
        """An event set whenever ``download_id`` changes, while the ``with`` block lasts."""
        waiter = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiters.setdefault(download_id, set()).add(waiter)
            self._changed.notify_all()
        try:
            yield waiter[1]
        finally:
            with self._lock:
                remaining = self._waiters.get(download_id)
                if remaining is not None:
                    remaining.discard(waiter)
                    if not remaining:
                        del self._waiters[download_id]
                self._changed.notify_all()

    def waiting(self, download_id: int) -> int:
        """How many long polls wait for ``download_id`` now."""
        with self._lock:
            return len(self._waiters.get(download_id, ()))

    def wait_for_waiters(self, download_id: int, count: int, timeout: float) -> bool:
        """Block until ``count`` long polls wait for ``download_id`` (tests, without sleeping)."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self._waiters.get(download_id, ())) >= count, timeout)
