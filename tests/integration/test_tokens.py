"""Issue 12, finding 8: API tokens expire, can be revoked (API, CLI, dashboard) and say so."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from dlserve.accounts.services import AccountService
from dlserve.accounts.tokens import hash_token
from dlserve.api.app import create_app
from dlserve.cli import app as cli_app
from dlserve.clock import FrozenClock
from dlserve.container import Services, build_services
from dlserve.db.engine import Database
from dlserve.errors import Unauthorized
from tests.integration.conftest import make_settings


@pytest.fixture
def clock() -> FrozenClock:
    # Starts now: the CLI test reads the same tokens with the real clock.
    return FrozenClock(datetime.now(UTC))


def test_tokens_expire_after_the_ttl(db: Database, clock: FrozenClock) -> None:
    service = AccountService(db, clock, token_ttl=timedelta(days=30))
    token = service.create_account("a@example.com", credits=1).token
    clock.advance(days=29, hours=23)
    assert service.authenticate(token).email == "a@example.com"
    clock.advance(hours=1)
    with pytest.raises(Unauthorized):
        service.authenticate(token)
    (info,) = service.list_tokens(service.find_by_email("a@example.com").id)  # type: ignore[union-attr]
    assert info.expires_at == info.created_at + timedelta(days=30)


def test_without_a_ttl_tokens_last_until_revoked(db: Database, clock: FrozenClock) -> None:
    service = AccountService(db, clock, token_ttl=None)
    token = service.create_account("a@example.com").token
    clock.advance(days=3650)
    assert service.authenticate(token).email == "a@example.com"
    assert service.list_tokens(service.authenticate(token).id)[0].expires_at is None


def test_list_and_revoke_tokens_by_id_or_all_and_listeners_hear_of_it(
    db: Database, clock: FrozenClock
) -> None:
    service = AccountService(db, clock)
    heard: list[frozenset[str]] = []
    service.add_revocation_listener(heard.append)
    created = service.create_account("a@example.com", password="pw-123456")
    second = service.login("a@example.com", "pw-123456")
    third = service.login("a@example.com", "pw-123456")
    first_info, second_info, third_info = service.list_tokens(created.id)
    assert [t.prefix for t in (first_info, second_info, third_info)] == [
        created.token[:12],
        second[:12],
        third[:12],
    ]
    assert service.revoke_tokens(created.id, [second_info.id]) == 1
    assert heard == [frozenset({hash_token(second)})]
    with pytest.raises(Unauthorized):
        service.authenticate(second)
    assert service.authenticate(third).id == created.id
    other = service.create_account("b@example.com")
    assert service.revoke_tokens(created.id, [service.list_tokens(other.id)[0].id]) == 0  # not theirs
    assert service.revoke_tokens(created.id) == 2
    assert heard[-1] == frozenset({hash_token(created.token), hash_token(third)})
    assert all(t.revoked_at is not None for t in service.list_tokens(created.id))
    assert service.authenticate(other.token).id == other.id


@pytest.fixture
def services(database_url: str, tmp_path: Path, clock: FrozenClock) -> Iterator[Services]:
    built = build_services(make_settings(tmp_path, database_url, token_ttl_days=7), clock)
    try:
        yield built
    finally:
        built.close()


def test_delete_v4_auth_revokes_only_the_presented_token(services: Services, clock: FrozenClock) -> None:
    services.accounts.create_account("a@example.com", password="pw-123456")
    with TestClient(create_app(services.settings, services)) as client:
        login = {"email": "a@example.com", "password": "pw-123456"}
        first = client.post("/v4/auth", json=login).json()["token"]
        second = client.post("/v4/auth", json=login).json()["token"]
        signed_out = client.delete("/v4/auth", headers={"Authorization": f"Bearer {first}"})
        assert signed_out.status_code == 200
        assert signed_out.json() == {"message": "The token was revoked"}
        assert client.get("/v4/account", headers={"Authorization": f"Bearer {first}"}).status_code == 401
        again = client.delete("/v4/auth", headers={"Authorization": f"Bearer {first}"})
        assert again.status_code == 401
        assert set(again.json()) == {"error", "message", "code", "details"}
        assert client.delete("/v4/auth").status_code == 401
        assert client.get("/v4/account", headers={"Authorization": f"Bearer {second}"}).status_code == 200
        clock.advance(days=7, seconds=1)  # token_ttl_days=7
        assert client.get("/v4/account", headers={"Authorization": f"Bearer {second}"}).status_code == 401


def test_cli_lists_and_revokes_tokens(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = services.settings
    monkeypatch.setenv("DLSERVE_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("DLSERVE_DATABASE_URL", settings.resolved_database_url())
    # In process, the CLI's logging setup would point structlog at CliRunner's stream, which is
    # closed after each invoke; later tests would then fail to log.
    monkeypatch.setattr("dlserve.cli.configure_logging", lambda *_args: None)
    created = services.accounts.create_account("cli@example.com", password="pw-123456")
    other = services.accounts.login("cli@example.com", "pw-123456")
    services.accounts.revoke_token(other)
    runner = CliRunner()
    listing = runner.invoke(cli_app, ["accounts", "tokens", "cli@example.com"])
    assert listing.exit_code == 0, listing.output
    lines = listing.output.splitlines()
    assert lines[0].split() == ["ID", "PREFIX", "CREATED", "LAST", "USED", "EXPIRES", "STATE"]
    first_id = services.accounts.list_tokens(created.id)[0].id
    assert lines[1].split()[:2] == [str(first_id), created.token[:12]]
    assert lines[1].split()[-1] == "active"
    assert lines[2].split()[-1] == "revoked"
    assert created.token not in listing.output  # only the prefix is ever shown
    revoked = runner.invoke(cli_app, ["accounts", "tokens", "cli@example.com", "--revoke", str(first_id)])
    assert (revoked.exit_code, revoked.output.strip()) == (0, "revoked 1 token")
    with pytest.raises(Unauthorized):
        services.accounts.authenticate(created.token)
    fresh = services.accounts.login("cli@example.com", "pw-123456")
    everything = runner.invoke(cli_app, ["accounts", "tokens", "cli@example.com", "--revoke-all"])
    assert (everything.exit_code, everything.output.strip()) == (0, "revoked 1 token")
    with pytest.raises(Unauthorized):
        services.accounts.authenticate(fresh)
    unknown = runner.invoke(cli_app, ["accounts", "tokens", "nobody@example.com"])
    assert unknown.exit_code == 1
