"""Issue 12, finding 9: empty downloads count toward the active limit; ``GET /v3/requests`` pages."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dlserve.api.app import create_app
from dlserve.clock import FrozenClock
from dlserve.container import Services
from dlserve.downloads.runner import EXPORT_KINDS
from tests.integration.conftest import loaded_services

RECORDS = [{"id": f"r{i}", "name": f"Shop {i}", "city": "Austin"} for i in range(5)]


@pytest.fixture
def services(database_url: str, tmp_path: Path) -> Iterator[Services]:
    with loaded_services(tmp_path, database_url, RECORDS, FrozenClock(), max_active_downloads=3) as built:
        yield built


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services.settings, services)) as test_client:
        yield test_client


def run_jobs(services: Services) -> None:
    while (job := services.queue.claim("test-worker", EXPORT_KINDS)) is not None:
        services.runner.run(job, "test-worker", threading.Event())


def test_empty_downloads_count_toward_the_active_limit(client: TestClient, services: Services) -> None:
    headers = {"Authorization": f"Bearer {services.accounts.create_account('e@example.com').token}"}
    empty = {"query": "city:nowhere", "download": True}
    for _ in range(3):
        assert client.post("/v4/businesses/search", json=empty, headers=headers).status_code == 202
    refused = client.post("/v4/businesses/search", json=empty, headers=headers)
    assert refused.status_code == 429
    assert "limit is 3" in refused.json()["message"]
    run_jobs(services)  # the worker completes them; then there is room again
    assert client.post("/v4/businesses/search", json=empty, headers=headers).status_code == 202


def test_v3_requests_are_paged_newest_first_with_headers(client: TestClient, services: Services) -> None:
    created = services.accounts.create_account("p@example.com", credits=100)
    auth = {"Authorization": "Basic " + base64.b64encode(f"{created.token}:".encode()).decode()}
    ids: list[int] = []
    for _ in range(5):
        response = client.get(
            "/v3/data/businesses", params={"q": "*", "download": "true"}, headers=auth, follow_redirects=False
        )
        assert response.status_code == 303
        ids.append(response.json()["id"])
        run_jobs(services)  # stay under the active limit
    default = client.get("/v3/requests", headers=auth)
    assert [r["id"] for r in default.json()] == ids[::-1]  # the seed's bare array
    assert default.headers["X-Total-Count"] == "5"
    assert "link" not in default.headers
    first = client.get("/v3/requests?per_page=2", headers=auth)
    assert [r["id"] for r in first.json()] == ids[::-1][:2]
    assert first.headers["Link"] == '</v3/requests?page=2&per_page=2>; rel="next"'
    third = client.get("/v3/requests?per_page=2&page=3", headers=auth)
    assert [r["id"] for r in third.json()] == [ids[0]]
    assert "link" not in third.headers
    assert client.get("/v3/requests?per_page=2&page=9", headers=auth).json() == []
    assert client.get("/v3/requests?per_page=1001", headers=auth).status_code == 400
