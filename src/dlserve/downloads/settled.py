"""`SettledDownloads`: downloads that can no longer change, kept in memory so that polling one
costs no query (and, from the event loop, no trip to a worker thread either).

A download that is completed, failed or cancelled is *settled*: nothing changes its row again
(cancelling and failing touch active downloads only — ``services.py``, ``janitor.py``,
``runner.py``), and its files change in one way only: the janitor marks a file deleted once its
``expires_at`` has passed. So a settled download read at any moment stays the right answer, in
every process sharing the database, until the earliest ``expires_at`` of its live files; from
``MARGIN`` before that on (room for clocks that differ between machines) it is read again. Active
downloads are never kept: their progress moves in other processes.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import datetime, timedelta

from dlserve.clock import Clock
from dlserve.downloads.models import Download

MARGIN = timedelta(seconds=5)
DEFAULT_MAX_ENTRIES = 10_000


class SettledDownloads:
    def __init__(self, clock: Clock, *, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self._clock = clock
        self._max_entries = max_entries
        self._lock = threading.Lock()
        # download id → (the download, the time until which it is certainly unchanged or None: always)
        self._entries: OrderedDict[int, tuple[Download, datetime | None]] = OrderedDict()

    def get(self, download_id: int) -> Download | None:
        """The settled download while it certainly has not changed; None otherwise."""
        entry = self._entries.get(download_id)
        if entry is None:
            return None
        download, until = entry
        if until is not None and self._clock.now() >= until:
            with self._lock:
                self._entries.pop(download_id, None)
            return None
        return download

    def remember(self, download: Download) -> None:
        """Keep ``download`` if it is settled (just read from the database)."""
        if self._max_entries <= 0 or download.status.is_active:
            return
        live = [f.expires_at for f in download.files if f.deleted_at is None]
        until = min(live) - MARGIN if live else None
        if until is not None and self._clock.now() >= until:
            return
        with self._lock:
            self._entries[download.id] = (download, until)
            self._entries.move_to_end(download.id)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
