"""The polling hot paths on a real app and database (SQLite and PostgreSQL): ETags and 304s, long
polls, the token cache, one statement per request, health from the background checker.

Nothing here sleeps: long polls are started in a thread and the test waits (with a deadline) until
the server holds them (``DownloadChanges.wait_for_waiters``) before changing the download.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from dlserve.accounts.services import AccountService
from dlserve.accounts.token_cache import TokenCache
from dlserve.api.app import create_app
from dlserve.container import Services
from dlserve.db.tables import downloads, jobs
from dlserve.downloads.runner import EXPORT_KINDS
from tests.integration.conftest import BUSINESSES, loaded_services

DEADLINE = 20.0  # seconds a test waits for something that should take milliseconds


@contextmanager
def statements(services: Services) -> Iterator[list[str]]:
    """Every SQL statement requests send inside the block (BEGIN and COMMIT included; not the
    background health checker's)."""
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if threading.current_thread().name != "dlserve-health":
            sent.append(statement)

    sa.event.listen(services.db.engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        sa.event.remove(services.db.engine, "before_cursor_execute", record)


def start_download(client: TestClient, auth: dict[str, str]) -> str:
    response = client.post("/v4/businesses/search", json={"query": "*", "download": True}, headers=auth)
    assert response.status_code == 202
    return str(response.json()["id"])


def report_progress(services: Services, written: int) -> None:
    """What a worker's running part does every second: a checkpoint with the records written."""
    plan = services.queue.claim("planner", EXPORT_KINDS)
    if plan is not None:
        services.runner.run(plan, "planner", threading.Event())
    part = services.queue.claim("w1", EXPORT_KINDS)
    assert part is not None
    with services.db.write() as conn:
        assert services.queue.save_checkpoint_in(
            conn, part, "w1", {**(part.checkpoint or {}), "written": written}
        )


class Background:
    """A request sent from another thread; ``result`` waits for its answer."""

    def __init__(self, client: TestClient, url: str, headers: dict[str, str]) -> None:
        self.response: httpx.Response | None = None
        self.started = time.monotonic()
        self._thread = threading.Thread(target=self._send, args=(client, url, headers))
        self._thread.start()

    def _send(self, client: TestClient, url: str, headers: dict[str, str]) -> None:
        self.response = client.get(url, headers=headers)

    def result(self) -> tuple[httpx.Response, float]:
        self._thread.join(DEADLINE)
        assert self.response is not None, "the long poll did not answer"
        return self.response, time.monotonic() - self.started


# -- ETag and 304 ---------------------------------------------------------------------------------


def test_etag_and_304_and_the_etag_follows_state_and_progress(
    client: TestClient, services: Services, auth: dict[str, str]
) -> None:
    download_id = start_download(client, auth)
    first = client.get(f"/v4/downloads/{download_id}", headers=auth)
    etag = first.headers["etag"]
    assert etag.startswith('W/"')
    unchanged = client.get(f"/v4/downloads/{download_id}", headers={**auth, "If-None-Match": etag})
    assert unchanged.status_code == 304
    assert unchanged.content == b""
    assert unchanged.headers["etag"] == etag
    # A list of tags, and the strong spelling of the same tag, match too (weak comparison).
    listed = {**auth, "If-None-Match": f'"other", {etag.removeprefix("W/")}'}
    assert client.get(f"/v4/downloads/{download_id}", headers=listed).status_code == 304

    report_progress(services, written=2)  # progress of a part still being written
    moved = client.get(f"/v4/downloads/{download_id}", headers={**auth, "If-None-Match": etag})
    assert moved.status_code == 200
    assert moved.json()["num_downloaded"] == 2
    assert moved.headers["etag"] != etag

    client.delete(f"/v4/downloads/{download_id}", headers=auth)  # the status changes
    cancelled = client.get(
        f"/v4/downloads/{download_id}", headers={**auth, "If-None-Match": moved.headers["etag"]}
    )
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.headers["etag"] not in (etag, moved.headers["etag"])


def test_a_stale_or_foreign_etag_still_gets_the_body_and_404_stays_404(
    client: TestClient, auth: dict[str, str]
) -> None:
    download_id = start_download(client, auth)
    stale = client.get(f"/v4/downloads/{download_id}", headers={**auth, "If-None-Match": 'W/"nope"'})
    assert stale.status_code == 200
    assert stale.json()["id"] == download_id
    missing = client.get("/v4/downloads/999", headers={**auth, "If-None-Match": "*"})
    assert missing.status_code == 404


# -- long polling ---------------------------------------------------------------------------------


def test_a_long_poll_returns_as_soon_as_this_process_changes_the_download(
    client: TestClient, services: Services, auth: dict[str, str]
) -> None:
    download_id = start_download(client, auth)
    etag = client.get(f"/v4/downloads/{download_id}", headers=auth).headers["etag"]
    poll = Background(client, f"/v4/downloads/{download_id}?wait=60", {**auth, "If-None-Match": etag})
    assert services.changes.wait_for_waiters(int(download_id), 1, DEADLINE)
    account = services.authenticate(auth["Authorization"].split()[1])
    services.downloads.cancel(account, int(download_id))  # notifies this process's waiters
    response, elapsed = poll.result()
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert elapsed < DEADLINE < 60
    assert services.changes.waiting(int(download_id)) == 0


def test_a_long_poll_sees_a_change_made_by_another_process(tmp_path: Path, database_url: str) -> None:
    """No notification reaches this process: the periodic re-read of the database finds it."""
    with loaded_services(tmp_path, database_url, BUSINESSES, long_poll_recheck_seconds=0.05) as services:
        token = services.accounts.create_account("a@example.com", credits=100).token
        auth = {"Authorization": f"Bearer {token}"}
        with TestClient(create_app(services.settings, services)) as client:
            download_id = start_download(client, auth)
            etag = client.get(f"/v4/downloads/{download_id}", headers=auth).headers["etag"]
            poll = Background(client, f"/v4/downloads/{download_id}?wait=60", {**auth, "If-None-Match": etag})
            assert services.changes.wait_for_waiters(int(download_id), 1, DEADLINE)
            with services.db.write() as conn:  # as another process's worker would
                conn.execute(
                    downloads.update().where(downloads.c.id == int(download_id)).values(status="in_progress")
                )
            response, elapsed = poll.result()
    assert response.status_code == 200
    assert response.json()["status"] == "in_progress"
    assert elapsed < DEADLINE


def test_a_long_poll_ends_at_its_deadline_with_304_or_the_current_state(
    client: TestClient, auth: dict[str, str]
) -> None:
    download_id = start_download(client, auth)
    etag = client.get(f"/v4/downloads/{download_id}", headers=auth).headers["etag"]
    started = time.monotonic()
    held = client.get(f"/v4/downloads/{download_id}?wait=0.3", headers={**auth, "If-None-Match": etag})
    assert held.status_code == 304
    assert time.monotonic() - started >= 0.3
    # Without If-None-Match the wait is for a change from the state at arrival; none came.
    plain = client.get(f"/v4/downloads/{download_id}?wait=0.2", headers=auth)
    assert plain.status_code == 200
    assert plain.headers["etag"] == etag


def test_a_long_poll_on_an_already_changed_state_answers_at_once(
    client: TestClient, services: Services, auth: dict[str, str]
) -> None:
    download_id = start_download(client, auth)
    etag = client.get(f"/v4/downloads/{download_id}", headers=auth).headers["etag"]
    client.delete(f"/v4/downloads/{download_id}", headers=auth)
    response = client.get(f"/v4/downloads/{download_id}?wait=60", headers={**auth, "If-None-Match": etag})
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert services.changes.waiting(int(download_id)) == 0


def test_the_wait_is_bounded_by_the_setting_and_checked(tmp_path: Path, database_url: str) -> None:
    with loaded_services(tmp_path, database_url, BUSINESSES, long_poll_max_seconds=0.2) as services:
        token = services.accounts.create_account("a@example.com", credits=100).token
        auth = {"Authorization": f"Bearer {token}"}
        with TestClient(create_app(services.settings, services)) as client:
            download_id = start_download(client, auth)
            etag = client.get(f"/v4/downloads/{download_id}", headers=auth).headers["etag"]
            started = time.monotonic()
            response = client.get(
                f"/v4/downloads/{download_id}?wait=3600", headers={**auth, "If-None-Match": etag}
            )
            assert response.status_code == 304
            assert time.monotonic() - started < DEADLINE
            for bad in ("-1", "soon"):
                refused = client.get(f"/v4/downloads/{download_id}?wait={bad}", headers=auth)
                assert refused.status_code == 400
                assert refused.json()["details"][0]["field"] == "wait"


# -- the token cache ------------------------------------------------------------------------------


def test_revoking_here_takes_effect_at_once(client: TestClient, services: Services, token: str) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get("/v4/account", headers=auth).status_code == 200  # now cached
    assert len(services.token_cache) == 1
    assert services.revoke_token(token) is True
    assert client.get("/v4/account", headers=auth).status_code == 401
    basic = {"Authorization": "Basic " + base64.b64encode(f"{token}:".encode()).decode()}
    assert client.get("/v3/requests", headers=basic).status_code == 401


def test_a_token_revoked_elsewhere_stops_working_within_the_cache_bound(
    client: TestClient, services: Services, token: str
) -> None:
    now = [1000.0]
    services.token_cache = TokenCache(5.0, clock=lambda: now[0])
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get("/v4/account", headers=auth).status_code == 200
    # Revoked by another API process: its AccountService, not this one, tells its own cache.
    AccountService(services.db, services.clock).revoke_token(token)
    now[0] += 4.9
    assert client.get("/v4/account", headers=auth).status_code == 200  # within the bound: trusted
    now[0] += 0.2
    assert client.get("/v4/account", headers=auth).status_code == 401


def test_a_cached_token_costs_no_statement_and_a_bad_one_is_never_cached(
    client: TestClient, services: Services, token: str
) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    client.get("/v4/views", headers=auth)
    with statements(services) as sent:
        assert client.get("/v4/views", headers=auth).status_code == 200
    assert sent == []
    for _ in range(2):
        assert client.get("/v4/views", headers={"Authorization": "Bearer dls_wrong"}).status_code == 401
    assert len(services.token_cache) == 1


# -- one statement per request --------------------------------------------------------------------


def test_each_hot_read_is_one_statement(client: TestClient, services: Services, token: str) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    basic = {"Authorization": "Basic " + base64.b64encode(f"{token}:".encode()).decode()}
    download_id = start_download(client, auth)
    report_progress(services, written=1)  # in progress, a part being written: the costly case
    etag = client.get(f"/v4/downloads/{download_id}", headers=auth).headers["etag"]
    client.get("/v4/account", headers=auth)  # the first one makes the account's webhook secret
    for url, headers, status in [
        (f"/v4/downloads/{download_id}", auth, 200),
        (f"/v4/downloads/{download_id}", {**auth, "If-None-Match": etag}, 304),
        ("/v4/downloads", auth, 200),
        (f"/v3/requests/{download_id}", basic, 200),
        ("/v4/account", auth, 200),
    ]:
        with statements(services) as sent:
            assert client.get(url, headers=headers).status_code == status
        assert len(sent) == 1, (url, sent)
        assert sent[0].lstrip().upper().startswith("SELECT"), (url, sent)
    body = client.get("/v4/downloads", headers=auth).json()
    assert body["num_found"] == 1
    assert body["records"][0]["num_downloaded"] == 1


def test_the_download_list_pages_and_counts_in_one_statement(
    client: TestClient, services: Services, auth: dict[str, str]
) -> None:
    ids = [start_download(client, auth) for _ in range(3)]
    page = client.get("/v4/downloads?limit=2&offset=1", headers=auth).json()
    assert page["num_found"] == 3
    assert [d["id"] for d in page["records"]] == [ids[1], ids[0]]
    past = client.get("/v4/downloads?limit=2&offset=10", headers=auth).json()
    assert past == {"num_found": 3, "records": []}


# -- health ---------------------------------------------------------------------------------------


def test_health_answers_from_the_background_state_without_io(tmp_path: Path, database_url: str) -> None:
    with loaded_services(tmp_path, database_url, BUSINESSES, health_refresh_seconds=3600) as services:
        app = create_app(services.settings, services)
        with TestClient(app) as client:
            monitor = app.state.health
            checks = monitor.checks_run
            with statements(services) as sent:
                bodies = [client.get("/v4/health").json() for _ in range(5)]
            assert sent == []
            assert monitor.checks_run == checks
            assert bodies[0]["status"] == "ok"
            assert bodies[0]["checked_at"].endswith("Z")
            # A dead job degrades health: seen once the checker runs again, not before.
            with services.db.write() as conn:
                job_id = services.queue.enqueue_in(conn, "export", None)
                conn.execute(jobs.update().where(jobs.c.id == job_id).values(status="dead"))
            assert client.get("/v4/health").json()["status"] == "ok"
            deep = client.get("/v4/health?deep=1").json()
            assert deep["status"] == "degraded"
            assert deep["checks"]["queue"]["jobs"]["dead"] == 1
            assert monitor.checks_run == checks + 1
            assert client.get("/v4/health").json()["status"] == "degraded"


def test_the_health_checker_refreshes_in_the_background(tmp_path: Path, database_url: str) -> None:
    with loaded_services(tmp_path, database_url, BUSINESSES, health_refresh_seconds=0.01) as services:
        app = create_app(services.settings, services)
        with TestClient(app):
            monitor = app.state.health
            assert monitor.wait_for_checks(monitor.checks_run + 3, DEADLINE)


@pytest.mark.parametrize("path", ["/v4/downloads/1?wait=1", "/v4/health?deep=1"])
def test_hot_paths_still_need_what_they_needed(client: TestClient, path: str) -> None:
    expected = 401 if path.startswith("/v4/downloads") else 200
    assert client.get(path).status_code == expected
