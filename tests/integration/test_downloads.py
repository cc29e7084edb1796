"""Bulk downloads end to end in one process: create → export job → signed result files."""

from __future__ import annotations

import csv
import gzip
import io
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from dlserve.clock import FrozenClock
from dlserve.container import Services
from dlserve.db.tables import credit_ledger
from dlserve.downloads.runner import EXPORT_KINDS
from tests.integration.conftest import fetch_result, loaded_services

# 23 businesses; "even" ones are hotels with one review per odd index.
RECORDS: list[dict[str, Any]] = [
    {
        "id": f"b{i:02d}",
        "name": f"Hotel {i}" if i % 2 == 0 else f'Cafe {i}, "the" best',
        "city": "Austin" if i % 3 else "Dallas",
        "categories": ["Hotels"] if i % 2 == 0 else ["Coffee Shops", "Bakeries"],
        "latitude": 30.0 + i / 100,
        "reviews": [{"rating": r, "text": f"review {r} of {i}"} for r in range(1, i % 4 + 1)],
    }
    for i in range(23)
]
HOTELS = [r["id"] for r in RECORDS if "Hotels" in r["categories"]]


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def services(database_url: str, tmp_path: Path, clock: FrozenClock) -> Iterator[Services]:
    with loaded_services(
        tmp_path, database_url, RECORDS, clock, records_per_file=5, max_active_downloads=3
    ) as built:
        yield built


def account(services: Services, email: str, credits: int = 1000) -> dict[str, str]:
    return {"Authorization": f"Bearer {services.accounts.create_account(email, credits=credits).token}"}


def run_jobs(services: Services, worker: str = "test-worker") -> int:
    ran = 0
    while (job := services.queue.claim(worker, EXPORT_KINDS)) is not None:
        services.runner.run(job, worker, threading.Event())
        ran += 1
    return ran


def fetch(client: TestClient, url: str) -> bytes:
    return fetch_result(client, url).content


def start(client: TestClient, headers: dict[str, str], **body: object) -> dict[str, Any]:
    response = client.post("/v4/businesses/search", json={"download": True, **body}, headers=headers)
    assert response.status_code == 202, response.text
    created: dict[str, Any] = response.json()
    return created


def test_json_download_splits_files_and_holds_exactly_the_matches(
    client: TestClient, services: Services
) -> None:
    headers = account(services, "a@example.com")
    created = start(client, headers, query="categories:hotels", format="json")
    assert created["status"] == "queued"
    assert created["num_records"] == len(HOTELS) == 12
    assert created["results"] == []
    assert str(created["created_at"]).endswith("Z")
    assert run_jobs(services) == 4  # the plan, then one job per file
    body = client.get(f"/v4/downloads/{created['id']}", headers=headers).json()
    assert body["status"] == "completed"
    assert body["num_downloaded"] == 12
    assert [r["name"] for r in body["results"]] == [f"{created['id']}_{n}.txt" for n in (1, 2, 3)]
    assert [r["records"] for r in body["results"]] == [5, 5, 2]
    ids: list[str] = []
    for result in body["results"]:
        content = fetch(client, result["url"])
        assert len(content) == result["bytes"]
        import hashlib

        assert hashlib.sha256(content).hexdigest() == result["sha256"]
        ids.extend(json.loads(line)["id"] for line in content.decode().splitlines())
    assert ids == HOTELS
    assert client.get("/v4/account", headers=headers).json()["available_credits"] == 1000 - 12
    assert body["progress"]["done"] == body["progress"]["total"] == 12


def test_csv_flat_view_gzip_and_header_in_every_file(client: TestClient, services: Services) -> None:
    headers = account(services, "a@example.com")
    created = start(
        client, headers, query="city:austin", format="CSV", view="business_flat_reviews", compress="gzip"
    )
    run_jobs(services)
    body = client.get(f"/v4/downloads/{created['id']}", headers=headers).json()
    austin = [r for r in RECORDS if r["city"] == "Austin"]
    assert body["num_downloaded"] == len(austin)
    rows: list[dict[str, str]] = []
    for result in body["results"]:
        assert result["name"].endswith(".csv.gz")
        text = gzip.decompress(fetch(client, result["url"])).decode("utf-8")
        assert text.startswith("id,name,")
        rows.extend(csv.DictReader(io.StringIO(text)))
    expected = [
        (r["id"], r["name"], str(review["rating"]) if review else "")
        for r in austin
        for review in (r["reviews"] or [None])
    ]
    assert [(row["id"], row["name"], row["reviews.rating"]) for row in rows] == expected
    # A record's flattened rows never straddle two files, and each file holds 5 records at most.
    assert [r["records"] for r in body["results"]][:-1] == [5] * (len(body["results"]) - 1)


def test_num_records_limits_and_zero_matches_complete_once_run(
    client: TestClient, services: Services
) -> None:
    headers = account(services, "a@example.com")
    limited = start(client, headers, query="*", num_records=7)
    assert limited["num_records"] == 7
    assert limited["num_found"] == 23
    empty = start(client, headers, query="city:nowhere")
    assert empty["status"] == "queued"  # queued like any other, so it counts toward the active limit
    assert empty["num_records"] == 0
    run_jobs(services)
    body = client.get(f"/v4/downloads/{limited['id']}", headers=headers).json()
    assert sum(r["records"] for r in body["results"]) == 7
    finished = client.get(f"/v4/downloads/{empty['id']}", headers=headers).json()
    assert (finished["status"], finished["results"], finished["num_downloaded"]) == ("completed", [], 0)


def test_credit_and_active_limits(client: TestClient, services: Services) -> None:
    poor = account(services, "poor@example.com", credits=10)
    response = client.post("/v4/businesses/search", json={"query": "*", "download": True}, headers=poor)
    assert response.status_code == 402
    assert "needs 23 credits, the balance is 10" in response.json()["details"][0]["message"]
    rich = account(services, "rich@example.com")
    for _ in range(3):
        start(client, rich, query="*")
    response = client.post("/v4/businesses/search", json={"query": "*", "download": True}, headers=rich)
    assert response.status_code == 429
    assert "limit is 3" in response.json()["message"]


def test_downloads_list_newest_first_and_accounts_are_isolated(
    client: TestClient, services: Services
) -> None:
    alice = account(services, "alice@example.com")
    bob = account(services, "bob@example.com")
    first = start(client, alice, query="*")
    second = start(client, alice, query="name:hotel")
    listing = client.get("/v4/downloads", headers=alice).json()
    assert listing["num_found"] == 2
    assert [d["id"] for d in listing["records"]] == [second["id"], first["id"]]
    assert client.get("/v4/downloads", headers=bob).json() == {"num_found": 0, "records": []}
    assert client.get(f"/v4/downloads/{first['id']}", headers=bob).status_code == 404
    assert client.delete(f"/v4/downloads/{first['id']}", headers=bob).status_code == 404
    assert client.get("/v4/downloads/999999", headers=alice).status_code == 404
    assert client.get("/v4/downloads/not-a-number", headers=alice).status_code == 404


def test_cancel_a_queued_download_then_again_is_409(client: TestClient, services: Services) -> None:
    headers = account(services, "a@example.com")
    created = start(client, headers, query="*")
    response = client.delete(f"/v4/downloads/{created['id']}", headers=headers)
    assert response.status_code == 200
    assert set(response.json()) == {"message"}
    assert run_jobs(services) == 0  # the job was withdrawn
    body = client.get(f"/v4/downloads/{created['id']}", headers=headers).json()
    assert body["status"] == "cancelled"
    assert body["results"] == []
    again = client.delete(f"/v4/downloads/{created['id']}", headers=headers)
    assert again.status_code == 409
    assert "already cancelled" in again.json()["message"]


def cancel_after_two_files(
    services: Services, monkeypatch: pytest.MonkeyPatch, headers: dict[str, str], download_id: int
) -> None:
    """Makes the export runner cancel the download right after its second file commits, so the
    cancel lands while the third is being written."""
    owner = services.accounts.authenticate(headers["Authorization"].split()[1])
    from dlserve.downloads.part import PartExport

    original_commit = PartExport._commit
    commits = {"n": 0}

    def commit_then_cancel(self: PartExport, *args: Any) -> bool:
        result = original_commit(self, *args)
        commits["n"] += 1
        if commits["n"] == 2:
            services.downloads.cancel(owner, download_id)
        return result

    monkeypatch.setattr(PartExport, "_commit", commit_then_cancel)


def test_cancel_mid_export_keeps_whole_files_and_charges_them(
    client: TestClient, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = account(services, "a@example.com")
    created = start(client, headers, query="*", format="csv")
    cancel_after_two_files(services, monkeypatch, headers, int(str(created["id"])))
    run_jobs(services)
    body = client.get(f"/v4/downloads/{created['id']}", headers=headers).json()
    assert body["status"] == "cancelled"
    assert [r["records"] for r in body["results"]] == [5, 5]
    assert body["num_downloaded"] == 10
    for result in body["results"]:
        assert len(list(csv.DictReader(io.StringIO(fetch(client, result["url"]).decode())))) == 5
    assert client.get("/v4/account", headers=headers).json()["available_credits"] == 1000 - 10
    leftovers = [p for p in (services.settings.data_dir / "tmp").glob("*") if p.is_file()]
    assert leftovers == []


def test_a_crashed_worker_is_resumed_exactly_once(
    client: TestClient, services: Services, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = account(services, "a@example.com")
    created = start(client, headers, query="*")
    from dlserve.downloads import writers

    original_finish = writers.PartWriter.finish
    calls = {"n": 0}

    def crash_on_third(self: writers.PartWriter) -> writers.FinishedPart:
        calls["n"] += 1
        if calls["n"] == 3:
            raise SystemExit("worker killed")  # like SIGKILL: nothing after this line runs
        return original_finish(self)

    monkeypatch.setattr(writers.PartWriter, "finish", crash_on_third)
    with pytest.raises(SystemExit):
        run_jobs(services, "doomed")
    # Part 3 is still leased to the dead worker; the other parts are free to anyone.
    assert run_jobs(services, "rescuer") == 2
    assert client.get(f"/v4/downloads/{created['id']}", headers=headers).json()["status"] == "in_progress"
    clock.advance(seconds=services.settings.job_lease_seconds + 1)
    assert run_jobs(services, "rescuer") == 1  # part 3, once its lease expired
    body = client.get(f"/v4/downloads/{created['id']}", headers=headers).json()
    assert body["status"] == "completed"
    ids = [
        json.loads(line)["id"]
        for r in body["results"]
        for line in fetch(client, r["url"]).decode().splitlines()
    ]
    assert ids == [r["id"] for r in RECORDS]
    with services.db.read() as conn:
        charged = conn.execute(
            sa.select(sa.func.sum(credit_ledger.c.delta)).where(
                credit_ledger.c.download_id == int(str(created["id"]))
            )
        ).scalar_one()
    assert charged == -23


@pytest.mark.local_storage
def test_links_are_signed_expire_and_serve_ranges(
    client: TestClient, services: Services, clock: FrozenClock
) -> None:
    headers = account(services, "a@example.com")
    created = start(client, headers, query="*", num_records=3)
    run_jobs(services)
    result = client.get(f"/v4/downloads/{created['id']}", headers=headers).json()["results"][0]
    parts = urlsplit(result["url"])
    assert result["url"].startswith("http://testserver/v4/files/")
    whole = client.get(f"{parts.path}?{parts.query}")
    assert whole.headers["content-type"].startswith("text/plain")
    assert whole.headers["content-disposition"] == f'attachment; filename="{result["name"]}"'
    ranged = client.get(f"{parts.path}?{parts.query}", headers={"Range": "bytes=0-9"})
    assert ranged.status_code == 206
    assert ranged.content == whole.content[:10]
    tampered = parts.query.replace("signature=", "signature=0")[:-1]
    assert client.get(f"{parts.path}?{tampered}").status_code == 403
    other = parts.path.replace("_1.txt", "_2.txt")
    assert client.get(f"{other}?{parts.query}").status_code == 403
    clock.advance(days=7, seconds=2)
    assert client.get(f"{parts.path}?{parts.query}").status_code == 410
    assert services.janitor.expire_files() == 1
    body = client.get(f"/v4/downloads/{created['id']}", headers=headers).json()
    assert body["results"] == []


def test_parts_of_one_download_run_on_several_workers_at_once(client: TestClient, services: Services) -> None:
    headers = account(services, "a@example.com")
    created = start(client, headers, query="*", format="csv")
    plan = services.queue.claim("planner", EXPORT_KINDS)
    assert plan is not None
    services.runner.run(plan, "planner", threading.Event())
    first = services.queue.claim("w1", EXPORT_KINDS)
    second = services.queue.claim("w2", EXPORT_KINDS)
    assert first is not None
    assert second is not None
    assert first.checkpoint is not None
    assert second.checkpoint is not None
    assert {first.checkpoint["part_no"], second.checkpoint["part_no"]} == {1, 2}
    threads = [
        threading.Thread(target=services.runner.run, args=(job, name, threading.Event()))
        for job, name in ((second, "w2"), (first, "w1"))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    middle = client.get(f"/v4/downloads/{created['id']}", headers=headers).json()
    assert middle["status"] == "in_progress"
    assert [r["name"] for r in middle["results"]] == [f"{created['id']}_1.csv", f"{created['id']}_2.csv"]
    assert run_jobs(services, "w3") == 3
    body = client.get(f"/v4/downloads/{created['id']}", headers=headers).json()
    assert body["status"] == "completed"
    rows = [
        row["id"]
        for r in body["results"]
        for row in csv.DictReader(io.StringIO(fetch(client, r["url"]).decode()))
    ]
    assert rows == [r["id"] for r in RECORDS]


def test_progress_counts_parts_being_written(client: TestClient, services: Services) -> None:
    headers = account(services, "a@example.com")
    created = start(client, headers, query="*")
    plan = services.queue.claim("planner", EXPORT_KINDS)
    assert plan is not None
    services.runner.run(plan, "planner", threading.Event())
    part = services.queue.claim("w1", EXPORT_KINDS)
    assert part is not None
    with services.db.write() as conn:  # what a running part reports every second
        services.queue.save_checkpoint_in(conn, part, "w1", {**(part.checkpoint or {}), "written": 3})
    body = client.get(f"/v4/downloads/{created['id']}", headers=headers).json()
    assert body["status"] == "in_progress"
    assert body["num_downloaded"] == 3
    assert body["progress"]["done"] == 3
    assert body["progress"]["total"] == 23
