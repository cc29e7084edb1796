"""Prometheus metrics at ``/metrics``.

Cluster-wide figures (downloads by status, queue depth, records and bytes exported) are read from
the database at scrape time, so any API process reports the whole fleet and workers need no HTTP
server of their own; ``rate(dlserve_export_records_total[1m])`` is records/s across all workers.
HTTP latency is per process, labelled by route template (not by raw path, which would explode);
:class:`dlserve.api.edge.EdgeMiddleware` observes it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from dlserve.db.engine import Database
from dlserve.db.tables import download_files, downloads
from dlserve.downloads.models import DELETED_PART_NO
from dlserve.jobs.interfaces import JobQueue
from dlserve.logs import get_logger

log = get_logger("dlserve.metrics")


class DatabaseCollector(Collector):
    def __init__(self, db: Database, queue: JobQueue) -> None:
        self._db = db
        self._queue = queue

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        by_status = GaugeMetricFamily("dlserve_downloads", "Downloads by status", labels=["status"])
        depth = GaugeMetricFamily(
            "dlserve_jobs", "Jobs in the queue by kind and status", labels=["kind", "status"]
        )
        records = CounterMetricFamily("dlserve_export_records", "Records written to committed result files")
        written = CounterMetricFamily("dlserve_export_bytes", "Bytes of committed result files")
        oldest = GaugeMetricFamily("dlserve_queue_oldest_seconds", "Age of the oldest queued job")
        try:
            with self._db.read() as conn:
                for status, count in conn.execute(
                    sa.select(downloads.c.status, sa.func.count()).group_by(downloads.c.status)
                ):
                    by_status.add_metric([status], count)
                totals = conn.execute(
                    sa.select(
                        sa.func.coalesce(sa.func.sum(download_files.c.records), 0),
                        sa.func.coalesce(sa.func.sum(download_files.c.bytes), 0),
                    ).where(download_files.c.part_no != DELETED_PART_NO)  # a delta's deleted ids
                ).one()
            for (kind, status), count in sorted(self._queue.counts().items()):
                depth.add_metric([kind, status], count)
            first = self._queue.oldest_queued_at()
        except Exception:  # a scrape must answer even when the database does not
            log.exception("metrics: database unavailable")
            return
        records.add_metric([], float(totals[0]))
        written.add_metric([], float(totals[1]))
        oldest.add_metric([], max(0.0, time.time() - first.timestamp()) if first else 0.0)
        yield from (by_status, depth, records, written, oldest)


class Metrics:
    def __init__(self, db: Database, queue: JobQueue) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(DatabaseCollector(db, queue))
        self.http_latency = Histogram(
            "dlserve_http_request_duration_seconds",
            "HTTP request latency by route template, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
