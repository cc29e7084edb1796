"""Demo data: deterministic, shaped like each declared schema, and good for the demo queries."""

from __future__ import annotations

import errno
import math
import os
import re
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

import orjson
import pytest

from dlserve.demo import generate_records, write_jsonl
from dlserve.records.schema import DATA_TYPES, SCHEMAS, FieldSpec, Kind

COUNT = 1200
DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
# Contiguous United States, generously.
LAT_RANGE = (24.0, 50.0)
LON_RANGE = (-125.0, -66.0)
Record = dict[str, object]
# Fields that real records have only when they apply: a rental status only for properties that were
# ever for rent, a building name only for condominiums and apartments.
ONLY_WHERE_THEY_APPLY = {
    "properties": (
        "mostRecentRentalStatus",
        "mostRecentRentalStatusDate",
        "mostRecentRentalPriceAmount",
        "buildingName",
    )
}


@pytest.fixture(scope="module")
def datasets() -> dict[str, list[Record]]:
    return {data_type: list(generate_records(data_type, COUNT)) for data_type in DATA_TYPES}


def parse_date(value: object) -> datetime:
    assert isinstance(value, str), value
    return datetime.strptime(value, DATE_FORMAT)


# --- determinism -------------------------------------------------------------------------------


def test_same_arguments_give_byte_identical_files(tmp_path: Path) -> None:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert write_jsonl(first, "businesses", 700, seed=1) == 700
    assert write_jsonl(second, "businesses", 700, seed=1) == 700
    assert first.read_bytes() == second.read_bytes()
    lines = first.read_bytes().splitlines(keepends=True)
    assert len(lines) == 700
    assert lines == [orjson.dumps(r) + b"\n" for r in generate_records("businesses", 700, seed=1)]


@pytest.mark.parametrize("data_type", DATA_TYPES)
def test_another_seed_gives_other_data(data_type: str, datasets: dict[str, list[Record]]) -> None:
    other = list(generate_records(data_type, 200, seed=1))
    mine = datasets[data_type][:200]
    assert {r["id"] for r in other}.isdisjoint({r["id"] for r in mine})

    def without_id(record: Record) -> Record:
        return {k: v for k, v in record.items() if k != "id"}

    assert all(without_id(a) != without_id(b) for a, b in zip(other, mine, strict=True))


@pytest.mark.parametrize("data_type", DATA_TYPES)
def test_small_dataset_is_a_prefix_of_a_large_one(data_type: str, datasets: dict[str, list[Record]]) -> None:
    small = list(generate_records(data_type, 301))  # not a whole number of blocks
    assert small == datasets[data_type][:301]


@pytest.mark.skipif(not hasattr(os, "copy_file_range"), reason="Linux only")
def test_worker_processes_write_the_same_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The workers run under another hash seed: nothing may depend on hash randomisation.
    monkeypatch.setenv("PYTHONHASHSEED", "12345")
    # The in-kernel append copies a little of the first part and then gives up, as a file system
    # might: the rest must still arrive, once, by the plain copy.
    real_copy = os.copy_file_range
    calls: list[int] = []

    def refusing_copy(source: int, destination: int, count: int) -> int:
        calls.append(count)
        if len(calls) == 1:
            return real_copy(source, destination, min(count, 1000))
        raise OSError(errno.EXDEV, "refused")

    monkeypatch.setattr(os, "copy_file_range", refusing_copy)
    count = 4 * 256 + 17  # three workers: 512 + 512 + 17 records
    alone, shared = tmp_path / "alone.jsonl", tmp_path / "shared.jsonl"
    assert write_jsonl(alone, "products", count, seed=1, workers=1) == count
    assert write_jsonl(shared, "products", count, seed=1, workers=3) == count
    assert alone.read_bytes() == shared.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alone.jsonl", "shared.jsonl"]  # parts cleaned up
    assert len(calls) == 3


def test_empty_dataset(tmp_path: Path) -> None:
    path = tmp_path / "none.jsonl"
    assert write_jsonl(path, "people", 0) == 0
    assert path.read_bytes() == b""


def test_bad_arguments_fail_at_once() -> None:
    with pytest.raises(ValueError, match="unknown data type"):
        generate_records("hotels", 10)
    with pytest.raises(ValueError, match="negative"):
        generate_records("businesses", -1)


# --- shape: Datafiniti's field names and kinds -------------------------------------------------------


def check_value(spec: FieldSpec, value: object, where: str) -> None:
    if spec.kind in (Kind.KEYWORD, Kind.TEXT):
        assert isinstance(value, str), where
        assert value, where
    elif spec.kind is Kind.NUMBER:
        assert isinstance(value, int | float), where
        assert not isinstance(value, bool), where
        assert math.isfinite(value), where
    elif spec.kind is Kind.BOOL:
        assert isinstance(value, bool), where
    elif spec.kind is Kind.DATE:
        assert datetime(2015, 1, 1) <= parse_date(value) < datetime(2026, 1, 1), where
    elif spec.kind in (Kind.KEYWORD_LIST, Kind.TEXT_LIST):
        assert isinstance(value, list), where
        assert value, where
        assert all(isinstance(item, str) for item in value), where
        assert all(value), where
    elif spec.kind is Kind.NESTED:
        assert isinstance(value, list), where
        assert value, where
        for element in value:
            assert isinstance(element, dict), where
            for child in spec.children:
                assert child.name in element, f"{where}.{child.name}"
                check_value(child, element[child.name], f"{where}.{child.name}")
    else:
        raise AssertionError(f"{where}: unexpected kind {spec.kind}")


@pytest.mark.parametrize("data_type", DATA_TYPES)
def test_every_field_has_its_declared_kind(data_type: str, datasets: dict[str, list[Record]]) -> None:
    schema = SCHEMAS[data_type]
    declared = {f.name for f in schema.fields}
    for record in datasets[data_type]:
        assert set(record) <= declared, set(record) - declared
        for spec in schema.fields:
            if spec.name in record:
                check_value(spec, record[spec.name], f"{record['id']}.{spec.name}")


@pytest.mark.parametrize("data_type", DATA_TYPES)
def test_every_field_is_in_most_records_and_some_are_sometimes_missing(
    data_type: str, datasets: dict[str, list[Record]]
) -> None:
    records = datasets[data_type]
    presence = Counter(name for record in records for name in record)
    share = {spec.name: presence[spec.name] / len(records) for spec in SCHEMAS[data_type].fields}
    sparse = {name: share.pop(name) for name in ONLY_WHERE_THEY_APPLY.get(data_type, ())}
    assert min(share.values()) > 0.85, share
    assert all(0.1 < s < 0.5 for s in sparse.values()), sparse
    missing_sometimes = [name for name, s in share.items() if s < 1]
    assert len(missing_sometimes) >= 3, share  # so that `-field:*` queries find something
    assert share["id"] == share["dateAdded"] == share["dateUpdated"] == 1


@pytest.mark.parametrize("data_type", DATA_TYPES)
def test_ids_look_like_datafiniti_ids_and_are_unique(
    data_type: str, datasets: dict[str, list[Record]]
) -> None:
    ids = [record["id"] for record in datasets[data_type]]
    assert all(isinstance(i, str) and re.fullmatch(r"A[VWX][0-9A-Za-z]{18}", i) for i in ids)
    assert len(set(ids)) == len(ids)


def test_ids_do_not_collide_across_many_records() -> None:
    ids = {str(r["id"]) for r in generate_records("people", 20_000, seed=2)}
    assert len(ids) == 20_000


@pytest.mark.parametrize("data_type", DATA_TYPES)
def test_dates_are_in_order(data_type: str, datasets: dict[str, list[Record]]) -> None:
    for record in datasets[data_type]:
        added, updated = parse_date(record["dateAdded"]), parse_date(record["dateUpdated"])
        assert added <= updated
        for review in record.get("reviews", []):  # type: ignore[attr-defined]
            assert parse_date(review["date"]) <= parse_date(review["dateSeen"]) <= updated


# --- realism --------------------------------------------------------------------------------


@pytest.mark.parametrize("data_type", ["businesses", "properties", "people"])
def test_addresses_are_us_addresses_consistent_with_their_city(
    data_type: str, datasets: dict[str, list[Record]]
) -> None:
    positions: dict[tuple[object, object], list[tuple[float, float]]] = defaultdict(list)
    for record in datasets[data_type]:
        assert record["country"] == "US"
        assert re.fullmatch(r"[A-Z]{2}", str(record["province"]))
        if "postalCode" in record:
            assert re.fullmatch(r"\d{5}", str(record["postalCode"]))
        if "address" in record:
            assert re.match(r"\d+ \S", str(record["address"]))
        for phone in record.get("phones", []):  # type: ignore[attr-defined]
            assert re.fullmatch(r"\(\d{3}\) \d{3}-\d{4}", phone)
        if "latitude" in record:
            lat, lon = record["latitude"], record["longitude"]
            assert isinstance(lat, float)
            assert isinstance(lon, float)
            assert LAT_RANGE[0] < lat < LAT_RANGE[1]
            assert LON_RANGE[0] < lon < LON_RANGE[1]
            positions[record["city"], record["province"]].append((lat, lon))
    assert len(positions) > 20 or data_type == "people"
    for (city, state), points in positions.items():  # clustered around the city's centre
        lats, lons = [p[0] for p in points], [p[1] for p in points]
        assert max(lats) - min(lats) < 0.3, (city, state)
        assert max(lons) - min(lons) < 0.3, (city, state)


def test_cities_map_to_their_states(datasets: dict[str, list[Record]]) -> None:
    states: dict[object, set[object]] = defaultdict(set)
    for record in datasets["businesses"]:
        states[record["city"]].add(record["province"])
    assert states["Austin"] == {"TX"}
    assert states["Seattle"] == {"WA"}
    assert states["Portland"] <= {"OR", "ME"}  # two real Portlands


def test_demo_queries_have_answers(datasets: dict[str, list[Record]]) -> None:
    businesses = datasets["businesses"]

    def with_category(category: str) -> list[Record]:
        return [r for r in businesses if category in r["categories"]]  # type: ignore[operator]

    hotels = with_category("Hotels")
    for category in ("Restaurants", "Coffee Shops", "Bed & Breakfast"):
        assert with_category(category), category
    assert 0.08 < len(hotels) / len(businesses) < 0.3
    for brand in ("hilton", "marriott", "hyatt"):
        branded = [r for r in hotels if brand in str(r["name"]).lower()]
        assert 0 < len(branded) / len(hotels) < 0.1, brand
    # A text match on categories:hotels must mean the same as "has the Hotels category".
    token_matches = [r for r in businesses if any("hotels" in c.lower().split() for c in r["categories"])]  # type: ignore[attr-defined]
    assert token_matches == hotels


def test_products_have_valid_codes_and_prices(datasets: dict[str, list[Record]]) -> None:
    for record in datasets["products"]:
        for upc in record.get("upc", []):  # type: ignore[attr-defined]
            digits = [int(d) for d in upc]
            assert len(digits) == 12, upc
            assert (3 * sum(digits[0::2]) + sum(digits[1::2])) % 10 == 0, upc  # a valid check digit
            if "ean" in record:
                assert record["ean"] == ["0" + upc]
        for price in record["prices"]:  # type: ignore[attr-defined]
            assert 0 < price["amountMin"] <= price["amountMax"]
            assert price["currency"] == "USD"
            assert round(price["amountMax"], 2) == price["amountMax"]


def test_property_histories_end_in_the_most_recent_status(datasets: dict[str, list[Record]]) -> None:
    for record in datasets["properties"]:
        statuses = record["statuses"]
        assert isinstance(statuses, list)
        dates = [parse_date(s["date"]) for s in statuses]
        assert dates == sorted(dates)
        assert statuses[-1]["type"] == record["mostRecentStatus"]
        assert statuses[-1]["date"] == record["mostRecentStatusDate"]
        assert record["mostRecentPriceAmount"] in [p["amountMin"] for p in record["prices"]]  # type: ignore[attr-defined]
    statuses_seen = {r["mostRecentStatus"] for r in datasets["properties"]}
    assert {"For Sale", "Sold", "For Rent", "Off Market"} <= statuses_seen


def test_property_rental_fields_follow_the_rental_history(datasets: dict[str, list[Record]]) -> None:
    for record in datasets["properties"]:
        rentals = [s for s in record["statuses"] if s["type"] in ("For Rent", "Rented")]  # type: ignore[attr-defined]
        if not rentals:
            assert "mostRecentRentalStatus" not in record
            continue
        assert record["mostRecentRentalStatus"] == rentals[-1]["type"]
        assert record["mostRecentRentalStatusDate"] == rentals[-1]["date"]
        rents = [p["amountMin"] for p in record["prices"] if not p["isSale"]]  # type: ignore[attr-defined]
        assert record["mostRecentRentalPriceAmount"] == rents[-1]
    rental_statuses = {r.get("mostRecentRentalStatus") for r in datasets["properties"]}
    assert {"For Rent", "Rented"} <= rental_statuses


def test_people_have_consistent_contact_details(datasets: dict[str, list[Record]]) -> None:
    for record in datasets["people"]:
        assert record["name"] == f"{record['firstName']} {record['lastName']}"
        for email in record.get("emails", []):  # type: ignore[attr-defined]
            assert re.fullmatch(r"[a-z0-9._]+@[a-z0-9.-]+\.[a-z]+", email), email
        assert record["jobLevel"] in {"C-Level", "VP", "Director", "Manager", "Non-Manager"}
