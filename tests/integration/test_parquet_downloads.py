"""Parquet downloads over HTTP (v4 and v3): files listed, signed, hashed and charged like the
others, holding the JSON download's records; and what Parquet is refused for. Also the account's
usage figures, which these downloads and previews move."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from dlserve.clock import FrozenClock
from dlserve.container import Services
from dlserve.records.render import project
from dlserve.records.views import find_view
from tests.integration.conftest import fetch_result, loaded_services
from tests.integration.test_downloads import RECORDS, account, cancel_after_two_files, run_jobs, start
from tests.support.parquet import as_parquet_row, without_nulls


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def services(database_url: str, tmp_path: Path, clock: FrozenClock) -> Iterator[Services]:
    with loaded_services(
        tmp_path, database_url, RECORDS, clock, records_per_file=5, max_active_downloads=3
    ) as built:
        yield built


def fetch(client: TestClient, url: str) -> tuple[bytes, str]:
    response = fetch_result(client, url)
    return response.content, response.headers["content-type"]


def downloaded(client: TestClient, headers: dict[str, str], download_id: object) -> dict[str, Any]:
    body: dict[str, Any] = client.get(f"/v4/downloads/{download_id}", headers=headers).json()
    assert body["status"] == "completed", body
    return body


def parquet_tables(client: TestClient, body: dict[str, Any]) -> list[pa.Table]:
    """Every result file fetched by its signed link, checked against its listing, read by pyarrow."""
    tables = []
    for result in body["results"]:
        content, content_type = fetch(client, result["url"])
        assert content_type == "application/vnd.apache.parquet"
        assert len(content) == result["bytes"]
        assert hashlib.sha256(content).hexdigest() == result["sha256"]
        table = pq.read_table(io.BytesIO(content))
        assert table.num_rows == result["records"]
        tables.append(table)
    return tables


def json_records(client: TestClient, body: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for result in body["results"]
        for line in fetch(client, result["url"])[0].decode().splitlines()
    ]


@pytest.mark.parametrize("spelling", ["PARQUET", "parquet", "Parquet"])
def test_a_parquet_download_holds_the_json_downloads_records(
    client: TestClient, services: Services, spelling: str
) -> None:
    headers = account(services, "a@example.com")
    as_json = start(client, headers, query="categories:hotels", format="JSON")
    as_parquet = start(client, headers, query="categories:hotels", format=spelling)
    assert as_parquet["format"] == "PARQUET"
    run_jobs(services)
    json_body = downloaded(client, headers, as_json["id"])
    body = downloaded(client, headers, as_parquet["id"])
    assert [r["name"] for r in body["results"]] == [f"{as_parquet['id']}_{n}.parquet" for n in (1, 2, 3)]
    assert [r["records"] for r in body["results"]] == [5, 5, 2]
    assert body["num_downloaded"] == 12
    tables = parquet_tables(client, body)
    assert len({table.schema for table in tables}) == 1  # one schema for every file of a download
    rows = [without_nulls(row) for table in tables for row in table.to_pylist()]
    view = find_view("businesses", None)
    assert rows == [as_parquet_row(view, record) for record in json_records(client, json_body)]
    reviews = tables[0].schema.field("reviews").type
    assert reviews == pa.list_(
        pa.struct(
            [
                ("date", pa.string()),
                ("dateSeen", pa.string()),
                ("rating", pa.float64()),
                ("text", pa.string()),
                ("title", pa.string()),
                ("username", pa.string()),
            ]
        )
    )
    # charged like any other download: one credit per record, 12 for each of the two
    assert client.get("/v4/account", headers=headers).json()["available_credits"] == 1000 - 24


def test_a_view_chooses_the_columns_and_a_flat_view_keeps_lists_nested(
    client: TestClient, services: Services
) -> None:
    headers = account(services, "a@example.com")
    basic = start(client, headers, query="*", format="parquet", view="business_basic", num_records=5)
    flat = start(client, headers, query="*", format="parquet", view="business_flat_reviews", num_records=5)
    run_jobs(services)
    view = find_view("businesses", "business_basic")
    (table,) = parquet_tables(client, downloaded(client, headers, basic["id"]))
    assert table.column_names == list(view.include or ())
    assert [without_nulls(r) for r in table.to_pylist()] == [
        as_parquet_row(view, project(view, record)) for record in RECORDS[:5]
    ]
    (flat_table,) = parquet_tables(client, downloaded(client, headers, flat["id"]))
    assert flat_table.num_rows == 5  # one row per record: flattening is for CSV
    assert pa.types.is_list(flat_table.schema.field("reviews").type)


def test_a_field_list_gives_exactly_its_columns_in_its_order(client: TestClient, services: Services) -> None:
    headers = account(services, "a@example.com")
    fields = ["name", "reviews.rating", "id"]
    as_json = start(client, headers, query="city:austin", format="json", view=fields)
    as_parquet = start(client, headers, query="city:austin", format="parquet", view=fields)
    run_jobs(services)
    tables = parquet_tables(client, downloaded(client, headers, as_parquet["id"]))
    assert {tuple(t.column_names) for t in tables} == {("name", "reviews", "id")}
    assert tables[0].schema.field("reviews").type == pa.list_(pa.struct([("rating", pa.float64())]))
    rows = [without_nulls(row) for table in tables for row in table.to_pylist()]
    expected = [without_nulls(r) for r in json_records(client, downloaded(client, headers, as_json["id"]))]
    assert rows == expected
    assert len(rows) == len([r for r in RECORDS if r["city"] == "Austin"])


def test_parquet_is_refused_with_gzip_and_for_previews_and_pages(
    client: TestClient, services: Services
) -> None:
    headers = account(services, "a@example.com")
    gzip = client.post(
        "/v4/businesses/search",
        json={"query": "*", "download": True, "format": "PARQUET", "compress": "gzip"},
        headers=headers,
    )
    assert gzip.status_code == 400
    assert gzip.json()["details"] == [{"field": "compress", "message": "not with format PARQUET"}]
    preview = client.post("/v4/businesses/search", json={"query": "*", "format": "PARQUET"}, headers=headers)
    assert preview.status_code == 400
    assert "PARQUET is only for downloads" in preview.json()["message"]
    assert preview.json()["details"][0]["field"] == "format"
    page = client.post("/v4/businesses/paginate", json={"query": "*", "format": "parquet"}, headers=headers)
    assert page.status_code == 400
    assert "PARQUET is only for downloads" in page.json()["message"]
    count = client.post(
        "/v4/businesses/search", json={"query": "*", "format": "PARQUET", "num_records": 0}, headers=headers
    )
    assert count.status_code == 200  # a count returns no records: the format does not matter
    assert count.json() == {"num_found": 23, "total_cost": 0, "records": []}
    unknown = client.post("/v4/businesses/search", json={"query": "*", "format": "xml"}, headers=headers)
    assert unknown.json()["details"] == [
        {"field": "format", "message": "format must be JSON, CSV or PARQUET"}
    ]
    assert client.get("/v4/account", headers=headers).json()["available_credits"] == 1000  # nothing charged


def v3_auth(headers: dict[str, str]) -> dict[str, str]:
    token = headers["Authorization"].split()[1]
    return {"Authorization": "Basic " + base64.b64encode(f"{token}:".encode()).decode()}


def test_v3_format_parquet_downloads_and_refuses_previews(client: TestClient, services: Services) -> None:
    auth = v3_auth(account(services, "a@example.com"))
    response = client.get(
        "/v3/data/businesses",
        params={"q": "city:dallas", "format": "parquet", "download": "true"},
        headers=auth,
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    request_id = response.json()["id"]
    assert response.json()["dataFormat"] == "parquet"
    run_jobs(services)
    results = client.get(f"/v3/results/{request_id}", headers=auth).json()
    dallas = [r for r in RECORDS if r["city"] == "Dallas"]
    rows = []
    for result in results:
        content, content_type = fetch(client, result["url"])
        assert content_type == "application/vnd.apache.parquet"
        rows.extend(pq.read_table(io.BytesIO(content)).column("id").to_pylist())
    assert rows == [r["id"] for r in dallas]
    preview = client.get("/v3/data/businesses", params={"q": "*", "format": "parquet"}, headers=auth)
    assert preview.status_code == 400
    assert set(preview.json()) == {"error", "message", "code"}
    assert "PARQUET is only for downloads" in preview.json()["message"]


def test_cancel_keeps_the_parquet_files_already_delivered(
    client: TestClient, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = account(services, "a@example.com")
    created = start(client, headers, query="*", format="parquet")
    download_id = int(str(created["id"]))
    cancel_after_two_files(services, monkeypatch, headers, download_id)
    run_jobs(services)
    body = client.get(f"/v4/downloads/{download_id}", headers=headers).json()
    assert body["status"] == "cancelled"
    assert [r["records"] for r in body["results"]] == [5, 5]
    assert [t.num_rows for t in parquet_tables(client, body)] == [5, 5]
    assert client.get("/v4/account", headers=headers).json()["available_credits"] == 1000 - 10
    leftovers = [p for p in (services.settings.data_dir / "tmp").glob("*") if p.is_file()]
    assert leftovers == []


def test_account_reports_credits_used_per_data_type_and_its_limits(
    client: TestClient, services: Services
) -> None:
    headers = account(services, "a@example.com", credits=100)
    other = account(services, "b@example.com", credits=100)
    fresh = client.get("/v4/account", headers=headers).json()
    assert fresh["num_credits_used"] == 0
    assert {k: v for k, v in fresh.items() if k.endswith("_credits_used")} == {
        "num_credits_used": 0,
        "business_credits_used": 0,
        "product_credits_used": 0,
        "property_credits_used": 0,
        "people_credits_used": 0,
    }
    assert fresh["limits"] == {
        "max_active_downloads": 3,
        "query_rate_per_minute": 120,
        "query_concurrency": 4,
    }
    assert fresh["active_downloads"] == 0
    preview = client.post("/v4/businesses/search", json={"query": "*", "num_records": 2}, headers=headers)
    assert preview.json()["total_cost"] == 2
    assert client.post("/v4/people/search", json={"query": "*"}, headers=headers).status_code in (200, 404)
    client.post("/v4/businesses/search", json={"query": "*", "num_records": 3}, headers=other)
    created = start(client, headers, query="categories:hotels", format="parquet", num_records=7)
    queued = client.get("/v4/account", headers=headers).json()
    assert queued["active_downloads"] == 1
    assert queued["held_credits"] == 7
    assert queued["num_credits_used"] == 2  # held is not used
    run_jobs(services)
    downloaded(client, headers, created["id"])
    used = client.get("/v4/account", headers=headers).json()
    assert used["num_credits_used"] == used["business_credits_used"] == 2 + 7
    assert used["available_credits"] == 100 - 9
    assert used["held_credits"] == 0
    assert used["active_downloads"] == 0
    assert client.get("/v4/account", headers=other).json()["business_credits_used"] == 3
