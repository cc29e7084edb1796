"""Polling when several processes share the database (SQLite and PostgreSQL):

- a settled download polled before is answered from memory (no statement), for its owner only,
  until its first live file's expiry, after which it is read again and shows the expired file;
- on PostgreSQL a long poll wakes on a change another process commits (LISTEN/NOTIFY) without
  waiting for its periodic re-read, and a listener that (re)connects wakes every waiting poll.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dlserve.api.app import create_app
from dlserve.clock import FrozenClock
from dlserve.container import Services, build_services
from dlserve.db.tables import downloads
from dlserve.downloads.change_feed import ChangeListener
from dlserve.downloads.settled import MARGIN
from tests.integration.conftest import BUSINESSES, loaded_services
from tests.integration.test_downloads import run_jobs
from tests.integration.test_hot_paths import DEADLINE, Background, start_download, statements


def bearer(services: Services, email: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {services.accounts.create_account(email, credits=100).token}"}


def test_a_settled_download_is_answered_from_memory_until_its_files_expire(
    tmp_path: Path, database_url: str
) -> None:
    clock = FrozenClock()
    with loaded_services(tmp_path, database_url, BUSINESSES, clock, link_ttl_seconds=3600) as services:
        owner = {
            "Authorization": f"Bearer {services.accounts.create_account('a@example.com', credits=100).token}"
        }
        other = {
            "Authorization": f"Bearer {services.accounts.create_account('b@example.com', credits=100).token}"
        }
        with TestClient(create_app(services.settings, services)) as client:
            download_id = start_download(client, owner)
            run_jobs(services)
            url = f"/v4/downloads/{download_id}"
            first = client.get(url, headers=owner)
            assert first.json()["status"] == "completed"
            assert len(first.json()["results"]) == 1
            client.get(url, headers=other)  # the tokens are verified (and cached) outside the count
            with statements(services) as sent:
                again = client.get(url, headers=owner)
                unchanged = client.get(url, headers={**owner, "If-None-Match": first.headers["etag"]})
                foreign = client.get(url, headers=other)
            assert sent == []
            assert again.json() == first.json()
            assert again.headers["etag"] == first.headers["etag"]
            assert unchanged.status_code == 304
            assert foreign.status_code == 404

            # Within MARGIN of the file's expiry it is read again; once expired the file is gone.
            clock.advance(seconds=3600 - MARGIN.total_seconds())
            with statements(services) as sent:
                assert client.get(url, headers=owner).json() == first.json()
            # The download is read (the token, its cache entry aged too, is verified as well).
            assert sum("download_files" in statement for statement in sent) == 1
            clock.advance(seconds=MARGIN.total_seconds() + 1)
            assert services.janitor.expire_files() == 1
            expired = client.get(url, headers={**owner, "If-None-Match": first.headers["etag"]})
            assert expired.status_code == 200
            assert expired.json()["results"] == []
            assert expired.headers["etag"] != first.headers["etag"]


def test_an_active_download_is_always_read(tmp_path: Path, database_url: str) -> None:
    with loaded_services(tmp_path, database_url, BUSINESSES) as services:
        auth = {
            "Authorization": f"Bearer {services.accounts.create_account('a@example.com', credits=100).token}"
        }
        with TestClient(create_app(services.settings, services)) as client:
            download_id = start_download(client, auth)
            client.get(f"/v4/downloads/{download_id}", headers=auth)
            with statements(services) as sent:
                assert client.get(f"/v4/downloads/{download_id}", headers=auth).json()["status"] == "queued"
            assert len(sent) == 1


def _postgres_only(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; SQLite long polls re-read the database")


def test_a_long_poll_wakes_on_a_change_from_another_process_by_notify(
    tmp_path: Path, database_url: str
) -> None:
    """The re-read is an hour apart here: only the NOTIFY can end the wait in time."""
    _postgres_only(database_url)
    with loaded_services(tmp_path, database_url, BUSINESSES, long_poll_recheck_seconds=3600) as api:
        account = api.accounts.create_account("a@example.com", credits=100)
        auth = {"Authorization": f"Bearer {account.token}"}
        worker = build_services(api.settings)  # another process: its own services, pool and events
        try:
            app = create_app(api.settings, api)
            with TestClient(app) as client:
                listener: ChangeListener = app.state.change_listener
                assert listener.listening.wait(DEADLINE)
                download_id = start_download(client, auth)
                etag = client.get(f"/v4/downloads/{download_id}", headers=auth).headers["etag"]
                poll = Background(
                    client, f"/v4/downloads/{download_id}?wait=60", {**auth, "If-None-Match": etag}
                )
                assert api.changes.wait_for_waiters(int(download_id), 1, DEADLINE)
                worker.downloads.cancel(worker.accounts.get_account(account.id), int(download_id))
                response, elapsed = poll.result()
        finally:
            worker.close()
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert elapsed < DEADLINE


def test_a_listener_that_connects_wakes_every_waiting_poll(tmp_path: Path, database_url: str) -> None:
    """Notifications sent while no listener was connected are lost: connecting wakes the waiting
    polls, which re-read their downloads."""
    _postgres_only(database_url)
    with loaded_services(tmp_path, database_url, BUSINESSES, long_poll_recheck_seconds=3600) as api:
        auth = {"Authorization": f"Bearer {api.accounts.create_account('a@example.com', credits=100).token}"}
        app = create_app(api.settings, api)
        app.state.change_listener.start = lambda: None  # this app's own listener never connects
        with TestClient(app) as client:
            download_id = start_download(client, auth)
            etag = client.get(f"/v4/downloads/{download_id}", headers=auth).headers["etag"]
            poll = Background(client, f"/v4/downloads/{download_id}?wait=60", {**auth, "If-None-Match": etag})
            assert api.changes.wait_for_waiters(int(download_id), 1, DEADLINE)
            with api.db.write() as conn:  # changed with no NOTIFY at all
                conn.execute(
                    downloads.update().where(downloads.c.id == int(download_id)).values(status="in_progress")
                )
            late = ChangeListener(api.db, api.changes)
            late.start()
            try:
                response, elapsed = poll.result()
            finally:
                late.stop()
    assert response.status_code == 200
    assert response.json()["status"] == "in_progress"
    assert elapsed < DEADLINE
