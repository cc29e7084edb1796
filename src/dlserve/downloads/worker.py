"""Worker threads: claim export jobs and run them; also the periodic upkeep (reaping, expiry).

``dlserve serve`` starts a pool inside the API process; ``dlserve worker`` runs one alone. On
SIGTERM the pool sets its stop event: a running export abandons its unfinished part (a temp
file) and gives the job back at once, so another worker resumes at the last committed part.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid

from dlserve.downloads.janitor import Janitor
from dlserve.downloads.runner import EXPORT_KINDS, ExportRunner, LeaseLost, Stopped
from dlserve.jobs.queue import JobQueue
from dlserve.logs import get_logger

log = get_logger("dlserve.worker")

IDLE_POLL_S = 0.5
UPKEEP_EVERY_S = 30.0


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class WorkerPool:
    def __init__(self, queue: JobQueue, runner: ExportRunner, janitor: Janitor, threads: int) -> None:
        self._queue = queue
        self._runner = runner
        self._janitor = janitor
        self._threads_wanted = threads
        self._threads: list[threading.Thread] = []
        self.stop_event = threading.Event()

    def start(self) -> None:
        for index in range(self._threads_wanted):
            thread = threading.Thread(target=self._loop, name=f"dlserve-worker-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 30.0) -> None:
        self.stop_event.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def run_forever(self) -> None:
        """Run the pool in the foreground until :meth:`stop` (from a signal handler)."""
        self.start()
        while not self.stop_event.wait(1.0):
            pass
        self.stop()

    def _loop(self) -> None:
        worker_id = new_worker_id()
        next_upkeep = 0.0
        while not self.stop_event.is_set():
            if time.monotonic() >= next_upkeep:
                self._upkeep()
                next_upkeep = time.monotonic() + UPKEEP_EVERY_S
            try:
                job = self._queue.claim(worker_id, EXPORT_KINDS)
            except Exception:
                log.exception("claiming a job failed", worker_id=worker_id)
                self.stop_event.wait(IDLE_POLL_S * 4)
                continue
            if job is None:
                self.stop_event.wait(IDLE_POLL_S)
                continue
            self._run_one(job, worker_id)

    def _run_one(self, job: object, worker_id: str) -> None:
        from dlserve.jobs.queue import Job

        assert isinstance(job, Job)
        try:
            self._runner.run(job, worker_id, self.stop_event)
        except Stopped:
            if self.stop_event.is_set():
                self._queue.release(job, worker_id)
                log.info("job released at shutdown", job_id=job.id, download_id=job.download_id)
        except LeaseLost:
            log.warning("lease lost; another worker has the job", job_id=job.id, download_id=job.download_id)
        except Exception as exc:
            log.exception("export failed", job_id=job.id, download_id=job.download_id)
            status = self._queue.fail(job, worker_id, f"{type(exc).__name__}: {exc}")
            if status == "dead":
                self._janitor.fail_download(job.download_id, f"export failed: {type(exc).__name__}: {exc}")

    def _upkeep(self) -> None:
        try:
            self._janitor.run_once()
        except Exception:
            log.exception("upkeep failed")
