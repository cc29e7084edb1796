"""Webhooks end to end in one process, on SQLite and PostgreSQL: creation, the delivery rows and
jobs written with the status change, signed POSTs to a real loopback receiver, retries with backoff
(frozen clock), giving up, the endpoints, and the account's secret."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from standardwebhooks import Webhook

from dlserve.api.app import create_app
from dlserve.clock import FrozenClock
from dlserve.container import Services
from dlserve.db.tables import webhook_attempts, webhook_deliveries
from dlserve.downloads.runner import EXPORT_KINDS
from dlserve.webhooks.models import JOB_KIND
from tests.integration.conftest import BUSINESSES, loaded_services
from tests.support.webhook_receiver import Receiver, webhook_receiver


@pytest.fixture
def clock() -> FrozenClock:
    # Near the real time: standardwebhooks refuses timestamps more than 5 minutes off.
    return FrozenClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def services(database_url: str, tmp_path: Path, clock: FrozenClock) -> Iterator[Services]:
    with loaded_services(
        tmp_path,
        database_url,
        BUSINESSES,
        clock,
        media_allow_private=True,  # the receiver is on loopback
        public_url="http://testserver",  # links in deliveries as in the TestClient's answers
        webhook_retry_base_seconds=10,
        webhook_retry_max_seconds=40,
        webhook_retry_for_seconds=120,
        webhook_timeout_seconds=5,
        records_per_file=2,
    ) as built:
        yield built


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as running:
        yield running


def headers_of(services: Services, email: str = "hooks@example.com") -> dict[str, str]:
    token = services.accounts.create_account(email, credits=1000).token
    return {"Authorization": f"Bearer {token}"}


def create(client: TestClient, auth: dict[str, str], url: str, query: str = "city:Austin") -> dict[str, Any]:
    response = client.post(
        "/v4/businesses/search", json={"query": query, "download": True, "webhook_url": url}, headers=auth
    )
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


def run_exports(services: Services) -> None:
    while (job := services.queue.claim("w", EXPORT_KINDS)) is not None:
        services.runner.run(job, "w", threading.Event())


def run_webhooks(services: Services) -> int:
    ran = 0
    while (job := services.queue.claim("w", (JOB_KIND,))) is not None:
        services.webhooks.deliverer.run(job, "w", threading.Event())
        ran += 1
    return ran


def without_presigning(body: object) -> object:
    """The body with S3 presigned links cut at their query: those carry the second they were signed
    at (X-Amz-Date), so two renderings a second apart differ there. Local links are kept whole."""
    assert isinstance(body, dict)
    results = [{**r, "url": r["url"].split("?")[0]} if "X-Amz-" in r["url"] else r for r in body["results"]]
    return {**body, "results": results}


def secret(client: TestClient, auth: dict[str, str]) -> str:
    value: str = client.get("/v4/account", headers=auth).json()["webhook_secret"]
    return value


def test_a_completed_download_posts_its_signed_object_once(
    services: Services, client: TestClient, receiver: Receiver
) -> None:
    auth = headers_of(services)
    created = create(client, auth, receiver.url)
    assert created["webhook_url"] == receiver.url
    assert run_webhooks(services) == 0  # nothing is queued before the download ends

    run_exports(services)

    assert run_webhooks(services) == 1
    [got] = receiver.received
    body = got.verified(secret(client, auth))
    assert without_presigning(body) == without_presigning(
        client.get(f"/v4/downloads/{created['id']}", headers=auth).json()
    )
    assert isinstance(body, dict)
    assert body["status"] == "completed"
    assert len(body["results"]) == 1
    assert got.path == "/hooks"
    assert got.headers["webhook-id"].startswith("msg_")
    assert got.headers["content-type"] == "application/json"
    listed = client.get(f"/v4/downloads/{created['id']}/webhooks", headers=auth).json()
    [delivery] = listed["deliveries"]
    assert listed["webhook_url"] == receiver.url
    assert listed["num_found"] == 1
    assert delivery["webhook_id"] == got.headers["webhook-id"]
    assert delivery["event"] == "download.completed"
    assert delivery["status"] == "delivered"
    assert [(a["attempt"], a["status_code"], a["error"]) for a in delivery["attempts"]] == [(1, 200, None)]
    assert run_webhooks(services) == 0  # delivered: nothing more


def test_failed_attempts_back_off_and_the_third_attempt_is_delivered(
    services: Services, client: TestClient, receiver: Receiver, clock: FrozenClock
) -> None:
    receiver.answers = [500, 500]
    auth = headers_of(services)
    created = create(client, auth, receiver.url)
    run_exports(services)

    assert run_webhooks(services) == 1  # answered 500: the next attempt waits 10 s
    clock.advance(seconds=9)
    assert run_webhooks(services) == 0
    clock.advance(seconds=1)
    assert run_webhooks(services) == 1  # 500 again: then 20 s
    clock.advance(seconds=19)
    assert run_webhooks(services) == 0
    clock.advance(seconds=1)
    assert run_webhooks(services) == 1

    received = receiver.wait_for(3)
    assert len({r.headers["webhook-id"] for r in received}) == 1  # one event, retried
    assert len({r.body for r in received}) == 1  # the same bytes every time
    key = secret(client, auth)
    for one in received:
        Webhook(key).verify(one.body, one.headers)
    [delivery] = client.get(f"/v4/downloads/{created['id']}/webhooks", headers=auth).json()["deliveries"]
    assert delivery["status"] == "delivered"
    assert delivery["num_attempts"] == 3
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 500, 200]
    assert delivery["attempts"][0]["error"] == "the receiver answered 500"
    assert all(a["duration_ms"] >= 0 for a in delivery["attempts"])


def test_a_receiver_that_never_answers_2xx_is_given_up_after_the_retry_period(
    services: Services, client: TestClient, receiver: Receiver, clock: FrozenClock
) -> None:
    receiver.answers = [503] * 100
    auth = headers_of(services)
    created = create(client, auth, receiver.url)
    run_exports(services)

    waits = []
    while run_webhooks(services):
        [delivery] = client.get(f"/v4/downloads/{created['id']}/webhooks", headers=auth).json()["deliveries"]
        if delivery["next_attempt_at"] is None:
            break
        due = datetime.fromisoformat(delivery["next_attempt_at"].replace("Z", "+00:00"))
        waits.append((due - clock.now()).total_seconds())
        clock.advance(seconds=(due - clock.now()).total_seconds())

    assert waits[:4] == [10, 20, 40, 40]  # doubling, capped at 40 s
    assert delivery["status"] == "failed"
    assert delivery["finished_at"] is not None
    assert delivery["num_attempts"] == len(waits) + 1
    first = datetime.fromisoformat(delivery["attempts"][0]["attempted_at"].replace("Z", "+00:00"))
    last = datetime.fromisoformat(delivery["attempts"][-1]["attempted_at"].replace("Z", "+00:00"))
    assert last - first >= timedelta(seconds=120)  # retried for the whole period


def test_cancelled_and_failed_downloads_post_their_final_state(
    services: Services, client: TestClient, receiver: Receiver
) -> None:
    auth = headers_of(services)
    cancelled = create(client, auth, receiver.url)
    assert client.delete(f"/v4/downloads/{cancelled['id']}", headers=auth).status_code == 200
    failed = create(client, auth, receiver.url, query="city:Chicago")
    services.janitor.fail_download(int(failed["id"]), "export failed: the disk is full")
    services.janitor.fail_download(int(failed["id"]), "again")  # already failed: no second event

    assert run_webhooks(services) == 2
    key = secret(client, auth)
    bodies = {b["id"]: b for b in (r.verified(key) for r in receiver.received) if isinstance(b, dict)}
    assert bodies[cancelled["id"]]["status"] == "cancelled"
    assert bodies[failed["id"]]["status"] == "failed"
    assert bodies[failed["id"]]["error"] == "export failed: the disk is full"
    with services.db.read() as conn:
        events = sorted(conn.execute(sa.select(webhook_deliveries.c.event)).scalars())
        attempts = conn.execute(sa.select(sa.func.count()).select_from(webhook_attempts)).scalar_one()
    assert events == ["download.cancelled", "download.failed"]
    assert attempts == 2


def test_rotating_the_secret_signs_later_attempts_with_the_new_one(
    services: Services, client: TestClient, receiver: Receiver, clock: FrozenClock
) -> None:
    auth = headers_of(services)
    first = secret(client, auth)
    assert first.startswith("whsec_")
    assert secret(client, auth) == first
    receiver.answers = [500]
    create(client, auth, receiver.url)
    run_exports(services)
    run_webhooks(services)

    rotated = client.post("/v4/account/webhook-secret", headers=auth)
    assert rotated.status_code == 200
    second = rotated.json()["webhook_secret"]
    assert second.startswith("whsec_")
    assert second != first
    assert secret(client, auth) == second
    clock.advance(seconds=10)
    run_webhooks(services)

    old, new = receiver.wait_for(2)
    old.verified(first)
    new.verified(second)
    with pytest.raises(Exception, match="No matching signature"):
        new.verified(first)


def test_webhook_urls_are_checked_at_creation(services: Services, client: TestClient) -> None:
    auth = headers_of(services)
    for url, message in [
        ("ftp://127.0.0.1/hook", "http:// or https://"),
        ("not a url", "http:// or https://"),
        ("http://user:pw@127.0.0.1/hook", "credentials"),
        ("http://127.0.0.1:99999/hook", "malformed"),
        ("http://" + "a" * 2100 + ".test/", "2048"),
    ]:
        response = client.post(
            "/v4/businesses/search",
            json={"query": "city:Austin", "download": True, "webhook_url": url},
            headers=auth,
        )
        assert response.status_code == 400, (url, response.text)
        body = response.json()
        assert message in body["message"]
        assert body["details"][0]["field"] == "webhook_url"
    assert client.get("/v4/downloads", headers=auth).json()["num_found"] == 0


def test_private_webhook_urls_are_refused_unless_allowed(
    database_url: str, tmp_path: Path, clock: FrozenClock
) -> None:
    with (
        loaded_services(tmp_path, database_url, BUSINESSES, clock) as built,
        TestClient(create_app(built.settings, built), raise_server_exceptions=False) as client,
    ):
        auth = headers_of(built)
        for url in ["http://127.0.0.1:8080/hook", "http://[::1]/hook", "http://169.254.169.254/latest"]:
            response = client.post(
                "/v4/businesses/search",
                json={"query": "city:Austin", "download": True, "webhook_url": url},
                headers=auth,
            )
            assert response.status_code == 400, response.text
            assert "non-public address" in response.json()["message"]
        v3 = client.get(
            "/v3/data/businesses",
            params={"q": "city:Austin", "download": "true", "webhook_url": "http://10.0.0.1/x"},
            auth=(auth["Authorization"].split()[1], ""),
            follow_redirects=False,
        )
        assert v3.status_code == 400, v3.text


def test_v3_downloads_take_the_webhook_url_as_a_query_parameter(
    services: Services, client: TestClient, receiver: Receiver
) -> None:
    auth = headers_of(services)
    response = client.get(
        "/v3/data/businesses",
        params={"q": "city:Austin", "download": "true", "webhook_url": receiver.url},
        auth=(auth["Authorization"].split()[1], ""),
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    request_id = response.headers["location"].rsplit("/", 1)[1]
    run_exports(services)
    assert run_webhooks(services) == 1
    body = receiver.received[0].verified(secret(client, auth))
    assert isinstance(body, dict)
    assert body["id"] == request_id
    assert body["status"] == "completed"


def test_webhooks_of_another_account_are_not_found(services: Services, client: TestClient) -> None:
    owner = headers_of(services, "owner@example.com")
    other = headers_of(services, "other@example.com")
    created = create(client, owner, "http://127.0.0.1:9/hook")
    assert client.get(f"/v4/downloads/{created['id']}/webhooks", headers=owner).status_code == 200
    response = client.get(f"/v4/downloads/{created['id']}/webhooks", headers=other)
    assert response.status_code == 404
    assert response.json()["code"] == 404
    assert client.get("/v4/downloads/999999/webhooks", headers=owner).status_code == 404
    assert client.get(f"/v4/downloads/{created['id']}/webhooks").status_code == 401


def test_media_downloads_post_the_media_object_and_anonymous_ones_cannot_ask(
    services: Services, client: TestClient, receiver: Receiver
) -> None:
    auth = headers_of(services)
    anonymous = client.post(
        "/api/download", json={"url": "http://127.0.0.1:9/v.mp4", "webhook_url": receiver.url}
    )
    assert anonymous.status_code == 400
    assert "Bearer" in anonymous.json()["detail"]
    started = client.post(
        "/api/download", json={"url": "http://127.0.0.1:9/v.mp4", "webhook_url": receiver.url}, headers=auth
    )
    assert started.status_code == 200, started.text
    media_id = started.json()["download_id"]
    assert client.post(f"/api/downloads/{media_id}/cancel", headers=auth).status_code == 200

    assert run_webhooks(services) == 1
    body = receiver.received[0].verified(secret(client, auth))
    assert body == client.get(f"/api/downloads/{media_id}", headers=auth).json()
    assert isinstance(body, dict)
    assert body["status"] == "cancelled"
    assert body["webhook_url"] == receiver.url
    listed = client.get(f"/api/downloads/{media_id}/webhooks", headers=auth).json()
    assert listed["deliveries"][0]["event"] == "media.cancelled"
    assert listed["deliveries"][0]["status"] == "delivered"
    assert client.get(f"/api/downloads/{media_id}/webhooks").status_code == 404  # anonymous: not theirs
