"""Field lists (``view`` as field names) over HTTP, v4 and v3: previews, pages, records by id and
downloads in JSON and CSV give exactly the listed fields; the list is stored with the download and
shown back; bad lists are 400s in each API's envelope. On SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import csv
import io
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from dlserve.client import Client
from dlserve.container import Services
from dlserve.downloads.runner import EXPORT_KINDS
from tests.integration.conftest import fetch_result, loaded_services

# 23 businesses, a few reviews each; b07 spells a rating unusually (an inexact record: its part is
# rendered from the stored JSON, the others' from the typed columns).
RECORDS: list[dict[str, Any]] = [
    {
        "id": f"b{i:02d}",
        "name": f"Hotel {i}" if i % 2 == 0 else f'Cafe {i}, "the" best',
        "city": "Austin" if i % 3 else "Dallas",
        "province": "TX",
        "categories": ["Hotels"] if i % 2 == 0 else ["Coffee Shops", "Bakeries"],
        "latitude": 30.0 + i / 100,
        "reviews": [
            {"rating": r, "text": f"review {r} of {i}", "username": f"u{r}"} for r in range(1, i % 4 + 1)
        ],
        "hours": [{"day": "Mon", "hour": "9-5"}],
        "extraField": i,
    }
    for i in range(23)
]
RECORDS[7]["reviews"][0]["rating"] = 1.50
FIELDS = ["city", "id", "reviews.rating", "name", "reviews.text"]


@pytest.fixture
def services(database_url: str, tmp_path: Path) -> Iterator[Services]:
    with loaded_services(tmp_path, database_url, RECORDS, records_per_file=5) as built:
        yield built


@pytest.fixture
def token(services: Services) -> str:
    return services.accounts.create_account("fields@example.com", credits=100_000).token


@pytest.fixture
def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def basic(token: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{token}:".encode()).decode()}


def run_jobs(services: Services) -> None:
    while (job := services.queue.claim("test-worker", EXPORT_KINDS)) is not None:
        services.runner.run(job, "test-worker", threading.Event())


def fetch(client: TestClient, url: str) -> str:
    return fetch_result(client, url).text


def expected_json(record: dict[str, Any]) -> dict[str, Any]:
    """FIELDS of a record as JSON: list order, the reviews' listed sub-fields only."""
    return {
        "city": record["city"],
        "id": record["id"],
        "reviews": [{"rating": r["rating"], "text": r["text"]} for r in record["reviews"]],
        "name": record["name"],
    }


def expected_csv_rows(record: dict[str, Any]) -> list[list[str]]:
    """FIELDS of a record as CSV rows: one per review (one row without reviews)."""
    reviews = record["reviews"] or [{}]
    return [
        [
            record["city"],
            record["id"],
            json.dumps(r["rating"]) if "rating" in r else "",
            record["name"],
            r.get("text", ""),
        ]
        for r in reviews
    ]


def csv_table(lines: list[str] | str) -> list[list[str]]:
    text = lines if isinstance(lines, str) else "\r\n".join(lines)
    return list(csv.reader(io.StringIO(text)))


# -- v4 -------------------------------------------------------------------------------------------


def test_v4_previews_and_pages_give_exactly_the_listed_fields(
    client: TestClient, auth: dict[str, str]
) -> None:
    hotels = [r for r in RECORDS if "Hotels" in r["categories"]]
    body = client.post(
        "/v4/businesses/search",
        json={"query": "categories:hotels", "view": FIELDS, "num_records": 5},
        headers=auth,
    ).json()
    assert body["records"] == [expected_json(r) for r in hotels[:5]]
    assert [list(r) for r in body["records"]] == [["city", "id", "reviews", "name"]] * 5

    page = client.post(
        "/v4/businesses/paginate?page=2&limit=3",
        json={"query": "categories:hotels", "view": "id,name"},
        headers=auth,
    ).json()
    assert page["records"] == [{"id": r["id"], "name": r["name"]} for r in hotels[3:6]]

    csv_body = client.post(
        "/v4/businesses/search",
        json={"query": "categories:hotels", "view": FIELDS, "format": "csv", "num_records": 4},
        headers=auth,
    ).json()
    header, *rows = csv_table(csv_body["records"])
    assert header == FIELDS
    assert rows == [row for r in hotels[:4] for row in expected_csv_rows(r)]

    csv_page = client.post(
        "/v4/businesses/paginate?page=1&limit=2",
        json={"query": "*", "view": ["name", "id"], "format": "CSV"},
        headers=auth,
    ).json()
    assert csv_table(csv_page["records"]) == [["name", "id"], *([r["name"], r["id"]] for r in RECORDS[:2])]


def test_v4_record_by_id_takes_a_field_list(client: TestClient, auth: dict[str, str]) -> None:
    response = client.get("/v4/businesses/b03", params={"view": "reviews.username,id"}, headers=auth)
    assert response.json() == {
        "reviews": [{"username": "u1"}, {"username": "u2"}, {"username": "u3"}],
        "id": "b03",
    }


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"view": ["id", "nope", "reviews.bogus"]}, "nope, reviews.bogus"),
        ({"view": "id,nope"}, "nope"),
        ({"view": "nope"}, "Unknown view 'nope'"),
        ({"view": ["id", "id"]}, "listed twice"),
        ({"view": []}, "at least one field"),
        ({"view": ["reviews.rating", "hours.day"], "format": "csv"}, "flattens one nested list"),
        (
            {"view": ["reviews.rating", "hours.day"], "format": "csv", "download": True},
            "flattens one nested list",
        ),
        ({"view": ["id", "geoLocation"], "download": True}, "geoLocation"),
    ],
)
def test_v4_bad_field_lists_are_400_envelopes_naming_them(
    client: TestClient, auth: dict[str, str], body: dict[str, Any], named: str
) -> None:
    for route in ("search", "paginate"):
        if route == "paginate" and body.get("download"):
            continue
        response = client.post(f"/v4/businesses/{route}", json={"query": "*", **body}, headers=auth)
        assert response.status_code == 400, response.text
        error = response.json()
        assert set(error) == {"error", "message", "code", "details"}
        assert named in error["message"] + " ".join(d["message"] for d in error["details"])
        assert "view" in [d["field"] for d in error["details"]]
    assert client.get("/v4/downloads", headers=auth).json()["num_found"] == 0  # nothing was queued
    assert client.get("/v4/businesses/b01", params={"view": "id,nope"}, headers=auth).status_code == 400
    invalid_type = client.post("/v4/businesses/search", json={"query": "*", "view": [1, {}]}, headers=auth)
    assert invalid_type.status_code == 400


@pytest.mark.parametrize("output_format", ["JSON", "CSV"])
def test_v4_downloads_write_exactly_the_listed_fields_and_show_the_list(
    client: TestClient, services: Services, auth: dict[str, str], output_format: str
) -> None:
    created = client.post(
        "/v4/businesses/search",
        json={"query": "*", "view": FIELDS, "format": output_format, "download": True},
        headers=auth,
    )
    assert created.status_code == 202, created.text
    assert created.json()["view"] == FIELDS  # on the wire as the list it was sent as
    run_jobs(services)
    done = client.get(f"/v4/downloads/{created.json()['id']}", headers=auth).json()
    assert done["status"] == "completed"
    assert done["view"] == FIELDS
    assert len(done["results"]) == 5  # 23 records, 5 a file
    texts = [fetch(client, result["url"]) for result in done["results"]]
    if output_format == "JSON":
        records = [json.loads(line) for text in texts for line in text.splitlines()]
        assert records == [expected_json(r) for r in RECORDS]
        assert all(list(r) == ["city", "id", "reviews", "name"] for r in records)
    else:
        tables = [csv_table(text) for text in texts]
        assert all(table[0] == FIELDS for table in tables)
        assert [row for table in tables for row in table[1:]] == [
            row for r in RECORDS for row in expected_csv_rows(r)
        ]
    assert done["num_downloaded"] == len(RECORDS)  # credits per record, not per CSV row
    listed = client.get("/v4/downloads", headers=auth).json()["records"]
    assert listed[0]["view"] == FIELDS


def test_a_named_view_is_still_shown_as_its_name(client: TestClient, auth: dict[str, str]) -> None:
    created = client.post(
        "/v4/businesses/search", json={"query": "*", "view": "business_basic", "download": True}, headers=auth
    ).json()
    assert created["view"] == "business_basic"


# -- v3 -------------------------------------------------------------------------------------------


def test_v3_previews_take_a_comma_separated_field_list(client: TestClient, basic: dict[str, str]) -> None:
    body = client.get(
        "/v3/data/businesses", params={"q": "id:b03", "view": "id,name,city"}, headers=basic
    ).json()
    assert body["records"] == [{"id": "b03", "name": RECORDS[3]["name"], "city": RECORDS[3]["city"]}]
    csv_body = client.get(
        "/v3/data/businesses",
        params={"q": "id:b03", "view": ",".join(FIELDS), "format": "csv"},
        headers=basic,
    ).json()
    header, *rows = csv_table(csv_body["records"])
    assert header == FIELDS
    assert rows == expected_csv_rows(RECORDS[3])
    # a view's name keeps meaning that view, in both spellings
    named = client.get(
        "/v3/data/businesses", params={"q": "id:b03", "view": "businesses_basic"}, headers=basic
    )
    assert "reviews" not in named.json()["records"][0]


def test_v3_downloads_store_the_list_and_show_it_comma_separated(
    client: TestClient, services: Services, basic: dict[str, str], auth: dict[str, str]
) -> None:
    response = client.get(
        "/v3/data/businesses",
        params={"q": "*", "view": "id, name", "format": "csv", "download": "true"},
        headers=basic,
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    assert response.json()["view"] == "id,name"
    run_jobs(services)
    request_id = response.json()["id"]
    assert client.get(f"/v3/requests/{request_id}", headers=basic).json()["view"] == "id,name"
    assert client.get(f"/v4/downloads/{request_id}", headers=auth).json()["view"] == ["id", "name"]
    results = client.get(f"/v3/results/{request_id}", headers=basic).json()
    rows = [row for result in results for row in csv_table(fetch(client, result["url"]))]
    assert rows.count(["id", "name"]) == len(results)
    assert [row for row in rows if row != ["id", "name"]] == [[r["id"], r["name"]] for r in RECORDS]


def test_v3_bad_field_lists_are_400_in_the_v3_envelope(client: TestClient, basic: dict[str, str]) -> None:
    for view in ("id,nope", "nope", "id,,name"):
        response = client.get("/v3/data/businesses", params={"q": "*", "view": view}, headers=basic)
        assert response.status_code == 400, response.text
        body = response.json()
        assert set(body) == {"error", "message", "code"}
        assert "nope" in body["message"] or "empty field name" in body["message"]


# -- the SDK against the real app -----------------------------------------------------------------


def test_the_sdk_sends_fields_as_a_field_list(client: TestClient, services: Services, token: str) -> None:
    sdk = Client("http://testserver", token, transport=client._transport)
    with sdk:
        preview = sdk.search("businesses", "id:b03", fields=["id", "reviews.rating"])
        assert preview.records == [{"id": "b03", "reviews": [{"rating": 1}, {"rating": 2}, {"rating": 3}]}]
        rows = list(sdk.paginate("businesses", "*", page_size=10, format="CSV", fields=["name", "id"]))
        assert rows == [{"name": r["name"], "id": r["id"]} for r in RECORDS]
        assert sdk.get_record("businesses", "b01", fields=["city", "id"]) == {"city": "Austin", "id": "b01"}
        created = sdk.create_download("businesses", "*", format="CSV", fields=["id", "city"])
        assert created.view == ["id", "city"]
        run_jobs(services)
        done = sdk.get_download(created.id)
        assert done.status == "completed"
        assert done.view == ["id", "city"]
        with pytest.raises(ValueError, match="not both"):
            sdk.search("businesses", "*", view="business_basic", fields=["id"])


def test_a_long_field_list_is_stored_whole(
    client: TestClient, services: Services, auth: dict[str, str]
) -> None:
    """Longer than the 64 characters ``downloads.view`` held before migration 0006."""
    fields = ["id", "name", "address", "city", "province", "postalCode", "country", "latitude", "longitude"]
    fields += ["categories", "primaryCategories", "websites", "phones", "emails", "reviews.username"]
    assert len(json.dumps(fields)) > 150
    created = client.post(
        "/v4/businesses/search", json={"query": "*", "view": fields, "download": True}, headers=auth
    ).json()
    run_jobs(services)
    done = client.get(f"/v4/downloads/{created['id']}", headers=auth).json()
    assert (done["status"], done["view"]) == ("completed", fields)
