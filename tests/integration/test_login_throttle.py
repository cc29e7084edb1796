"""Issue 12, finding 4: login throttling per email and per client address, shared through the
database (two app instances = two API processes), and argon2 parameters that keep logins small."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from dlserve.accounts import passwords
from dlserve.api.app import create_app
from dlserve.clock import FrozenClock
from dlserve.container import Services, build_services
from dlserve.db.tables import accounts
from tests.integration.conftest import make_settings

EMAIL = "user@example.com"


class Instances:
    """Two apps on one database, as two API processes would be; one frozen clock for both."""

    def __init__(self, tmp_path: Path, database_url: str) -> None:
        self.clock = FrozenClock()
        self.services: list[Services] = []
        self.clients: list[TestClient] = []
        for name in ("a", "b"):
            settings = make_settings(
                tmp_path / name, database_url, login_free_attempts=3, login_address_free_attempts=6
            )
            built = build_services(settings, self.clock)
            self.services.append(built)
            self.clients.append(TestClient(create_app(settings, built), raise_server_exceptions=False))

    def close(self) -> None:
        for client in self.clients:
            client.close()
        for built in self.services:
            built.close()


@pytest.fixture
def apps(tmp_path: Path, database_url: str) -> Iterator[Instances]:
    instances = Instances(tmp_path, database_url)
    instances.services[0].accounts.create_account(EMAIL, password="right-password", credits=1)
    yield instances
    instances.close()


def login(client: TestClient, password: str, email: str = EMAIL) -> tuple[int, dict[str, object], str | None]:
    response = client.post("/v4/auth", json={"email": email, "password": password})
    return response.status_code, response.json(), response.headers.get("retry-after")


def test_failures_back_off_exponentially_across_processes(apps: Instances) -> None:
    first, second = apps.clients
    for client in (first, second, first):  # the free attempts, spread over both processes
        assert login(client, "wrong")[0] == 401
    assert login(second, "wrong")[0] == 401  # the 4th failure: now blocked for 2 s
    status, body, retry_after = login(first, "right-password")  # even the right password waits
    assert status == 429
    assert retry_after == "2"
    assert set(body) == {"error", "message", "code", "details"}
    assert "Too many failed logins" in str(body["message"])
    apps.clock.advance(seconds=2)
    assert login(second, "wrong")[0] == 401
    assert login(first, "wrong")[2] == "4"  # blocked again, twice as long
    apps.clock.advance(seconds=4)
    assert login(first, "right-password")[0] == 200  # a success clears the email's counter
    assert login(second, "wrong")[0] == 401


def test_one_client_address_guessing_many_emails_is_throttled(apps: Instances) -> None:
    client = apps.clients[0]
    for n in range(7):  # one attempt per email: only the address's counter grows
        assert login(client, "guess", email=f"nobody{n}@example.com")[0] == 401
    status, _body, retry_after = login(client, "guess", email="someone-else@example.com")
    assert status == 429
    assert retry_after is not None


def test_sixty_wrong_passwords_in_a_row_are_mostly_refused_before_hashing(apps: Instances) -> None:
    statuses = [login(apps.clients[0], f"wrong-{n}")[0] for n in range(60)]
    assert statuses[:4] == [401] * 4
    assert statuses[4:] == [429] * 56


def test_old_hashes_still_verify_and_are_rehashed_with_todays_parameters(apps: Instances) -> None:
    services = apps.services[0]
    old = PasswordHasher().hash("right-password")  # argon2-cffi's defaults: 64 MiB
    with services.db.write() as conn:
        conn.execute(update(accounts).where(accounts.c.email == EMAIL).values(password_hash=old))
    assert login(apps.clients[0], "right-password")[0] == 200
    with services.db.read() as conn:
        stored = conn.execute(select(accounts.c.password_hash).where(accounts.c.email == EMAIL)).scalar_one()
    assert stored != old
    assert f"m={passwords.MEMORY_COST_KIB},t={passwords.TIME_COST},p={passwords.PARALLELISM}" in stored
    assert not passwords.needs_rehash(stored)
    assert login(apps.clients[1], "right-password")[0] == 200
