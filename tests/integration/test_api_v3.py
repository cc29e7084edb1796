"""The v3 wire format (seeds 001 and 002) over the same downloads as v4, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from structlog.testing import capture_logs

from dlserve.api.app import create_app
from dlserve.api.timefmt import v3_date
from dlserve.clock import FrozenClock
from dlserve.container import Services, build_services
from dlserve.db.tables import downloads
from dlserve.downloads.runner import EXPORT_KINDS
from dlserve.records.loader import load_files
from tests.integration.conftest import fetch_result, loaded_services, make_settings
from tests.support.seaweed import S3Server, s3_server_fixture  # noqa: F401

# 23 businesses: even ones are hotels in Austin or Dallas, odd ones cafes; a few reviews each.
RECORDS = [
    {
        "id": f"b{i:02d}",
        "name": f"Hotel {i}" if i % 2 == 0 else f"Cafe {i}",
        "city": "Austin" if i % 3 else "Dallas",
        "province": "TX",
        "categories": ["Hotels"] if i % 2 == 0 else ["Coffee Shops"],
        "reviews": [{"rating": r, "text": f"review {r} of {i}"} for r in range(1, i % 4 + 1)],
    }
    for i in range(23)
]
HOTELS = [r["id"] for r in RECORDS if "Hotels" in r["categories"]]

# Seed 002's request object and seed 001's result object: the fields, in the seeds' order, and types.
REQUEST_FIELDS = {
    "id": int,
    "records": str,
    "query": str,
    "dataType": str,
    "dataFormat": str,
    "accountId": str,
    "planId": str,
    "view": str,
    "async": int,
    "status": str,
    "error": str,
    "numDownloaded": int,
    "numFound": int,
    "numRequested": int,
    "date_started": str,
    "date_completed": str,
}
RESULT_FIELDS = {
    "id": int,
    "url": str,
    "request_id": int,
    "downloaded": int,
    "imported": int,
    "date_created": str,
}
UNAUTHORIZED = {
    "error": "Unauthorized",
    "message": "Authentication required. Please provide a valid API token",
    "code": 401,
}
NOT_FOUND = {"error": "Not Found", "message": "The requested resource was not found", "code": 404}
# Seed 002's example started at 2017-1-11 15:52:42: month and day unpadded, the time padded.
START = datetime(2017, 1, 11, 15, 52, 42, tzinfo=UTC)
V3_DATE = re.compile(r"^\d{4}-[1-9]\d?-[1-9]\d? \d{2}:\d{2}:\d{2}$")


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def services(database_url: str, tmp_path: Path, clock: FrozenClock) -> Iterator[Services]:
    with loaded_services(
        tmp_path, database_url, RECORDS, clock, records_per_file=5, max_active_downloads=5
    ) as built:
        yield built


@pytest.fixture
def token(services: Services) -> str:
    return services.accounts.create_account("v3@example.com", credits=1000).token


@pytest.fixture
def auth(token: str) -> dict[str, str]:
    return basic(token)


def basic(token: str, password: str = "") -> dict[str, str]:
    credentials = base64.b64encode(f"{token}:{password}".encode()).decode()
    return {"Authorization": f"Basic {credentials}"}


def run_jobs(services: Services, at_most: int | None = None) -> int:
    """Run queued export jobs (a download's plan, then its parts) as a worker would."""
    ran = 0
    while at_most is None or ran < at_most:
        job = services.queue.claim("test-worker", EXPORT_KINDS)
        if job is None:
            break
        services.runner.run(job, "test-worker", threading.Event())
        ran += 1
    return ran


def start_v3(client: TestClient, auth: dict[str, str], **params: str) -> dict[str, Any]:
    response = client.get(
        "/v3/data/businesses", params={"download": "true", **params}, headers=auth, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"/v3/requests/{response.json()['id']}"
    created: dict[str, Any] = response.json()
    return created


def fetch(client: TestClient, url: str) -> str:
    return fetch_result(client, url).text


def assert_request_shape(body: dict[str, Any]) -> None:
    assert list(body) == list(REQUEST_FIELDS)
    for name, kind in REQUEST_FIELDS.items():
        assert type(body[name]) is kind, (name, body[name])
    assert body["async"] == 1
    assert body["status"] in ("STARTED", "COMPLETED")
    assert body["dataFormat"] in ("json", "csv")
    assert V3_DATE.match(body["date_started"])
    assert V3_DATE.match(body["date_completed"])


# -- auth -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic " + base64.b64encode(b"dls_wrong:").decode()},
        {"Authorization": "Basic " + base64.b64encode(b":").decode()},
        {"Authorization": "Basic not base64!"},
        {"Authorization": "Bearer whatever"},
    ],
    ids=["missing", "wrong-token", "empty-username", "malformed", "bearer"],
)
def test_missing_or_wrong_credentials_get_the_seed_401(
    client: TestClient, token: str, headers: dict[str, str]
) -> None:
    for path in ("/v3/requests", "/v3/requests/1", "/v3/results/1", "/v3/data/businesses?q=*"):
        response = client.get(path, headers=headers)
        assert response.status_code == 401, path
        assert response.text == json.dumps(UNAUTHORIZED, separators=(",", ":"))
        assert response.headers["www-authenticate"] == 'Basic realm="dlserve"'


def test_the_v4_bearer_token_does_not_open_v3_and_basic_does(client: TestClient, token: str) -> None:
    assert client.get("/v3/requests", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert client.get("/v3/requests", headers=basic(token)).json() == []
    # As `https://TOKEN:@host` and `curl --user TOKEN:` send it; the password is not looked at.
    assert client.get("/v3/requests", auth=(token, "")).status_code == 200
    assert client.get("/v3/requests", headers=basic(token, "ignored")).status_code == 200


def test_a_revoked_token_is_refused(client: TestClient, services: Services) -> None:
    created = services.accounts.create_account("gone@example.com")
    services.accounts.revoke_token(created.token)
    assert client.get("/v3/requests", headers=basic(created.token)).json() == UNAUTHORIZED


# -- preview --------------------------------------------------------------------------------------


def test_preview_is_estimated_total_and_records_and_costs_credits(
    client: TestClient, auth: dict[str, str], token: str
) -> None:
    response = client.get(
        "/v3/data/businesses", params={"q": "categories:hotels", "records": "2"}, headers=auth
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert list(body) == ["estimated total", "records"]
    assert body["estimated total"] == len(HOTELS)
    assert [r["id"] for r in body["records"]] == HOTELS[:2]
    default = client.get("/v3/data/businesses", params={"q": "*"}, headers=auth).json()
    assert len(default["records"]) == 10
    assert default["estimated total"] == len(RECORDS)
    # The same credits as a v4 preview: one per record shown.
    account = client.get("/v4/account", headers={"Authorization": f"Bearer {token}"}).json()
    assert account["available_credits"] == 1000 - 12


def test_preview_views_in_both_spellings_and_csv(client: TestClient, auth: dict[str, str]) -> None:
    for view in ("businesses_basic", "business_basic"):
        body = client.get("/v3/data/businesses", params={"q": "id:b00", "view": view}, headers=auth).json()
        assert "reviews" not in body["records"][0]
        assert body["records"][0]["name"] == "Hotel 0"
    lines = client.get(
        "/v3/data/businesses",
        params={"q": "id:b02", "format": "CSV", "view": "businesses_flat_reviews"},
        headers=auth,
    ).json()["records"]
    rows = list(csv.DictReader(io.StringIO("\n".join(lines))))
    assert [(r["id"], r["reviews.rating"]) for r in rows] == [("b02", "1"), ("b02", "2")]


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({}, "query is required"),
        ({"q": "name:(unclosed"}, ""),
        ({"q": "nosuchfield:1"}, "nosuchfield"),
        ({"q": "*", "records": "ten"}, "records must be a whole number"),
        ({"q": "*", "records": "-1"}, "records must be a whole number"),
        ({"q": "*", "records": "51"}, "records"),
        ({"q": "*", "format": "xml"}, "Unknown format 'xml'"),
        ({"q": "*", "view": "businesses_nope"}, "Unknown view 'businesses_nope'"),
        ({"q": "*", "download": "maybe"}, "download must be true or false"),
        ({"q": "*", "download": "true", "records": "0"}, "records"),
    ],
)
def test_bad_parameters_are_400_in_the_v3_envelope(
    client: TestClient, auth: dict[str, str], params: dict[str, str], says: str
) -> None:
    response = client.get("/v3/data/businesses", params=params, headers=auth, follow_redirects=False)
    assert response.status_code == 400, response.text
    body = response.json()
    assert list(body) == ["error", "message", "code"]
    assert body["error"] == "Bad Request"
    assert body["code"] == 400
    assert says in body["message"]
    assert "num_records" not in body["message"]


def test_unknown_type_is_404_and_people_products_properties_are_types(
    client: TestClient, auth: dict[str, str]
) -> None:
    response = client.get("/v3/data/cars", params={"q": "*"}, headers=auth)
    assert response.status_code == 404
    assert list(response.json()) == ["error", "message", "code"]
    assert "Unknown data type 'cars'" in response.json()["message"]
    for data_type in ("products", "properties", "people"):  # known types, nothing loaded for them here
        response = client.get(f"/v3/data/{data_type}", params={"q": "*"}, headers=auth)
        assert response.json()["message"].startswith(f"No {data_type} data has been loaded"), response.text


def test_credits_and_active_limits_keep_their_status_in_v3(client: TestClient, services: Services) -> None:
    poor = basic(services.accounts.create_account("poor@example.com", credits=3).token)
    response = client.get(
        "/v3/data/businesses", params={"q": "*", "download": "true"}, headers=poor, follow_redirects=False
    )
    assert response.status_code == 402
    assert response.json() == {
        "error": "Payment Required",
        "message": "Insufficient credits for this download "
        "(credits: this download needs 23 credits, the balance is 3)",
        "code": 402,
    }


# -- downloads: 303, requests, results ------------------------------------------------------------


def test_download_true_answers_303_to_the_request_which_completes(
    client: TestClient, services: Services, auth: dict[str, str], clock: FrozenClock
) -> None:
    created = start_v3(
        client, auth, q="categories:hotels", format="csv", view="businesses_flat_reviews", records="7"
    )
    assert_request_shape(created)
    followed = client.get(
        "/v3/data/businesses",
        params={"q": "categories:hotels", "download": "true"},
        headers=auth,
    )
    assert followed.status_code == 200  # the redirect was followed to the request object
    assert followed.json()["id"] == created["id"] + 1
    assert [r.status_code for r in followed.history] == [303]

    body = client.get(f"/v3/requests/{created['id']}", headers=auth).json()
    account = services.accounts.authenticate(auth_token(auth))
    assert body == {
        "id": created["id"],
        "records": "7",
        "query": "categories:hotels",
        "dataType": "businesses",
        "dataFormat": "csv",
        "accountId": str(account.id),
        "planId": "free",
        "view": "businesses_flat_reviews",
        "async": 1,
        "status": "STARTED",
        "error": "",
        "numDownloaded": 0,
        "numFound": len(HOTELS),
        "numRequested": 7,
        "date_started": "2017-1-11 15:52:42",
        "date_completed": "2017-1-11 15:52:42",  # still running: the seed says it may match
    }
    assert client.get(f"/v3/results/{created['id']}", headers=auth).json() == NOT_FOUND

    clock.advance(seconds=1)
    run_jobs(services)
    done = client.get(f"/v3/requests/{created['id']}", headers=auth).json()
    assert_request_shape(done)
    assert (done["status"], done["error"], done["numDownloaded"]) == ("COMPLETED", "", 7)
    assert (done["date_started"], done["date_completed"]) == ("2017-1-11 15:52:42", "2017-1-11 15:52:43")

    results = client.get(f"/v3/results/{created['id']}", headers=auth).json()
    assert [r["downloaded"] for r in results] == [5, 2]
    for result in results:
        assert list(result) == list(RESULT_FIELDS)
        assert {name: type(result[name]) for name in result} == RESULT_FIELDS
        assert result["request_id"] == created["id"]
        assert result["imported"] == result["downloaded"]
        assert result["date_created"] == "2017-1-11 15:52:43"
        assert result["url"].startswith(f"http://testserver/v4/files/{created['id']}/")
    assert len({r["id"] for r in results}) == 2
    rows = [row for r in results for row in csv.DictReader(io.StringIO(fetch(client, r["url"])))]
    assert list(dict.fromkeys(row["id"] for row in rows)) == HOTELS[:7]


def test_results_hold_exactly_the_matches_as_json_lines(
    client: TestClient, services: Services, auth: dict[str, str]
) -> None:
    created = start_v3(client, auth, q="city:dallas", format="JSON")
    assert created["records"] == ""
    assert (
        created["numRequested"] == created["numFound"] == len([r for r in RECORDS if r["city"] == "Dallas"])
    )
    assert created["view"] == "businesses_all_nested"
    assert created["dataFormat"] == "json"
    run_jobs(services)
    results = client.get(f"/v3/results/{created['id']}", headers=auth).json()
    ids = [json.loads(line)["id"] for r in results for line in fetch(client, r["url"]).splitlines()]
    assert ids == [r["id"] for r in RECORDS if r["city"] == "Dallas"]
    assert sum(r["downloaded"] for r in results) == len(ids)


def test_a_download_with_no_matches_completes_with_no_results(
    client: TestClient, services: Services, auth: dict[str, str]
) -> None:
    created = start_v3(client, auth, q="city:nowhere")
    # Queued like any download (it counts toward the active limit) until a worker completes it.
    assert (created["status"], created["numFound"], created["numRequested"]) == ("STARTED", 0, 0)
    run_jobs(services)
    assert client.get(f"/v3/requests/{created['id']}", headers=auth).json()["status"] == "COMPLETED"
    assert client.get(f"/v3/results/{created['id']}", headers=auth).json() == []


def test_requests_lists_every_download_newest_first_v3_and_v4_alike(
    client: TestClient, auth: dict[str, str], token: str
) -> None:
    bearer = {"Authorization": f"Bearer {token}"}
    v4_plain = client.post(
        "/v4/businesses/search", json={"query": "*", "download": True, "format": "csv"}, headers=bearer
    ).json()
    v4_view = client.post(
        "/v4/businesses/search",
        json={"query": "name:hotel", "download": True, "view": "business_no_reviews", "num_records": 3},
        headers=bearer,
    ).json()
    v3 = start_v3(client, auth, q="*", view="business_basic")
    listing = client.get("/v3/requests", headers=auth).json()
    assert [r["id"] for r in listing] == [v3["id"], int(v4_view["id"]), int(v4_plain["id"])]
    for body in listing:
        assert_request_shape(body)
    # The view as it was given; the v3 spelling of the default view when none was.
    assert [r["view"] for r in listing] == ["business_basic", "business_no_reviews", "businesses_all_nested"]
    assert [r["records"] for r in listing] == ["", "3", ""]
    assert [r["numRequested"] for r in listing] == [23, 3, 23]
    assert [r["dataFormat"] for r in listing] == ["json", "json", "csv"]
    assert client.get(f"/v3/requests/{v4_plain['id']}", headers=auth).json() == listing[2]


def test_v3_and_v4_show_one_download_consistently(
    client: TestClient, services: Services, auth: dict[str, str], token: str
) -> None:
    bearer = {"Authorization": f"Bearer {token}"}
    created = start_v3(client, auth, q="categories:hotels", view="businesses_no_reviews")
    v4 = client.get(f"/v4/downloads/{created['id']}", headers=bearer).json()
    assert v4["id"] == str(created["id"])
    assert (v4["status"], v4["view"], v4["query"]) == ("queued", "businesses_no_reviews", "categories:hotels")
    assert [d["id"] for d in client.get("/v4/downloads", headers=bearer).json()["records"]] == [v4["id"]]
    run_jobs(services)
    v4 = client.get(f"/v4/downloads/{created['id']}", headers=bearer).json()
    v3 = client.get(f"/v3/requests/{created['id']}", headers=auth).json()
    results = client.get(f"/v3/results/{created['id']}", headers=auth).json()
    assert (v4["status"], v3["status"]) == ("completed", "COMPLETED")
    assert v4["num_downloaded"] == v3["numDownloaded"] == sum(r["downloaded"] for r in results) == 12
    assert v4["num_found"] == v3["numFound"]
    assert [r["url"] for r in v4["results"]] == [r["url"] for r in results]
    assert [r["records"] for r in v4["results"]] == [r["downloaded"] for r in results]
    # The v3 view drives the export exactly as the v4 one would.
    assert "reviews" not in json.loads(fetch(client, results[0]["url"]).splitlines()[0])


def test_a_cancelled_download_is_completed_with_an_error_and_keeps_its_files(
    client: TestClient, services: Services, auth: dict[str, str], token: str
) -> None:
    bearer = {"Authorization": f"Bearer {token}"}
    queued = start_v3(client, auth, q="*")
    assert client.delete(f"/v4/downloads/{queued['id']}", headers=bearer).status_code == 200
    body = client.get(f"/v3/requests/{queued['id']}", headers=auth).json()
    assert_request_shape(body)
    assert body["status"] == "COMPLETED"
    assert body["error"].startswith("cancelled by the user")
    assert client.get(f"/v3/results/{queued['id']}", headers=auth).json() == []

    # Cancelled after two of its five files were written: those two stay in the results, as in v4.
    running = start_v3(client, auth, q="*")
    assert run_jobs(services, at_most=3) == 3  # the plan, then parts 1 and 2
    assert client.delete(f"/v4/downloads/{running['id']}", headers=bearer).status_code == 200
    assert run_jobs(services) == 0  # the other parts were withdrawn
    body = client.get(f"/v3/requests/{running['id']}", headers=auth).json()
    assert (body["status"], body["numDownloaded"]) == ("COMPLETED", 10)
    assert body["error"] == (
        "cancelled by the user; the 2 files finished before the cancel (10 records) are in the results"
    )
    results = client.get(f"/v3/results/{running['id']}", headers=auth).json()
    assert [r["downloaded"] for r in results] == [5, 5]
    v4 = client.get(f"/v4/downloads/{running['id']}", headers=bearer).json()
    assert v4["status"] == "cancelled"
    assert [r["url"] for r in v4["results"]] == [r["url"] for r in results]


def test_a_failed_download_is_completed_with_its_error(
    client: TestClient, services: Services, auth: dict[str, str]
) -> None:
    created = start_v3(client, auth, q="*")
    with services.db.write() as conn:  # as the janitor leaves a download whose job ran out of attempts
        conn.execute(
            downloads.update()
            .where(downloads.c.id == created["id"])
            .values(status="failed", error="disk full", completed_at=services.clock.now())
        )
    body = client.get(f"/v3/requests/{created['id']}", headers=auth).json()
    assert (body["status"], body["error"]) == ("COMPLETED", "the download failed: disk full")


@pytest.mark.s3
def test_results_on_s3_storage_are_presigned_s3_urls_holding_the_matches(
    database_url: str, tmp_path: Path, s3_server: S3Server
) -> None:
    settings = make_settings(
        tmp_path,
        database_url,
        records_per_file=5,
        storage_url=s3_server.url(s3_server.fresh_prefix("v3")),
        **s3_server.settings(),
    )
    built = build_services(settings)  # the wall clock: S3 checks the signature's time
    try:
        source = tmp_path / "b.jsonl"
        source.write_text("".join(json.dumps(r) + "\n" for r in RECORDS), encoding="utf-8")
        load_files(built.snapshots, "businesses", [source])
        auth = basic(built.accounts.create_account("s3@example.com", credits=100).token)
        with TestClient(create_app(settings, built), raise_server_exceptions=False) as client:
            created = start_v3(client, auth, q="categories:hotels", format="json")
            run_jobs(built)
            results = client.get(f"/v3/results/{created['id']}", headers=auth).json()
        assert [r["downloaded"] for r in results] == [5, 5, 2]
        ids: list[str] = []
        for result in results:
            assert list(result) == list(RESULT_FIELDS)
            assert result["url"].startswith(s3_server.endpoint_url + "/")
            assert "X-Amz-Signature=" in result["url"]
            response = httpx.get(result["url"], timeout=30)
            assert response.status_code == 200, response.text
            ids.extend(json.loads(line)["id"] for line in response.text.splitlines())
        assert ids == HOTELS
    finally:
        built.close()


# -- isolation and errors -------------------------------------------------------------------------


def test_accounts_see_only_their_own_requests(
    client: TestClient, services: Services, auth: dict[str, str]
) -> None:
    created = start_v3(client, auth, q="*", records="1")
    run_jobs(services)
    bob = basic(services.accounts.create_account("bob@example.com", credits=10).token)
    assert client.get("/v3/requests", headers=bob).json() == []
    for path in (f"/v3/requests/{created['id']}", f"/v3/results/{created['id']}"):
        response = client.get(path, headers=bob)
        assert response.status_code == 404
        assert response.text == json.dumps(NOT_FOUND, separators=(",", ":"))
    assert len(client.get("/v3/requests", headers=auth).json()) == 1


@pytest.mark.parametrize("request_id", ["999999", "abc", "-1", "1" * 30])
def test_unknown_ids_are_the_seed_404(client: TestClient, auth: dict[str, str], request_id: str) -> None:
    for path in (f"/v3/requests/{request_id}", f"/v3/results/{request_id}"):
        response = client.get(path, headers=auth)
        assert response.status_code == 404
        assert response.json() == NOT_FOUND


def test_an_unexpected_error_is_500_with_a_request_id_that_is_logged(
    client: TestClient, services: Services, auth: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("the database caught fire")

    monkeypatch.setattr(services.downloads, "list", broken)
    with capture_logs() as logs:
        response = client.get("/v3/requests", headers=auth)
    assert response.status_code == 500
    body = response.json()
    assert list(body) == ["error", "message", "code", "requestId"]
    assert body["error"] == "Internal Server Error"
    assert body["message"] == "An unexpected error occurred on the server"
    assert body["code"] == 500
    assert re.fullmatch(r"req_[0-9a-f]{16}", body["requestId"])
    assert response.headers["x-request-id"] == body["requestId"]
    failures = [e for e in logs if e.get("event") == "unhandled error"]
    assert [e["request_id"] for e in failures] == [body["requestId"]]
    assert failures[0]["path"] == "/v3/requests"
    assert "the database caught fire" not in response.text


def auth_token(headers: dict[str, str]) -> str:
    return base64.b64decode(headers["Authorization"].split()[1]).decode().partition(":")[0]


def test_v3_dates_are_utc_and_unpadded() -> None:
    assert v3_date(datetime(2017, 1, 11, 15, 53, 0, tzinfo=UTC)) == "2017-1-11 15:53:00"
    assert v3_date(datetime(2017, 12, 1, 3, 4, 5)) == "2017-12-1 03:04:05"  # naive means UTC
    new_york = timezone(timedelta(hours=-5))
    assert v3_date(datetime(2017, 12, 31, 22, 0, 0, tzinfo=new_york)) == "2018-1-1 03:00:00"
