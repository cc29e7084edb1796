"""`ProgressMonitor`: the thread beside a running fetch.

Every ``PROGRESS_EVERY_S`` it extends the job's lease, publishes the tracker's progress on the row,
and cancels the fetch when it should stop: the job was withdrawn (remove/cancel), the row is no
longer ``downloading``, or the worker is shutting down. The database is touched only here, never on
the fetching thread, so a slow write never stalls a transfer. Cancelling shuts the fetch's sockets
down, so the fetch stops within one tick even when it is blocked reading a stalled server.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from dlserve.jobs.interfaces import Job, JobQueue
from dlserve.logs import get_logger
from dlserve.media.progress import ProgressTracker

log = get_logger("dlserve.media.monitor")

PROGRESS_EVERY_S = 0.5
SHUTDOWN = "the server is shutting down"
WITHDRAWN = "the download was removed or cancelled"


class ProgressMonitor:
    def __init__(
        self,
        queue: JobQueue,
        job: Job,
        worker_id: str,
        publish: Callable[[], bool],
        tracker: ProgressTracker,
        stop: threading.Event,
    ) -> None:
        self._queue = queue
        self._job = job
        self._worker_id = worker_id
        self._publish = publish
        self._tracker = tracker
        self._stop = stop
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"media-monitor-{job.id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def finish(self) -> None:
        """Stop the thread and wait for it (idempotent)."""
        self._done.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join()

    def _loop(self) -> None:
        while not self._done.wait(PROGRESS_EVERY_S):
            if self._stop.is_set():
                # Keep heartbeating: the runner still holds the job until it has given it back.
                self._tracker.cancel(SHUTDOWN)
            try:
                if not self._queue.heartbeat(self._job, self._worker_id) or not self._publish():
                    self._tracker.cancel(WITHDRAWN)
                    return
            except Exception:  # a database hiccup: keep the transfer going, try again next tick
                log.exception("media progress update failed", job_id=self._job.id)
