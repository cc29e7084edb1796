"""Delta downloads end to end: load A, download, load B, download only what changed since.

Runs on SQLite and PostgreSQL (``database_url``), with local files or S3 (DLSERVE_TEST_STORAGE=s3):
snapshots, their fingerprints and the result files all go through the storage under test.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from dlserve.api.app import create_app
from dlserve.cli import app
from dlserve.cli_client import commands
from dlserve.client import Client
from dlserve.clock import FrozenClock
from dlserve.container import Services
from dlserve.records.fingerprints import FINGERPRINT_COLUMN
from dlserve.records.loader import load_files
from tests.integration.conftest import loaded_services
from tests.integration.test_downloads import account, fetch, run_jobs, start


def business(i: int, *, hotel: bool, note: str = "") -> dict[str, Any]:
    return {
        "id": f"b{i:02d}",
        "name": f"Hotel {i}{note}" if hotel else f"Cafe {i}{note}",
        "city": "Austin" if i % 3 else "Dallas",
        "categories": ["Hotels"] if hotel else ["Coffee Shops"],
        "reviews": [{"rating": r, "text": f"review {r} of {i}"} for r in range(1, i % 3 + 1)],
    }


# Snapshot A: 30 businesses, the even ones hotels.
A = [business(i, hotel=i % 2 == 0) for i in range(30)]
HOTELS_A = {r["id"] for r in A if r["categories"] == ["Hotels"]}

# Snapshot B, for the query "categories:hotels":
REMOVED = {"b02", "b04", "b06"}  # hotels gone from the dataset
CHANGED = {"b08", "b10", "b12", "b14"}  # hotels whose content changed, still hotels
NO_LONGER_MATCH = {"b16"}  # a hotel that became a cafe: deleted from the matches
NOW_MATCH = {"b01"}  # a cafe that became a hotel: new to the matches (added)
NEW_HOTELS = {"b30", "b32"}  # new ids
NEW_CAFE = {"b31"}  # a new id that does not match


def snapshot_b() -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for record in A:
        rid = record["id"]
        if rid in REMOVED:
            continue
        i = int(rid[1:])
        if rid in CHANGED:
            records.append(business(i, hotel=True, note=" (renovated)"))
        elif rid in NO_LONGER_MATCH:
            records.append(business(i, hotel=False))
        elif rid in NOW_MATCH:
            records.append(business(i, hotel=True))
        else:
            records.append(record)  # unchanged, byte for byte
    records.extend(business(int(rid[1:]), hotel=True) for rid in sorted(NEW_HOTELS))
    records.extend(business(int(rid[1:]), hotel=False) for rid in sorted(NEW_CAFE))
    return records


B = snapshot_b()
EXPECTED_ADDED = NEW_HOTELS | NOW_MATCH
EXPECTED_CHANGED = CHANGED
EXPECTED_DELIVERED = EXPECTED_ADDED | EXPECTED_CHANGED
EXPECTED_DELETED = REMOVED | NO_LONGER_MATCH


LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ")


@pytest.fixture
def services(database_url: str, tmp_path: Path, clock: FrozenClock) -> Iterator[Services]:
    with loaded_services(
        tmp_path, database_url, A, clock, records_per_file=3, max_active_downloads=5
    ) as built:
        yield built


def load(services: Services, tmp_path: Path, records: list[dict[str, Any]], **options: Any) -> None:
    source = tmp_path / f"load-{len(list(tmp_path.glob('load-*')))}.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    load_files(services.snapshots, "businesses", [source], **options)


def credits(client: TestClient, headers: dict[str, str]) -> int:
    available: int = client.get("/v4/account", headers=headers).json()["available_credits"]
    return available


def finished(client: TestClient, services: Services, headers: dict[str, str], download_id: str) -> Any:
    run_jobs(services)
    body = client.get(f"/v4/downloads/{download_id}", headers=headers).json()
    assert body["status"] == "completed", body
    return body


def records_of(client: TestClient, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for result in results
        if result["kind"] == "records"
        for line in fetch(client, result["url"]).decode().splitlines()
    ]


def full_download(client: TestClient, services: Services, headers: dict[str, str], **body: Any) -> Any:
    created = start(client, headers, query="categories:hotels", format="json", **body)
    return finished(client, services, headers, created["id"])


def test_delta_delivers_and_charges_exactly_the_changes_and_lists_the_deleted_ids(
    client: TestClient, services: Services, tmp_path: Path
) -> None:
    headers = account(services, "delta@example.com", credits=1000)
    first = full_download(client, services, headers)
    assert {r["id"] for r in records_of(client, first["results"])} == HOTELS_A
    assert first["since"] is None
    assert first["num_added"] is None
    balance = credits(client, headers)
    assert balance == 1000 - len(HOTELS_A)

    load(services, tmp_path, B)

    # A free count first: what the refresh would cost.
    count = client.post(
        "/v4/businesses/search",
        json={"query": "categories:hotels", "num_records": 0, "since": first["id"]},
        headers=headers,
    )
    assert count.status_code == 200, count.text
    assert count.json() == {
        "num_found": len(EXPECTED_DELIVERED),
        "total_cost": 0,
        "records": [],
        "since": first["id"],
        "num_matching": len({r["id"] for r in B if r["categories"] == ["Hotels"]}),
        "num_added": len(EXPECTED_ADDED),
        "num_changed": len(EXPECTED_CHANGED),
        "num_deleted": len(EXPECTED_DELETED),
    }
    assert credits(client, headers) == balance

    created = start(client, headers, query="categories:hotels", format="json", since=first["id"])
    assert created["since"] == first["id"]
    assert created["num_records"] == len(EXPECTED_DELIVERED)
    assert (created["num_added"], created["num_changed"], created["num_deleted"]) == (
        len(EXPECTED_ADDED),
        len(EXPECTED_CHANGED),
        len(EXPECTED_DELETED),
    )
    delta = finished(client, services, headers, created["id"])
    delivered = records_of(client, delta["results"])
    assert sorted(r["id"] for r in delivered) == sorted(EXPECTED_DELIVERED)  # each exactly once
    by_id = {r["id"]: r for r in B}
    assert all(record == by_id[record["id"]] for record in delivered)  # the new content
    assert [r["id"] for r in delivered] == [r["id"] for r in B if r["id"] in EXPECTED_DELIVERED]  # load order
    assert delta["num_downloaded"] == len(EXPECTED_DELIVERED)
    assert credits(client, headers) == balance - len(EXPECTED_DELIVERED)

    deleted_files = [r for r in delta["results"] if r["kind"] == "deleted"]
    assert [r["name"] for r in deleted_files] == [f"{created['id']}_deleted.txt"]
    assert delta["results"][-1] is not None
    assert delta["results"][-1]["kind"] == "deleted"
    lines = fetch(client, deleted_files[0]["url"]).decode().splitlines()
    assert sorted(json.loads(line)["id"] for line in lines) == sorted(EXPECTED_DELETED)
    assert deleted_files[0]["records"] == len(EXPECTED_DELETED)

    # Right after: nothing changed since the delta, so nothing is delivered or charged.
    again = start(client, headers, query="categories:hotels", format="json", since=created["id"])
    assert (again["num_records"], again["num_added"], again["num_changed"], again["num_deleted"]) == (
        0,
        0,
        0,
        0,
    )
    again_done = finished(client, services, headers, again["id"])
    assert again_done["results"] == []
    assert again_done["num_downloaded"] == 0
    assert credits(client, headers) == balance - len(EXPECTED_DELIVERED)


def test_csv_delta_and_its_deleted_ids_file(client: TestClient, services: Services, tmp_path: Path) -> None:
    headers = account(services, "csv@example.com")
    first = full_download(client, services, headers)
    load(services, tmp_path, B)
    created = start(client, headers, query="categories:hotels", format="CSV", since=int(first["id"]))
    delta = finished(client, services, headers, created["id"])
    ids: list[str] = []
    for result in delta["results"]:
        if result["kind"] == "records":
            ids.extend(
                row["id"] for row in csv.DictReader(io.StringIO(fetch(client, result["url"]).decode()))
            )
    assert sorted(ids) == sorted(EXPECTED_DELIVERED)
    deleted = [r for r in delta["results"] if r["kind"] == "deleted"]
    assert [r["name"] for r in deleted] == [f"{created['id']}_deleted.csv"]
    rows = list(csv.reader(io.StringIO(fetch(client, deleted[0]["url"]).decode())))
    assert rows[0] == ["id"]
    assert sorted(row[0] for row in rows[1:]) == sorted(EXPECTED_DELETED)


def test_parquet_delta_holds_exactly_the_changes(
    client: TestClient, services: Services, tmp_path: Path
) -> None:
    headers = account(services, "parquet@example.com")
    first = full_download(client, services, headers)
    load(services, tmp_path, B)
    created = start(client, headers, query="categories:hotels", format="PARQUET", since=int(first["id"]))
    delta = finished(client, services, headers, created["id"])
    records = [r for r in delta["results"] if r["kind"] == "records"]
    assert all(r["name"].endswith(".parquet") for r in records)
    ids = [
        i
        for r in records
        for i in pq.read_table(io.BytesIO(fetch(client, r["url"]))).column("id").to_pylist()
    ]
    assert sorted(ids) == sorted(EXPECTED_DELIVERED)
    deleted = [r for r in delta["results"] if r["kind"] == "deleted"]  # the ids: JSON Lines
    assert sorted(
        json.loads(line)["id"] for line in fetch(client, deleted[0]["url"]).decode().splitlines()
    ) == (sorted(EXPECTED_DELETED))


def test_v3_since_counts_and_downloads_the_delta(
    client: TestClient, services: Services, tmp_path: Path
) -> None:
    created = services.accounts.create_account("v3@example.com", credits=1000)
    basic = (created.token, "")
    headers = {"Authorization": f"Bearer {created.token}"}
    first = full_download(client, services, headers)
    load(services, tmp_path, B)
    count = client.get(
        "/v3/data/businesses", params={"q": "categories:hotels", "since": first["id"]}, auth=basic
    )
    assert count.status_code == 200, count.text
    assert count.json()["estimated total"] == len(EXPECTED_DELIVERED)
    assert count.json()["numDeleted"] == len(EXPECTED_DELETED)
    started = client.get(
        "/v3/data/businesses",
        params={"q": "categories:hotels", "since": first["id"], "download": "true"},
        auth=basic,
        follow_redirects=False,
    )
    assert started.status_code == 303, started.text
    request_id = started.json()["id"]
    assert started.json()["since"] == int(first["id"])
    run_jobs(services)
    request = client.get(f"/v3/requests/{request_id}", auth=basic).json()
    assert (request["numAdded"], request["numChanged"], request["numDeleted"]) == (
        len(EXPECTED_ADDED),
        len(EXPECTED_CHANGED),
        len(EXPECTED_DELETED),
    )
    assert request["numDownloaded"] == len(EXPECTED_DELIVERED)
    results = client.get(f"/v3/results/{request_id}", auth=basic).json()
    assert [r["kind"] for r in results][-1] == "deleted"
    assert sum(r["downloaded"] for r in results if r["kind"] == "records") == len(EXPECTED_DELIVERED)


def test_fingerprints_are_stored_with_the_snapshot_and_kept_by_an_append(
    client: TestClient, services: Services, tmp_path: Path
) -> None:
    headers = account(services, "append@example.com")
    first = full_download(client, services, headers)
    extra = [business(i, hotel=True) for i in range(40, 44)]
    load(services, tmp_path, extra, append=True)
    snapshot = services.snapshots.current("businesses")
    assert snapshot is not None
    with services.snapshots.open(snapshot) as directory:
        con = duckdb.connect()
        rows = con.execute(
            f"SELECT id, {FINGERPRINT_COLUMN}, md5_number_lower(_record) FROM read_parquet(?)",
            [str(directory / "part-*.parquet")],
        ).fetchall()
        con.close()
    assert len(rows) == len(A) + len(extra)
    assert all(stored == computed for _id, stored, computed in rows)
    created = start(client, headers, query="categories:hotels", format="json", since=first["id"])
    assert (created["num_added"], created["num_changed"], created["num_deleted"]) == (4, 0, 0)
    delta = finished(client, services, headers, created["id"])
    assert sorted(r["id"] for r in records_of(client, delta["results"])) == [f"b{i}" for i in range(40, 44)]


def test_a_snapshot_without_fingerprints_compares_the_same(
    client: TestClient, services: Services, tmp_path: Path
) -> None:
    """A snapshot loaded before fingerprints existed (no column): computed when read, same result."""
    load(services, tmp_path, A, fingerprints=False)
    headers = account(services, "old@example.com")
    first = full_download(client, services, headers)
    load(services, tmp_path, B)
    created = start(client, headers, query="categories:hotels", format="json", since=first["id"])
    assert (created["num_added"], created["num_changed"], created["num_deleted"]) == (
        len(EXPECTED_ADDED),
        len(EXPECTED_CHANGED),
        len(EXPECTED_DELETED),
    )
    delta = finished(client, services, headers, created["id"])
    assert sorted(r["id"] for r in records_of(client, delta["results"])) == sorted(EXPECTED_DELIVERED)


def test_the_query_of_the_new_request_is_applied_to_both_snapshots(
    client: TestClient, services: Services, tmp_path: Path
) -> None:
    headers = account(services, "query@example.com")
    first = full_download(client, services, headers)  # categories:hotels
    load(services, tmp_path, B)
    created = start(
        client, headers, query="categories:hotels AND city:dallas", format="json", since=first["id"]
    )
    dallas_b = {r["id"] for r in B if r["city"] == "Dallas"}
    dallas_a = {r["id"] for r in A if r["city"] == "Dallas"}
    assert created["num_added"] == len(EXPECTED_ADDED & dallas_b)
    assert created["num_changed"] == len(EXPECTED_CHANGED & dallas_b)
    assert created["num_deleted"] == len(EXPECTED_DELETED & dallas_a)


def error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"error", "message", "code", "details"}
    assert body["code"] == status
    return body


def test_since_errors_answer_with_the_envelope(
    client: TestClient, services: Services, tmp_path: Path
) -> None:
    headers = account(services, "errors@example.com")
    other = account(services, "other@example.com")
    done = full_download(client, services, headers)
    search = "/v4/businesses/search"

    def ask(who: dict[str, str], **body: Any) -> Any:
        return client.post(search, json={"query": "*", "download": True, **body}, headers=who)

    assert error(ask(headers, since="999999"), 404)["details"][0]["field"] == "since"
    error(ask(other, since=done["id"]), 404)  # another account's download is not found
    assert error(ask(headers, since="abc"), 400)["details"][0]["field"] == "since"
    error(ask(headers, since=-3), 400)
    error(ask(headers, since=True), 400)
    assert error(ask(headers, since=done["id"], num_records=5), 400)["details"][0]["field"] == "num_records"
    capped = start(client, headers, query="*", num_records=2)
    run_jobs(services)
    assert "of its" in error(ask(headers, since=capped["id"]), 400)["message"]
    queued = start(client, headers, query="*")
    assert "queued" in error(ask(headers, since=queued["id"]), 400)["message"]
    run_jobs(services)
    counting = client.post(
        search, json={"query": "*", "num_records": 3, "since": done["id"]}, headers=headers
    )
    assert error(counting, 400)["details"][0]["field"] == "num_records"

    products = tmp_path / "products.jsonl"
    products.write_text(json.dumps({"id": "p1", "name": "Widget"}) + "\n", encoding="utf-8")
    load_files(services.snapshots, "products", [products])
    wrong_type = client.post(
        "/v4/products/search", json={"query": "*", "download": True, "since": done["id"]}, headers=headers
    )
    assert "businesses download" in error(wrong_type, 400)["message"]


@pytest.mark.local_storage
def test_since_a_download_whose_snapshot_is_gone_is_410(
    client: TestClient, services: Services, tmp_path: Path
) -> None:
    headers = account(services, "gone@example.com")
    done = full_download(client, services, headers)
    old = services.snapshots.current("businesses")
    assert old is not None
    load(services, tmp_path, B)
    shutil.rmtree(old.path)
    body = error(
        client.post(
            "/v4/businesses/search",
            json={"query": "*", "download": True, "since": done["id"]},
            headers=headers,
        ),
        410,
    )
    assert body["details"][0]["field"] == "since"


def cli_json(stdout: str) -> Any:
    """The command's JSON, without the in-process server's log lines CliRunner also captured."""
    return json.loads("\n".join(line for line in stdout.splitlines() if not LOG_LINE.match(line)))


def sdk_client(client: TestClient, token: str) -> Client:
    """The SDK over the test app's own transport: the real server, database and files."""
    return Client("http://testserver", token, transport=client._transport)


@pytest.mark.local_storage  # fetches the files through the app's own signed links
def test_sdk_and_cli_refresh_a_copy(
    client: TestClient, services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = services.accounts.create_account("sdk@example.com", credits=1000).token
    with sdk_client(client, token) as sdk:
        started = sdk.create_download("businesses", "categories:hotels")
        run_jobs(services)
        first = sdk.wait(started)
        assert first.status == "completed"
        load(services, tmp_path, B)
        changes = sdk.count_changes("businesses", "categories:hotels", first)
        assert (changes.num_found, changes.num_added, changes.num_changed, changes.num_deleted) == (
            len(EXPECTED_DELIVERED),
            len(EXPECTED_ADDED),
            len(EXPECTED_CHANGED),
            len(EXPECTED_DELETED),
        )
        created = sdk.create_download("businesses", "categories:hotels", since=first)
        assert created.since == first.id
        run_jobs(services)
        delta = sdk.get_download(created)
        assert [f.name for f in delta.deleted_files] == [f"{created.id}_deleted.txt"]
        assert sum(f.records or 0 for f in delta.record_files) == len(EXPECTED_DELIVERED)
        paths = sdk.fetch_files(delta, tmp_path / "sdk")
        deleted = (tmp_path / "sdk" / f"{created.id}_deleted.txt").read_text().splitlines()
        assert sorted(json.loads(line)["id"] for line in deleted) == sorted(EXPECTED_DELETED)
        assert len(paths) == len(delta.results)

    def open_client(url: str, cli_token: str | None) -> Client:
        return Client(url, cli_token, transport=client._transport)

    monkeypatch.setattr(commands, "open_client", open_client)
    env = {"DLSERVE_URL": "http://testserver", "DLSERVE_TOKEN": token, "DLSERVE_CONFIG": None}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "no-config")
    counted = CliRunner().invoke(
        app, ["count", "businesses", "categories:hotels", "--since", created.id, "--json"], env=env
    )
    assert counted.exit_code == 0, counted.output
    assert cli_json(counted.stdout)["count"] == 0  # nothing changed since the delta
    load(services, tmp_path, [*B, business(50, hotel=True)])
    stop = threading.Event()

    def worker() -> None:  # the export runs while the command follows it
        while not stop.is_set():
            if run_jobs(services) == 0:
                time.sleep(0.05)

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        result = CliRunner().invoke(
            app,
            [
                "download",
                "businesses",
                "categories:hotels",
                "--since",
                created.id,
                "--out",
                str(tmp_path / "cli"),
                "--json",
            ],
            env=env,
        )
    finally:
        stop.set()
        thread.join()
    assert result.exit_code == 0, result.output
    printed = cli_json(result.stdout)
    assert printed["download"]["since"] == created.id
    assert printed["download"]["num_added"] == 1
    fetched = (tmp_path / "cli").glob("*.txt")
    assert [json.loads(line)["id"] for f in fetched for line in f.read_text().splitlines()] == ["b50"]


def test_delta_files_keep_load_order_across_row_groups(database_url: str, tmp_path: Path) -> None:
    """Thousands of records over several row groups: DuckDB's joins do not keep row order, so the
    delta's parts sort by ``_seq``; JSON and both CSV renderers deliver in load order."""
    many = [business(i, hotel=True) for i in range(100, 6100)]
    with (
        loaded_services(tmp_path, database_url, many, FrozenClock(), records_per_file=2500) as services,
        TestClient(create_app(services.settings, services), raise_server_exceptions=False) as client,
    ):
        headers = account(services, "order@example.com", credits=100_000)
        first = full_download(client, services, headers)
        changed = [business(i, hotel=True, note=" v2" if i % 3 == 0 else "") for i in range(100, 6100)]
        load(services, tmp_path, changed)
        expected = [r["id"] for r in changed if int(r["id"][1:]) % 3 == 0]
        for body in (
            {"format": "json"},
            {"format": "CSV"},
            {"format": "CSV", "view": "business_flat_reviews"},
        ):
            created = start(client, headers, query="categories:hotels", since=first["id"], **body)
            delta = finished(client, services, headers, created["id"])
            assert len(delta["results"]) == 1
            ids: list[str] = []
            for result in delta["results"]:
                text = fetch(client, result["url"]).decode()
                if body["format"] == "json":
                    ids.extend(json.loads(line)["id"] for line in text.splitlines())
                else:
                    for row in csv.DictReader(io.StringIO(text)):
                        if not ids or ids[-1] != row["id"]:
                            ids.append(row["id"])
            assert ids == expected, body
