"""Crash safety of the production topology, shown with real processes: PostgreSQL + a real S3
server (SeaweedFS) + one API process + three `dlserve worker` processes. Workers are SIGKILLed at
random moments and replaced; the API process is killed and restarted while clients poll. Then:
every download completed, every record exactly once, every file's sha256 as recorded, credits
charged = records delivered, and no object in the bucket that no download lists."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from dlserve.demo import generate_records
from tests.acceptance.conftest import cli, start_server, start_worker, stop
from tests.conftest import _create_postgres_database, _drop_postgres_database
from tests.support.seaweed import S3Server

pytestmark = pytest.mark.postgres
RECORDS = 60_000
CREDITS = 10_000_000
SEED = int(os.environ.get("DLSERVE_CHAOS_SEED", str(random.SystemRandom().randrange(1 << 30))))


@dataclass
class Cluster:
    base_url: str
    port: int
    token: str
    env: dict[str, str]
    data_dir: Path
    api: subprocess.Popen[bytes]
    workers: list[subprocess.Popen[bytes]]
    s3: S3Server
    prefix: str

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url, headers={"Authorization": f"Bearer {self.token}"}, timeout=60
        )

    def add_worker(self) -> None:
        self.workers.append(start_worker(self.env, self.data_dir, f"w{len(self.workers)}"))


@pytest.fixture
def cluster(s3_server: S3Server, postgres_server: object, tmp_path: Path) -> Iterator[Cluster]:
    database_url = _create_postgres_database()
    prefix = s3_server.fresh_prefix("cluster")
    data_dir = tmp_path / "data"
    env = {
        **os.environ,
        "DLSERVE_DATA_DIR": str(data_dir),
        "DLSERVE_DATABASE_URL": database_url,
        "DLSERVE_STORAGE_URL": s3_server.url(prefix),
        "DLSERVE_JOB_LEASE_SECONDS": "2",
        "DLSERVE_RECORDS_PER_FILE": "5000",
        **{f"DLSERVE_{k.upper()}": str(v) for k, v in s3_server.settings().items()},
    }
    cli(env, "demo", "--records", str(RECORDS), "--seed", "4", "--type", "businesses")
    token = json.loads(cli(env, "accounts", "create", "chaos@example.com", "--credits", str(CREDITS)))[
        "token"
    ]
    base_url, api = start_server(env, data_dir, "--workers", "0")
    cluster = Cluster(
        base_url, int(base_url.rsplit(":", 1)[1]), token, env, data_dir, api, [], s3_server, prefix
    )
    for _ in range(3):
        cluster.add_worker()
    try:
        yield cluster
    finally:
        for process in [cluster.api, *cluster.workers]:
            if process.poll() is None:
                process.kill()
                process.wait()
        _drop_postgres_database(database_url)


def expected_ids(query: str) -> list[str]:
    records = generate_records("businesses", RECORDS, seed=4)
    if query == "*":
        return [str(r["id"]) for r in records]
    field, value = query.split(":")
    return [str(r["id"]) for r in records if str(r.get(field, "")).lower() == value.lower()]


def wait_all(cluster: Cluster, ids: list[str], seconds: float = 180) -> list[dict[str, object]]:
    deadline = time.monotonic() + seconds
    with cluster.client() as client:
        while time.monotonic() < deadline:
            bodies = [client.get(f"/v4/downloads/{i}").json() for i in ids]
            if all(b["status"] == "completed" for b in bodies):
                return bodies
            assert not any(b["status"] in ("failed", "cancelled") for b in bodies), bodies
            time.sleep(0.2)
    raise AssertionError(f"downloads did not complete: {[b['status'] for b in bodies]}")


def check_download(cluster: Cluster, body: dict[str, Any], query: str) -> list[str]:
    ids: list[str] = []
    for result in body["results"]:
        content = httpx.get(result["url"], timeout=60).content  # a presigned S3 URL
        assert hashlib.sha256(content).hexdigest() == result["sha256"]
        if body["format"] == "CSV":
            import csv
            import io

            ids.extend(row["id"] for row in csv.DictReader(io.StringIO(content.decode("utf-8"))))
        else:
            ids.extend(json.loads(line)["id"] for line in content.splitlines())
    assert ids == expected_ids(query), f"download {body['id']}: records lost, repeated or out of order"
    return [str(result["name"]) for result in body["results"]]


def assert_no_orphans(cluster: Cluster, names_by_download: dict[str, list[str]]) -> None:
    listed = {
        f"{cluster.prefix}/downloads/{download_id}/{name}"
        for download_id, names in names_by_download.items()
        for name in names
    }
    s3 = cluster.s3.client()
    stored: set[str] = set()
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=cluster.s3.bucket, Prefix=cluster.prefix + "/"
    ):
        stored.update(item["Key"] for item in page.get("Contents", []))
    results = {key for key in stored if key.startswith(f"{cluster.prefix}/downloads/")}
    assert results == listed
    # Besides result files, the bucket holds the one record snapshot loaded (its Parquet parts and
    # its search index, docs/search.md), and nothing else.
    snapshots = {"/".join(key.split("/")[:4]) for key in stored - results}
    assert len(snapshots) == 1
    assert snapshots.pop().startswith(f"{cluster.prefix}/snapshots/businesses/")


def test_random_worker_kills_lose_nothing_and_charge_once(cluster: Cluster) -> None:
    chaos = random.Random(SEED)
    print(f"chaos seed {SEED} (DLSERVE_CHAOS_SEED={SEED} repeats this run)")
    queries = {"*": "json", "province:CA": "json", "province:TX": "csv"}
    with cluster.client() as client:
        started = {
            client.post(
                "/v4/businesses/search", json={"query": query, "download": True, "format": output_format}
            ).json()["id"]: query
            for query, output_format in queries.items()
        }
    kills = 0
    while kills < 5:
        time.sleep(chaos.uniform(0.2, 1.0))
        victim = chaos.choice([w for w in cluster.workers if w.poll() is None])
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        kills += 1
        cluster.add_worker()  # a replacement, as an orchestrator would start
    bodies = wait_all(cluster, list(started))
    names = {str(body["id"]): check_download(cluster, body, started[str(body["id"])]) for body in bodies}
    delivered = sum(int(body["num_records"]) for body in bodies)  # type: ignore[call-overload]
    with cluster.client() as client:
        assert client.get("/v4/account").json()["available_credits"] == CREDITS - delivered
    assert_no_orphans(cluster, names)


def test_api_killed_and_restarted_while_clients_poll(cluster: Cluster) -> None:
    with cluster.client() as client:
        download_id = client.post("/v4/businesses/search", json={"query": "*", "download": True}).json()["id"]
    events: list[str] = []  # "up" or "down", in order
    stop_polling = threading.Event()

    def poll() -> None:  # what a client does: poll, and retry while the API is away
        while not stop_polling.is_set():
            try:
                with cluster.client() as client:
                    response = client.get(f"/v4/downloads/{download_id}")
                events.append("up" if response.status_code == 200 else f"http {response.status_code}")
            except httpx.TransportError:
                events.append("down")
            stop_polling.wait(0.1)  # a client's polling interval

    def seen(event: str) -> None:
        deadline = time.monotonic() + 60
        while event not in events:
            assert time.monotonic() < deadline, f"the poller never saw the API {event}: {events}"
            stop_polling.wait(0.05)

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        seen("up")
        cluster.api.send_signal(signal.SIGKILL)
        cluster.api.wait()
        seen("down")
        _, cluster.api = start_server(cluster.env, cluster.data_dir, "--workers", "0", port=cluster.port)
        (body,) = wait_all(cluster, [download_id])
    finally:
        stop_polling.set()
        poller.join()
    assert "down" in events, "the API was never seen down: the kill did not happen while polling"
    first_down, last_down = events.index("down"), len(events) - 1 - events[::-1].index("down")
    assert "up" in events[:first_down], events
    assert "up" in events[last_down:], events
    assert set(events) <= {"up", "down"}, events  # never an error answer, only away or answering
    names = check_download(cluster, body, "*")
    with cluster.client() as client:
        assert client.get("/v4/account").json()["available_credits"] == CREDITS - RECORDS
    assert_no_orphans(cluster, {download_id: names})
    stop(cluster.api)
