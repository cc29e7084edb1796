"""``dlserve load``: JSON Lines, CSV or Parquet files → a new immutable Parquet snapshot.

DuckDB does the heavy lifting: it reads JSON Lines itself, checks the records with a few
set-based queries, then types and tokenises them while writing the snapshot as numbered part
files, several at a time (one DuckDB writer keeps rows in order only by writing alone).
CSV and Parquet inputs are first turned into JSON Lines in Python.

A bad line fails the whole load with its file and line number and changes nothing: the new
snapshot is only published once every part is written. With ``index`` on (the default), the
snapshot's search index is built from the parts in the same run, before publishing: each part is
indexed as soon as it is written, while the next parts are being written.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow.parquet as pq

from dlserve.errors import ErrorDetail, Invalid, Unavailable
from dlserve.records.extra_fields import fill_derived_fields, refuse_undeclared, undeclared_fields
from dlserve.records.fingerprints import FINGERPRINT_COLUMN
from dlserve.records.layout import column_type, quote_ident, snapshot_select_sql
from dlserve.records.schema import SCHEMAS, DataTypeSchema, Kind
from dlserve.records.snapshots import INDEX_DIR, PART_GLOB, Snapshot, SnapshotCatalog, part_name
from dlserve.records.typed_cells import EXACT_COLUMN
from dlserve.records.validation import find_bad_line, open_binary
from dlserve.search.build import BuildResult, IndexBuilder

ROWS_PER_PART = 100_000  # at most; smaller loads are cut in one part per writer thread
MIN_ROWS_PER_PART = 10_000
# Small row groups: a preview reads only the groups its first matches are in, a scan holds one
# decompressed group per thread, and `_seq > checkpoint`
# skips whole groups, so an export's memory and a resumed export's wasted reading both stay small.
ROW_GROUP_ROWS = 2_048
INDEX_FEEDERS = 2  # parts indexed at once (see _Indexing)
ProgressCallback = Callable[[str], None]
_DUCKDB_WHERE = re.compile(r'in file "(?P<file>[^"]*)",.*?in line (?P<line>\d+)')


@dataclass(frozen=True)
class LoadResult:
    snapshot: Snapshot
    records_loaded: int
    seconds: float
    # Fields outside the schema (kept in the records, never searchable) → how many records have them.
    undeclared_fields: dict[str, int] = field(default_factory=dict)
    index_seconds: float | None = None  # None: no index was built
    index_bytes: int = 0


class LoadFailed(Invalid):
    """A load input is malformed; the message and ``details`` name the file and line."""


@dataclass
class _Input:
    """One file as DuckDB reads it, and how its records map back to the user's line numbers."""

    original: Path
    readable: Path
    source_lines: list[int] | None = field(default=None)  # converted inputs: record index → line


def load_files(
    catalog: SnapshotCatalog,
    data_type: str,
    paths: list[Path],
    *,
    append: bool = False,
    on_progress: ProgressCallback | None = None,
    workers: int | None = None,
    strict: bool = False,
    index: bool = True,
    fingerprints: bool = True,
    memory_limit: str | None = None,
) -> LoadResult:
    """``fingerprints=False`` (internal: the benchmark's baseline) writes parts without the
    ``_fingerprint`` column; delta downloads then compute it when they read the snapshot.
    ``memory_limit`` bounds the records held while loading (DuckDB's setting; None: its default of
    80% of RAM); past it they spill to the load's scratch directory."""
    schema = SCHEMAS.get(data_type)
    if schema is None:
        raise Invalid(
            f"unknown data type '{data_type}'", [ErrorDetail("type", f"one of {', '.join(SCHEMAS)}")]
        )
    for path in paths:
        if not path.is_file():
            raise Invalid(f"{path}: no such file", [ErrorDetail("file", str(path))])
    started = time.monotonic()
    progress = on_progress or (lambda _message: None)
    previous = catalog.current(data_type) if append else None
    scratch_root = catalog.staging_dir()
    with contextlib.ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(dir=scratch_root)))
        # An append reads the previous snapshot's parts (from this machine's cache when in S3).
        previous_dir = stack.enter_context(catalog.open(previous)) if previous else None
        inputs = [_readable_input(path, schema, scratch, index) for index, path in enumerate(paths)]
        # Without the ICU extension (not shipped, not downloadable here) DuckDB's time zone is UTC,
        # so TIMESTAMPTZ → TIMESTAMP yields UTC wall time, as the snapshot layout wants.
        config: dict[str, str | bool | int | float | list[str]] = {
            "preserve_insertion_order": True,
            "temp_directory": str(scratch / "spill"),
        }
        if memory_limit is not None:
            config["memory_limit"] = memory_limit
        con = duckdb.connect(config=config)
        try:
            progress("reading records")
            count = _read_into_table(con, schema, inputs)
            progress(f"checking {count:,} records")
            _refuse_bad_records(con, inputs, previous_dir)
            undeclared = _check_fields(con, schema, strict)
            staged = scratch / "snapshot"
            staged.mkdir()
            first_part = _link_previous_parts(previous_dir, staged)
            first_seq = _next_seq(con, previous_dir)
            progress("writing the parts")
            indexing = (
                stack.enter_context(
                    _Indexing(
                        schema,
                        staged,
                        previous_dir,
                        previous.record_count if previous else 0,
                        count,
                        progress,
                    )
                )
                if index
                else None
            )
            _write_parts(
                con,
                schema,
                staged,
                count,
                first_seq,
                first_part,
                workers or min(4, os.cpu_count() or 1),
                progress,
                fingerprints,
                on_part=indexing.add_part if indexing is not None else None,
            )
        except duckdb.OutOfMemoryException as exc:
            raise Unavailable(
                f"the load needs more memory than it may hold ({memory_limit or 'the default'}): "
                "raise DLSERVE_LOAD_MEMORY_LIMIT, or give the data directory room to spill",
                [ErrorDetail("memory", str(exc).splitlines()[0])],
            ) from None
        finally:
            con.close()
        built = indexing.finish() if indexing is not None else None
        total = count + (previous.record_count if previous else 0)
        progress("publishing the snapshot")
        snapshot = catalog.store_and_publish(data_type, staged, total)
    return LoadResult(
        snapshot,
        count,
        time.monotonic() - started,
        undeclared,
        index_seconds=built.seconds if built else None,
        index_bytes=built.bytes if built else 0,
    )


class _Indexing:
    """The snapshot's search index, built while its parts are written: each part is indexed as soon
    as it is written (the next parts' writing overlaps it), then the index is committed. Two parts
    are indexed at once, so one part's DuckDB work (reading it, computing its documents) overlaps
    the other's hand-over to Tantivy; one feeding thread did the two in turn. An append starts
    from the previous snapshot's index when it has one and indexes only the new parts; otherwise
    the previous parts are indexed first."""

    def __init__(
        self,
        schema: DataTypeSchema,
        staged: Path,
        previous: Path | None,
        previous_count: int,
        count: int,
        progress: ProgressCallback,
    ) -> None:
        base = previous / INDEX_DIR if previous is not None else None
        reuse = base is not None and (base / "meta.json").is_file()
        total = count if reuse else count + previous_count
        self._builder = IndexBuilder(
            schema,
            staged / INDEX_DIR,
            base=base if reuse else None,
            on_progress=lambda done: progress(f"indexed {done:,} of {total:,} records"),
        )
        self._progress = progress
        self._pool = ThreadPoolExecutor(max_workers=INDEX_FEEDERS, thread_name_prefix="dlserve-index")
        self._pending: list[Future[None]] = []
        if previous is not None and not reuse:
            for part in sorted(staged.glob(PART_GLOB)):
                self.add_part(part)

    def add_part(self, part: Path) -> None:
        """Queue a part (already written) for indexing; safe to call from any thread."""
        self._pending.append(self._pool.submit(self._builder.add_parts, [part]))

    def finish(self) -> BuildResult:
        self._pool.shutdown(wait=True)
        for pending in self._pending:
            pending.result()
        self._progress("committing the index")
        return self._builder.finish()

    def __enter__(self) -> _Indexing:
        return self

    def __exit__(self, *_exc: object) -> None:
        """Always: stop queued work (a failed load), wait for the running part, release the builder."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._builder.close()


# -- reading -------------------------------------------------------------------------------------


def _readable_input(path: Path, schema: DataTypeSchema, scratch: Path, index: int) -> _Input:
    name = path.name.lower().removesuffix(".gz")
    if name.endswith((".jsonl", ".ndjson", ".json", ".txt")):
        return _Input(path, path)
    converted = scratch / f"input-{index}.jsonl"
    if name.endswith(".csv"):
        lines = _convert(converted, _csv_records(path, schema))
    elif name.endswith(".parquet"):
        lines = _convert(converted, _parquet_records(path))
    else:
        raise Invalid(
            f"{path.name}: unknown file type (use .jsonl, .json, .csv or .parquet, optionally .gz)",
            [ErrorDetail("file", str(path))],
        )
    return _Input(path, converted, lines)


def _convert(target: Path, records: Iterator[tuple[int, dict[str, Any]]]) -> list[int]:
    source_lines: list[int] = []
    with target.open("wb") as out:
        for line_no, record in records:
            out.write(orjson.dumps(record, default=str))
            out.write(b"\n")
            source_lines.append(line_no)
    return source_lines


def read_json_lines(con: duckdb.DuckDBPyConnection, schema: DataTypeSchema, paths: list[Path]) -> int:
    """Read JSON Lines files into ``raw`` and ``typed`` exactly as a load does (see
    :func:`loaded_rows_sql`); tests build their small snapshot tables this way."""
    return _read_into_table(con, schema, [_Input(path, path) for path in paths])


def loaded_rows_sql(schema: DataTypeSchema, first_seq: int, where: str = "") -> str:
    """The rows read by :func:`read_json_lines` (``where`` picks a range of ``rowid``), each with its
    ``_seq``, its JSON and its typed columns: what :func:`~layout.snapshot_select_sql` tokenises."""
    return (
        f"(SELECT _rid + {first_seq} AS _seq, _record, {typed_columns(schema)} "
        f"FROM (SELECT rowid AS _rid, _record FROM raw {where}) "
        f"POSITIONAL JOIN (SELECT * FROM typed {where}))"
    )


def _read_into_table(con: duckdb.DuckDBPyConnection, schema: DataTypeSchema, inputs: list[_Input]) -> int:
    """Every record into two tables in load order (``rowid``): ``raw`` holds the record's JSON text,
    ``typed`` its schema fields converted by DuckDB's JSON reader, which refuses a value that does
    not fit (a number that is not one, a list that is a string, a line that is not an object)."""
    files = [str(i.readable) for i in inputs]
    columns = (
        "{"
        + ", ".join(
            f"{_sql_string(f.name)}: {_sql_string(column_type(f, zoned_dates=True))}" for f in schema.fields
        )
        + "}"
    )
    try:
        con.execute(
            "CREATE TABLE raw AS SELECT filename AS _file, json AS _record "
            "FROM read_ndjson_objects(?, filename = true)",
            [files],
        )
        con.execute(
            "CREATE TABLE typed AS SELECT * FROM read_json(?, format = 'newline_delimited', "
            f"columns = {columns})",
            [files],
        )
    except duckdb.OutOfMemoryException:
        raise  # not the input's fault: load_files says what to change
    except duckdb.Error as exc:
        raise _explain_unreadable(str(exc), schema, inputs) from None
    counts = con.execute("SELECT (SELECT count(*) FROM raw), (SELECT count(*) FROM typed)").fetchone()
    assert counts is not None
    if counts[0] != counts[1]:  # both readers skip the same blank lines; anything else is a bug
        raise RuntimeError(f"readers disagree on the number of records: {counts[0]} != {counts[1]}")
    if counts[0] == 0:
        raise Invalid(
            "the input holds no records", [ErrorDetail("file", ", ".join(str(i.original) for i in inputs))]
        )
    return int(counts[0])


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _csv_records(path: Path, schema: DataTypeSchema) -> Iterator[tuple[int, dict[str, Any]]]:
    with open_binary(path) as binary, io.TextIOWrapper(binary, encoding="utf-8", newline="") as text:
        reader = csv.DictReader(text)
        for row in reader:
            try:
                yield reader.line_num, _record_from_csv_row(schema, row)
            except ValueError as exc:
                raise _bad_line(path, reader.line_num, str(exc)) from None


def _record_from_csv_row(schema: DataTypeSchema, row: dict[str | Any, str | Any]) -> dict[str, Any]:
    """CSV cells → typed JSON values: numbers, booleans, comma lists, JSON cells for nested lists."""
    record: dict[str, Any] = {}
    for column, cell in row.items():
        if column is None:
            raise ValueError("the row has more cells than the header")
        if cell is None or cell == "":
            continue
        spec = schema.field(column)
        kind = spec.kind if spec else Kind.KEYWORD
        if kind is Kind.NUMBER:
            try:
                number = float(cell)
            except ValueError:
                raise ValueError(f"column '{column}': '{cell}' is not a number") from None
            record[column] = int(number) if number.is_integer() and "." not in cell else number
        elif kind is Kind.BOOL:
            if cell.lower() not in ("true", "false"):
                raise ValueError(f"column '{column}': '{cell}' is not true or false")
            record[column] = cell.lower() == "true"
        elif kind in (Kind.KEYWORD_LIST, Kind.TEXT_LIST, Kind.NESTED) and cell.startswith("["):
            try:
                record[column] = orjson.loads(cell)
            except orjson.JSONDecodeError:
                raise ValueError(f"column '{column}': invalid JSON list") from None
        elif kind is Kind.NESTED:
            raise ValueError(f"column '{column}': a nested list must be a JSON array")
        elif kind in (Kind.KEYWORD_LIST, Kind.TEXT_LIST):
            record[column] = [part.strip() for part in cell.split(",") if part.strip()]
        else:
            record[column] = cell
    return record


def _parquet_records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    row_no = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=10_000):
        for record in batch.to_pylist():
            row_no += 1
            yield row_no, {k: v for k, v in record.items() if v is not None}


# -- checking ------------------------------------------------------------------------------------


def _check_fields(con: duckdb.DuckDBPyConnection, schema: DataTypeSchema, strict: bool) -> dict[str, int]:
    """Fields outside the schema (an error under ``strict``), then derived fields filled in."""
    undeclared = undeclared_fields(con, schema)
    if strict:
        refuse_undeclared(schema.name, undeclared)
    fill_derived_fields(con, schema)
    return undeclared


def _refuse_bad_records(con: duckdb.DuckDBPyConnection, inputs: list[_Input], previous: Path | None) -> None:
    """Set-based checks; the first problem (in load order) fails the load with its line."""
    problems: list[tuple[int, str]] = []
    row = con.execute("SELECT min(rowid) FROM typed WHERE coalesce(id, '') = ''").fetchone()
    if row and row[0] is not None:
        problems.append((int(row[0]), "a record needs a non-empty string 'id'"))
    problems.extend(_duplicate_ids(con, previous))
    if problems:
        rowid, problem = min(problems)
        raise _bad_record(con, inputs, rowid, problem)


def _duplicate_ids(con: duckdb.DuckDBPyConnection, previous: Path | None) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    repeat = con.execute(
        "SELECT rowid, id, first FROM "
        "(SELECT rowid, id, min(rowid) OVER (PARTITION BY id) AS first FROM typed) "
        "WHERE rowid <> first ORDER BY rowid LIMIT 1"
    ).fetchone()
    if repeat:
        found.append(
            (int(repeat[0]), f"duplicate id '{repeat[1]}' (first seen at record {int(repeat[2]) + 1})")
        )
    if previous is not None:
        clash = con.execute(
            "SELECT t.rowid, t.id FROM typed t JOIN read_parquet(?) s ON s.id = t.id "
            "ORDER BY t.rowid LIMIT 1",
            [str(previous / PART_GLOB)],
        ).fetchone()
        if clash:
            found.append((int(clash[0]), f"id '{clash[1]}' is already loaded (--append adds new ids only)"))
    return found


def _bad_record(con: duckdb.DuckDBPyConnection, inputs: list[_Input], rowid: int, problem: str) -> LoadFailed:
    """Map a record (load order) back to its file and line number."""
    row = con.execute(
        "SELECT _file, rowid - (SELECT min(rowid) FROM raw r2 WHERE r2._file = raw._file) "
        "FROM raw WHERE rowid = ?",
        [rowid],
    ).fetchone()
    assert row is not None
    source = next(i for i in inputs if str(i.readable) == row[0])
    index = int(row[1])
    line_no = (
        source.source_lines[index]
        if source.source_lines is not None
        else _line_of_record(source.readable, index)
    )
    return _bad_line(source.original, line_no, problem)


def _line_of_record(path: Path, index: int) -> int:
    """The 1-based line of the ``index``-th record, counting as DuckDB does (blank lines skipped)."""
    seen = -1
    with open_binary(path) as handle:
        for line_no, raw in enumerate(handle, start=1):
            if raw.strip():
                seen += 1
                if seen == index:
                    return line_no
    return line_no


def _explain_unreadable(message: str, schema: DataTypeSchema, inputs: list[_Input]) -> Invalid:
    """DuckDB stopped on a record; its line number may be approximate, so re-read the named file
    line by line and name the first line that is really wrong, and why."""
    match = _DUCKDB_WHERE.search(message)
    source = next((i for i in inputs if match and str(i.readable) == match["file"]), None)
    candidates = [source] if source else inputs
    for candidate in candidates:
        found = find_bad_line(candidate.readable, schema)
        if found is not None:
            line_no, problem = found
            shown = candidate.source_lines[line_no - 1] if candidate.source_lines is not None else line_no
            return _bad_line(candidate.original, shown, problem)
    reason = message.split("Error: ", 1)[-1].splitlines()[0]
    if source is not None and match is not None:
        return _bad_line(source.original, int(match["line"]), reason)
    return Invalid(f"the input could not be read: {reason}", [ErrorDetail("file", reason)])


def _bad_line(path: Path, line_no: int, problem: str) -> LoadFailed:
    return LoadFailed(
        f"{path.name} line {line_no}: {problem}; nothing was loaded",
        [ErrorDetail(f"line {line_no}", problem)],
    )


# -- writing -------------------------------------------------------------------------------------


def _next_seq(con: duckdb.DuckDBPyConnection, previous: Path | None) -> int:
    if previous is None:
        return 1
    row = con.execute(
        "SELECT coalesce(max(_seq), 0) FROM read_parquet(?)", [str(previous / PART_GLOB)]
    ).fetchone()
    return int(row[0] if row else 0) + 1


def _link_previous_parts(previous: Path | None, staged: Path) -> int:
    """An append shares the previous snapshot's parts (files are immutable): hard links, or copies
    (a cached copy may be evicted later, so it is never linked)."""
    if previous is None:
        return 0
    parts = sorted(previous.glob(PART_GLOB))
    for part in parts:
        try:
            os.link(part, staged / part.name)
        except OSError:
            shutil.copy2(part, staged / part.name)
    return len(parts)


def _write_parts(
    con: duckdb.DuckDBPyConnection,
    schema: DataTypeSchema,
    staged: Path,
    count: int,
    first_seq: int,
    first_part: int,
    workers: int,
    progress: ProgressCallback,
    fingerprints: bool,
    on_part: Callable[[Path], None] | None = None,
) -> None:
    """Write the new rows as numbered parts, ``workers`` at a time; ``on_part`` gets each part as
    soon as it is complete (they may complete out of order)."""
    earlier_columns = _earlier_part_columns(staged)
    # Every part of a snapshot has the same columns: new parts get a column only when the parts
    # they join (an append to a snapshot loaded before it existed) have it too.
    with_exact = earlier_columns is None or EXACT_COLUMN in earlier_columns
    with_fingerprint = fingerprints and (earlier_columns is None or FINGERPRINT_COLUMN in earlier_columns)
    per_part = max(min(MIN_ROWS_PER_PART, ROWS_PER_PART), min(ROWS_PER_PART, -(-count // max(1, workers))))
    starts = list(range(0, count, per_part))
    done = 0

    def write(index: int) -> None:
        nonlocal done
        start = starts[index]
        in_part = f"WHERE rowid >= {start} AND rowid < {start + per_part}"
        select = snapshot_select_sql(
            schema,
            loaded_rows_sql(schema, first_seq, in_part),
            exact=with_exact,
            fingerprint=with_fingerprint,
        )
        target = staged / part_name(first_part + index)
        cursor = con.cursor()
        try:
            cursor.execute(
                f"COPY ({select}) TO '{_sql_path(target)}' (FORMAT parquet, COMPRESSION zstd, "
                f"ROW_GROUP_SIZE {min(per_part, ROW_GROUP_ROWS)})"
            )
        finally:
            cursor.close()
        if on_part is not None:
            on_part(target)
        done += min(per_part, count - start)
        progress(f"written {done:,} of {count:,} records")

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for future in [pool.submit(write, index) for index in range(len(starts))]:
            future.result()


def _earlier_part_columns(staged: Path) -> set[str] | None:
    """The columns of the parts an append joins (None: a new snapshot)."""
    earlier = sorted(staged.glob("*.parquet"))
    if not earlier:
        return None
    con = duckdb.connect()
    try:
        rows = con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(earlier[0])]).fetchall()
    finally:
        con.close()
    return {str(row[0]) for row in rows}


def typed_columns(schema: DataTypeSchema) -> str:
    """Zoned dates (read as TIMESTAMPTZ to honour offsets) become the layout's UTC TIMESTAMPs."""
    return ", ".join(
        f"CAST({quote_ident(f.name)} AS {column_type(f)}) AS {quote_ident(f.name)}" for f in schema.fields
    )


def _sql_path(path: str | Path) -> str:
    """A path of ours (never user text) as a SQL string literal body."""
    return str(path).replace("'", "''")
