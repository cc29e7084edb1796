"""Building a snapshot's Tantivy index from its Parquet parts, in the run that writes them: a load
hands each part to :class:`IndexBuilder` as soon as it is written (see
:func:`dlserve.records.loader.load_files`), so the index grows while the next parts are written.

DuckDB reads the parts and computes every indexed value from the snapshot's own columns (token
columns split into elements, ``lower()`` of keywords, ``epoch_us()`` of dates, the compiler's
``Exists`` SQL for ``field:*``), so the index cannot disagree with the SQL path about what a
value is; Python only moves the values into Tantivy documents. See :mod:`layout`.

An ``--append`` starts from a copy of the previous snapshot's index (segment files are immutable:
hard links) and indexes only the new rows.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import tantivy

from dlserve.query import nodes
from dlserve.query.compile import to_sql
from dlserve.records.layout import quote_ident
from dlserve.records.schema import ELEMENT_SEPARATOR, LIST_KINDS, TEXTUAL_KINDS, DataTypeSchema, Kind
from dlserve.search.layout import (
    GEO_GRIDS,
    ID,
    ODD_CELL,
    PRESENT,
    RECORD,
    SEQ,
    IndexedField,
    exists_paths,
    indexed_fields,
    open_index,
    register_tokenizers,
    tantivy_schema,
    value_field_name,
)

BATCH_ROWS = 10_000
# Split between the writer's threads; each flushes a segment when its share is full (~2 KB per demo
# business). 256 MB made 65k-record segments: at 1M records sixteen of them, and Tantivy's merge
# policy (8 segments of a size) re-wrote half the index once more. 1 GB: ~260k-record segments, four
# at 1M, no merge before ~2M records.
WRITER_HEAP_BYTES = 1_000_000_000
ProgressCallback = Callable[[int], None]


@dataclass(frozen=True)
class BuildResult:
    documents: int
    seconds: float  # time spent indexing, whether or not it overlapped the writing of the parts
    bytes: int


def build_index(
    schema: DataTypeSchema,
    parts: list[Path],
    target: Path,
    *,
    base: Path | None = None,
    after_seq: int | None = None,
    threads: int | None = None,
    on_progress: ProgressCallback | None = None,
) -> BuildResult:
    """Index the rows of ``parts`` (only those with ``_seq > after_seq``) into ``target`` (a new directory),
    starting from a copy of the index at ``base`` when given."""
    builder = IndexBuilder(schema, target, base=base, threads=threads, on_progress=on_progress)
    try:
        builder.add_parts(parts, after_seq=after_seq)
        return builder.finish()
    finally:
        builder.close()


class IndexBuilder:
    """One snapshot's index, fed part by part: a load hands each Parquet part over as soon as it is
    written, so the index is built while the next parts are still being written (see
    :func:`dlserve.records.loader.load_files`). Parts may come in any order: results are ordered
    by the ``_seq`` fast field, never by document order. Several threads may feed a builder at
    once: each computes its documents with DuckDB on a cursor of its own, and only the hand-over to
    Tantivy is serialised (the writer refuses concurrent calls; ``add_json`` parses outside the
    GIL, so one thread's DuckDB work overlaps another's parsing)."""

    def __init__(
        self,
        schema: DataTypeSchema,
        target: Path,
        *,
        base: Path | None = None,
        threads: int | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        self._schema = schema
        self._target = target
        self._on_progress = on_progress
        self._busy = 0.0  # seconds spent indexing (the rest of a load's time overlaps the writing)
        self.documents = 0
        self._feeding = threading.Lock()  # the writer, the counts and the progress
        self._feeders = 0
        self._feeding_since = 0.0
        started = time.monotonic()
        if base is not None:
            _copy_index(base, target)
            index = open_index(target)
        else:
            target.mkdir(parents=True)
            index = tantivy.Index(tantivy_schema(schema), path=str(target))
            register_tokenizers(index)
        self._writer: tantivy.IndexWriter | None = index.writer(
            heap_size=WRITER_HEAP_BYTES, num_threads=threads or min(4, os.cpu_count() or 1)
        )
        self._con = duckdb.connect(config={"preserve_insertion_order": True})
        self._busy += time.monotonic() - started

    def add_parts(self, parts: list[Path], *, after_seq: int | None = None) -> None:
        """Index the rows of ``parts`` (only those with ``_seq > after_seq``); safe to call from
        several threads at once."""
        if not parts:
            return
        self._enter()
        try:
            files = ", ".join(_sql_string(str(part)) for part in parts)
            source = f"read_parquet([{files}])"
            if after_seq is not None:
                source += f" WHERE _seq > {int(after_seq)}"
            cursor = self._con.cursor()
            try:
                reader = cursor.sql(document_json_sql(self._schema, source)).to_arrow_reader(BATCH_ROWS)
                for batch in reader:
                    documents = batch.column(0).to_pylist()
                    with self._feeding:
                        assert self._writer is not None, "the index is already finished"
                        for document in documents:
                            self._writer.add_json(document)
                        self.documents += len(documents)
                        if self._on_progress is not None:
                            self._on_progress(self.documents)
            finally:
                cursor.close()
        finally:
            self._leave()

    def _enter(self) -> None:
        """Time spent indexing counts once while several threads feed at the same time."""
        with self._feeding:
            if self._feeders == 0:
                self._feeding_since = time.monotonic()
            self._feeders += 1

    def _leave(self) -> None:
        with self._feeding:
            self._feeders -= 1
            if self._feeders == 0:
                self._busy += time.monotonic() - self._feeding_since

    def finish(self) -> BuildResult:
        """Commit: the index holds every row added."""
        assert self._writer is not None, "the index is already finished"
        started = time.monotonic()
        self._writer.commit()
        self._writer.wait_merging_threads()
        self._writer = None
        self._busy += time.monotonic() - started
        size = sum(f.stat().st_size for f in self._target.rglob("*") if f.is_file())
        return BuildResult(self.documents, self._busy, size)

    def close(self) -> None:
        """Release the DuckDB connection and an unfinished writer (its files stay uncommitted)."""
        self._writer = None
        self._con.close()


def document_json_sql(schema: DataTypeSchema, source: str) -> str:
    """SELECT of one JSON document per row of ``source`` (a FROM clause body), in row order.

    Empty lists rather than NULLs: Tantivy's JSON documents refuse nulls.
    """
    values = [(field, _values_sql(schema, field)) for field in indexed_fields(schema)]
    inner = ", ".join(
        ["_seq", "id", "_record"]
        + [f"{sql} AS {quote_ident(field.name)}" for field, sql in values]
        + [f"({sql}) AS {quote_ident('?' + path)}" for path, sql in _raw_exists(schema)]
    )
    members = [f"{SEQ} := _seq", f"{ID} := [id]", f"{RECORD} := _record::VARCHAR"]
    members += [
        f"{quote_ident(field.name)} := coalesce({quote_ident(field.name)}, [])" for field, _ in values
    ]
    members.append(f"{PRESENT} := {_present_sql(schema)}")
    if schema.has_geo:
        coarser: int | None = None
        for grid, per_degree in GEO_GRIDS:
            inner += f", {_geocell_sql(per_degree, coarser)} AS {grid}"
            members.append(f"{grid} := {grid}")
            coarser = per_degree
    return f"SELECT to_json(struct_pack({', '.join(members)})) FROM (SELECT {inner} FROM {source})"


def _geocell_sql(k: int, coarser: int | None) -> str:
    """The record's cell of the grid of ``k`` cells per degree (see :mod:`geo`); every record with a
    coordinate has one term. (An append to an index built before a grid existed: Tantivy ignores
    a document's fields its schema lacks.)

    A finer grid's cell is kept inside the record's cell of the ``coarser`` grid: ``value * 10``
    and ``value * 100`` are rounded each on its own, so ``floor`` of the two may disagree by one
    at a line (``89.89999999999999 * 10`` is below 899, ``* 100`` is 8990); the circles' cells
    rely on every fine cell lying in one coarse cell. The value stays within a rounding of the
    cell it is moved to."""

    def cell(column: str) -> str:
        fine = f"floor({column} * {k})::BIGINT"
        if coarser is None:
            return fine
        first = f"floor({column} * {coarser})::BIGINT * {k // coarser}"
        return f"least(greatest({fine}, {first}), {first} + {k // coarser - 1})"

    return (
        "CASE WHEN latitude IS NULL AND longitude IS NULL THEN []::VARCHAR[] "
        "WHEN latitude BETWEEN -90 AND 90 AND longitude BETWEEN -180 AND 180 "
        f"THEN [{cell('latitude')}::VARCHAR || ':' || {cell('longitude')}::VARCHAR] "
        f"ELSE ['{ODD_CELL}'] END"
    )


def _present_sql(schema: DataTypeSchema) -> str:
    """The paths ``field:*`` matches. Scalars and lists of scalars are decided from the value lists
    just computed (cheaper than a second pass over nested columns); text, nested lists and geo by
    the compiler's own ``Exists`` SQL."""
    conditions: list[str] = []
    raw = dict(_raw_exists(schema))
    for field in exists_paths(schema):
        if field.path in raw:
            condition = quote_ident("?" + field.path)
        else:
            column = quote_ident(value_field_name(field.path, field.kind))
            if field.kind in (Kind.KEYWORD, Kind.KEYWORD_LIST):
                # lower() never empties a string: a non-empty lowered value is a non-empty value
                condition = f"len(list_filter({column}, lambda v: v <> '')) > 0"
            else:
                condition = f"len({column}) > 0"
        conditions.append(f"CASE WHEN coalesce({condition}, false) THEN '{field.path}' END")
    return f"list_filter([{', '.join(conditions)}], lambda p: p IS NOT NULL)"


def _raw_exists(schema: DataTypeSchema) -> list[tuple[str, str]]:
    return [
        (field.path, to_sql(nodes.Exists(field)).sql)
        for field in exists_paths(schema)
        if field.kind in TEXTUAL_KINDS or field.kind in (Kind.NESTED, Kind.GEO)
    ]


def _values_sql(schema: DataTypeSchema, field: IndexedField) -> str:
    if field.kind in TEXTUAL_KINDS:
        # The token column: ' tok tok ' per element, elements separated by US.
        return f"string_split({quote_ident(field.name)}, chr({ord(ELEMENT_SEPARATOR)}))"
    top_name, _, sub_name = field.path.partition(".")
    top = quote_ident(top_name)
    if not sub_name:
        elements = top if field.kind in LIST_KINDS else f"[{top}]"
    else:
        member = f"list_transform({top}, lambda e: e.{quote_ident(sub_name)})"
        elements = f"flatten({member})" if field.kind in LIST_KINDS else member
    convert = {
        Kind.KEYWORD: "lower(x)",
        Kind.KEYWORD_LIST: "lower(x)",
        Kind.NUMBER: "x + 0.0",  # -0.0 + 0.0 is 0.0: SQL's = equates the two zeros, Tantivy's terms don't
        Kind.DATE: "epoch_us(x)",
        Kind.BOOL: "x",
    }[field.kind]
    return f"list_filter(list_transform({elements}, lambda x: {convert}), lambda x: x IS NOT NULL)"


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _copy_index(base: Path, target: Path) -> None:
    """Hard-link the immutable segment files; copy the small files Tantivy rewrites."""
    target.mkdir(parents=True)
    for source in base.iterdir():
        if not source.is_file():
            continue
        if source.suffix == ".json" or source.name.startswith("."):
            shutil.copy2(source, target / source.name)
            continue
        try:
            os.link(source, target / source.name)
        except OSError:
            shutil.copy2(source, target / source.name)
