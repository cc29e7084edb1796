"""Bulk downloads against real processes: `dlserve serve` (HTTPS) + `dlserve worker`, driven by the
seed documents' own client code, with workers killed by SIGKILL mid-export."""

from __future__ import annotations

import ast
import csv
import hashlib
import io
import json
import os
import signal
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from dlserve.demo import generate_records
from tests.acceptance.conftest import cli, start_server, start_worker, stop
from tests.acceptance.seed_clients import (
    DATAFINITI,
    LANGUAGES,
    make_certificate,
    run_snippet,
    seed_path,
    snippets,
)

BIG = 250_000
CREDITS = 10_000_000


@dataclass(frozen=True)
class Server:
    base_url: str
    token: str
    cert: Path
    data_dir: Path
    env: dict[str, str]

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url,
            verify=ssl.create_default_context(cafile=str(self.cert)),
            timeout=60,
            headers={"Authorization": f"Bearer {self.token}"},
        )


def wait_for(
    client: httpx.Client, download_id: str, done: Callable[[dict[str, Any]], bool], seconds: float = 300
) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        body: dict[str, Any] = client.get(f"/v4/downloads/{download_id}").json()
        if done(body):
            return body
        time.sleep(0.05)
    raise AssertionError(f"download {download_id} did not get there: {body}")


def fetch_file(server: Server, url: str) -> bytes:
    assert url.startswith(server.base_url + "/v4/files/")
    response = httpx.get(url, verify=ssl.create_default_context(cafile=str(server.cert)), timeout=120)
    assert response.status_code == 200, response.text
    return response.content


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """HTTPS server with 250,000 demo businesses and no in-process workers (downloads stay queued
    until a `dlserve worker` runs)."""
    data_dir = tmp_path_factory.mktemp("tls")
    env = {**os.environ, "DLSERVE_DATA_DIR": str(data_dir)}
    env.pop("DLSERVE_DATABASE_URL", None)
    cli(env, "demo", "--records", str(BIG), "--seed", "3", "--type", "businesses")
    token = json.loads(cli(env, "accounts", "create", "seed@example.com", "--credits", str(CREDITS)))["token"]
    cert, _key = make_certificate(data_dir)
    base_url, process = start_server(env, data_dir, "--workers", "0", cert=cert)
    try:
        yield Server(base_url, token, cert, data_dir, env)
    finally:
        stop(process)


def seed_program(prefix: str, language: str, server: Server, download_id: str) -> str:
    code = snippets(seed_path(prefix))[language]
    return (
        code.replace(DATAFINITI, server.base_url)
        .replace("example_string", download_id)
        .replace("YOUR_API_TOKEN", server.token)
    )


def printed_body(language: str, stdout: str) -> dict[str, object] | None:
    """What the snippet printed, as data (Go prints only the status line)."""
    text = stdout.strip()
    if language in ("curl", "ruby"):
        parsed: dict[str, object] = json.loads(text)
        return parsed
    if language == "python":
        evaluated: dict[str, object] = ast.literal_eval(text)
        return evaluated
    if language == "node":  # util.inspect output: check the keys it shows
        return {
            key: True
            for key in ("id", "status", "num_records", "results", "created_at", "message")
            if f"{key}:" in text
        }
    return None


def test_seed_delete_examples_cancel_downloads(tls_server: Server, tmp_path: Path) -> None:
    with tls_server.client() as client:
        for language in LANGUAGES:
            created = client.post("/v4/businesses/search", json={"query": "province:TX", "download": True})
            assert created.status_code == 202, created.text
            download_id = created.json()["id"]
            run = run_snippet(
                language, seed_program("003", language, tls_server, download_id), tls_server.cert, tmp_path
            )
            assert run.returncode == 0, (language, run.stdout, run.stderr)
            if language == "go":
                assert "Response Status: 200 OK" in run.stdout
            else:
                body = printed_body(language, run.stdout)
                assert body is not None, (language, run.stdout)
                assert set(body) == {"message"}, (language, run.stdout)
            state = client.get(f"/v4/downloads/{download_id}").json()
            assert state["status"] == "cancelled", language


def test_250k_download_three_files_and_seed_get_examples(tls_server: Server, tmp_path: Path) -> None:
    worker = start_worker(tls_server.env, tls_server.data_dir, "big")
    try:
        with tls_server.client() as client:
            created = client.post(
                "/v4/businesses/search", json={"query": "*", "download": True, "format": "JSON"}
            )
            assert created.status_code == 202, created.text
            download_id = created.json()["id"]
            seen_in_progress = False

            def finished(body: dict[str, object]) -> bool:
                nonlocal seen_in_progress
                seen_in_progress |= body["status"] == "in_progress"
                return body["status"] == "completed"

            body = wait_for(client, download_id, finished)
        assert seen_in_progress
        results = body["results"]
        assert isinstance(results, list)
        assert [r["records"] for r in results] == [100_000, 100_000, 50_000]
        ids: list[str] = []
        for result in results:
            content = fetch_file(tls_server, result["url"])
            assert hashlib.sha256(content).hexdigest() == result["sha256"]
            ids.extend(json.loads(line)["id"] for line in content.splitlines())
        assert ids == [str(r["id"]) for r in generate_records("businesses", BIG, seed=3)]

        for language in LANGUAGES:
            run = run_snippet(
                language, seed_program("000", language, tls_server, download_id), tls_server.cert, tmp_path
            )
            assert run.returncode == 0, (language, run.stdout, run.stderr)
            if language == "go":
                assert "Response Status: 200 OK" in run.stdout
                continue
            shown = printed_body(language, run.stdout)
            assert shown is not None
            assert {"id", "status", "num_records", "results", "created_at"} <= set(shown), (
                language,
                run.stdout,
            )
            if language in ("curl", "python", "ruby"):
                assert shown["id"] == download_id
                assert shown["status"] == "completed"
                assert shown["num_records"] == BIG
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0


# -- crashes and cancel, on SQLite and PostgreSQL ------------------------------------------------

SMALL = 60_000
PER_FILE = "5000"


@pytest.fixture
def crash_server(unmigrated_database_url: str, tmp_path: Path) -> Iterator[Server]:
    data_dir = tmp_path / "data"
    env = {
        **os.environ,
        "DLSERVE_DATA_DIR": str(data_dir),
        "DLSERVE_DATABASE_URL": unmigrated_database_url,
        "DLSERVE_JOB_LEASE_SECONDS": "2",
    }
    cli(env, "demo", "--records", str(SMALL), "--seed", "5", "--type", "businesses")
    token = json.loads(cli(env, "accounts", "create", "crash@example.com", "--credits", str(CREDITS)))[
        "token"
    ]
    data_dir.mkdir(exist_ok=True)
    cert, _key = make_certificate(data_dir)
    base_url, process = start_server(env, data_dir, "--workers", "0", cert=cert)
    try:
        yield Server(base_url, token, cert, data_dir, env)
    finally:
        stop(process)


def test_sigkilled_worker_is_replaced_and_nothing_is_lost_or_charged_twice(crash_server: Server) -> None:
    victim = start_worker(crash_server.env, crash_server.data_dir, "victim", records_per_file=PER_FILE)
    rescuer: subprocess.Popen[bytes] | None = None
    try:
        with crash_server.client() as client:
            download_id = client.post("/v4/businesses/search", json={"query": "*", "download": True}).json()[
                "id"
            ]
            wait_for(client, download_id, lambda b: len(b["results"]) >= 2, seconds=120)
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            stalled = client.get(f"/v4/downloads/{download_id}").json()
            assert stalled["status"] == "in_progress"
            rescuer = start_worker(
                crash_server.env, crash_server.data_dir, "rescuer", records_per_file=PER_FILE
            )
            body = wait_for(client, download_id, lambda b: b["status"] == "completed", seconds=180)
            ids: list[str] = []
            for result in body["results"]:
                content = fetch_file(crash_server, result["url"])
                assert hashlib.sha256(content).hexdigest() == result["sha256"]
                ids.extend(json.loads(line)["id"] for line in content.splitlines())
            assert ids == [str(r["id"]) for r in generate_records("businesses", SMALL, seed=5)]
            assert [r["name"] for r in body["results"]] == [f"{download_id}_{n}.txt" for n in range(1, 13)]
            assert client.get("/v4/account").json()["available_credits"] == CREDITS - SMALL
    finally:
        for process in (victim, rescuer):
            if process is not None and process.poll() is None:
                process.kill()


def test_cancel_mid_export_keeps_whole_downloadable_files(crash_server: Server) -> None:
    worker = start_worker(crash_server.env, crash_server.data_dir, "w", records_per_file=PER_FILE)
    try:
        with crash_server.client() as client:
            download_id = client.post(
                "/v4/businesses/search",
                json={"query": "*", "download": True, "format": "csv", "view": "business_flat_reviews"},
            ).json()["id"]
            wait_for(client, download_id, lambda b: len(b["results"]) >= 1, seconds=120)
            cancelled = client.delete(f"/v4/downloads/{download_id}")
            assert cancelled.status_code == 200, cancelled.text
            # A part being written when the cancel landed must not appear. Once the worker has
            # stopped (gracefully: whatever it was committing is settled), nothing can add one.
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(timeout=30) == 0
            body = client.get(f"/v4/downloads/{download_id}").json()
            assert body["status"] == "cancelled"
            results = body["results"]
            assert 1 <= len(results) < 12
            kept = 0
            for result in results:
                rows = list(
                    csv.DictReader(io.StringIO(fetch_file(crash_server, result["url"]).decode("utf-8")))
                )
                assert len({row["id"] for row in rows}) == result["records"] == int(PER_FILE)
                kept += result["records"]
            assert body["num_downloaded"] == kept
            assert client.get("/v4/account").json()["available_credits"] == CREDITS - kept
            assert client.delete(f"/v4/downloads/{download_id}").status_code == 409
    finally:
        stop(worker)
