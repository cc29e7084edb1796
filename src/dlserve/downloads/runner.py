"""The export runner: a download becomes one *plan* job, then one job per result file.

Plan (job kind ``export``): one scan of the query's matching ``_seq`` values, in the snapshot's
load order, cuts the first ``num_records`` matches into files of ``records_per_file``: part k holds
the matches with ``after_seq < _seq <= through_seq``. Each part is queued as its own job (kind
``export_part``), so any number of workers — threads or processes on other machines — write
different files of one download at once, and file numbering stays exact.

Part (:mod:`part`): DuckDB renders the lines (:mod:`sql_render`), Python writes, hashes and counts them into a
temp file; the finished file is stored, and then ONE transaction lists it on the download, charges
its records and completes the part's job. A crash before that transaction just runs the part again
(same name, same bytes); after it, the part is done. So no record is lost, duplicated or charged
twice, whatever dies when.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import orjson
import sqlalchemy as sa

from dlserve.accounts.services import AccountService
from dlserve.catalog.formats import csv_line
from dlserve.clock import Clock
from dlserve.db.engine import Database
from dlserve.db.tables import download_files, downloads
from dlserve.downloads.models import (
    DELETED_PART_NO,
    Download,
    DownloadStatus,
    deleted_file_name,
    storage_key,
)
from dlserve.downloads.part import BATCH_ROWS, PartExport, PartPlan, finish_if_done
from dlserve.downloads.services import EXPORT_KINDS, PART_KIND, PLAN_KIND
from dlserve.downloads.writers import PartWriter
from dlserve.jobs.interfaces import Job, JobQueue, LeaseLost
from dlserve.jobs.interfaces import JobStopped as Stopped
from dlserve.logs import get_logger
from dlserve.query import CompiledQuery, compile_query
from dlserve.records import delta, duck
from dlserve.records.part_files import PartFiles
from dlserve.records.schema import SCHEMAS
from dlserve.records.snapshots import PART_GLOB, Snapshot, SnapshotCatalog
from dlserve.storage.interfaces import Storage

log = get_logger("dlserve.export")

__all__ = ["EXPORT_KINDS", "ExportRunner", "ExportSettings", "LeaseLost", "Stopped", "finish_if_done"]
# A modest memory limit: exports stream, and a worker shares its machine with others.
_DUCKDB_CONFIG: dict[str, Any] = {"preserve_insertion_order": True, "memory_limit": "512MB"}
# Parquet parts buffer a whole row group (up to 100,000 rows) before writing it, and two are
# written at once: under 512 MB DuckDB's writer slowed down (6 parts side by side: 12.9 s at
# 512 MB, 4.6 s at 1 GB; worker peak RSS 657 and 928 MB).
_PARQUET_MEMORY_LIMIT = "1GB"


@dataclass(frozen=True)
class ExportSettings:
    records_per_file: int
    link_ttl: timedelta
    scratch_dir: Path


class ExportRunner:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        queue: JobQueue,
        accounts: AccountService,
        snapshots: SnapshotCatalog,
        storage: Storage,
        settings: ExportSettings,
        on_change: Callable[[int], None] | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.queue = queue
        self.accounts = accounts
        self.snapshots = snapshots
        self.storage = storage
        self.settings = settings
        # Called with a download's id after a change commits (wakes this process's long polls).
        self.on_change = on_change or (lambda _download_id: None)
        # A delta part's sort spills past the memory limit (see sql_render.records_between): into the
        # worker's scratch directory, not DuckDB's default ``.tmp`` in the current directory.
        self._duck_config: dict[str, Any] = {
            **_DUCKDB_CONFIG,
            "temp_directory": str(settings.scratch_dir / "duckdb-spill"),
        }
        self._duck = duck.connect(self._duck_config)
        self._parquet_duck: duckdb.DuckDBPyConnection | None = None  # opened by the first Parquet part
        self._duck_lock = threading.Lock()
        # One CSV COPY at a time in this process: each already runs on all of DuckDB's threads,
        # and two at once measured slower than one after the other (a 1M flat CSV export with 2
        # export threads: 0.70 of DuckDB's own COPY, 0.97 with one). A second export thread
        # meanwhile hashes, stores and commits its part, or plans the next. Parquet parts do not
        # take it (see ``PartExport._duckdb_writes``).
        self.bulk_write = threading.Lock()
        self.part_files = PartFiles()  # which snapshot parts a part's _seq range reads

    def close(self) -> None:
        self._duck.close()
        if self._parquet_duck is not None:
            self._parquet_duck.close()

    def cursor(self) -> duckdb.DuckDBPyConnection:
        with self._duck_lock:
            return self._duck.cursor()

    def parquet_cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor of the DuckDB instance that writes Parquet parts. Its statistics propagation is
        off: with it, DuckDB marks a column REQUIRED (not nullable) when the part's rows happen to
        have no NULL in it, and the files of one download would differ in schema. The option is
        global to an instance, hence an instance of its own."""
        with self._duck_lock:
            if self._parquet_duck is None:
                self._parquet_duck = duck.connect(
                    {
                        **self._duck_config,
                        "memory_limit": _PARQUET_MEMORY_LIMIT,
                        "disabled_optimizers": "statistics_propagation",
                    }
                )
            return self._parquet_duck.cursor()

    def run(self, job: Job, worker_id: str, stop: threading.Event) -> None:
        """Run one claimed job to its end, or until cancelled/stopped (then it stays resumable)."""
        download = self._in_progress(job)
        if download is None:
            self.queue.complete(job, worker_id)
            return
        if job.kind == PLAN_KIND:
            self._plan(job, worker_id, download)
        else:
            PartExport(self, job, worker_id, stop, download).execute()

    def _in_progress(self, job: Job) -> Download | None:
        """Mark the download in progress; None when there is nothing (more) to do for it."""
        now = self.clock.now()
        started = False
        download_id = int(job.subject_id or 0)
        with self.db.write() as conn:
            row = conn.execute(sa.select(downloads).where(downloads.c.id == download_id)).mappings().first()
            if row is None or row["status"] not in (DownloadStatus.QUEUED, DownloadStatus.IN_PROGRESS):
                return None
            if row["status"] == DownloadStatus.QUEUED:
                conn.execute(
                    downloads.update()
                    .where(downloads.c.id == download_id)
                    .values(status=DownloadStatus.IN_PROGRESS.value, started_at=now, updated_at=now)
                )
                row = conn.execute(sa.select(downloads).where(downloads.c.id == download_id)).mappings().one()
                started = True
        if started:
            self.on_change(download_id)
        return Download.from_row(row, [])

    # -- plan --------------------------------------------------------------------------------------

    def _plan(self, job: Job, worker_id: str, download: Download) -> None:
        if download.is_delta:
            plans, deleted = self._plan_delta(download)
        else:
            plans, deleted = self._cut_into_parts(download), None
        try:
            with self.db.write() as conn:
                if deleted is not None:
                    conn.execute(download_files.insert().values(**deleted))
                for plan in plans:
                    self.queue.enqueue_in(conn, PART_KIND, str(download.id), plan.as_dict())
                if not self.queue.complete_in(conn, job, worker_id):
                    raise LeaseLost()  # rolls the parts back: the next owner plans again
                if not plans:
                    finish_if_done(conn, self.clock, self.queue, download.id)
        except BaseException:
            if deleted is not None:  # not listed: the next attempt writes it again
                self.storage.delete(deleted["storage_key"])
            raise
        log.info("export planned", download_id=download.id, parts=len(plans))

    def _cut_into_parts(self, download: Download) -> list[PartPlan]:
        """The ``_seq`` of every ``records_per_file``-th match (and of the last one to deliver)."""
        schema = SCHEMAS[download.data_type]
        compiled = compile_query(schema, download.query)
        snapshot = self.snapshot_of(download)
        cursor = self.cursor()
        try:
            with self.snapshots.open(snapshot) as directory:
                rows = self._boundaries(
                    cursor,
                    directory,
                    compiled.sql,
                    compiled.params,
                    download.num_records or 0,
                    self.settings.records_per_file,
                )
        finally:
            cursor.close()
        return self._plans_from(download, rows)

    def _plan_delta(self, download: Download) -> tuple[list[PartPlan], dict[str, Any] | None]:
        """A delta's parts, cut like any download's over the records it delivers, and its list of
        deleted ids, written and stored now (listed by the plan's transaction)."""
        compiled = compile_query(SCHEMAS[download.data_type], download.query)
        cursor = self.cursor()
        try:
            with self.delta_sides(cursor, download) as sides:
                narrowed = delta.delivered_filter(sides, compiled, 0, delta.MAX_SEQ)
                rows = self._boundaries(
                    cursor,
                    Path(sides.new_scan).parent,
                    narrowed.sql,
                    narrowed.params,
                    download.num_records or 0,
                    self.settings.records_per_file,
                    in_seq_order=True,
                )
                deleted = self._write_deleted(cursor, download, delta.deleted_ids(sides, compiled))
        finally:
            cursor.close()
        return self._plans_from(download, rows), deleted

    @contextlib.contextmanager
    def delta_sides(
        self, cursor: duckdb.DuckDBPyConnection, download: Download
    ) -> Iterator[delta.DeltaSides]:
        """Both snapshots of a delta download, pinned locally for the block."""
        base = self._base_snapshot(download)
        with self.snapshots.open(self.snapshot_of(download)) as new_dir, self.snapshots.open(base) as old_dir:
            yield delta.DeltaSides.of(cursor, new_dir, old_dir)

    def _base_snapshot(self, download: Download) -> Snapshot:
        """The snapshot the download named by ``since`` was made from (checked at creation)."""
        with self.db.read() as conn:
            snapshot_id = conn.execute(
                sa.select(downloads.c.snapshot_id).where(downloads.c.id == download.since)
            ).scalar_one()
        return self.snapshots.get(int(snapshot_id))

    def _write_deleted(
        self, cursor: duckdb.DuckDBPyConnection, download: Download, ids: CompiledQuery
    ) -> dict[str, Any] | None:
        """``{id}_deleted.txt`` (JSON Lines, ``{"id": ...}``) or ``{id}_deleted.csv`` (an ``id``
        column), streamed from DuckDB; None when nothing was deleted."""
        if not download.num_deleted:
            return None
        is_csv = download.format == "csv"
        writer = PartWriter(
            self.settings.scratch_dir, gzip=download.compress == "gzip", header="id" if is_csv else None
        )
        try:
            relation = cursor.sql(ids.sql, params=ids.params)
            assert relation is not None
            for batch in relation.to_arrow_reader(BATCH_ROWS):
                for record_id in batch.column(0).to_pylist():
                    line = csv_line([record_id]) if is_csv else orjson.dumps({"id": record_id}).decode()
                    writer.write_text(line + ("\r\n" if is_csv else "\n"))
                    writer.records += 1
            if writer.records != download.num_deleted:
                raise RuntimeError(f"{writer.records} deleted ids, {download.num_deleted} counted")
            finished = writer.finish()
        except BaseException:
            writer.discard()
            raise
        name = deleted_file_name(download.id, download.format, download.compress)
        key = storage_key(download.id, name)
        self.storage.put_file(key, finished.path)
        finished.path.unlink(missing_ok=True)
        now = self.clock.now()
        return {
            "download_id": download.id,
            "part_no": DELETED_PART_NO,
            "name": name,
            "storage_key": key,
            "records": writer.records,
            "bytes": finished.bytes,
            "sha256": finished.sha256,
            "created_at": now,
            "expires_at": now + self.settings.link_ttl,
        }

    def _plans_from(self, download: Download, rows: list[tuple[int, int]]) -> list[PartPlan]:
        total = download.num_records or 0
        plans: list[PartPlan] = []
        after, delivered = 0, 0
        for rn, seq in rows:
            plans.append(PartPlan(len(plans) + 1, after, int(seq), int(rn) - delivered))
            after, delivered = int(seq), int(rn)
        if delivered != total:
            raise RuntimeError(f"the snapshot holds {delivered} matches, the download counted {total}")
        return plans

    @staticmethod
    def _boundaries(
        cursor: duckdb.DuckDBPyConnection,
        directory: Path,
        where: str,
        params: list[object],
        total: int,
        per_file: int,
        *,
        in_seq_order: bool = False,
    ) -> list[tuple[int, int]]:
        # A plain scan yields matches in load order; a delta's semi-join is numbered by ``_seq``
        # explicitly (sorting only the integers).
        window = "ORDER BY _seq" if in_seq_order else ""
        rows = cursor.execute(
            f"SELECT rn, _seq FROM (SELECT _seq, row_number() OVER ({window}) AS rn "
            f"FROM read_parquet(?) WHERE {where}) "
            "WHERE rn <= ? AND (rn % ? = 0 OR rn = ?) ORDER BY rn",
            [str(directory / PART_GLOB), *params, total, per_file, total],
        ).fetchall()
        return [(int(rn), int(seq)) for rn, seq in rows]

    def snapshot_of(self, download: Download) -> Snapshot:
        assert download.snapshot_id is not None
        return self.snapshots.get(download.snapshot_id)
