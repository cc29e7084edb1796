"""``dlserve load``: JSON Lines, CSV or Parquet files → a new immutable Parquet snapshot.

Files are read and checked in Python (syntax, one object per line, an ``id``, no duplicate ids),
streamed into DuckDB in Arrow batches, typed and tokenised there, and written as one Parquet file.
A bad line fails the whole load with its file and line number; nothing is published then.
"""

from __future__ import annotations

import csv
import gzip
import io
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import duckdb
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from dlserve.errors import ErrorDetail, Invalid
from dlserve.records.layout import quote_ident, snapshot_select_sql, typed_select_sql
from dlserve.records.schema import SCHEMAS, DataTypeSchema, Kind
from dlserve.records.snapshots import Snapshot, SnapshotCatalog

BATCH_LINES = 50_000
ROW_GROUP_SIZE = 100_000
ProgressCallback = Callable[[int], None]


@dataclass(frozen=True)
class LoadResult:
    snapshot: Snapshot
    records_loaded: int
    seconds: float


@dataclass(frozen=True)
class _Line:
    file_no: int
    line_no: int
    record_json: str
    record_id: str


class LoadFailed(Invalid):
    """A load input is malformed; ``details`` names the file and line."""


def load_files(
    catalog: SnapshotCatalog,
    data_type: str,
    paths: list[Path],
    *,
    append: bool = False,
    on_progress: ProgressCallback | None = None,
) -> LoadResult:
    schema = SCHEMAS.get(data_type)
    if schema is None:
        raise Invalid(f"unknown data type '{data_type}'", [ErrorDetail("type", f"one of {', '.join(SCHEMAS)}")])
    for path in paths:
        if not path.is_file():
            raise Invalid(f"{path}: no such file", [ErrorDetail("file", str(path))])
    started = time.monotonic()
    previous = catalog.current(data_type) if append else None
    con = duckdb.connect()
    try:
        con.execute("CREATE TEMP TABLE raw (_file INTEGER, _line BIGINT, _record VARCHAR, id VARCHAR)")
        loaded = _stream_into(con, schema, paths, on_progress)
        if previous is not None:
            _refuse_existing_ids(con, previous, paths)
        first_seq = _next_seq(con, previous)
        con.execute(
            "CREATE TEMP TABLE typed AS "
            + typed_select_sql(
                schema,
                f"(SELECT row_number() OVER (ORDER BY _file, _line) + {first_seq} - 1 AS _seq, "
                "_record, _file, _line FROM raw)",
                keep=("_file", "_line"),
            )
        )
        _refuse_mistyped_values(con, schema, paths)
        location = catalog.new_location(data_type)
        _write_snapshot(con, schema, previous, location)
        total = loaded + (previous.record_count if previous else 0)
    finally:
        con.close()
    snapshot = catalog.publish(data_type, location, total)
    return LoadResult(snapshot, loaded, time.monotonic() - started)


def _stream_into(
    con: duckdb.DuckDBPyConnection,
    schema: DataTypeSchema,
    paths: list[Path],
    on_progress: ProgressCallback | None,
) -> int:
    seen: dict[str, tuple[int, int]] = {}
    batch: list[_Line] = []
    count = 0
    for file_no, path in enumerate(paths):
        for line in _read_file(file_no, path, schema):
            where = seen.setdefault(line.record_id, (file_no, line.line_no))
            if where != (file_no, line.line_no):
                raise _bad_line(
                    paths, file_no, line.line_no,
                    f"duplicate id '{line.record_id}' (first seen in {paths[where[0]].name} line {where[1]})",
                )
            batch.append(line)
            count += 1
            if len(batch) >= BATCH_LINES:
                _insert(con, batch)
                batch = []
                if on_progress:
                    on_progress(count)
    if batch:
        _insert(con, batch)
    if on_progress:
        on_progress(count)
    if count == 0:
        raise Invalid("the input holds no records", [ErrorDetail("file", "no records in " + ", ".join(map(str, paths)))])
    return count


def _insert(con: duckdb.DuckDBPyConnection, batch: list[_Line]) -> None:
    table = pa.table(
        {
            "_file": pa.array([b.file_no for b in batch], pa.int32()),
            "_line": pa.array([b.line_no for b in batch], pa.int64()),
            "_record": pa.array([b.record_json for b in batch], pa.string()),
            "id": pa.array([b.record_id for b in batch], pa.string()),
        }
    )
    con.register("incoming_batch", table)
    con.execute("INSERT INTO raw SELECT * FROM incoming_batch")
    con.unregister("incoming_batch")


def _read_file(file_no: int, path: Path, schema: DataTypeSchema) -> Iterator[_Line]:
    name = path.name.lower().removesuffix(".gz")
    if name.endswith((".jsonl", ".ndjson", ".json", ".txt")):
        yield from _read_json_lines(file_no, path)
    elif name.endswith(".csv"):
        yield from _read_csv(file_no, path, schema)
    elif name.endswith(".parquet"):
        yield from _read_parquet(file_no, path)
    else:
        raise Invalid(
            f"{path.name}: unknown file type (use .jsonl, .json, .csv or .parquet, optionally .gz)",
            [ErrorDetail("file", str(path))],
        )


def _open_binary(path: Path) -> IO[bytes]:
    return gzip.open(path, "rb") if path.name.endswith(".gz") else path.open("rb")


def _read_json_lines(file_no: int, path: Path) -> Iterator[_Line]:
    with _open_binary(path) as handle:
        for line_no, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                record = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise _bad_line([path], 0, line_no, f"invalid JSON: {exc}") from None
            yield _checked(file_no, path, line_no, record)


def _read_csv(file_no: int, path: Path, schema: DataTypeSchema) -> Iterator[_Line]:
    with _open_binary(path) as binary, io.TextIOWrapper(binary, encoding="utf-8", newline="") as text:
        reader = csv.DictReader(text)
        for row in reader:
            line_no = reader.line_num
            try:
                record = _record_from_csv_row(schema, row)
            except ValueError as exc:
                raise _bad_line([path], 0, line_no, str(exc)) from None
            yield _checked(file_no, path, line_no, record)


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


def _read_parquet(file_no: int, path: Path) -> Iterator[_Line]:
    row_no = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=10_000):
        for record in batch.to_pylist():
            row_no += 1
            clean = {k: v for k, v in record.items() if v is not None}
            yield _checked(file_no, path, row_no, orjson.loads(orjson.dumps(clean, default=str)))


def _checked(file_no: int, path: Path, line_no: int, record: object) -> _Line:
    if not isinstance(record, dict):
        raise _bad_line([path], 0, line_no, "a record must be a JSON object")
    record_id = record.get("id")
    if isinstance(record_id, bool) or not isinstance(record_id, (str, int)) or record_id == "":
        raise _bad_line([path], 0, line_no, "a record needs a non-empty string 'id'")
    return _Line(file_no, line_no, orjson.dumps(record).decode(), str(record_id))


def _bad_line(paths: list[Path], file_no: int, line_no: int, problem: str) -> LoadFailed:
    where = f"{paths[file_no].name} line {line_no}"
    return LoadFailed(f"{where}: {problem}; nothing was loaded", [ErrorDetail(f"line {line_no}", problem)])


def _next_seq(con: duckdb.DuckDBPyConnection, previous: Snapshot | None) -> int:
    if previous is None:
        return 1
    row = con.execute("SELECT coalesce(max(_seq), 0) FROM read_parquet(?)", [previous.location]).fetchone()
    return int(row[0] if row else 0) + 1


def _refuse_existing_ids(con: duckdb.DuckDBPyConnection, previous: Snapshot, paths: list[Path]) -> None:
    clash = con.execute(
        "SELECT r._file, r._line, r.id FROM raw r JOIN read_parquet(?) s ON s.id = r.id "
        "ORDER BY r._file, r._line LIMIT 1",
        [previous.location],
    ).fetchone()
    if clash:
        raise _bad_line(paths, clash[0], clash[1], f"id '{clash[2]}' is already loaded (--append adds new ids only)")


def _refuse_mistyped_values(con: duckdb.DuckDBPyConnection, schema: DataTypeSchema, paths: list[Path]) -> None:
    """A number, date or bool field whose value did not convert is a bad line, not a silent NULL."""
    checked = [f for f in schema.fields if f.kind in (Kind.NUMBER, Kind.DATE, Kind.BOOL)]
    if not checked:
        return
    conditions = " OR ".join(
        f"({quote_ident(f.name)} IS NULL AND json_type(_record::JSON, '$.\"{f.name}\"') NOT IN ('NULL'))"
        for f in checked
    )
    bad = con.execute(
        f"SELECT _file, _line, _record FROM typed WHERE {conditions} ORDER BY _file, _line LIMIT 1"
    ).fetchone()
    if bad:
        record = orjson.loads(bad[2])
        field = next(
            f.name
            for f in checked
            if record.get(f.name) is not None and not _converts(con, f.kind, record[f.name])
        )
        raise _bad_line(paths, bad[0], bad[1], f"field '{field}': {record[field]!r} is not a valid {_kind_of(schema, field)}")


def _kind_of(schema: DataTypeSchema, name: str) -> str:
    spec = schema.field(name)
    return spec.kind.value if spec else "value"


def _converts(con: duckdb.DuckDBPyConnection, kind: Kind, value: object) -> bool:
    target = {Kind.NUMBER: "DOUBLE", Kind.DATE: "TIMESTAMP", Kind.BOOL: "BOOLEAN"}[kind]
    structure = orjson.dumps({"v": target}).decode()
    row = con.execute(
        "SELECT (json_transform(?::JSON, ?)).v IS NOT NULL", [orjson.dumps({"v": value}).decode(), structure]
    ).fetchone()
    return bool(row and row[0])


def _write_snapshot(
    con: duckdb.DuckDBPyConnection, schema: DataTypeSchema, previous: Snapshot | None, location: Path
) -> None:
    rows = "(SELECT * EXCLUDE (_file, _line) FROM typed)"
    if previous is not None:
        old_typed = f"(SELECT * FROM read_parquet('{_sql_path(previous.location)}'))"
        new_rows = f"(SELECT * FROM ({snapshot_select_sql(schema, rows)}))"
        source = f"(SELECT * FROM {old_typed} UNION ALL BY NAME SELECT * FROM {new_rows}) ORDER BY _seq"
        select = f"SELECT * FROM {source}"
    else:
        select = snapshot_select_sql(schema, rows)
    partial = location.with_suffix(".parquet.partial")
    con.execute(
        f"COPY ({select}) TO '{_sql_path(partial)}' "
        f"(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {ROW_GROUP_SIZE})"
    )
    partial.rename(location)


def _sql_path(path: str | Path) -> str:
    """A path of ours (never user text) as a SQL string literal body."""
    return str(path).replace("'", "''")
