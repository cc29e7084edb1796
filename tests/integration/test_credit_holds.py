"""Issue 12, finding 1: downloads reserve their credits when queued, so no interleaving overdraws.

Reproduces the review's attack (100 credits, many concurrent 100-record downloads: 5 were accepted
and the balance ended at -400) over HTTP, on v4 and v3, on SQLite and PostgreSQL, then runs the
exports to the end and checks the ledger.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from dlserve.api.app import create_app
from dlserve.clock import FrozenClock
from dlserve.container import Services
from dlserve.db.tables import credit_holds, credit_ledger
from dlserve.downloads.runner import EXPORT_KINDS
from tests.integration.conftest import loaded_services

RECORDS = [{"id": f"r{i:03d}", "name": f"Shop {i}", "city": "Austin"} for i in range(100)]
CREDITS = 100
PARALLEL = 12


@pytest.fixture
def services(database_url: str, tmp_path: Path) -> Iterator[Services]:
    with loaded_services(
        tmp_path,
        database_url,
        RECORDS,
        FrozenClock(),
        records_per_file=30,
        max_active_downloads=50,
        # The race is about credits: let every parallel request reach them (admission is tested
        # in test_query_limits.py).
        query_concurrency_per_account=4 * PARALLEL,
        query_threads=PARALLEL,
    ) as built:
        yield built


def run_jobs(services: Services) -> int:
    ran = 0
    while (job := services.queue.claim("test-worker", EXPORT_KINDS)) is not None:
        services.runner.run(job, "test-worker", threading.Event())
        ran += 1
    return ran


def all_at_once(count: int, call: Callable[[], int]) -> list[int]:
    """``count`` threads make ``call`` at the same moment; their status codes."""
    barrier = threading.Barrier(count)
    statuses: list[int] = []
    lock = threading.Lock()

    def one() -> None:
        barrier.wait()
        status = call()
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(statuses)


def ledger_for(services: Services, account_id: int) -> tuple[int, int, int]:
    """(balance, credits charged for downloads, credits still held)."""
    with services.db.read() as conn:
        balance = conn.execute(
            sa.select(sa.func.coalesce(sa.func.sum(credit_ledger.c.delta), 0)).where(
                credit_ledger.c.account_id == account_id
            )
        ).scalar_one()
        charged = conn.execute(
            sa.select(sa.func.coalesce(sa.func.sum(-credit_ledger.c.delta), 0)).where(
                credit_ledger.c.account_id == account_id, credit_ledger.c.reason == "download"
            )
        ).scalar_one()
        held = conn.execute(
            sa.select(sa.func.coalesce(sa.func.sum(credit_holds.c.amount), 0)).where(
                credit_holds.c.account_id == account_id
            )
        ).scalar_one()
    return int(balance), int(charged), int(held)


def test_concurrent_v4_downloads_never_overdraw(services: Services) -> None:
    created = services.accounts.create_account("attacker@example.com", credits=CREDITS)
    headers = {"Authorization": f"Bearer {created.token}"}
    app = create_app(services.settings, services)

    def create() -> int:
        with TestClient(app) as client:
            response = client.post(
                "/v4/businesses/search", json={"query": "*", "download": True}, headers=headers
            )
        if response.status_code == 402:
            assert response.json()["code"] == 402
        return int(response.status_code)

    statuses = all_at_once(PARALLEL, create)
    assert statuses == [202] + [402] * (PARALLEL - 1)
    with TestClient(app) as client:
        account = client.get("/v4/account", headers=headers).json()
        assert (account["available_credits"], account["held_credits"]) == (0, CREDITS)
        # Nothing else can spend the held credits meanwhile: a preview is refused too.
        preview = client.post("/v4/businesses/search", json={"query": "*", "num_records": 1}, headers=headers)
        assert preview.status_code == 402
        run_jobs(services)
        assert ledger_for(services, created.id) == (0, CREDITS, 0)
        listing = client.get("/v4/downloads", headers=headers).json()
        assert [d["status"] for d in listing["records"]] == ["completed"]
        assert listing["records"][0]["num_downloaded"] == CREDITS
        account = client.get("/v4/account", headers=headers).json()
        assert (account["available_credits"], account["held_credits"]) == (0, 0)


def test_eight_concurrent_downloads_against_100_credits_end_at_zero(services: Services) -> None:
    """The review's exact figures: 8 concurrent 100-record downloads, 100 credits (final balance 0)."""
    created = services.accounts.create_account("eight@example.com", credits=CREDITS)
    headers = {"Authorization": f"Bearer {created.token}"}
    app = create_app(services.settings, services)

    def create() -> int:
        with TestClient(app) as client:
            body = {"query": "*", "download": True, "num_records": 100}
            return int(client.post("/v4/businesses/search", json=body, headers=headers).status_code)

    assert all_at_once(8, create) == [202] + [402] * 7
    run_jobs(services)
    balance, charged, held = ledger_for(services, created.id)
    assert (balance, charged, held) == (0, 100, 0)


def test_concurrent_v3_downloads_never_overdraw(services: Services) -> None:
    created = services.accounts.create_account("v3@example.com", credits=CREDITS)
    basic = base64.b64encode(f"{created.token}:".encode()).decode()
    headers = {"Authorization": f"Basic {basic}"}
    app = create_app(services.settings, services)

    def create() -> int:
        with TestClient(app) as client:
            response = client.get(
                "/v3/data/businesses",
                params={"q": "*", "download": "true"},
                headers=headers,
                follow_redirects=False,
            )
        if response.status_code == 402:
            assert set(response.json()) == {"error", "message", "code"}
        return int(response.status_code)

    assert all_at_once(PARALLEL, create) == [303] + [402] * (PARALLEL - 1)
    run_jobs(services)
    assert ledger_for(services, created.id) == (0, CREDITS, 0)


def test_previews_racing_a_download_never_overdraw(services: Services) -> None:
    """Holds and charges share one account lock: previews and a download racing for 100 credits."""
    created = services.accounts.create_account("mixed@example.com", credits=CREDITS)
    headers = {"Authorization": f"Bearer {created.token}"}
    app = create_app(services.settings, services)
    turn = iter(range(PARALLEL))
    turn_lock = threading.Lock()

    def create_or_preview() -> int:
        with turn_lock:
            mine = next(turn)
        body: dict[str, object] = (
            {"query": "*", "download": True, "num_records": 60}
            if mine % 2
            else {"query": "*", "num_records": 30}
        )
        with TestClient(app) as client:
            return int(client.post("/v4/businesses/search", json=body, headers=headers).status_code)

    statuses = all_at_once(PARALLEL, create_or_preview)
    assert set(statuses) <= {200, 202, 402}
    run_jobs(services)
    balance, _charged, held = ledger_for(services, created.id)
    assert balance >= 0
    assert held == 0


def test_cancel_releases_what_was_not_delivered(services: Services) -> None:
    created = services.accounts.create_account("cancel@example.com", credits=CREDITS)
    account = services.accounts.authenticate(created.token)
    from dlserve.catalog.services import prepare

    download = services.downloads.create(account, prepare("businesses", "*", None, "json"), 100)
    assert (services.accounts.available(created.id), services.accounts.held(created.id)) == (0, 100)
    plan = services.queue.claim("w", EXPORT_KINDS)
    assert plan is not None
    services.runner.run(plan, "w", threading.Event())
    part = services.queue.claim("w", EXPORT_KINDS)
    assert part is not None
    services.runner.run(part, "w", threading.Event())  # one file of 30 records committed
    assert ledger_for(services, created.id) == (70, 30, 70)
    assert services.accounts.available(created.id) == 0
    services.downloads.cancel(account, download.id)
    assert ledger_for(services, created.id) == (70, 30, 0)
    assert services.accounts.available(created.id) == 70
    assert run_jobs(services) == 0


def test_a_failed_download_releases_its_hold(services: Services) -> None:
    created = services.accounts.create_account("fail@example.com", credits=CREDITS)
    account = services.accounts.authenticate(created.token)
    from dlserve.catalog.services import prepare

    download = services.downloads.create(account, prepare("businesses", "*", None, "json"), 50)
    assert services.accounts.available(created.id) == 50
    services.janitor.fail_download(download.id, "export failed: test")
    assert services.accounts.available(created.id) == CREDITS
    assert ledger_for(services, created.id) == (CREDITS, 0, 0)


def test_account_shows_holds_over_http_while_an_export_runs(services: Services) -> None:
    created = services.accounts.create_account("show@example.com", credits=250)
    headers = {"Authorization": f"Bearer {created.token}"}
    with TestClient(create_app(services.settings, services)) as client:
        client.post("/v4/businesses/search", json={"query": "*", "download": True}, headers=headers)
        assert client.get("/v4/account", headers=headers).json()["available_credits"] == 150
        assert client.get("/v4/account", headers=headers).json()["held_credits"] == 100
        second = client.post("/v4/businesses/search", json={"query": "*", "download": True}, headers=headers)
        assert second.status_code == 202
        third = client.post("/v4/businesses/search", json={"query": "*", "download": True}, headers=headers)
        assert third.status_code == 402
        message = third.json()["details"][0]["message"]
        assert message == "this download needs 100 credits, the balance is 50 (200 held by active downloads)"
        run_jobs(services)
        body = client.get("/v4/account", headers=headers).json()
        assert (body["available_credits"], body["held_credits"]) == (50, 0)


def test_available_credits_stay_put_while_files_are_charged(services: Services) -> None:
    """Each file's charge and the shrinking of its hold land together: a reader polling the account
    during the export always sees the same available balance, and held + available = balance."""
    created = services.accounts.create_account("steady@example.com", credits=CREDITS)
    account = services.accounts.authenticate(created.token)
    from dlserve.catalog.services import prepare

    services.downloads.create(account, prepare("businesses", "*", None, "json"), 100)
    exporting = threading.Thread(target=run_jobs, args=(services,))
    exporting.start()
    seen: set[tuple[int, int]] = set()
    while exporting.is_alive():
        seen.add(services.accounts.credits(created.id))
    exporting.join()
    seen.add(services.accounts.credits(created.id))
    assert {available for available, _held in seen} == {0}
    assert (0, 0) in seen
    assert services.accounts.balance(created.id) == 0
