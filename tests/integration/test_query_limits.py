"""Issue 12, finding 2: query cost limits over HTTP (length, clauses, rate, concurrency, timeout).

The 10,000-word AND query of the finding (60 KB, which once grew the process to 24 GB) must be a
fast 400 naming the limit, on v4 search, v4 paginate, v4 download creation and v3.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from fastapi.testclient import TestClient

from dlserve.api.app import create_app
from dlserve.container import Services
from dlserve.limits.query_cost import QueryTimedOut, interrupt_after
from tests.integration.conftest import BUSINESSES, loaded_services

HUGE_AND = " ".join(f"w{i}" for i in range(10_000))  # implicit AND, about 60 KB: the finding


def v3_auth(token: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{token}:".encode()).decode()}


def test_the_10000_word_query_is_a_fast_400_naming_the_limit(client: TestClient, token: str) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    for path, body in (
        ("/v4/businesses/search", {"query": HUGE_AND}),
        ("/v4/businesses/search", {"query": HUGE_AND, "num_records": 0}),
        ("/v4/businesses/search", {"query": HUGE_AND, "download": True}),
        ("/v4/businesses/paginate", {"query": HUGE_AND}),
    ):
        started = time.perf_counter()
        response = client.post(path, json=body, headers=auth)
        assert time.perf_counter() - started < 5  # generous on a shared machine; it used to OOM
        assert response.status_code == 400, response.text
        error = response.json()
        assert set(error) == {"error", "message", "code", "details"}
        assert "too long" in error["message"]
        assert "8,192" in error["message"]
        assert error["details"] == [
            {"field": "query", "message": "at most 8192 characters (query_max_length)"}
        ]
    over = HUGE_AND[:9000]  # a URL holds less than the POST body (httpx stops at 64 KB)
    response = client.get("/v3/data/businesses", params={"q": over}, headers=v3_auth(token))
    assert response.status_code == 400
    assert set(response.json()) == {"error", "message", "code"}
    assert "query_max_length" in response.json()["message"]
    assert client.get("/v4/account", headers=auth).json()["available_credits"] == 100


def test_too_many_clauses_is_a_400_naming_the_limit(client: TestClient, auth: dict[str, str]) -> None:
    query = "name:(" + " OR ".join(f"w{i}" for i in range(300)) + ")"  # short, but 300 clauses
    response = client.post("/v4/businesses/search", json={"query": query}, headers=auth)
    assert response.status_code == 400, response.text
    assert "too many clauses: 300" in response.json()["message"]
    assert response.json()["details"][0]["message"] == "at most 256 clauses (query_max_clauses)"
    within = "name:(" + " OR ".join(f"w{i}" for i in range(250)) + ")"
    assert client.post("/v4/businesses/search", json={"query": within}, headers=auth).status_code == 200


@pytest.fixture
def strict(database_url: str, tmp_path: Path) -> Iterator[tuple[Services, TestClient]]:
    with (
        loaded_services(tmp_path, database_url, BUSINESSES, query_rate_per_minute=3) as built,
        TestClient(create_app(built.settings, built), raise_server_exceptions=False) as client,
    ):
        yield built, client


def test_the_rate_limit_is_per_account_with_retry_after(strict: tuple[Services, TestClient]) -> None:
    services, client = strict
    first = services.accounts.create_account("first@example.com", credits=10).token
    second = services.accounts.create_account("second@example.com", credits=10).token
    bearer = {"Authorization": f"Bearer {first}"}
    for _ in range(3):
        ok = client.post("/v4/businesses/search", json={"query": "*", "num_records": 0}, headers=bearer)
        assert ok.status_code == 200
    limited = client.post("/v4/businesses/paginate", json={"query": "*"}, headers=bearer)
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["retry-after"]) <= 20
    assert set(limited.json()) == {"error", "message", "code", "details"}
    assert "query_rate_per_minute" in limited.json()["message"]
    v3 = client.get("/v3/data/businesses", params={"q": "*"}, headers=v3_auth(first))
    assert v3.status_code == 429
    assert set(v3.json()) == {"error", "message", "code"}
    assert "retry-after" in v3.headers
    # Another account is not affected, and cheap requests are never rate limited.
    other = client.post(
        "/v4/businesses/search", json={"query": "*"}, headers={"Authorization": f"Bearer {second}"}
    )
    assert other.status_code == 200
    assert client.get("/v4/account", headers=bearer).status_code == 200


def test_a_query_running_past_the_timeout_is_interrupted() -> None:
    connection = duckdb.connect()
    started = time.perf_counter()
    slow = pytest.raises(QueryTimedOut, match=r"longer than 0\.2 s")
    with slow as raised, interrupt_after(connection, 0.2):
        connection.execute("SELECT count(*) FROM range(1000000000000) a WHERE a.range % 7 = 3").fetchall()
    assert time.perf_counter() - started < 10
    assert raised.value.status_code == 503
    connection.execute("SELECT 1").fetchall()  # the connection is usable afterwards
    connection.close()
