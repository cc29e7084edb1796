"""Download changes between processes on PostgreSQL: ``NOTIFY`` after a change commits, ``LISTEN``
in every API process, so a long poll (``GET /v4/downloads/{id}?wait=``) in one process wakes as
soon as a worker in another process changes the download — not at its next periodic re-read.

- :func:`publish`: ``pg_notify('dlserve_download_changes', '<id>')`` in its own transaction, after
  the change committed (a failure is logged, never raised: the re-read still finds the change).
- :class:`ChangeListener`: a thread with its own connection (autocommit, outside the pool) that
  ``LISTEN``s and hands each id to :meth:`DownloadChanges.notify`. Notifications sent while it
  was not listening (before it started, or while it reconnects after losing its connection) are
  lost, so every (re)connection wakes every waiting long poll, which re-reads its download.

SQLite has no such channel; there the long polls' periodic re-read
(``DLSERVE_LONG_POLL_RECHECK_SECONDS``) is how changes made by other processes arrive. The re-read
stays on PostgreSQL too, as the fallback.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import psycopg
import sqlalchemy as sa

from dlserve.db.engine import Database
from dlserve.downloads.changes import DownloadChanges
from dlserve.logs import get_logger

CHANNEL = "dlserve_download_changes"
RECONNECT_SECONDS = 1.0
POLL_SECONDS = 0.5  # how soon the listener notices it was asked to stop

log = get_logger("dlserve.downloads.change_feed")


def publish(db: Database, download_id: int) -> None:
    """Tell every listening process that ``download_id`` changed (call it after the commit)."""
    try:
        with db.write() as conn:
            conn.execute(sa.select(sa.func.pg_notify(CHANNEL, str(download_id))))
    except Exception:
        log.exception("could not publish a download change", download_id=download_id)


def local_and_published(db: Database, changes: DownloadChanges) -> Callable[[int], None]:
    """The ``on_change`` of a process on PostgreSQL: wake this process's long polls, then the others'."""

    def on_change(download_id: int) -> None:
        changes.notify(download_id)
        publish(db, download_id)

    return on_change


class ChangeListener:
    def __init__(self, db: Database, changes: DownloadChanges) -> None:
        if not db.is_postgres:
            raise ValueError("LISTEN/NOTIFY needs PostgreSQL")
        self._conninfo = db.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._changes = changes
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.listening = threading.Event()  # set while LISTEN is in force (tests wait for it)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="dlserve-change-listener", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    self._changes.notify_all()  # whatever was missed before now: re-read
                    while not self._stop.is_set():
                        for notice in conn.notifies(timeout=POLL_SECONDS):
                            if notice.payload.isdigit():
                                self._changes.notify(int(notice.payload))
            except Exception:
                if self._stop.is_set():
                    break
                log.warning("download change listener lost its connection; reconnecting", exc_info=True)
            finally:
                self.listening.clear()
            self._stop.wait(RECONNECT_SECONDS)
