"""Scheduled downloads with real processes, on SQLite and PostgreSQL: `dlserve serve` (no workers),
a `dlserve worker` that is SIGKILLed, then two workers ticking against each other. A schedule with
a short period (the test setting allows seconds) runs on time, each period once; the periods missed
while no worker ran make exactly one run at restart; ``latest`` redirects to the newest completed
run."""

from __future__ import annotations

import json
import math
import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.acceptance.conftest import cli, start_server, start_worker, stop
from tests.conftest import _create_postgres_database, _drop_postgres_database

PERIOD_S = 5
TICK_S = 0.2
# How late a run may start on this shared, loaded machine (the tick itself is 0.2 s).
ON_TIME_S = 4.0


@dataclass
class Deployment:
    api: httpx.Client
    env: dict[str, str]
    data_dir: Path


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None: the default SQLite file in the data dir; else a PostgreSQL database of this test's own."""
    if request.param == "sqlite":
        yield None
        return
    request.getfixturevalue("postgres_server")
    url = _create_postgres_database()
    try:
        yield url
    finally:
        _drop_postgres_database(url)


@pytest.fixture
def deployment(tmp_path: Path, database_url: str | None) -> Iterator[Deployment]:
    env = {
        **os.environ,
        "DLSERVE_DATA_DIR": str(tmp_path),
        "DLSERVE_LOG_JSON": "true",
        "DLSERVE_MEDIA_WORKERS": "0",
        "DLSERVE_SCHEDULE_MIN_PERIOD_SECONDS": "1",
        "DLSERVE_SCHEDULE_TICK_SECONDS": str(TICK_S),
        "DLSERVE_JOB_LEASE_SECONDS": "5",  # the killed worker's export is taken over soon
        # Runs pile up faster than a loaded machine exports them; the default 5 would refuse some.
        "DLSERVE_MAX_ACTIVE_DOWNLOADS": "1000",
    }
    env.pop("DLSERVE_DATABASE_URL", None)
    if database_url is not None:
        env["DLSERVE_DATABASE_URL"] = database_url
    cli(env, "migrate")
    cli(env, "demo", "--records", "200", "--seed", "3", "--type", "businesses")
    account = json.loads(cli(env, "accounts", "create", "cron@example.com", "--credits", "1000000"))
    base_url, server = start_server(env, tmp_path, "--workers", "0")  # the API alone: no tick there
    api = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {account['token']}"}, timeout=30)
    try:
        yield Deployment(api, env, tmp_path)
    finally:
        api.close()
        stop(server)


def parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def wait_for(check: Callable[[], Any], seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def runs_of(api: httpx.Client, schedule_id: str) -> list[dict[str, Any]]:
    """The schedule's runs, oldest first."""
    response = api.get(f"/v4/schedules/{schedule_id}")
    response.raise_for_status()
    return list(reversed(response.json()["runs"]))


def status_of(api: httpx.Client, run: dict[str, Any]) -> str:
    response = api.get(f"/v4/downloads/{run['download_id']}")
    response.raise_for_status()
    return str(response.json()["status"])


def test_a_short_schedule_runs_on_time_once_per_period_across_a_worker_restart(
    deployment: Deployment,
) -> None:
    api = deployment.api
    worker = start_worker(deployment.env, deployment.data_dir, "first")
    try:
        log = deployment.data_dir / "worker-first.log"
        wait_for(lambda: "worker running" in log.read_text(errors="replace"), 60, "the worker to start")
        created = api.post(
            "/v4/schedules", json={"data_type": "businesses", "query": "*", "every": f"{PERIOD_S}s"}
        )
        assert created.status_code == 201, created.text
        schedule_id = created.json()["id"]
        assert api.get(f"/v4/schedules/{schedule_id}/latest", follow_redirects=False).status_code == 404
        wait_for(lambda: len(runs_of(api, schedule_id)) >= 3, 6 * PERIOD_S, "three runs")
        # Killed right after a run started (claimed, then its download created), so no claimed
        # run is left half-way: that one would wait for the two-minute stale start.
        started = len(runs_of(api, schedule_id))

        def next_run_started() -> bool:
            runs = runs_of(api, schedule_id)
            return len(runs) > started and bool(runs[-1]["download_id"])

        wait_for(next_run_started, 2 * PERIOD_S, "the next run to start")
        worker.send_signal(signal.SIGKILL)
        worker.wait(30)
    finally:
        stop(worker)
    before = runs_of(api, schedule_id)
    killed_at = time.time()

    time.sleep(2.5 * PERIOD_S)  # at least two periods pass with no worker
    restarted_at = time.time()
    # Two workers now, ticking against each other: still one run per period.
    workers = [start_worker(deployment.env, deployment.data_dir, name) for name in ("second", "third")]
    try:
        wait_for(
            lambda: len(runs_of(api, schedule_id)) >= len(before) + 2, 6 * PERIOD_S, "runs after restart"
        )
        # New runs keep coming every period; the ones made so far must all complete.
        made = [run for run in runs_of(api, schedule_id) if run["status"] != "pending"]  # not mid-start
        assert all(run["download_id"] for run in made), made
        wait_for(lambda: all(status_of(api, run) == "completed" for run in made), 240, "the runs to complete")
    finally:
        for worker in workers:
            stop(worker)
    runs = runs_of(api, schedule_id)  # no worker any more: this is final
    if runs[-1]["status"] == "pending":
        # Claimed by a worker that stop() had to SIGKILL on a loaded machine before it started it:
        # any worker starts such a run once it is two minutes old (unit- and integration-tested).
        runs = runs[:-1]

    dues = [parse(run["due_at"]) for run in runs]
    assert len(set(dues)) == len(dues), "a period ran twice"
    assert dues == sorted(dues)
    assert [run for run in runs if run["status"] != "started" or not run["download_id"]] == []
    assert len({run["download_id"] for run in runs}) == len(runs)
    # Before the kill: one run per period, each on time.
    steps = [(later - earlier).total_seconds() for earlier, later in pairwise(dues[: len(before)])]
    assert steps == [PERIOD_S] * (len(before) - 1)
    for run in runs[: len(before)]:
        assert 0 <= (parse(run["created_at"]) - parse(run["due_at"])).total_seconds() < ON_TIME_S, run
    # The periods missed while no worker ran: exactly one run, made at restart (not one per period).
    missed = [run for run in runs[len(before) :] if parse(run["due_at"]).timestamp() < restarted_at]
    assert len(missed) == 1, runs
    assert parse(missed[0]["due_at"]).timestamp() > killed_at - PERIOD_S
    # The wire's timestamps are whole seconds (truncated): a run made 0.07 s after the restart
    # reads as the restart's own second.
    assert parse(missed[0]["created_at"]).timestamp() >= math.floor(restarted_at)
    # Then the cadence goes on from the first period after the restart.
    after = [parse(run["due_at"]) for run in runs[len(before) + 1 :]]
    assert after, runs
    assert (after[0] - dues[len(before)]).total_seconds() % PERIOD_S == 0
    assert after[0].timestamp() >= restarted_at - 0.5

    completed = [run for run in runs if run["download_status"] == "completed"]
    assert {run["id"] for run in made} <= {run["id"] for run in completed}
    latest = api.get(f"/v4/schedules/{schedule_id}/latest", follow_redirects=False)
    assert latest.status_code == 303
    assert latest.headers["location"] == f"/v4/downloads/{completed[-1]['download_id']}"
    download = api.get(latest.headers["location"]).json()
    assert (download["status"], download["num_records"]) == ("completed", 200)
