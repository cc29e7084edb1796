"""Webhooks against real processes: `dlserve serve` (no workers of its own) + `dlserve worker`s and a
real HTTP receiver on 127.0.0.1 (DLSERVE_MEDIA_ALLOW_PRIVATE=true lets webhooks reach it).

Downloads end completed, cancelled and failed; every delivery's signature is verified with the
`standardwebhooks` package; a receiver that answers 500 twice gets the third attempt; and a worker
killed (SIGKILL) between two attempts of a delivery loses nothing: the next worker makes the attempt.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from dlserve.client import Client
from tests.acceptance.conftest import cli, start_server, start_worker, stop
from tests.support.webhook_receiver import Receiver, webhook_receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as running:
        yield running


def create(client: httpx.Client, data_type: str, query: str, url: str) -> str:
    response = client.post(
        f"/v4/{data_type}/search", json={"query": query, "download": True, "webhook_url": url}
    )
    assert response.status_code == 202, response.text
    download_id: str = response.json()["id"]
    return download_id


def deliveries(client: httpx.Client, download_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/v4/downloads/{download_id}/webhooks")
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["deliveries"]
    return found


def worker_logs(data_dir: Path) -> str:
    """The processes' logs, for a failure message (what a worker did with each job)."""
    logs = sorted(data_dir.glob("*.log"))
    return "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-20000:]}" for log in logs)


def wait_for_delivery(
    client: httpx.Client, download_id: str, attempts: int, seconds: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = deliveries(client, download_id)
        if found and found[0]["num_attempts"] >= attempts:
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"download {download_id}: {deliveries(client, download_id)}")


def verified(secret: str, received: Any) -> dict[str, Any]:
    body: dict[str, Any] = Webhook(secret).verify(received.body, received.headers)
    return body


def test_webhooks_are_signed_retried_and_survive_a_worker_restart(tmp_path: Path, receiver: Receiver) -> None:
    data_dir = tmp_path / "data"
    env = {
        **os.environ,
        "DLSERVE_DATA_DIR": str(data_dir),
        "DLSERVE_MEDIA_ALLOW_PRIVATE": "true",  # the receiver is on loopback
        "DLSERVE_MEDIA_WORKERS": "0",
        "DLSERVE_JOB_MAX_ATTEMPTS": "1",  # an export that fails once fails its download
        "DLSERVE_RECORDS_PER_FILE": "100",
    }
    env.pop("DLSERVE_DATABASE_URL", None)
    cli(env, "demo", "--records", "300", "--seed", "3", "--type", "businesses", "--type", "products")
    token = json.loads(cli(env, "accounts", "create", "hooks@example.com", "--credits", "100000"))["token"]
    base_url, server = start_server(dict(env), data_dir, "--workers", "0")
    env["DLSERVE_PUBLIC_URL"] = base_url  # workers write the same links as the server
    workers = []
    try:
        client = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
        secret = client.get("/v4/account").json()["webhook_secret"]
        assert secret.startswith("whsec_")

        # Before any worker runs: one download is cancelled, one will fail (its data is gone).
        cancelled = create(client, "businesses", "city:*", f"{receiver.url}/cancelled")
        assert client.delete(f"/v4/downloads/{cancelled}").status_code == 200
        failed = create(client, "products", "*:*", f"{receiver.url}/failed")
        removed = list((data_dir / "snapshots" / "products").rglob("part-*.parquet"))
        assert removed
        for part in removed:
            part.unlink()
        # This one is delivered, but its receiver answers 500 first: attempt 2 is due 6 s later.
        restarted = create(client, "businesses", "city:*", f"{receiver.url}/restart")
        receiver.answers_for["/hooks/restart"] = [500]

        first = start_worker(env, data_dir, "one", webhook_retry_base_seconds="6")
        workers.append(first)
        receiver.wait_for(1, path="/hooks/cancelled")
        receiver.wait_for(1, path="/hooks/failed")
        receiver.wait_for(1, path="/hooks/restart")
        pending = wait_for_delivery(client, restarted, attempts=1)
        first.kill()  # SIGKILL between the two attempts
        first.wait()
        assert pending["status"] == "pending"
        assert [a["status_code"] for a in pending["attempts"]] == [500]
        due = datetime.fromisoformat(pending["next_attempt_at"].replace("Z", "+00:00"))
        time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + 1.0)
        assert len(receiver.at("/hooks/restart")) == 1  # no worker: nothing was sent
        assert deliveries(client, restarted)[0]["status"] == "pending"  # and nothing was lost

        second = start_worker(
            env, data_dir, "two", webhook_retry_base_seconds="1", webhook_retry_max_seconds="2"
        )
        workers.append(second)
        retried = receiver.wait_for(2, path="/hooks/restart")
        delivered = wait_for_delivery(client, restarted, attempts=2)
        assert delivered["status"] == "delivered"
        assert [a["status_code"] for a in delivered["attempts"]] == [500, 200]
        assert retried[0].headers["webhook-id"] == retried[1].headers["webhook-id"] == delivered["webhook_id"]

        # A receiver that answers 500 twice gets the third attempt.
        receiver.answers_for["/hooks/completed"] = [500, 500]
        sdk = Client(base_url, token)  # the SDK asks for this one
        assert sdk.account().webhook_secret == secret
        completed = sdk.create_download("businesses", "city:*", webhook_url=f"{receiver.url}/completed").id
        three = receiver.wait_for(3, path="/hooks/completed")
        done = wait_for_delivery(client, completed, attempts=3)
        assert done["status"] == "delivered"
        assert [a["status_code"] for a in done["attempts"]] == [500, 500, 200]
        assert len({r.headers["webhook-id"] for r in three}) == 1
        [listed] = sdk.list_webhooks(completed)
        assert [a.status_code for a in listed.attempts] == [500, 500, 200]
        assert listed.status == "delivered"

        # Every delivery is signed with the account's secret; bodies are the downloads' own JSON.
        bodies = {
            path: verified(secret, receiver.at(f"/hooks/{path}")[-1])
            for path in ("cancelled", "failed", "restart", "completed")
        }
        for request in receiver.received:
            verified(secret, request)
        assert bodies["cancelled"]["id"] == cancelled
        assert bodies["cancelled"]["status"] == "cancelled"
        assert bodies["failed"]["id"] == failed
        assert bodies["failed"]["status"] == "failed", worker_logs(data_dir)
        assert bodies["failed"]["error"]
        assert bodies["restart"]["status"] == "completed"
        assert bodies["completed"] == client.get(f"/v4/downloads/{completed}").json()
        assert bodies["completed"]["num_downloaded"] == bodies["completed"]["num_records"] > 0
        events = {d: deliveries(client, d)[0]["event"] for d in (cancelled, failed, restarted, completed)}
        assert events == {
            cancelled: "download.cancelled",
            failed: "download.failed",
            restarted: "download.completed",
            completed: "download.completed",
        }
        assert len(receiver.received) == 1 + 1 + 2 + 3  # exactly one delivery per download
        rotated = sdk.rotate_webhook_secret()
        assert rotated != secret
        assert sdk.account().webhook_secret == rotated
    finally:
        for worker in workers:
            stop(worker)
        stop(server)
