"""The export runner: turns one claimed job into result files, part by part, resumably.

A part is the next ``records_per_file`` matches after the checkpoint (the ``_seq`` of the last
record committed). DuckDB renders the output lines; Python only writes, hashes and counts. When
a part is complete the file is stored and then, in ONE transaction, listed on the download,
charged, and checkpointed — so a crash before that transaction redoes the part (same name, same
bytes) and a crash after it resumes at the next one: no record is lost or delivered twice.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from dlserve.accounts.services import AccountService
from dlserve.clock import Clock
from dlserve.db.engine import Database
from dlserve.db.tables import download_files, downloads
from dlserve.downloads.models import Download, DownloadStatus, result_file_name, storage_key
from dlserve.downloads.sql_render import csv_header, csv_line_select, json_line_select, matching_records
from dlserve.downloads.writers import PartWriter
from dlserve.jobs.queue import Job, JobQueue
from dlserve.logs import get_logger
from dlserve.query import compile_query
from dlserve.records.render import project
from dlserve.records.schema import SCHEMAS
from dlserve.records.snapshots import SnapshotCatalog
from dlserve.records.views import View, find_view
from dlserve.storage.interfaces import Storage

log = get_logger("dlserve.export")

BATCH_ROWS = 5_000  # lines per Arrow batch: small, so the Python side stays small
PROGRESS_EVERY_S = 1.0


class LeaseLost(Exception):
    """Another worker owns the job now (ours expired); stop without touching anything."""


class Stopped(Exception):
    """The download was cancelled, or this worker is shutting down."""


@dataclass(frozen=True)
class ExportSettings:
    records_per_file: int
    link_ttl: timedelta
    scratch_dir: Path


@dataclass
class _Checkpoint:
    part_no: int = 0  # parts committed
    last_seq: int = 0  # _seq of the last record committed
    delivered: int = 0  # records committed

    @classmethod
    def of(cls, job: Job) -> _Checkpoint:
        data = job.checkpoint or {}
        return cls(int(data.get("part_no", 0)), int(data.get("last_seq", 0)), int(data.get("delivered", 0)))

    def as_dict(self) -> dict[str, Any]:
        return {"part_no": self.part_no, "last_seq": self.last_seq, "delivered": self.delivered}


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
    ) -> None:
        self._db = db
        self._clock = clock
        self._queue = queue
        self._accounts = accounts
        self._snapshots = snapshots
        self._storage = storage
        self._settings = settings
        # A modest memory limit: exports stream, and a worker shares its machine with others.
        self._duck = duckdb.connect(config={"preserve_insertion_order": True, "memory_limit": "512MB"})
        self._duck_lock = threading.Lock()

    def close(self) -> None:
        self._duck.close()

    def run(self, job: Job, worker_id: str, stop: threading.Event) -> None:
        """Run the job to the end, or until cancelled/stopped (then leave it resumable)."""
        download = self._start(job)
        if download is None:
            self._queue.complete(job, worker_id)
            return
        _Run(self, job, worker_id, stop, download).execute()

    def _start(self, job: Job) -> Download | None:
        """Mark the download in progress; None when there is nothing (more) to do for it."""
        now = self._clock.now()
        with self._db.write() as conn:
            row = (
                conn.execute(sa.select(downloads).where(downloads.c.id == job.download_id)).mappings().first()
            )
            if row is None or row["status"] not in (DownloadStatus.QUEUED, DownloadStatus.IN_PROGRESS):
                return None
            conn.execute(
                downloads.update()
                .where(downloads.c.id == job.download_id)
                .values(
                    status=DownloadStatus.IN_PROGRESS.value,
                    started_at=row["started_at"] or now,
                    updated_at=now,
                )
            )
            row = conn.execute(sa.select(downloads).where(downloads.c.id == job.download_id)).mappings().one()
        return Download.from_row(row, [])


class _Run:
    """One attempt at one job."""

    def __init__(
        self, runner: ExportRunner, job: Job, worker_id: str, stop: threading.Event, download: Download
    ):
        self.r = runner
        self.job = job
        self.worker_id = worker_id
        self.stop = stop
        self.download = download
        self.checkpoint = _Checkpoint.of(job)
        self.schema = SCHEMAS[download.data_type]
        self.view = find_view(download.data_type, download.view)
        self.compiled = compile_query(self.schema, download.query)
        assert download.snapshot_id is not None
        self.snapshot = runner._snapshots.get(download.snapshot_id)
        self.last_beat = time.monotonic()

    def execute(self) -> None:
        total = self.download.num_records or 0
        log.info("export started", download_id=self.download.id, resume_at_part=self.checkpoint.part_no + 1)
        while self.checkpoint.delivered < total:
            wanted = min(self.r._settings.records_per_file, total - self.checkpoint.delivered)
            if not self._write_part(wanted):
                return
        self._finish()

    # -- one part ------------------------------------------------------------------------------

    def _write_part(self, wanted: int) -> bool:
        part_no = self.checkpoint.part_no + 1
        is_csv = self.download.format == "csv"
        writer = PartWriter(
            self.r._settings.scratch_dir,
            gzip=self.download.compress == "gzip",
            header=csv_header(self.view, self.schema) if is_csv else None,
        )
        last_seq = self.checkpoint.last_seq
        try:
            for seqs, lines in self._lines(wanted):
                writer.write_text("".join(line + ("\r\n" if is_csv else "\n") for line in lines))
                writer.records += _records_in(seqs, last_seq)
                last_seq = int(seqs[-1].as_py())
                self._beat(self.checkpoint.delivered + writer.records)
            if writer.records == 0:
                raise RuntimeError("the snapshot returned fewer records than were counted")
            finished = writer.finish()
        except BaseException:
            writer.discard()
            raise
        name = result_file_name(self.download.id, part_no, self.download.format, self.download.compress)
        key = storage_key(self.download.id, name)
        self.r._storage.put_file(key, finished.path)
        committed = self._commit(
            part_no, name, key, writer.records, finished.bytes, finished.sha256, last_seq
        )
        if not committed:
            self.r._storage.delete(key)
            return False
        log.info("part committed", download_id=self.download.id, part_no=part_no, records=writer.records)
        return True

    def _lines(self, wanted: int) -> Iterator[tuple[pa.ChunkedArray | pa.Array, list[str]]]:
        """(``_seq`` per line, the lines) in batches, for the next ``wanted`` records."""
        records = matching_records(self.compiled.sql, limit=True)
        python_view: View | None = None
        if self.download.format == "csv":
            select = csv_line_select(self.view, self.schema, records)
        else:
            in_sql = json_line_select(self.view, records)
            if in_sql is None:  # a field list: projected in Python, record by record
                python_view = self.view
            select = in_sql or f"SELECT _seq, _record AS line FROM {records}"
        params = [self.snapshot.scan_path, *self.compiled.params, self.checkpoint.last_seq, wanted]
        with self.r._duck_lock:
            cursor = self.r._duck.cursor()
        try:
            relation = cursor.sql(select, params=params)
            assert relation is not None
            reader = relation.to_arrow_reader(BATCH_ROWS)
            for batch in reader:
                if batch.num_rows == 0:
                    continue
                lines: list[str] = batch.column(1).to_pylist()
                if python_view is not None:
                    lines = [
                        orjson.dumps(project(python_view, orjson.loads(line))).decode() for line in lines
                    ]
                yield batch.column(0), lines
        finally:
            cursor.close()

    def _beat(self, done: int) -> None:
        """Every second: extend the lease, publish progress, notice a cancel or a shutdown."""
        if self.stop.is_set():
            raise Stopped("worker is shutting down")
        if time.monotonic() - self.last_beat < PROGRESS_EVERY_S:
            return
        self.last_beat = time.monotonic()
        if not self.r._queue.heartbeat(self.job, self.worker_id):
            if self._status() is not DownloadStatus.IN_PROGRESS:
                raise Stopped("download is no longer in progress")  # cancelling withdrew the job
            raise LeaseLost()
        with self.r._db.write() as conn:
            updated = conn.execute(
                downloads.update()
                .where(
                    downloads.c.id == self.download.id, downloads.c.status == DownloadStatus.IN_PROGRESS.value
                )
                .values(num_downloaded=done, updated_at=self.r._clock.now())
            ).rowcount
        if not updated:
            raise Stopped("download is no longer in progress")

    def _status(self) -> DownloadStatus:
        with self.r._db.read() as conn:
            status = conn.execute(
                sa.select(downloads.c.status).where(downloads.c.id == self.download.id)
            ).scalar_one()
        return DownloadStatus(status)

    def _commit(
        self, part_no: int, name: str, key: str, records: int, size: int, sha256: str, last_seq: int
    ) -> bool:
        now = self.r._clock.now()
        with self.r._db.write() as conn:
            status = conn.execute(
                sa.select(downloads.c.status).where(downloads.c.id == self.download.id)
            ).scalar_one()
            if status != DownloadStatus.IN_PROGRESS.value:
                return False  # cancelled while this part was written: it is thrown away
            progress = _Checkpoint(part_no, last_seq, self.checkpoint.delivered + records)
            if not self.r._queue.save_checkpoint_in(conn, self.job, self.worker_id, progress.as_dict()):
                raise LeaseLost()
            conn.execute(
                download_files.insert().values(
                    download_id=self.download.id,
                    part_no=part_no,
                    name=name,
                    storage_key=key,
                    records=records,
                    bytes=size,
                    sha256=sha256,
                    created_at=now,
                    expires_at=now + self.r._settings.link_ttl,
                )
            )
            conn.execute(
                downloads.update()
                .where(downloads.c.id == self.download.id)
                .values(num_downloaded=progress.delivered, updated_at=now)
            )
            self.r._accounts.charge_in(
                conn,
                self.download.account_id,
                records,
                "download",
                download_id=self.download.id,
                part_no=part_no,
                require_balance=False,
            )
        self.checkpoint = progress
        return True

    def _finish(self) -> None:
        now = self.r._clock.now()
        with self.r._db.write() as conn:
            conn.execute(
                downloads.update()
                .where(
                    downloads.c.id == self.download.id, downloads.c.status == DownloadStatus.IN_PROGRESS.value
                )
                .values(
                    status=DownloadStatus.COMPLETED.value,
                    num_downloaded=self.checkpoint.delivered,
                    updated_at=now,
                    completed_at=now,
                )
            )
            self.r._queue.complete_in(conn, self.job, self.worker_id)
        log.info("export completed", download_id=self.download.id, records=self.checkpoint.delivered)


def _records_in(seqs: pa.ChunkedArray | pa.Array, previous_seq: int) -> int:
    """Records in a batch of lines: flat CSV views write several lines per record."""
    distinct = pc.count_distinct(seqs).as_py()
    return int(distinct) - (1 if seqs[0].as_py() == previous_seq else 0)
