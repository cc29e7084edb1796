"""``dlserve load`` and fields: those outside the schema are reported (or refused with --strict),
and people's full ``name`` is filled from first and last name when a record lacks it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from dlserve.clock import FrozenClock
from dlserve.db.engine import Database
from dlserve.errors import Invalid
from dlserve.query import compile_query
from dlserve.records.loader import load_files
from dlserve.records.schema import BUSINESSES, PEOPLE
from dlserve.records.snapshots import SnapshotCatalog
from dlserve.records.store import RecordStore

BUSINESSES_WITH_EXTRAS: list[dict[str, Any]] = [
    {"id": "b1", "name": "Inn", "customField": 1, "reviews": [{"rating": 5, "userCity": "Austin"}]},
    {"id": "b2", "name": "Cafe", "customField": "x", "otherField": [1]},
    {"id": "b3", "name": "Bar", "reviews": [{"rating": 3}, {"rating": 4, "userCity": "Waco"}]},
]
PEOPLE_LINES: list[dict[str, Any]] = [
    {"id": "p1", "firstName": "John", "lastName": "Smith", "city": "Austin"},
    {"id": "p2", "name": "Maria de la Cruz", "firstName": "Maria", "lastName": "Cruz"},
    {"id": "p3", "firstName": "Ana", "name": ""},
    {"id": "p4", "lastName": "Nobody-Else"},
    {"id": "p5", "city": "Dallas"},
]


@pytest.fixture
def catalog(db: Database, tmp_path: Path) -> SnapshotCatalog:
    return SnapshotCatalog(db, tmp_path / "snapshots", FrozenClock())


@pytest.fixture
def store(catalog: SnapshotCatalog) -> Iterator[RecordStore]:
    record_store = RecordStore(catalog)
    yield record_store
    record_store.close()


def write_jsonl(path: Path, records: Sequence[Mapping[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_fields_outside_the_schema_are_counted_and_kept(
    catalog: SnapshotCatalog, store: RecordStore, tmp_path: Path
) -> None:
    result = load_files(catalog, "businesses", [write_jsonl(tmp_path / "b.jsonl", BUSINESSES_WITH_EXTRAS)])
    # Sub-fields of nested lists (reviews.userCity) are not looked at: too costly on big loads.
    assert result.undeclared_fields == {"customField": 2, "otherField": 1}
    snapshot = store.snapshot("businesses")
    assert json.loads(store.get(snapshot, "b2")) == BUSINESSES_WITH_EXTRAS[1]  # kept as loaded
    with pytest.raises(Invalid, match="customField"):  # ... and, as reported, not searchable
        compile_query(BUSINESSES, "customField:*")


def test_strict_refuses_fields_outside_the_schema_and_loads_nothing(
    catalog: SnapshotCatalog, tmp_path: Path
) -> None:
    with pytest.raises(Invalid) as refused:
        load_files(
            catalog, "businesses", [write_jsonl(tmp_path / "b.jsonl", BUSINESSES_WITH_EXTRAS)], strict=True
        )
    assert "customField (2 records)" in refused.value.message
    assert "nothing was loaded" in refused.value.message
    assert {d.field for d in refused.value.details} == {"customField", "otherField"}
    assert catalog.current("businesses") is None
    clean = [{k: v for k, v in r.items() if k in ("id", "name", "reviews")} for r in BUSINESSES_WITH_EXTRAS]
    result = load_files(catalog, "businesses", [write_jsonl(tmp_path / "c.jsonl", clean)], strict=True)
    assert result.records_loaded == 3
    assert result.undeclared_fields == {}


def test_people_get_a_full_name_from_first_and_last_name(
    catalog: SnapshotCatalog, store: RecordStore, tmp_path: Path
) -> None:
    result = load_files(catalog, "people", [write_jsonl(tmp_path / "p.jsonl", PEOPLE_LINES)])
    assert result.undeclared_fields == {}
    snapshot = store.snapshot("people")
    names = {pid: json.loads(store.get(snapshot, pid)).get("name") for pid in ("p1", "p2", "p3", "p4", "p5")}
    assert names == {
        "p1": "John Smith",
        "p2": "Maria de la Cruz",  # a name the record has is never replaced
        "p3": "Ana",
        "p4": "Nobody-Else",
        "p5": None,  # nothing to make one from
    }
    assert json.loads(store.get(snapshot, "p1")) == {**PEOPLE_LINES[0], "name": "John Smith"}

    def found(query: str) -> list[str]:
        rows = store.fetch(snapshot, compile_query(PEOPLE, query), limit=10)
        return [json.loads(r)["id"] for r in rows]

    assert found('name:"John Smith" AND city:Austin') == ["p1"]
    assert found("name:cruz") == ["p2"]
    assert found("name:*") == ["p1", "p2", "p3", "p4"]


def test_the_cli_lists_them_and_strict_is_a_one_line_error(tmp_path: Path, database_url: str) -> None:
    # A real process: the CLI configures logging for the whole interpreter it runs in.
    env = {
        **os.environ,
        "DLSERVE_DATA_DIR": str(tmp_path / "data"),
        "DLSERVE_DATABASE_URL": database_url,
        "COLUMNS": "500",  # rich wraps stderr at 80 columns otherwise
    }
    source = write_jsonl(tmp_path / "b.jsonl", BUSINESSES_WITH_EXTRAS)

    def load(*flags: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "dlserve", "load", "businesses", str(source), *flags]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)

    refused = load("--strict")
    assert refused.returncode == 1
    assert "customField (2 records)" in refused.stderr
    assert "Traceback" not in refused.stderr
    loaded = load()
    assert loaded.returncode == 0, loaded.stderr
    summary = json.loads(loaded.stdout.strip().splitlines()[-1])
    assert summary["records_loaded"] == 3
    assert summary["undeclared_fields"] == [
        {"field": "customField", "records": 2},
        {"field": "otherField", "records": 1},
    ]
    assert "not in the businesses schema" in loaded.stderr
