"""Scheduled downloads over HTTP and the tick on SQLite and PostgreSQL: the endpoints, ownership,
validation envelopes, ``latest``'s redirect, and "never twice" with tickers racing each other."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from dlserve.clock import FrozenClock
from dlserve.container import Services, build_services
from dlserve.db.tables import downloads, schedule_runs
from dlserve.downloads.services import EXPORT_KINDS
from dlserve.schedules.models import RunStatus
from dlserve.schedules.services import NewSchedule
from tests.integration.conftest import BUSINESSES, loaded_services, make_settings

# media_allow_private: webhook URLs on loopback pass the SSRF guard (no delivery runs here).
SETTINGS: dict[str, Any] = {
    "media_allow_private": True,
    "schedule_min_period_seconds": 60,
    "max_schedules": 3,
    "max_active_downloads": 1000,
}


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def services(database_url: str, tmp_path: Path, clock: FrozenClock) -> Iterator[Services]:
    with loaded_services(tmp_path, database_url, BUSINESSES, clock, **SETTINGS) as built:
        yield built


def bearer(services: Services, email: str, credits: int = 1000) -> dict[str, str]:
    return {"Authorization": f"Bearer {services.accounts.create_account(email, credits=credits).token}"}


def assert_envelope(response: httpx.Response, status: int, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"error", "message", "code", "details"}
    assert body["code"] == status
    if field is not None:
        assert [d["field"] for d in body["details"]] == [field], body
    return body


def run_exports(services: Services) -> None:
    while (job := services.queue.claim("test-worker", EXPORT_KINDS)) is not None:
        services.runner.run(job, "test-worker", threading.Event())


HOTELS = {"data_type": "businesses", "query": "categories:Hotels", "every": "1h", "format": "csv"}


def test_create_list_show_and_delete(client: TestClient, services: Services, clock: FrozenClock) -> None:
    auth = bearer(services, "owner@example.com")
    created = client.post("/v4/schedules", json={**HOTELS, "view": None, "delta": True}, headers=auth)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body == {
        "id": body["id"],
        "data_type": "businesses",
        "query": "categories:Hotels",
        "format": "CSV",
        "view": None,
        "every": "1h",
        "delta": True,
        "webhook_url": None,
        "next_run_at": "2024-12-25T10:00:00Z",
        "created_at": "2024-12-25T10:00:00Z",
        "num_runs": 0,
        "runs": [],
    }
    listed = client.get("/v4/schedules", headers=auth).json()
    assert listed["num_found"] == 1
    assert [s["id"] for s in listed["records"]] == [body["id"]]
    assert "runs" not in listed["records"][0]

    services.ticker.tick()
    shown = client.get(f"/v4/schedules/{body['id']}", headers=auth).json()
    assert shown["next_run_at"] == "2024-12-25T11:00:00Z"
    assert shown["num_runs"] == 1
    (run,) = shown["runs"]
    assert (run["due_at"], run["status"], run["download_status"]) == (
        "2024-12-25T10:00:00Z",
        "started",
        "queued",
    )
    download = client.get(f"/v4/downloads/{run['download_id']}", headers=auth).json()
    assert (download["query"], download["format"], download["num_records"]) == ("categories:Hotels", "CSV", 3)

    deleted = client.delete(f"/v4/schedules/{body['id']}", headers=auth)
    assert deleted.status_code == 200
    assert "was deleted" in deleted.json()["message"]
    assert_envelope(client.get(f"/v4/schedules/{body['id']}", headers=auth), 404)
    assert_envelope(client.delete(f"/v4/schedules/{body['id']}", headers=auth), 404)
    assert client.get("/v4/schedules", headers=auth).json() == {"num_found": 0, "records": []}
    clock.advance(hours=2)
    assert services.ticker.tick().claimed == []
    # The download the schedule made is the account's, and stays.
    assert client.get(f"/v4/downloads/{run['download_id']}", headers=auth).status_code == 200


def test_latest_redirects_to_the_newest_completed_run(
    client: TestClient, services: Services, clock: FrozenClock
) -> None:
    auth = bearer(services, "latest@example.com")
    schedule_id = client.post("/v4/schedules", json=HOTELS, headers=auth).json()["id"]
    assert (
        "no completed download"
        in assert_envelope(
            client.get(f"/v4/schedules/{schedule_id}/latest", headers=auth, follow_redirects=False), 404
        )["message"]
    )

    services.ticker.tick()
    run_exports(services)
    clock.advance(hours=1)
    services.ticker.tick()  # the second run's download is still queued
    runs = client.get(f"/v4/schedules/{schedule_id}", headers=auth).json()["runs"]
    newest, first = (run["download_id"] for run in runs)
    latest = client.get(f"/v4/schedules/{schedule_id}/latest", headers=auth, follow_redirects=False)
    assert latest.status_code == 303
    assert latest.headers["location"] == f"/v4/downloads/{first}"

    run_exports(services)
    latest = client.get(f"/v4/schedules/{schedule_id}/latest", headers=auth, follow_redirects=False)
    assert latest.headers["location"] == f"/v4/downloads/{newest}"
    followed = client.get(f"/v4/schedules/{schedule_id}/latest", headers=auth)
    assert (followed.json()["id"], followed.json()["status"]) == (newest, "completed")


def test_another_accounts_schedule_is_a_404(client: TestClient, services: Services) -> None:
    owner, stranger = bearer(services, "a@example.com"), bearer(services, "b@example.com")
    schedule_id = client.post("/v4/schedules", json=HOTELS, headers=owner).json()["id"]
    for method, path in (
        ("GET", f"/v4/schedules/{schedule_id}"),
        ("DELETE", f"/v4/schedules/{schedule_id}"),
        ("GET", f"/v4/schedules/{schedule_id}/latest"),
        ("GET", "/v4/schedules/not-a-number"),
        ("GET", "/v4/schedules/99999999999999999999999"),
    ):
        assert_envelope(client.request(method, path, headers=stranger), 404)
    assert client.get("/v4/schedules", headers=stranger).json()["num_found"] == 0
    assert_envelope(client.get("/v4/schedules"), 401)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"every": "1x"}, "every"),
        ({"every": "30s"}, "every"),  # below the minimum (60 s here)
        ({"every": "*/30 * * * * *"}, "every"),  # six fields: seconds are not cron here
        ({"data_type": "spaceships"}, "data_type"),
        ({"query": "name:(unclosed"}, "query"),
        ({"view": "no_such_view"}, "view"),
        ({"format": "xml"}, "format"),
        ({"webhook_url": "ftp://example.com/hook"}, "webhook_url"),
        ({"webhook_url": "http://[::1"}, "webhook_url"),
    ],
)
def test_invalid_schedules_are_400_envelopes_naming_the_field(
    client: TestClient, services: Services, change: dict[str, str], field: str
) -> None:
    auth = bearer(services, "invalid@example.com")
    response = client.post("/v4/schedules", json={**HOTELS, **change}, headers=auth)
    body = assert_envelope(response, 400)
    assert field in {d["field"] for d in body["details"]}, body


def test_missing_fields_and_the_account_limit(client: TestClient, services: Services) -> None:
    auth = bearer(services, "limit@example.com")
    assert_envelope(client.post("/v4/schedules", json={"data_type": "businesses"}, headers=auth), 400)
    for _ in range(3):
        assert client.post("/v4/schedules", json=HOTELS, headers=auth).status_code == 201
    refused = assert_envelope(client.post("/v4/schedules", json=HOTELS, headers=auth), 409)
    assert "the limit is 3" in refused["message"]


def test_a_short_balance_records_the_402_message_on_the_run(
    client: TestClient, services: Services, clock: FrozenClock
) -> None:
    auth = bearer(services, "poor@example.com", credits=1)  # the query matches 3 records
    schedule_id = client.post("/v4/schedules", json=HOTELS, headers=auth).json()["id"]
    services.ticker.tick()
    (run,) = client.get(f"/v4/schedules/{schedule_id}", headers=auth).json()["runs"]
    assert (run["status"], run["download_id"]) == ("failed", None)
    assert run["reason"].startswith("Insufficient credits for this download")
    clock.advance(hours=1)
    services.ticker.tick()
    assert client.get(f"/v4/schedules/{schedule_id}", headers=auth).json()["num_runs"] == 2


# -- never twice: tickers in separate "processes" (own engines and pools) racing -----------------------


@pytest.fixture
def second(services: Services, database_url: str, tmp_path: Path, clock: FrozenClock) -> Iterator[Services]:
    """Another process's services on the same database and data directory (the same clock)."""
    other = build_services(make_settings(tmp_path, database_url, **SETTINGS), clock)
    yield other
    other.close()


def race(*actions: Callable[[], object]) -> list[object]:
    """Run the actions at the same moment, each in its own thread; their results in order."""
    barrier = threading.Barrier(len(actions))
    results: list[object] = [None] * len(actions)
    errors: list[BaseException] = []

    def go(index: int, action: Callable[[], object]) -> None:
        barrier.wait()
        try:
            results[index] = action()
        except BaseException as error:  # re-raised below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=go, args=(i, a)) for i, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    return results


def test_racing_ticks_run_every_period_exactly_once(
    services: Services, second: Services, clock: FrozenClock
) -> None:
    owner = services.accounts.create_account("race@example.com", credits=10**6)
    account = services.accounts.get_account(owner.id)
    created = [
        services.schedules.create(account, NewSchedule("businesses", "*", every="1h"))
        for _ in range(3)  # the limit here
    ]
    periods = 4
    for _ in range(periods):
        race(services.ticker.tick, second.ticker.tick, services.ticker.tick, second.ticker.tick)
        clock.advance(hours=1)

    with services.db.read() as conn:
        runs = conn.execute(sa.select(schedule_runs)).mappings().all()
        made = conn.execute(sa.select(sa.func.count()).select_from(downloads)).scalar_one()
    assert len(runs) == len(created) * periods
    assert len({(r["schedule_id"], r["due_at"]) for r in runs}) == len(runs)
    assert {r["status"] for r in runs} == {RunStatus.STARTED.value}
    assert len({r["download_id"] for r in runs}) == len(runs) == made


def test_a_run_two_processes_start_at_once_makes_one_download(services: Services, second: Services) -> None:
    owner = services.accounts.create_account("start@example.com", credits=10**6)
    account = services.accounts.get_account(owner.id)
    services.schedules.create(account, NewSchedule("businesses", "*", every="1h"))
    (run_id,) = services.ticker.claim_due()

    outcomes = race(lambda: services.ticker.start(run_id), lambda: second.ticker.start(run_id))

    assert sorted(map(str, outcomes)) == ["None", RunStatus.STARTED.value]
    with services.db.read() as conn:
        made = conn.execute(sa.select(sa.func.count()).select_from(downloads)).scalar_one()
        held = services.accounts.credits(owner.id)
    assert made == 1
    assert held == (10**6 - len(BUSINESSES), len(BUSINESSES))  # one hold, the loser's rolled back


def test_the_unique_period_refuses_a_second_run_row(services: Services) -> None:
    owner = services.accounts.create_account("unique@example.com", credits=10)
    schedule = services.schedules.create(
        services.accounts.get_account(owner.id), NewSchedule("businesses", "*")
    )
    row = {"schedule_id": schedule.id, "due_at": schedule.next_run_at, "status": "pending"}
    now = services.clock.now()
    with services.db.write() as conn:
        conn.execute(schedule_runs.insert().values(**row, created_at=now, updated_at=now))
    with pytest.raises(sa.exc.IntegrityError), services.db.write() as conn:
        conn.execute(schedule_runs.insert().values(**row, created_at=now, updated_at=now))


def test_each_run_passes_the_webhook_url_and_a_delta_schedule_its_base(
    client: TestClient, services: Services, clock: FrozenClock
) -> None:
    auth = bearer(services, "hooks@example.com")
    hook = "http://127.0.0.1:9/hook"
    body = {**HOTELS, "delta": True, "webhook_url": hook}
    schedule_id = client.post("/v4/schedules", json=body, headers=auth).json()["id"]
    services.ticker.tick()
    run_exports(services)
    clock.advance(hours=1)
    services.ticker.tick()

    newest, first = client.get(f"/v4/schedules/{schedule_id}", headers=auth).json()["runs"]
    full = client.get(f"/v4/downloads/{first['download_id']}", headers=auth).json()
    delta = client.get(f"/v4/downloads/{newest['download_id']}", headers=auth).json()
    assert (full["webhook_url"], full["since"], full["num_records"]) == (hook, None, 3)
    assert (delta["webhook_url"], delta["since"], delta["num_records"]) == (hook, first["download_id"], 0)
    assert (delta["num_added"], delta["num_changed"], delta["num_deleted"]) == (0, 0, 0)


def test_a_webhook_url_the_guard_refuses_is_refused_with_the_schedule(
    client: TestClient, services: Services
) -> None:
    auth = bearer(services, "guard@example.com")
    body = {**HOTELS, "webhook_url": "http://user:pw@127.0.0.1/hook"}
    refused = assert_envelope(client.post("/v4/schedules", json=body, headers=auth), 400, "webhook_url")
    assert "credentials" in refused["message"]
