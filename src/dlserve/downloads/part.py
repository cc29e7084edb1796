"""One result file of an export: one attempt at writing part k of a download.

DuckDB renders the part's records (:mod:`sql_render`, :mod:`typed_csv`, :mod:`parquet`) and
Python writes, hashes and counts them into a temp file (:class:`PartWriter`); the finished file is
stored, and then ONE transaction lists it on the download, charges its records and completes the
part's job (:meth:`PartExport._commit`). A crash before that transaction just runs the part again
(same name, same bytes); after it, the part is done.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from dlserve.accounts import holds
from dlserve.clock import Clock
from dlserve.db.tables import download_files, downloads
from dlserve.downloads import parquet, typed_csv
from dlserve.downloads.models import (
    ACTIVE_STATUSES,
    DELETED_PART_NO,
    Download,
    DownloadStatus,
    result_file_name,
    storage_key,
)
from dlserve.downloads.services import EXPORT_KINDS
from dlserve.downloads.sql_render import (
    csv_header,
    csv_line_select,
    json_line_select,
    records_between,
    sql_literal,
    typed_records_between,
)
from dlserve.downloads.writers import PartWriter
from dlserve.jobs.interfaces import Job, JobQueue, LeaseLost
from dlserve.jobs.interfaces import JobStopped as Stopped
from dlserve.logs import get_logger
from dlserve.query import compile_query
from dlserve.records import delta
from dlserve.records.field_lists import view_from_stored
from dlserve.records.render import project
from dlserve.records.schema import SCHEMAS
from dlserve.records.views import View
from dlserve.webhooks.events import download_ended_in

if TYPE_CHECKING:
    from dlserve.downloads.runner import ExportRunner

log = get_logger("dlserve.export")

BATCH_ROWS = 5_000  # lines per Arrow batch: small, so the Python side stays small
PROGRESS_EVERY_S = 1.0


@dataclass(frozen=True)
class PartPlan:
    part_no: int
    after_seq: int
    through_seq: int
    records: int

    @classmethod
    def of(cls, job: Job) -> PartPlan:
        data = job.checkpoint or {}
        return cls(
            int(data["part_no"]), int(data["after_seq"]), int(data["through_seq"]), int(data["records"])
        )

    def as_dict(self, written: int = 0) -> dict[str, Any]:
        return {
            "part_no": self.part_no,
            "after_seq": self.after_seq,
            "through_seq": self.through_seq,
            "records": self.records,
            "written": written,
        }


class PartExport:
    """One attempt at one result file."""

    def __init__(
        self, runner: ExportRunner, job: Job, worker_id: str, stop: threading.Event, download: Download
    ):
        self.r = runner
        self.job = job
        self.worker_id = worker_id
        self.stop = stop
        self.download = download
        self.plan = PartPlan.of(job)
        self.schema = SCHEMAS[download.data_type]
        self.view = view_from_stored(download.data_type, download.view)
        self.compiled = compile_query(self.schema, download.query)
        self.snapshot = runner.snapshot_of(download)
        self.last_beat = time.monotonic()

    def execute(self) -> None:
        # The snapshot stays pinned (not evicted from this machine's cache) for the whole part.
        if self.download.is_delta:
            cursor = self.r.cursor()
            try:
                with self.r.delta_sides(cursor, self.download) as sides:
                    self.snapshot_dir = Path(sides.new_scan).parent
                    self.scan = self._part_files()
                    # Only the records the delta delivers, wherever the query's condition is used.
                    self.compiled = delta.delivered_filter(
                        sides, self.compiled, self.plan.after_seq, self.plan.through_seq
                    )
                    self._write()
            finally:
                cursor.close()
            return
        with self.r.snapshots.open(self.snapshot) as directory:
            self.snapshot_dir = directory
            self.scan = self._part_files()
            self._write()

    def _write(self) -> None:
        is_csv = self.download.format == "csv"
        is_parquet = self.download.format == "parquet"
        ranges = self._csv_ranges() if is_csv else None
        header = csv_header(self.view, self.schema) if is_csv else None
        writer = PartWriter(
            self.r.settings.scratch_dir,
            gzip=self.download.compress == "gzip",
            header=header if ranges is None else None,
        )
        try:
            if is_parquet:
                self._write_parquet(writer, self._typed_possible())
            elif ranges is not None:
                assert header is not None
                self._write_csv_ranges(writer, ranges, header)
            else:
                self._write_lines(
                    writer, "\r\n" if is_csv else "\n", self.plan.after_seq, self.plan.through_seq
                )
            if writer.records != self.plan.records:
                raise RuntimeError(
                    f"part {self.plan.part_no} has {writer.records} records, {self.plan.records} planned"
                )
            finished = writer.finish()
        except BaseException:
            writer.discard()
            raise
        name = result_file_name(
            self.download.id, self.plan.part_no, self.download.format, self.download.compress
        )
        key = storage_key(self.download.id, name)
        self.r.storage.put_file(key, finished.path)
        if not self._commit(name, key, writer.records, finished.bytes, finished.sha256):
            self.r.storage.delete(key)
            raise Stopped("download is no longer in progress")
        log.info(
            "part committed", download_id=self.download.id, part_no=self.plan.part_no, records=writer.records
        )

    def _write_lines(self, writer: PartWriter, newline: str, after: int, through: int) -> None:
        """The records with ``after < _seq <= through``, rendered line by line (from the stored JSON)."""
        last_seq = after
        for seqs, chunk in self._chunks(newline, after, through):
            writer.write_bytes(chunk)
            writer.records += _records_in(seqs, last_seq)
            last_seq = int(seqs[-1].as_py())
            self._beat(writer.records)

    def _chunks(
        self, newline: str, after: int, through: int
    ) -> Iterator[tuple[pa.ChunkedArray | pa.Array, bytes | memoryview]]:
        """(``_seq`` per line, the lines' UTF-8 bytes) in batches. Lines rendered by DuckDB are
        handed over as the Arrow batch's own buffer: no Python string per line."""
        for seqs, lines in self._lines(newline, after, through):
            if isinstance(lines, list):
                yield seqs, "".join(line + newline for line in lines).encode("utf-8")
            else:
                yield seqs, _utf8_buffer(lines)

    def _typed_possible(self) -> bool:
        """A Parquet part is rendered from the typed columns when all its records are exact (one file:
        not cut into ranges as CSV is)."""
        cursor = self.r.cursor()
        try:
            if not typed_csv.has_exact_column(cursor, self.scan):
                return False
            records, exact = typed_csv.part_summary(
                cursor, typed_records_between(self.compiled.sql), self._params()
            )
        finally:
            cursor.close()
        return exact and records == self.plan.records

    def _part_files(self) -> list[str]:
        """The snapshot's part files that hold this part's records (the rendering queries read
        only those: see :mod:`dlserve.records.part_files`)."""
        cursor = self.r.cursor()
        try:
            return self.r.part_files.holding(
                cursor, self.snapshot_dir, self.plan.after_seq, self.plan.through_seq
            )
        finally:
            cursor.close()

    def _csv_ranges(self) -> list[typed_csv.SeqRange] | None:
        """The CSV part as ranges rendered from the typed columns or from JSON; None: from JSON
        alone (a snapshot loaded before exactness was recorded, or records too scattered)."""
        cursor = self.r.cursor()
        try:
            if not typed_csv.has_exact_column(cursor, self.scan):
                return None
            return typed_csv.part_ranges(
                cursor,
                typed_records_between(self.compiled.sql),
                self._params(),
                self.plan.after_seq,
                self.plan.records,
            )
        finally:
            cursor.close()

    def _params(self, after: int | None = None, through: int | None = None) -> list[object]:
        """The rendering queries' parameters: the whole part, or its records ``after < _seq <= through``."""
        return [
            self.scan,
            *self.compiled.params,
            self.plan.after_seq if after is None else after,
            self.plan.through_seq if through is None else through,
        ]

    def _write_csv_ranges(self, writer: PartWriter, ranges: list[typed_csv.SeqRange], header: str) -> None:
        """Range by range, in ``_seq`` order: DuckDB writes a typed range's file, hashed while it
        grows (CSV is written appending only; the first one becomes the part when it is not
        gzip'd); an inexact range's lines are rendered from JSON. The header comes first, once."""
        select = typed_csv.cells_select(
            self.view, self.schema, typed_records_between(self.compiled.sql, ordered=self.download.is_delta)
        )
        span = max(1, self.plan.through_seq - self.plan.after_seq)
        for n, seq_range in enumerate(ranges):
            if not seq_range.typed:
                if n == 0:
                    writer.write_text(header + "\r\n")
                self._write_lines(writer, "\r\n", seq_range.after, seq_range.through)
                continue
            self._write_typed_range(writer, select, seq_range, header=n == 0, span=span)
        if not ranges:  # a part without records: the header alone
            writer.write_text(header + "\r\n")
        writer.records = self.plan.records  # the ranges hold the part's records: counted when cut

    def _write_typed_range(
        self, writer: PartWriter, select: str, seq_range: typed_csv.SeqRange, *, header: bool, span: int
    ) -> None:
        target = writer.sibling("duckdb")
        params = self._params(seq_range.after, seq_range.through)
        self._duckdb_writes(
            self.r.cursor(),
            target,
            "csv",
            lambda cursor: typed_csv.copy_csv(cursor, select, params, target, header=header),
            lambda done, tick: writer.follow(target, done, tick),
            share=(
                (seq_range.after - self.plan.after_seq) / span,
                (seq_range.through - self.plan.after_seq) / span,
            ),
        )

    def _write_parquet(self, writer: PartWriter, typed: bool) -> None:
        """DuckDB writes the whole Parquet file, from the typed columns when every record is exact,
        else from the stored JSON; the finished file becomes the part (hashed once, not copied)."""
        ordered = self.download.is_delta
        if typed:
            select = parquet.typed_select(
                self.view, self.schema, typed_records_between(self.compiled.sql, ordered=ordered)
            )
        else:
            select = parquet.json_select(
                self.view, self.schema, records_between(self.compiled.sql, ordered=ordered)
            )
        target = writer.sibling("parquet")
        written: list[int] = []

        def wait(done: Callable[[], bool], tick: Callable[[], None]) -> None:
            while not done():
                tick()

        self._duckdb_writes(
            self.r.parquet_cursor(),
            target,
            "parquet",
            lambda cursor: written.append(parquet.copy_parquet(cursor, select, self._params(), target)),
            wait,
            exclusive=False,  # a part is one row group, compressed on one thread: two parts at once
        )
        writer.adopt(target)
        writer.records = written[0]

    def _duckdb_writes(
        self,
        cursor: duckdb.DuckDBPyConnection,
        target: Path,
        label: str,
        copy: Callable[[duckdb.DuckDBPyConnection], object],
        follow: Callable[[Callable[[], bool], Callable[[], None]], None],
        *,
        share: tuple[float, float] = (0.0, 1.0),
        exclusive: bool = True,
    ) -> None:
        """DuckDB writes ``target`` (in a thread, with ``copy``); this thread keeps the lease and
        progress beating while ``follow`` waits, and interrupts DuckDB on a cancel, a shutdown or
        a lost lease — the half-written file is then removed. ``cursor`` is closed at the end.
        ``share``: the fractions of the part done before and after this file, for progress.
        An ``exclusive`` write (a CSV file, which DuckDB writes on all its threads) runs alone in
        its process (``runner.bulk_write``); a part waiting its turn keeps beating, and a cancel
        while it waits starts no write. A Parquet part is one row group, which DuckDB compresses
        on one thread, so two of them run at once (measured: 6 parts in 4.6 s side by side, 8.0 s
        one after the other with the old 512 MB limit)."""
        outcome: list[BaseException | None] = []
        abandoned = threading.Event()
        turn = self.r.bulk_write if exclusive else threading.Lock()  # a lock of its own never waits

        def run_copy() -> None:
            try:
                while not turn.acquire(timeout=0.05):
                    if abandoned.is_set():
                        return
                try:
                    if not abandoned.is_set():
                        copy(cursor)
                finally:
                    turn.release()
                outcome.append(None)
            except BaseException as exc:  # handed to the waiting thread
                outcome.append(exc)

        thread = threading.Thread(target=run_copy, name=f"{label}-part-{self.plan.part_no}", daemon=True)
        thread.start()

        def tick() -> None:
            thread.join(0.05)  # DuckDB writes on: wait a little for more of the file
            progress = max(0.0, cursor.query_progress()) / 100
            done = share[0] + (share[1] - share[0]) * progress
            self._beat(min(self.plan.records - 1, int(self.plan.records * done)))

        try:
            follow(lambda: not thread.is_alive(), tick)
        except BaseException:
            abandoned.set()
            cursor.interrupt()
            thread.join()
            target.unlink(missing_ok=True)
            raise
        finally:
            if not thread.is_alive():
                cursor.close()
        if outcome and outcome[0] is not None:
            target.unlink(missing_ok=True)
            raise outcome[0]

    def _lines(
        self, newline: str, after: int, through: int
    ) -> Iterator[tuple[pa.ChunkedArray | pa.Array, list[str] | pa.Array]]:
        """(``_seq`` per line, the lines) in batches, for this part's records ``after < _seq <= through``."""
        records = records_between(self.compiled.sql, ordered=self.download.is_delta)
        python_view: View | None = None
        if self.download.format == "csv":
            select = csv_line_select(self.view, self.schema, records)
        else:
            in_sql = json_line_select(self.view, records)
            if in_sql is None:  # a field list naming sub-fields: projected in Python
                python_view = self.view
            select = in_sql or f"SELECT _seq, _record AS line FROM {records}"
        if python_view is None:  # DuckDB ends the lines too
            select = f"SELECT _seq, line || {sql_literal(newline)} AS line FROM ({select})"
        cursor = self.r.cursor()
        try:
            relation = cursor.sql(select, params=self._params(after, through))
            assert relation is not None
            for batch in relation.to_arrow_reader(BATCH_ROWS):
                if batch.num_rows == 0:
                    continue
                if python_view is None:
                    yield batch.column(0), batch.column(1)
                    continue
                lines = [
                    orjson.dumps(project(python_view, orjson.loads(line))).decode()
                    for line in batch.column(1).to_pylist()
                ]
                yield batch.column(0), lines
        finally:
            cursor.close()

    def _beat(self, written: int) -> None:
        """Every second: extend the lease, publish progress, notice a cancel or a shutdown."""
        if self.stop.is_set():
            raise Stopped("worker is shutting down")
        if time.monotonic() - self.last_beat < PROGRESS_EVERY_S:
            return
        self.last_beat = time.monotonic()
        with self.r.db.write() as conn:
            held = self.r.queue.save_checkpoint_in(conn, self.job, self.worker_id, self.plan.as_dict(written))
        self.r.on_change(self.download.id)
        if not held:
            if self._status() is not DownloadStatus.IN_PROGRESS:
                raise Stopped("download is no longer in progress")  # cancelling withdrew the job
            raise LeaseLost()

    def _status(self) -> DownloadStatus:
        with self.r.db.read() as conn:
            status = conn.execute(
                sa.select(downloads.c.status).where(downloads.c.id == self.download.id)
            ).scalar_one()
        return DownloadStatus(status)

    def _commit(self, name: str, key: str, records: int, size: int, sha256: str) -> bool:
        now = self.r.clock.now()
        with self.r.db.write() as conn:
            # Lock the download first: parts committing at once then finish the download exactly once.
            status = conn.execute(
                sa.select(downloads.c.status).where(downloads.c.id == self.download.id).with_for_update()
            ).scalar_one()
            if status != DownloadStatus.IN_PROGRESS.value:
                return False  # cancelled while this part was written: it is thrown away
            if not self.r.queue.complete_in(conn, self.job, self.worker_id):
                raise LeaseLost()
            conn.execute(
                download_files.insert().values(
                    download_id=self.download.id,
                    part_no=self.plan.part_no,
                    name=name,
                    storage_key=key,
                    records=records,
                    bytes=size,
                    sha256=sha256,
                    created_at=now,
                    expires_at=now + self.r.settings.link_ttl,
                )
            )
            self.r.accounts.settle_hold_in(
                conn, self.download.account_id, self.download.id, self.plan.part_no, records
            )
            finish_if_done(conn, self.r.clock, self.r.queue, self.download.id)
        self.r.on_change(self.download.id)
        return True


def finish_if_done(conn: sa.Connection, clock: Clock, queue: JobQueue, download_id: int) -> None:
    """Recount what is committed; when no export job of the download is left, it is completed —
    unless one of them died, and then it failed: a worker marks its job dead and fails the
    download in two transactions, and the janitor's straggler check between the two must not
    call the download done."""
    now = clock.now()
    pending = queue.pending_in(conn, EXPORT_KINDS, str(download_id))
    if pending == 0 and (error := queue.dead_error_in(conn, EXPORT_KINDS, str(download_id))) is not None:
        fail_download_in(conn, clock, queue, download_id, f"export failed: {error}")
        return
    delivered = conn.execute(
        sa.select(sa.func.coalesce(sa.func.sum(download_files.c.records), 0)).where(
            download_files.c.download_id == download_id, download_files.c.part_no != DELETED_PART_NO
        )
    ).scalar_one()
    values: dict[str, Any] = {"num_downloaded": int(delivered), "updated_at": now}
    if pending == 0:
        values.update(status=DownloadStatus.COMPLETED.value, completed_at=now)
    changed = conn.execute(
        downloads.update()
        .where(downloads.c.id == download_id, downloads.c.status == DownloadStatus.IN_PROGRESS.value)
        .values(**values)
    ).rowcount
    if pending == 0 and changed == 1:
        download_ended_in(conn, queue, clock, download_id)  # its webhook, if it has one
    if pending == 0:
        holds.release_in(conn, download_id, now)  # nothing is left to charge against it
        log.info("export completed", download_id=download_id, records=int(delivered))


def fail_download_in(
    conn: sa.Connection, clock: Clock, queue: JobQueue, download_id: int, error: str
) -> bool:
    """The download ends ``failed`` with ``error`` if it is still active (its finished files
    stay), its webhook queued and what it still holds released; False when it had already ended."""
    now = clock.now()
    failed = conn.execute(
        downloads.update()
        .where(downloads.c.id == download_id, downloads.c.status.in_(ACTIVE_STATUSES))
        .values(status=DownloadStatus.FAILED.value, error=error, updated_at=now, completed_at=now)
    ).rowcount
    if failed == 1:
        download_ended_in(conn, queue, clock, download_id)  # its webhook, if any
        log.warning("download failed", download_id=download_id, error=error)
    holds.release_in(conn, download_id, now)  # what the failed download won't deliver
    return failed == 1


def _utf8_buffer(lines: pa.Array) -> memoryview:
    """The UTF-8 bytes of a string array's values, back to back: a view of its data buffer."""
    if lines.null_count:
        raise RuntimeError("a rendered line is NULL")
    if pa.types.is_large_string(lines.type):
        width = 8
    elif pa.types.is_string(lines.type):
        width = 4
    else:
        return memoryview("".join(lines.to_pylist()).encode("utf-8"))
    offsets = memoryview(lines.buffers()[1]).cast("B")
    first = int.from_bytes(offsets[lines.offset * width : (lines.offset + 1) * width], "little")
    end = (lines.offset + len(lines)) * width
    last = int.from_bytes(offsets[end : end + width], "little")
    return memoryview(lines.buffers()[2])[first:last]


def _records_in(seqs: pa.ChunkedArray | pa.Array, previous_seq: int) -> int:
    """Records in a batch of lines: flat CSV views write several lines per record."""
    distinct = pc.count_distinct(seqs).as_py()
    return int(distinct) - (1 if seqs[0].as_py() == previous_seq else 0)


__all__ = ["BATCH_ROWS", "PROGRESS_EVERY_S", "PartExport", "PartPlan", "fail_download_in", "finish_if_done"]
