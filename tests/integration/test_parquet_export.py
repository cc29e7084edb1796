"""Parquet parts rendered by DuckDB must hold the records the JSON renderer writes.

Over every view of every data type, with demo records, canonical ones (typed columns exact) and
tricky ones (spellings the typed columns lose, extra fields, nulls, empty nested elements): the
JSON-parsing SELECT reads back as the JSON records, and the typed-column SELECT, taken for parts
whose records are all exact, writes the very same rows.
"""

from __future__ import annotations

import shutil
from itertools import islice
from pathlib import Path

import duckdb
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dlserve.clock import FrozenClock
from dlserve.db.engine import Database
from dlserve.demo import generate_records
from dlserve.downloads import parquet
from dlserve.downloads.sql_render import records_between, typed_records_between
from dlserve.records.loader import load_files
from dlserve.records.render import project
from dlserve.records.schema import SCHEMAS, FieldSpec, Kind
from dlserve.records.snapshots import SnapshotCatalog
from dlserve.records.typed_cells import EXACT_COLUMN
from dlserve.records.views import VIEWS, find_view
from tests.integration.test_typed_csv import canonical_records, inexact_lines
from tests.support.parquet import as_parquet_row, parquet_rows

DEMO_RECORDS = 40
# As the export runner's Parquet instance (ExportRunner.parquet_cursor): every column nullable.
PARQUET_DUCKDB: dict[str, str | bool | int | float | list[str]] = {
    "preserve_insertion_order": True,
    "disabled_optimizers": "statistics_propagation",
}


@pytest.fixture(scope="module", params=sorted(SCHEMAS))
def loaded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Path, list[bytes]]:
    data_type: str = request.param
    schema = SCHEMAS[data_type]
    tmp = tmp_path_factory.mktemp(f"parquet-{data_type}")
    template: Path = request.getfixturevalue("_sqlite_template")
    shutil.copyfile(template, tmp / "state.db")
    db = Database(f"sqlite:///{tmp / 'state.db'}")
    catalog = SnapshotCatalog(db, tmp / "snapshots", FrozenClock())
    demo = list(islice(generate_records(data_type, DEMO_RECORDS, seed=7), DEMO_RECORDS))
    lines = [orjson.dumps(r).decode() for r in [*demo, *canonical_records(schema)]]
    lines += inexact_lines(schema)
    source = tmp / "records.jsonl"
    source.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    snapshot = load_files(catalog, data_type, [source], index=False).snapshot
    db.dispose()
    con = duckdb.connect(config={"preserve_insertion_order": True})
    stored = con.execute("SELECT _record FROM read_parquet(?) ORDER BY _seq", [snapshot.scan_path]).fetchall()
    return data_type, Path(snapshot.scan_path), [str(row[0]).encode() for row in stored]


def test_json_select_reads_back_as_the_json_records_in_every_view(
    loaded: tuple[str, Path, list[bytes]], tmp_path: Path
) -> None:
    data_type, scan, stored = loaded
    schema = SCHEMAS[data_type]
    con = duckdb.connect(config={"preserve_insertion_order": True})
    for view in VIEWS[data_type].values():
        target = tmp_path / f"{view.name}.parquet"
        select = parquet.json_select(view, schema, records_between("TRUE"))
        assert parquet.copy_parquet(con, select, [str(scan), 0, 10**12], target) == len(stored)
        expected = [as_parquet_row(view, project(view, orjson.loads(line))) for line in stored]
        assert list(parquet_rows(target)) == expected, view.name
        names = [f.name for f in schema.fields if f.kind is not Kind.GEO and view.selects(f.name)]
        assert pq.read_schema(target).names == names, view.name


def test_typed_select_writes_the_same_rows_for_exact_records(
    loaded: tuple[str, Path, list[bytes]], tmp_path: Path
) -> None:
    data_type, scan, _ = loaded
    schema = SCHEMAS[data_type]
    con = duckdb.connect(config=PARQUET_DUCKDB)
    params: list[object] = [str(scan), 0, 10**12]
    for view in VIEWS[data_type].values():
        from_json = tmp_path / f"{view.name}-json.parquet"
        from_typed = tmp_path / f"{view.name}-typed.parquet"
        parquet.copy_parquet(
            con, parquet.json_select(view, schema, records_between(EXACT_COLUMN)), params, from_json
        )
        rows = parquet.copy_parquet(
            con, parquet.typed_select(view, schema, typed_records_between(EXACT_COLUMN)), params, from_typed
        )
        assert rows >= DEMO_RECORDS if data_type == "businesses" else rows > 0, view.name
        typed_table, json_table = pq.read_table(from_typed), pq.read_table(from_json)
        assert typed_table.schema == json_table.schema, view.name
        assert all(field.nullable for field in typed_table.schema), view.name
        assert typed_table.equals(json_table), view.name


def arrow_type(spec: FieldSpec) -> pa.DataType:
    """The column type a field of each kind must have: its JSON value's type, nested as nested."""
    if spec.kind is Kind.NESTED:
        return pa.list_(pa.struct([pa.field(child.name, arrow_type(child)) for child in spec.children]))
    if spec.kind in (Kind.KEYWORD_LIST, Kind.TEXT_LIST):
        return pa.list_(pa.string())
    return {Kind.NUMBER: pa.float64(), Kind.BOOL: pa.bool_()}.get(spec.kind, pa.string())


def test_columns_have_their_json_types_nested_as_lists_of_structs_zstd_compressed(
    loaded: tuple[str, Path, list[bytes]], tmp_path: Path
) -> None:
    data_type, scan, _ = loaded
    schema = SCHEMAS[data_type]
    target = tmp_path / "all.parquet"
    con = duckdb.connect(config=PARQUET_DUCKDB)
    select = parquet.json_select(find_view(data_type, None), schema, records_between("TRUE"))
    parquet.copy_parquet(con, select, [str(scan), 0, 10**12], target)
    read = pq.read_schema(target)
    assert [(f.name, f.type) for f in read] == [(f.name, arrow_type(f)) for f in schema.fields]
    metadata = pq.ParquetFile(target).metadata
    columns = metadata.row_group(0)
    assert {columns.column(i).compression for i in range(columns.num_columns)} == {"ZSTD"}
    # DuckDB closes a row group after whole vectors of up to 2,048 rows: one vector below the cap
    assert parquet.ROW_GROUP_SIZE + 2_048 - 1 == parquet.MAX_ROW_GROUP_ROWS == 100_000
