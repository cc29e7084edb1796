"""CSV written by DuckDB from the typed columns must be the bytes the JSON renderer writes.

Records go through the real loader, so the typed columns and the exactness flag are the ones an
export reads; both renderers then write every view of every data type over the same records.
"""

from __future__ import annotations

import copy
import json
import shutil
import threading
from itertools import islice
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest

from dlserve.clock import FrozenClock
from dlserve.db.engine import Database
from dlserve.demo import generate_records
from dlserve.downloads import typed_csv
from dlserve.downloads.sql_render import csv_header, csv_line_select, records_between, typed_records_between
from dlserve.downloads.writers import PartWriter
from dlserve.records.extra_fields import DERIVED_FIELDS
from dlserve.records.loader import load_files
from dlserve.records.schema import SCHEMAS, DataTypeSchema, FieldSpec, Kind
from dlserve.records.snapshots import SnapshotCatalog
from dlserve.records.typed_cells import EXACT_COLUMN
from dlserve.records.views import VIEWS
from tests.support.field_lists import sample_field_lists

DEMO_RECORDS = 60
TRICKY_STRINGS = [
    'He said "hi", then\r\nleft',
    "line1\nline2\rline3",
    "",
    " padded ",
    "Ünïcødé ☕ 𝄞 \u2028",
    "a,b",
    '"',
    "tab\there",
    "back\\slash/and#hash",
    "null",
]
TRICKY_NUMBERS = [0, -1, 3, 29.386763, -98.377659, 0.1, 123456789012345, 1.5e-3, 4.25]


def tricky_value(spec: FieldSpec, n: int) -> Any:
    """A value of the field's kind that stresses quoting, spelling or emptiness."""
    text = TRICKY_STRINGS[n % len(TRICKY_STRINGS)]
    if spec.kind is Kind.NUMBER:
        return TRICKY_NUMBERS[n % len(TRICKY_NUMBERS)]
    if spec.kind is Kind.DATE:
        return f"20{10 + n % 15}-0{1 + n % 9}-1{n % 10}T0{n % 10}:3{n % 10}:0{n % 10}Z"
    if spec.kind is Kind.BOOL:
        return n % 2 == 0
    if spec.kind in (Kind.KEYWORD_LIST, Kind.TEXT_LIST):
        return [[], [text], [text, "x,y", ""]][n % 3]
    if spec.kind is Kind.NESTED:
        return [[], [tricky_element(spec, n)], [tricky_element(spec, n), tricky_element(spec, n + 1)]][n % 3]
    return text


def tricky_element(spec: FieldSpec, n: int) -> dict[str, Any]:
    return {child.name: tricky_value(child, n + i) for i, child in enumerate(spec.children)}


def canonical_records(schema: DataTypeSchema) -> list[dict[str, Any]]:
    """Records spelled as the typed columns spell them (every field in schema order, no nulls)."""
    records = []
    for n in range(12):
        record = {"id": f"t{n}"}
        derived = DERIVED_FIELDS.get(schema.name, {})  # a missing one is filled in: no longer canonical
        for i, spec in enumerate(schema.fields):
            if spec.name != "id" and ((n + i) % 5 != 0 or spec.name in derived):  # some fields missing
                value = tricky_value(spec, n + i)
                # A blank derived field is filled in on load (people's name): give it a real value.
                record[spec.name] = value if spec.name not in derived or value.strip() else f"Name {n}"
        records.append(record)
    return records


def inexact_lines(schema: DataTypeSchema) -> list[str]:
    """Records whose typed columns lose their spelling: the JSON renderer must write them."""
    base = canonical_records(schema)[1]
    kinds = {spec.kind: spec.name for spec in reversed(schema.fields)}  # the first of each kind
    changes: list[dict[str, Any]] = [{"extra": {"kept": [1, 2]}}, {"name": None}]
    if Kind.NUMBER in kinds:
        changes.append({kinds[Kind.NUMBER]: 3.0})  # orjson writes 3.0, the typed column 3
    if Kind.DATE in kinds:
        changes.append({kinds[Kind.DATE]: "2020-01-01T02:00:00+02:00"})
        changes.append({kinds[Kind.DATE]: "2020-01-01T00:00:00.5Z"})
    if Kind.NESTED in kinds:
        changes.append({kinds[Kind.NESTED]: [None]})
        changes.append({kinds[Kind.NESTED]: [{}]})
    variants: list[dict[str, Any]] = []
    for change in changes:
        variant = copy.deepcopy(base)
        variant.update(change)
        variants.append(variant)
    for k, variant in enumerate(variants):
        variant["id"] = f"v{k}"
    lines = [orjson.dumps(v).decode() for v in variants]

    def renamed(text: str, k: int) -> str:
        return text.replace('"id": "t1"', f'"id": "w{k}"').replace('"id":"t1"', f'"id":"w{k}"')

    lines.append(renamed(json.dumps(base), 0))  # spaces after separators
    lines.append(renamed(json.dumps(base, ensure_ascii=True), 1))  # \u escapes
    lines.append(renamed(orjson.dumps(dict(reversed(list(base.items())))).decode(), 2))  # key order
    compact = orjson.dumps(base).decode()
    if Kind.NUMBER in kinds:
        number = kinds[Kind.NUMBER]
        lines.append(renamed(compact.replace(f'"{number}":', f'"{number}":1e2,"x":', 1), 3))
    lines.append(renamed(compact.replace('"id":"t1"', '"id":"t1","n":3.10', 1), 4))
    return lines


@pytest.fixture(scope="module", params=sorted(SCHEMAS))
def loaded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    data_type: str = request.param
    schema = SCHEMAS[data_type]
    tmp = tmp_path_factory.mktemp(data_type)
    template: Path = request.getfixturevalue("_sqlite_template")
    shutil.copyfile(template, tmp / "state.db")
    db = Database(f"sqlite:///{tmp / 'state.db'}")
    catalog = SnapshotCatalog(db, tmp / "snapshots", FrozenClock())
    demo = list(islice(generate_records(data_type, DEMO_RECORDS, seed=5), DEMO_RECORDS))
    lines = [orjson.dumps(r).decode() for r in [*demo, *canonical_records(schema)]]
    lines += inexact_lines(schema)
    source = tmp / "records.jsonl"
    source.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    snapshot = load_files(catalog, data_type, [source]).snapshot
    db.dispose()
    return data_type, Path(snapshot.scan_path)  # a local snapshot: read in place


def test_the_loader_marks_canonical_records_exact_and_others_not(loaded: tuple[str, Path]) -> None:
    data_type, scan = loaded
    schema = SCHEMAS[data_type]
    flags = duckdb.execute(
        f"SELECT {EXACT_COLUMN} FROM read_parquet(?) ORDER BY _seq", [str(scan)]
    ).fetchall()
    exact = [bool(row[0]) for row in flags]
    canonical, inexact = len(canonical_records(schema)), len(inexact_lines(schema))
    assert exact[DEMO_RECORDS:] == [True] * canonical + [False] * inexact
    if data_type == "businesses":  # the demo's businesses are spelled canonically (the bench's data)
        assert all(exact[:DEMO_RECORDS])


def test_duckdb_csv_from_typed_columns_is_byte_identical(loaded: tuple[str, Path], tmp_path: Path) -> None:
    data_type, scan = loaded
    schema = SCHEMAS[data_type]
    where = EXACT_COLUMN  # only exact records take the typed path
    params: list[object] = [str(scan), 0, 10**12]
    con = duckdb.connect(config={"preserve_insertion_order": True})
    for view in [*VIEWS[data_type].values(), *sample_field_lists(schema)]:
        old_lines = con.execute(csv_line_select(view, schema, records_between(where)), params).fetchall()
        header = csv_header(view, schema)
        expected = "".join(line + "\r\n" for line in [header, *(row[1] for row in old_lines)])
        target = tmp_path / f"{view.name}.csv"
        select = typed_csv.cells_select(view, schema, typed_records_between(where))
        lines = typed_csv.copy_csv(con, select, params, target)
        assert lines == len(old_lines) > 0, view.name
        assert target.read_bytes() == expected.encode("utf-8"), view.name


def test_a_part_summary_counts_records_and_sees_an_inexact_one(loaded: tuple[str, Path]) -> None:
    _, scan = loaded
    con = duckdb.connect()
    records = typed_records_between("TRUE")
    total = con.execute("SELECT count(*) FROM read_parquet(?)", [str(scan)]).fetchone()
    assert total is not None
    assert typed_csv.has_exact_column(con, str(scan))
    assert typed_csv.part_summary(con, records, [str(scan), DEMO_RECORDS, DEMO_RECORDS + 12]) == (
        12,
        True,
    )
    assert typed_csv.part_summary(con, records, [str(scan), 0, 10**12]) == (total[0], False)


@pytest.mark.parametrize("gzip", [False, True])
def test_a_part_following_a_growing_file_is_the_part_written_line_by_line(tmp_path: Path, gzip: bool) -> None:
    body = "".join(f'{n},"a ""{n}"", b"\r\n' for n in range(200_000)).encode()
    by_lines = PartWriter(tmp_path, gzip=gzip, header="h1,h2")
    by_lines.write_bytes(memoryview(body))
    following = PartWriter(tmp_path, gzip=gzip, header=None)
    written = following.sibling("duckdb")

    def grow() -> None:  # another writer, appending in pieces while the part reads
        with written.open("wb") as out:
            out.write(b"h1,h2\r\n")
            for start in range(0, len(body), 70_001):
                out.write(body[start : start + 70_001])
                out.flush()

    writer = threading.Thread(target=grow)
    writer.start()
    following.follow(written, lambda: not writer.is_alive(), lambda: writer.join(0.01))
    one, two = by_lines.finish(), following.finish()
    assert (one.bytes, one.sha256) == (two.bytes, two.sha256)
    assert one.path.read_bytes() == two.path.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([one.path.name, two.path.name])


def test_a_small_file_finished_between_two_looks_is_still_taken_in(tmp_path: Path) -> None:
    """A typed range of a record or two: DuckDB creates and finishes the file right after the
    part's first look for it; the part must read it, not call it never written."""
    writer = PartWriter(tmp_path, gzip=False, header="h")
    written = writer.sibling("duckdb")

    def done() -> bool:  # the writer finishes just as the part asks whether it is done
        if not written.exists():
            written.write_bytes(b"1,2\r\n")
        return True

    writer.follow(written, done, lambda: None)
    finished = writer.finish()
    assert finished.path.read_bytes() == b"h\r\n1,2\r\n"
