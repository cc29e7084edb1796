"""`WorkerRuntime`: the one worker loop. Threads claim jobs of any registered kind and dispatch them
to the handler each domain registered; one lease keeper heartbeats every running job; one upkeep
schedule runs the domains' periodic tasks.

``dlserve serve`` runs one runtime inside the API process, ``dlserve worker`` one alone. Each domain
registers a :class:`Handler` for its kinds (export plan and part, media; later webhooks and
schedules) and its :class:`UpkeepTask` s (the export janitor, media upkeep).

- **Groups.** Threads are created in groups, each claiming a set of kinds (``--workers`` export
  threads, ``DLSERVE_MEDIA_WORKERS`` media threads), so a slow media fetch never holds up an export
  and the operator sizes each. A group may claim every kind.
- **Heartbeats.** While a handler runs, the lease keeper extends the job's lease every third of the
  lease, whatever the handler does (a long plan cannot outlive its lease and run twice). When the
  lease is lost (withdrawn, or expired and taken over), the job's ``lease_lost`` event is set;
  handlers that can stop early check it.
- **Outcomes.** A handler returns (it completed or gave the job back itself) or raises:
  :class:`JobStopped` at shutdown → the job is released (the attempt does not count);
  :class:`LeaseLost` → nothing (not ours any more); anything else → ``fail`` (retry with backoff,
  or ``dead`` and the handler's ``on_dead`` says so to its subject).
- **Shutdown.** :meth:`stop` sets the stop event every handler watches and waits for the threads.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from dlserve.jobs.interfaces import Job, JobQueue, JobStatus, JobStopped, LeaseLost
from dlserve.jobs.wakeup import WakeUp
from dlserve.logs import get_logger

log = get_logger("dlserve.worker")

IDLE_POLL_S = 0.5


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class JobContext:
    """What a handler gets beside its job."""

    worker_id: str
    stop: threading.Event  # the process is shutting down: give the job back
    lease_lost: threading.Event = field(default_factory=threading.Event)  # not ours any more


@dataclass(frozen=True)
class Handler:
    """How a domain runs its jobs of ``kinds``."""

    kinds: tuple[str, ...]
    run: Callable[[Job, JobContext], None]
    # The job failed on its last attempt (it will never run again): tell its subject.
    on_dead: Callable[[Job, str], None] | None = None


@dataclass(frozen=True)
class UpkeepTask:
    """Work no request triggers, run every ``every_s`` seconds by one thread per process."""

    name: str
    run: Callable[[], object]
    every_s: float = 30.0


@dataclass(frozen=True)
class _Group:
    name: str
    kinds: tuple[str, ...]
    threads: int


class WorkerRuntime:
    def __init__(
        self,
        queue: JobQueue,
        *,
        idle_poll_s: float = IDLE_POLL_S,
        heartbeat_every_s: float | None = None,
        wakeup: WakeUp | None = None,
    ):
        self._queue = queue
        # Rung by this process's services when they queue a job: an idle thread claims it at once.
        self._wakeup = wakeup or WakeUp()
        self._idle_poll_s = idle_poll_s
        self._heartbeat_every_s = heartbeat_every_s or max(0.05, queue.lease_seconds / 3)
        self._handlers: dict[str, Handler] = {}
        self._groups: list[_Group] = []
        self._upkeep: list[UpkeepTask] = []
        self._threads: list[threading.Thread] = []  # the worker threads
        self._helpers: list[threading.Thread] = []  # the lease keeper and the upkeep
        self._workers_done = threading.Event()
        self._running: dict[int, tuple[Job, JobContext]] = {}
        self._running_lock = threading.Lock()
        self.stop_event = threading.Event()

    # -- registration ----------------------------------------------------------------------------

    def register(self, handler: Handler) -> None:
        for kind in handler.kinds:
            if kind in self._handlers:
                raise ValueError(f"a handler for job kind {kind!r} is already registered")
            self._handlers[kind] = handler

    def add_upkeep(self, task: UpkeepTask) -> None:
        self._upkeep.append(task)

    def add_threads(self, name: str, threads: int, kinds: Collection[str] | None = None) -> None:
        """``threads`` threads claiming ``kinds`` (every registered kind when None)."""
        wanted = tuple(kinds) if kinds is not None else tuple(self._handlers)
        unknown = [kind for kind in wanted if kind not in self._handlers]
        if unknown:
            raise ValueError(f"no handler registered for job kinds {unknown}")
        if threads > 0:
            self._groups.append(_Group(name, wanted, threads))

    @property
    def threads_wanted(self) -> int:
        return sum(group.threads for group in self._groups)

    # -- life ------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker threads, and (when there are any) the lease keeper and the upkeep."""
        if self.threads_wanted == 0:
            return
        for group in self._groups:
            for index in range(group.threads):
                self._threads.append(_spawn(f"dlserve-{group.name}-{index}", self._loop, group.kinds))
        self._helpers.append(_spawn("dlserve-lease-keeper", self._keep_leases))
        if self._upkeep:
            self._helpers.append(_spawn("dlserve-upkeep", self._run_upkeep))

    def stop(self, timeout: float = 30.0) -> None:
        self.stop_event.set()
        self._wakeup.ring()  # idle threads notice the stop now
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._workers_done.set()
        for thread in self._helpers:
            thread.join(max(0.0, deadline - time.monotonic()))

    def run_forever(self) -> None:
        """Run in the foreground until :meth:`stop` (from a signal handler)."""
        self.start()
        while not self.stop_event.wait(1.0):
            pass
        self.stop()

    # -- the loop --------------------------------------------------------------------------------

    def _loop(self, kinds: tuple[str, ...]) -> None:
        worker_id = new_worker_id()
        while not self.stop_event.is_set():
            try:
                job = self._queue.claim(worker_id, kinds)
            except Exception:
                log.exception("claiming a job failed", worker_id=worker_id)
                self.stop_event.wait(self._idle_poll_s * 4)
                continue
            if job is None:
                self._wakeup.wait(self._idle_poll_s)
                continue
            self.run_one(job, worker_id)

    def run_one(self, job: Job, worker_id: str) -> None:
        """Run one claimed job through its handler, with heartbeats, to one of the outcomes above."""
        handler = self._handlers[job.kind]
        context = JobContext(worker_id, self.stop_event)
        with self._running_lock:
            self._running[job.id] = (job, context)
        try:
            handler.run(job, context)
        except JobStopped as stopped:
            if self.stop_event.is_set():
                self._queue.release(job, worker_id)
                log.info("job released at shutdown", job_id=job.id, kind=job.kind, subject_id=job.subject_id)
            else:  # its subject no longer wants it (cancelled): the job was already withdrawn
                log.info("job stopped", job_id=job.id, kind=job.kind, reason=str(stopped))
        except LeaseLost:
            log.warning("lease lost; the job is not ours any more", job_id=job.id, kind=job.kind)
        except Exception as exc:
            log.exception("job failed", job_id=job.id, kind=job.kind, subject_id=job.subject_id)
            error = f"{type(exc).__name__}: {exc}"
            if self._queue.fail(job, worker_id, error) is JobStatus.DEAD and handler.on_dead is not None:
                handler.on_dead(job, error)
        finally:
            with self._running_lock:
                self._running.pop(job.id, None)

    # -- heartbeats and upkeep -------------------------------------------------------------------

    def _keep_leases(self) -> None:
        # Runs until the worker threads have ended (see stop): at shutdown the handlers are still
        # giving their jobs back, and must hold their leases till then.
        while not self._workers_done.wait(self._heartbeat_every_s):
            self.heartbeat_running()

    def heartbeat_running(self) -> None:
        """Extend the lease of every job this runtime is running; flag the ones that were lost."""
        with self._running_lock:
            running = list(self._running.values())
        for job, context in running:
            if context.lease_lost.is_set():
                continue
            try:
                if not self._queue.heartbeat(job, context.worker_id):
                    context.lease_lost.set()
            except Exception:  # a database hiccup: try again next beat, the lease has slack
                log.exception("heartbeat failed", job_id=job.id)

    def _run_upkeep(self) -> None:
        due = dict.fromkeys((task.name for task in self._upkeep), 0.0)
        while not self.stop_event.is_set():
            for task in self._upkeep:
                if time.monotonic() >= due[task.name]:
                    due[task.name] = time.monotonic() + task.every_s
                    run_upkeep_task(task)
            next_due = min(due.values()) - time.monotonic()
            self.stop_event.wait(max(0.05, next_due))


def run_upkeep_task(task: UpkeepTask) -> None:
    try:
        task.run()
    except Exception:
        log.exception("upkeep failed", task=task.name)


def _spawn(name: str, target: Callable[..., None], *args: object) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, name=name, daemon=True)
    thread.start()
    return thread
