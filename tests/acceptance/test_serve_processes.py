"""`dlserve serve --processes 2`: two API processes on one port, job workers once (in the
supervisor), a download followed to its end with the SDK's long polls."""

from __future__ import annotations

import json
import os
from pathlib import Path

from dlserve.client import Client
from tests.acceptance.conftest import cli, start_server, stop


def test_two_api_processes_share_the_database_and_run_the_workers_once(tmp_path: Path) -> None:
    env = {**os.environ, "DLSERVE_DATA_DIR": str(tmp_path), "DLSERVE_RECORDS_PER_FILE": "500"}
    env.pop("DLSERVE_DATABASE_URL", None)
    cli(env, "demo", "--records", "2000", "--type", "businesses")
    token = json.loads(cli(env, "accounts", "create", "p@example.com", "--credits", "100000"))["token"]
    base_url, server = start_server(env, tmp_path, "--processes", "2")
    try:
        with Client(base_url, token) as client:
            download = client.create_download("businesses", "*")
            seen: list[int] = []
            final = client.wait(download, on_progress=lambda d: seen.append(d.progress.done), timeout=120)
            assert final.status == "completed"
            assert final.progress.done == 2000
            assert len(final.results) == 4
            assert client.account().available_credits == 100000 - 2000
    finally:
        stop(server)
    # The job workers started once, in the supervising process, not in each API process.
    logged = [
        json.loads(line) for path in tmp_path.glob("server-*.log") for line in path.read_text().splitlines()
    ]
    started = [entry for entry in logged if entry.get("event") == "job workers started"]
    assert [(entry["pid"], entry["api_processes"]) for entry in started] == [(server.pid, 2)]
