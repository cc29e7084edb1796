"""The index path of the catalog (previews, counts, pages, records by id) against the DuckDB path,
on a real database (SQLite and PostgreSQL), with snapshots built by the real loader; appends; and
snapshots in S3 carrying their index to another machine's cache."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from dlserve.accounts.services import Account
from dlserve.catalog.services import CatalogService, prepare
from dlserve.container import Services, build_services
from dlserve.demo import write_jsonl
from dlserve.errors import Invalid, NotFound
from dlserve.records import loader
from dlserve.records.loader import load_files
from dlserve.records.snapshots import INDEX_DIR
from dlserve.search.service import RecordSearch
from tests.integration.conftest import loaded_services, make_settings
from tests.integration.test_snapshots_in_s3 import machine
from tests.support.fixture_tables import BUSINESS_RECORDS
from tests.support.seaweed import S3Server

QUERIES = [
    "*",
    "name:hilton",
    "name:hilt*",
    'name:"hilton garden"',
    "hotels",
    "city:austin",
    "city:[a TO n]",
    "reviews.rating:>=4",
    "dateAdded:[2017-01-01 TO 2017-01-31]",
    "geoLocation:[-97.74,30.27,10,mi]",
    "websites:*",
    "NOT websites:*",
    "name:hilton AND NOT city:austin",
    # the query_string dialect of issue 17
    "city:austin && province:TX",
    "city:austin || city:houston",
    "!city:austin",
    "_exists_:websites",
    "name:hil?on",
    "name:*ton",
    "name:h*n",
    "name:hilton~1",
    "name:/hil.*/",
    "city:/aus.*/ OR city:san\\ a*o",
]


@pytest.fixture
def indexed(database_url: str, tmp_path: Path) -> Iterator[Services]:
    with loaded_services(tmp_path, database_url, BUSINESS_RECORDS) as built:
        yield built


def duckdb_catalog(services: Services) -> CatalogService:
    return CatalogService(
        services.store,
        services.accounts,
        search=RecordSearch(services.store, services.snapshots, use_index=False),
    )


def rich_account(services: Services, email: str = "reader@example.com") -> Account:
    created = services.accounts.create_account(email, credits=100_000)
    return services.accounts.get_account(created.id)


def test_the_snapshot_carries_an_index(indexed: Services) -> None:
    snapshot = indexed.store.snapshot("businesses")
    with indexed.snapshots.open(snapshot) as directory:
        assert (directory / INDEX_DIR / "meta.json").is_file()


@pytest.mark.parametrize("query", QUERIES)
def test_previews_counts_and_pages_agree_with_the_duckdb_path(indexed: Services, query: str) -> None:
    account = rich_account(indexed)
    reference = duckdb_catalog(indexed)
    prepared = prepare("businesses", query, None, "json")
    assert indexed.catalog.count(prepared) == reference.count(prepared)
    for wanted in (0, 1, 10, 50):
        assert indexed.catalog.preview(account, prepared, wanted) == reference.preview(
            account, prepared, wanted
        )
    for page in (1, 2, 3, 5):
        assert indexed.catalog.paginate(account, prepared, page, 3) == reference.paginate(
            account, prepared, page, 3
        )
    csv = prepare("businesses", query, "business_flat_reviews", "csv")
    assert indexed.catalog.preview(account, csv, 10) == reference.preview(account, csv, 10)


def test_records_by_id_agree_with_the_duckdb_path(indexed: Services) -> None:
    account = rich_account(indexed)
    reference = duckdb_catalog(indexed)
    for record in BUSINESS_RECORDS:
        ours = indexed.catalog.get_record(account, "businesses", record["id"], None)
        assert ours == reference.get_record(account, "businesses", record["id"], None)
    for missing in ("B01", "nope", "b01 "):
        with pytest.raises(NotFound) as ours_error:
            indexed.catalog.get_record(account, "businesses", missing, None)
        with pytest.raises(NotFound) as reference_error:
            reference.get_record(account, "businesses", missing, None)
        assert type(ours_error.value) is type(reference_error.value)
        assert str(ours_error.value) == str(reference_error.value)


def test_an_append_extends_the_previous_index(indexed: Services, tmp_path: Path) -> None:
    more = tmp_path / "more.jsonl"
    more.write_text(
        "".join(
            json.dumps({"id": f"n{i}", "name": f"Hilton Annex {i}", "city": "Austin"}) + "\n"
            for i in range(5)
        )
    )
    first = indexed.store.snapshot("businesses")
    second = load_files(indexed.snapshots, "businesses", [more], append=True).snapshot
    account = rich_account(indexed)
    reference = duckdb_catalog(indexed)
    for query in ["name:hilton", "city:austin", "*", "name:annex"]:
        prepared = prepare("businesses", query, None, "json")
        assert indexed.catalog.preview(account, prepared, 50) == reference.preview(account, prepared, 50)
    assert indexed.catalog.count(prepare("businesses", "*", None, "json")) == len(BUSINESS_RECORDS) + 5
    if "://" not in second.location:  # local snapshots: the old segments are shared, not copied
        old = {p.name: p.stat().st_ino for p in (first.path / INDEX_DIR).iterdir() if p.suffix == ".store"}
        new = {p.name: p.stat().st_ino for p in (second.path / INDEX_DIR).iterdir() if p.suffix == ".store"}
        assert old
        assert old.items() <= new.items()
        assert len(new) > len(old)


def test_snapshots_without_an_index_are_read_with_duckdb(database_url: str, tmp_path: Path) -> None:
    services = build_services(make_settings(tmp_path, database_url, search_index=False))
    source = tmp_path / "b.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in BUSINESS_RECORDS))
    try:
        load_files(services.snapshots, "businesses", [source], index=False)
        snapshot = services.store.snapshot("businesses")
        with services.snapshots.open(snapshot) as directory:
            assert not (directory / INDEX_DIR).exists()
        reader = build_services(services.settings.model_copy(update={"search_index": True}))
        try:
            account = rich_account(reader)
            prepared = prepare("businesses", "name:hilton", None, "json")
            preview = reader.catalog.preview(account, prepared, 10)
            assert [r["id"] for r in preview.records] == ["b01", "b03", "b09", "b10", "b12"]
        finally:
            reader.close()
    finally:
        services.close()


@pytest.mark.s3
def test_the_index_travels_with_its_snapshot_through_s3(
    database_url: str, tmp_path: Path, s3_server: S3Server
) -> None:
    prefix = s3_server.fresh_prefix("index")
    loader = build_services(machine(tmp_path, "loader", database_url, s3_server, prefix))
    source = tmp_path / "b.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in BUSINESS_RECORDS))
    try:
        snapshot = load_files(loader.snapshots, "businesses", [source]).snapshot
    finally:
        loader.close()
    keys = {
        item["Key"]
        for item in s3_server.client().list_objects_v2(
            Bucket=s3_server.bucket, Prefix=f"{prefix}/snapshots/"
        )["Contents"]
    }
    assert any(key.endswith(f"/{INDEX_DIR}/meta.json") for key in keys)
    reader = build_services(machine(tmp_path, "reader", database_url, s3_server, prefix))
    try:
        with reader.snapshots.open(snapshot) as directory:
            assert (directory / INDEX_DIR / "meta.json").is_file()  # fetched with the parts
        account = rich_account(reader)
        prepared = prepare("businesses", "name:hilton", None, "json")
        assert reader.catalog.preview(account, prepared, 50) == duckdb_catalog(reader).preview(
            account, prepared, 50
        )
    finally:
        reader.close()


def test_the_expansion_bound_comes_from_the_settings(database_url: str, tmp_path: Path) -> None:
    with loaded_services(tmp_path, database_url, BUSINESS_RECORDS, query_max_expansions=2) as services:
        for query, term in [("name:*n", "*n"), ("name:h*", "h*"), ("hotel~1", "hotel~1")]:
            with pytest.raises(Invalid) as caught:
                services.catalog.count(prepare("businesses", query, None, "json"))
            assert caught.value.message.startswith(f"the term {term!r} matches more than 2 distinct words")
        assert services.catalog.count(prepare("businesses", "name:hil?on", None, "json")) == 5


def test_parts_indexed_while_others_are_written_make_one_index(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many small parts, written two at a time, each indexed as soon as it is written (in whatever
    order they complete); then an append to a snapshot loaded without an index, whose index
    starts with the previous parts: the index answers as the DuckDB path does."""
    monkeypatch.setattr(loader, "ROWS_PER_PART", 40)
    monkeypatch.setattr(loader, "MIN_ROWS_PER_PART", 40)
    services = build_services(make_settings(tmp_path, database_url))
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    write_jsonl(first, "businesses", 300, seed=3)
    write_jsonl(second, "businesses", 130, seed=4)
    try:
        load_files(services.snapshots, "businesses", [first], workers=2, index=False)
        loaded = load_files(services.snapshots, "businesses", [second], workers=2, append=True)
        assert loaded.index_seconds is not None
        assert loaded.index_bytes > 0
        with services.snapshots.open(loaded.snapshot) as directory:
            assert len(list(directory.glob("part-*.parquet"))) == 8 + 4
        account = rich_account(services)
        reference = duckdb_catalog(services)
        for query in ["*", "categories:restaurants", "name:b*", "NOT city:austin", "reviews.rating:5"]:
            prepared = prepare("businesses", query, None, "json")
            assert services.catalog.count(prepared) == reference.count(prepared)
            for page in (1, 7, 20):
                assert services.catalog.paginate(account, prepared, page, 20) == reference.paginate(
                    account, prepared, page, 20
                )
        assert services.catalog.count(prepare("businesses", "*", None, "json")) == 430
    finally:
        services.close()


@pytest.mark.parametrize("query", ["*", "name:hilton", "reviews.rating:>=4", "city:austin"])
def test_field_lists_agree_with_the_duckdb_path_and_give_only_their_fields(
    indexed: Services, query: str
) -> None:
    account = rich_account(indexed)
    reference = duckdb_catalog(indexed)
    fields = ["city", "id", "reviews.rating", "name"]
    prepared = prepare("businesses", query, fields, "json")
    preview = indexed.catalog.preview(account, prepared, 50)
    assert preview == reference.preview(account, prepared, 50)
    assert preview.records
    for record in preview.records:
        assert set(record) <= {"city", "id", "reviews", "name"}
        assert all(set(review) <= {"rating"} for review in record.get("reviews", []))
    for page in (1, 2):
        assert indexed.catalog.paginate(account, prepared, page, 3) == reference.paginate(
            account, prepared, page, 3
        )
    csv = prepare("businesses", query, ",".join(fields), "csv")
    csv_preview = indexed.catalog.preview(account, csv, 10)
    assert csv_preview == reference.preview(account, csv, 10)
    assert csv_preview.records[0] == ",".join(fields)
    first = preview.records[0]["id"]
    by_id = indexed.catalog.get_record(account, "businesses", first, "id,reviews.rating")
    assert by_id == reference.get_record(account, "businesses", first, "id,reviews.rating")
    assert set(by_id) <= {"id", "reviews"}
