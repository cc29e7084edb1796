"""The SDK's and the CLI's schedule commands against the real app and database (SQLite and
PostgreSQL): the SDK's requests go to the app in process through an httpx transport."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from dlserve.api.app import create_app
from dlserve.cli import app as cli_app
from dlserve.cli_client import commands
from dlserve.client import Client, NotFound, Schedule, ValidationError
from dlserve.clock import FrozenClock
from dlserve.container import Services
from dlserve.downloads.services import EXPORT_KINDS
from tests.integration.conftest import BUSINESSES, loaded_services

BASE = "http://testserver"


@pytest.fixture
def services(database_url: str, tmp_path: Path, clock: FrozenClock) -> Iterator[Services]:
    with loaded_services(tmp_path, database_url, BUSINESSES, clock, schedule_min_period_seconds=60) as built:
        yield built


@pytest.fixture
def transport(services: Services) -> Iterator[httpx.MockTransport]:
    """Each SDK request answered by the app (TestClient runs it in process)."""
    with TestClient(create_app(services.settings, services), raise_server_exceptions=False) as app:

        def forward(request: httpx.Request) -> httpx.Response:
            answer = app.request(
                request.method,
                str(request.url.copy_with(scheme=None, host=None, port=None)),
                headers=dict(request.headers),
                content=request.content,
                follow_redirects=False,
            )
            return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)

        yield httpx.MockTransport(forward)


@pytest.fixture
def token(services: Services) -> str:
    return services.accounts.create_account("sdk@example.com", credits=1000).token


@pytest.fixture
def client(transport: httpx.MockTransport, token: str) -> Iterator[Client]:
    with Client(BASE, token, transport=transport, retries=0) as sdk:
        yield sdk


def run_exports(services: Services) -> None:
    while (job := services.queue.claim("test-worker", EXPORT_KINDS)) is not None:
        services.runner.run(job, "test-worker", threading.Event())


def test_the_sdk_creates_lists_reads_follows_latest_and_deletes(
    client: Client, services: Services, clock: FrozenClock
) -> None:
    created = client.create_schedule("businesses", "categories:Hotels", every="1h", format="CSV", delta=True)
    assert isinstance(created, Schedule)
    assert (created.every, created.format, created.delta, created.runs) == ("1h", "CSV", True, [])
    assert created.next_run_at == clock.now()
    assert [s.id for s in client.list_schedules()] == [created.id]
    with pytest.raises(NotFound, match="no completed download"):
        client.latest_scheduled_download(created)

    services.ticker.tick()
    run_exports(services)
    shown = client.get_schedule(created.id)
    (run,) = shown.runs
    assert (shown.num_runs, run.status, run.download_status) == (1, "started", "completed")
    latest = client.latest_scheduled_download(created.id)
    assert (latest.id, latest.status, latest.num_records) == (run.download_id, "completed", 3)

    assert "was deleted" in client.delete_schedule(created)
    assert client.list_schedules() == []
    with pytest.raises(NotFound):
        client.get_schedule(created.id)


def test_the_sdk_raises_the_servers_validation_error(client: Client) -> None:
    with pytest.raises(ValidationError) as refused:
        client.create_schedule("businesses", "*", every="5s")
    assert [d.field for d in refused.value.details] == ["every"]


@pytest.fixture
def dlserve(
    transport: httpx.MockTransport, token: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Callable[..., Result]:
    """``dlserve ARGS`` with the SDK behind the commands talking to the app."""
    monkeypatch.setattr(
        commands, "open_client", lambda url, tok: Client(url, tok, transport=transport, retries=0)
    )

    def invoke(*args: str) -> Result:
        env = {
            "DLSERVE_URL": BASE,
            "DLSERVE_TOKEN": token,
            "XDG_CONFIG_HOME": str(tmp_path),
            "COLUMNS": "150",
        }
        return CliRunner().invoke(cli_app, list(args), env=env, prog_name="dlserve")

    return invoke


def test_the_cli_schedules_commands(dlserve: Callable[..., Result]) -> None:
    made = dlserve(
        "schedules", "create", "businesses", "city:Austin", "--every", "0 3 * * *", "--format", "csv"
    )
    assert made.exit_code == 0, made.output
    assert "schedule 1: businesses every 0 3 * * *, next run 2024-12-26 03:00:00 UTC\n" in made.output

    listed = dlserve("schedules", "list")
    assert listed.exit_code == 0, listed.output
    assert "0 3 * * *" in listed.output
    assert "city:Austin" in listed.output
    printed = dlserve("schedules", "list", "--json").stdout
    as_json = json.loads(printed[printed.index("[\n") :])  # after the app's own log line (in process)
    assert [(s["id"], s["format"]) for s in as_json] == [("1", "CSV")]

    shown = dlserve("schedules", "show", "1")
    assert shown.exit_code == 0, shown.output
    assert "every     0 3 * * * (UTC)" in shown.output

    refused = dlserve("schedules", "create", "businesses", "*", "--every", "1 minute")
    assert refused.exit_code == 1
    assert "every '1 minute' is neither an interval" in refused.output

    deleted = dlserve("schedules", "delete", "1")
    assert deleted.exit_code == 0, deleted.output
    assert "Schedule 1 was deleted" in deleted.output
    missing = dlserve("schedules", "show", "1")
    assert missing.exit_code == 1
    assert "not found" in missing.output.lower()
