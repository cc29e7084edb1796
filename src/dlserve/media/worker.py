"""`MediaWorkerPool`: threads that claim ``media`` jobs and run them; plus the media upkeep.

``dlserve serve`` starts one beside the export pool (``DLSERVE_MEDIA_WORKERS`` threads), and
``dlserve worker`` runs one too. On shutdown the stop event makes a running fetch give its job back,
so a restart picks it up again (see :mod:`dlserve.media.runner`).
"""

from __future__ import annotations

import threading
import time

from dlserve.downloads.worker import new_worker_id
from dlserve.jobs.queue import Job, JobQueue
from dlserve.logs import get_logger
from dlserve.media.models import JOB_KIND
from dlserve.media.runner import MediaRunner
from dlserve.media.upkeep import MediaUpkeep
from dlserve.media.wakeup import WakeUp

log = get_logger("dlserve.media.worker")

IDLE_POLL_S = 0.5
UPKEEP_EVERY_S = 30.0


class MediaWorkerPool:
    def __init__(
        self,
        queue: JobQueue,
        runner: MediaRunner,
        upkeep: MediaUpkeep,
        threads: int,
        wakeup: WakeUp | None = None,
    ) -> None:
        self._queue = queue
        self._wakeup = wakeup or WakeUp()
        self._runner = runner
        self._upkeep = upkeep
        self._threads_wanted = threads
        self._threads: list[threading.Thread] = []
        self._upkeep_lock = threading.Lock()
        self._next_upkeep = 0.0
        self.stop_event = threading.Event()

    def start(self) -> None:
        if self._threads_wanted > 0:
            threading.Thread(target=_warm_up, name="dlserve-media-warm-up", daemon=True).start()
        for index in range(self._threads_wanted):
            thread = threading.Thread(target=self._loop, name=f"dlserve-media-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 30.0) -> None:
        self.stop_event.set()
        self._wakeup.ring()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _loop(self) -> None:
        worker_id = new_worker_id()
        while not self.stop_event.is_set():
            self._maybe_upkeep()
            try:
                job = self._queue.claim(worker_id, (JOB_KIND,))
            except Exception:
                log.exception("claiming a media job failed", worker_id=worker_id)
                self.stop_event.wait(IDLE_POLL_S * 4)
                continue
            if job is None:
                self._wakeup.wait(IDLE_POLL_S)  # a download queued by this process rings at once
                continue
            self._run_one(job, worker_id)

    def _run_one(self, job: Job, worker_id: str) -> None:
        try:
            self._runner.run(job, worker_id, self.stop_event)
        except Exception as exc:  # the runner handles fetch errors; this is a bug or the database
            log.exception("media job crashed", job_id=job.id)
            self._queue.fail(job, worker_id, f"{type(exc).__name__}: {exc}")

    def _maybe_upkeep(self) -> None:
        """One thread at a time, every ``UPKEEP_EVERY_S`` (and right at start)."""
        if time.monotonic() < self._next_upkeep or not self._upkeep_lock.acquire(blocking=False):
            return
        try:
            self._next_upkeep = time.monotonic() + UPKEEP_EVERY_S
            self._upkeep.run_once()
        except Exception:
            log.exception("media upkeep failed")
        finally:
            self._upkeep_lock.release()


def _warm_up() -> None:
    try:
        from dlserve.media.fetcher import warm_up

        warm_up()
    except Exception:  # only an optimisation
        log.exception("warming up yt-dlp failed")
