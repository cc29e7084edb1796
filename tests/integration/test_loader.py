"""Loading files into snapshots: formats, atomic switch, append, and bad lines that change nothing."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dlserve.clock import FrozenClock
from dlserve.db.engine import Database
from dlserve.errors import Invalid, Unavailable
from dlserve.query import compile_query
from dlserve.records.loader import LoadFailed, load_files
from dlserve.records.schema import BUSINESSES
from dlserve.records.snapshots import SnapshotCatalog
from dlserve.records.store import RecordStore

BUSINESS_LINES = [
    {
        "id": "b1",
        "name": "Hilton Garden Inn",
        "city": "Austin",
        "latitude": 30.2,
        "longitude": -97.7,
        "categories": ["Hotels"],
        "dateAdded": "2017-01-02T03:04:05Z",
        "reviews": [{"rating": 5, "text": "Great"}],
        "customField": {"kept": True},
    },
    {"id": "b2", "name": "Joe's Coffee", "city": "Dallas", "categories": ["Coffee Shops"]},
    {"id": "b3", "name": "Marriott Downtown", "city": "Austin", "categories": ["Hotels", "Lodging"]},
]


@pytest.fixture
def catalog(db: Database, tmp_path: Path) -> SnapshotCatalog:
    return SnapshotCatalog(db, tmp_path / "snapshots", FrozenClock())


@pytest.fixture
def store(catalog: SnapshotCatalog) -> Iterator[RecordStore]:
    record_store = RecordStore(catalog)
    yield record_store
    record_store.close()


def write_jsonl(path: Path, records: Sequence[object]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def ids(store: RecordStore, query: str = "*") -> list[str]:
    snapshot = store.snapshot("businesses")
    return [json.loads(r)["id"] for r in store.fetch(snapshot, compile_query(BUSINESSES, query), limit=100)]


def test_jsonl_load_keeps_order_and_extra_fields(
    catalog: SnapshotCatalog, store: RecordStore, tmp_path: Path
) -> None:
    result = load_files(catalog, "businesses", [write_jsonl(tmp_path / "b.jsonl", BUSINESS_LINES)])
    assert result.records_loaded == 3
    assert result.snapshot.record_count == 3
    assert ids(store) == ["b1", "b2", "b3"]
    assert ids(store, "city:austin AND categories:hotels") == ["b1", "b3"]
    first = json.loads(store.get(store.snapshot("businesses"), "b1"))
    assert first == BUSINESS_LINES[0]


def test_a_new_load_replaces_and_append_adds(
    catalog: SnapshotCatalog, store: RecordStore, tmp_path: Path
) -> None:
    load_files(catalog, "businesses", [write_jsonl(tmp_path / "a.jsonl", BUSINESS_LINES[:2])])
    old = catalog.current("businesses")
    load_files(catalog, "businesses", [write_jsonl(tmp_path / "b.jsonl", BUSINESS_LINES[2:])])
    assert ids(store) == ["b3"]
    load_files(catalog, "businesses", [write_jsonl(tmp_path / "c.jsonl", BUSINESS_LINES[:2])], append=True)
    assert ids(store) == ["b3", "b1", "b2"]
    current = catalog.current("businesses")
    assert current is not None
    assert current.record_count == 3
    # The old snapshot is still readable: exports running on it finish on it.
    assert old is not None
    relation = duckdb.sql(f"SELECT count(*) FROM read_parquet('{old.location}')")
    assert relation is not None
    assert relation.fetchall() == [(2,)]


def test_append_refuses_an_id_already_loaded(
    catalog: SnapshotCatalog, store: RecordStore, tmp_path: Path
) -> None:
    load_files(catalog, "businesses", [write_jsonl(tmp_path / "a.jsonl", BUSINESS_LINES)])
    with pytest.raises(LoadFailed, match="line 1: id 'b2' is already loaded"):
        load_files(
            catalog, "businesses", [write_jsonl(tmp_path / "b.jsonl", [BUSINESS_LINES[1]])], append=True
        )
    assert ids(store) == ["b1", "b2", "b3"]


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"id": "a"}', '{"id": "b"', '{"id": "c"}'], "line 2: invalid JSON"),
        (['{"id": "a"}', "[1, 2]"], "line 2: a record must be a JSON object"),
        (['{"id": "a"}', '{"name": "no id"}'], "line 2: a record needs a non-empty string 'id'"),
        (['{"id": "a"}', '{"id": "b"}', '{"id": "a"}'], "line 3: duplicate id 'a'"),
        (
            ['{"id": "a"}', '{"id": "b", "latitude": "north"}'],
            'line 2: field .latitude.: "north" is not a valid number',
        ),
        (
            ['{"id": "a", "dateAdded": "yesterday"}'],
            'line 1: field .dateAdded.: "yesterday" is not a valid date',
        ),
    ],
)
def test_a_bad_line_fails_the_load_with_its_number_and_changes_nothing(
    catalog: SnapshotCatalog, store: RecordStore, tmp_path: Path, lines: list[str], message: str
) -> None:
    load_files(catalog, "businesses", [write_jsonl(tmp_path / "good.jsonl", BUSINESS_LINES)])
    before = catalog.current("businesses")
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(LoadFailed, match=message):
        load_files(catalog, "businesses", [bad])
    assert catalog.current("businesses") == before
    assert ids(store) == ["b1", "b2", "b3"]


def test_csv_and_gzip_and_parquet_inputs(
    catalog: SnapshotCatalog, store: RecordStore, tmp_path: Path
) -> None:
    csv_path = tmp_path / "b.csv"
    csv_path.write_text(
        "id,name,latitude,categories,reviews,extra\n"
        'c1,"Hilton, Downtown",30.5,"Hotels,Lodging","[{""rating"": 4}]",x\n'
        "c2,Cafe,,Coffee Shops,,\n",
        encoding="utf-8",
    )
    load_files(catalog, "businesses", [csv_path])
    snapshot = store.snapshot("businesses")
    assert json.loads(store.get(snapshot, "c1")) == {
        "id": "c1",
        "name": "Hilton, Downtown",
        "latitude": 30.5,
        "categories": ["Hotels", "Lodging"],
        "reviews": [{"rating": 4}],
        "extra": "x",
    }
    assert ids(store, "reviews.rating:4") == ["c1"]

    gz = tmp_path / "b.jsonl.gz"
    with gzip.open(gz, "wt", encoding="utf-8") as handle:
        handle.writelines(json.dumps(r) + "\n" for r in BUSINESS_LINES)
    load_files(catalog, "businesses", [gz])
    assert ids(store) == ["b1", "b2", "b3"]

    parquet = tmp_path / "b.parquet"
    pq.write_table(pa.Table.from_pylist([{"id": "p1", "name": "Hyatt", "latitude": 1.5}]), parquet)
    load_files(catalog, "businesses", [parquet])
    assert json.loads(store.get(store.snapshot("businesses"), "p1")) == {
        "id": "p1",
        "name": "Hyatt",
        "latitude": 1.5,
    }


def test_csv_bad_number_names_the_line(catalog: SnapshotCatalog, tmp_path: Path) -> None:
    csv_path = tmp_path / "b.csv"
    csv_path.write_text("id,latitude\na,1\nb,north\n", encoding="utf-8")
    with pytest.raises(LoadFailed, match=r"b\.csv line 3: column 'latitude': 'north' is not a number"):
        load_files(catalog, "businesses", [csv_path])


def test_unknown_type_and_extension_are_invalid(catalog: SnapshotCatalog, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "b.jsonl", BUSINESS_LINES)
    with pytest.raises(Invalid, match="unknown data type"):
        load_files(catalog, "cars", [path])
    odd = tmp_path / "b.xml"
    odd.write_text("<x/>", encoding="utf-8")
    with pytest.raises(Invalid, match="unknown file type"):
        load_files(catalog, "businesses", [odd])


def test_many_parts_keep_the_load_order(
    catalog: SnapshotCatalog, store: RecordStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("dlserve.records.loader.ROWS_PER_PART", 7)
    records: list[dict[str, Any]] = [
        {"id": f"r{i:03d}", "name": f"Place {i}", "reviews": [{"rating": i % 5}]} for i in range(60)
    ]
    load_files(catalog, "businesses", [write_jsonl(tmp_path / "a.jsonl", records[:45])], workers=3)
    snapshot = catalog.current("businesses")
    assert snapshot is not None
    assert len(snapshot.part_files()) == 7
    load_files(
        catalog, "businesses", [write_jsonl(tmp_path / "b.jsonl", records[45:])], append=True, workers=2
    )
    snapshot = catalog.current("businesses")
    assert snapshot is not None
    assert len(snapshot.part_files()) == 10
    assert ids(store) == [r["id"] for r in records[:100]]
    seqs = [
        row[0] for row in duckdb.execute("SELECT _seq FROM read_parquet(?)", [snapshot.scan_path]).fetchall()
    ]
    assert seqs == list(range(1, 61))
    assert ids(store, "reviews.rating:3") == [r["id"] for r in records if r["reviews"][0]["rating"] == 3]


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        ({"id": "x", "categories": "Hotels"}, "field 'categories': expected a list of strings"),
        (
            {"id": "x", "reviews": [{"rating": "five"}]},
            "field 'reviews.rating': \"five\" is not a valid number",
        ),
        ({"id": "x", "reviews": {"rating": 5}}, "field 'reviews': expected a list of objects"),
    ],
)
def test_values_that_do_not_fit_the_schema_name_field_and_line(
    catalog: SnapshotCatalog, tmp_path: Path, record: dict[str, object], problem: str
) -> None:
    path = write_jsonl(tmp_path / "x.jsonl", [{"id": "ok1"}, {"id": "ok2"}, record])
    with pytest.raises(LoadFailed) as caught:
        load_files(catalog, "businesses", [path])
    assert f"x.jsonl line 3: {problem}" in caught.value.message


def test_dates_with_offsets_are_stored_as_utc(
    catalog: SnapshotCatalog, store: RecordStore, tmp_path: Path
) -> None:
    records = [
        {"id": "east", "dateAdded": "2017-01-05T01:00:00+02:00"},  # 2017-01-04 23:00 UTC
        {"id": "west", "dateAdded": "2017-01-04T20:00:00-05:00"},  # 2017-01-05 01:00 UTC
    ]
    load_files(catalog, "businesses", [write_jsonl(tmp_path / "d.jsonl", records)])
    assert ids(store, "dateAdded:2017-01-04") == ["east"]
    assert ids(store, "dateAdded:[2017-01-05T00:30:00Z TO *]") == ["west"]


def test_a_load_past_its_memory_limit_says_what_to_change_and_changes_nothing(
    catalog: SnapshotCatalog, store: RecordStore, tmp_path: Path
) -> None:
    load_files(catalog, "businesses", [write_jsonl(tmp_path / "good.jsonl", BUSINESS_LINES)])
    before = catalog.current("businesses")
    with pytest.raises(Unavailable, match="DLSERVE_LOAD_MEMORY_LIMIT") as raised:
        load_files(
            catalog, "businesses", [write_jsonl(tmp_path / "more.jsonl", BUSINESS_LINES)], memory_limit="1MB"
        )
    assert raised.value.details[0].field == "memory"
    assert catalog.current("businesses") == before
    assert ids(store) == ["b1", "b2", "b3"]
