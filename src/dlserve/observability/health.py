"""`HealthMonitor`: the state ``/v4/health`` reports, checked in the background.

A health endpoint is polled by load balancers, orchestrators and dashboards, often by several at
once; if each call touched the database, the storage and the queue, health checks alone would
load the service. Here one thread per process runs the live checks every ``interval`` seconds
(``DLSERVE_HEALTH_REFRESH_SECONDS``, default 1) and keeps the answer ready as bytes; a request
only reads it. ``/v4/health?deep=1`` runs the checks live (and refreshes the kept answer).

``ok``; ``degraded`` (serving, but something needs a look); ``down`` (503: cannot serve). The
answer says when it was checked (``checked_at``); a checker thread that stopped shows as an
old ``checked_at``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa

from dlserve.clock import Clock
from dlserve.db.engine import Database
from dlserve.jobs.interfaces import JobQueue
from dlserve.logs import get_logger
from dlserve.records.schema import DATA_TYPES
from dlserve.records.snapshots import SnapshotCatalog
from dlserve.storage.interfaces import Storage

log = get_logger("dlserve.health")


@dataclass(frozen=True)
class HealthReport:
    status: str
    status_code: int
    body: bytes  # the JSON answer, rendered once per check


class HealthMonitor:
    def __init__(
        self,
        db: Database,
        storage: Storage,
        queue: JobQueue,
        snapshots: SnapshotCatalog,
        clock: Clock,
        interval: float,
    ) -> None:
        self._db = db
        self._storage = storage
        self._queue = queue
        self._snapshots = snapshots
        self._clock = clock
        self._interval = interval
        self._report: HealthReport | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._checked = threading.Condition()
        self.checks_run = 0  # how many times the live checks ran (tests, and a hint when debugging)

    def current(self) -> HealthReport:
        """The last report, without any I/O (a live check only before the first one exists)."""
        return self._report or self.refresh()

    def refresh(self) -> HealthReport:
        """Run the live checks now and keep their answer."""
        status, checks = self._check()
        body = {"status": status, "checks": checks, "checked_at": _iso(self._clock.now())}
        report = HealthReport(status, 503 if status == "down" else 200, orjson.dumps(body))
        with self._checked:
            self._report = report
            self.checks_run += 1
            self._checked.notify_all()
        return report

    def wait_for_checks(self, count: int, timeout: float) -> bool:
        """Block until the checks have run ``count`` times in all (tests, without sleeping)."""
        with self._checked:
            return self._checked.wait_for(lambda: self.checks_run >= count, timeout)

    def start(self) -> None:
        """Check once now, then every ``interval`` seconds in a daemon thread until :meth:`stop`."""
        self.refresh()
        self._thread = threading.Thread(target=self._loop, name="dlserve-health", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.refresh()
            except Exception:  # keep checking: the next round may succeed
                log.exception("health check failed")

    def _check(self) -> tuple[str, dict[str, Any]]:
        checks: dict[str, Any] = {}
        try:
            with self._db.read() as conn:
                conn.execute(sa.text("SELECT 1"))
            checks["database"] = {"status": "ok"}
        except Exception as exc:  # health must answer even when the database does not
            checks["database"] = {"status": "down", "error": type(exc).__name__}
            return "down", checks
        try:
            self._storage.exists("health/probe")
            checks["storage"] = {"status": "ok"}
        except Exception as exc:
            checks["storage"] = {"status": "down", "error": type(exc).__name__}
        stats = self._queue.stats()
        checks["queue"] = {"status": "degraded" if stats.get("dead") else "ok", "jobs": stats}
        loaded = {t: (s.record_count if (s := self._snapshots.current(t)) else 0) for t in DATA_TYPES}
        checks["records"] = {"status": "ok" if any(loaded.values()) else "empty", "loaded": loaded}
        if checks["storage"]["status"] == "down":
            return "down", checks
        if checks["queue"]["status"] != "ok" or checks["records"]["status"] != "ok":
            return "degraded", checks
        return "ok", checks


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
