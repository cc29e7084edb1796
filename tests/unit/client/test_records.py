"""Search, count, paginate, records, account and login over MockTransport."""

from __future__ import annotations

import json

import httpx
import pytest

from dlserve.client import Account, AccountLimits, AuthenticationError, Client, SearchResult
from tests.unit.client.conftest import FakeClock
from tests.unit.client.fake_server import API, TOKEN, FakeServer


def sent_json(request: httpx.Request) -> object:
    return json.loads(request.content)


def test_search_sends_the_v4_body_with_the_bearer_token(client: Client, server: FakeServer) -> None:
    result = client.search("businesses", "name:hotel", num_records=3, view="business_basic")
    assert result == SearchResult(num_found=25, total_cost=3, records=server.records[:3])
    request = server.requests[-1]
    assert (request.method, request.url.path) == ("POST", "/v4/businesses/search")
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["user-agent"].startswith("dlserve-client/")
    assert sent_json(request) == {
        "query": "name:hotel",
        "num_records": 3,
        "format": "JSON",
        "view": "business_basic",
    }


def test_count_asks_for_zero_records(client: Client, server: FakeServer) -> None:
    assert client.count("businesses", "*") == 25
    assert sent_json(server.requests[-1]) == {"query": "*", "num_records": 0}


def test_paginate_walks_pages_from_one_until_an_empty_page(client: Client, server: FakeServer) -> None:
    ids = [r["id"] for r in client.paginate("businesses", "*", page_size=10)]
    assert ids == [f"r{i}" for i in range(25)]
    pages = [(r.url.params["page"], r.url.params["limit"]) for r in server.requests]
    assert pages == [("1", "10"), ("2", "10"), ("3", "10"), ("4", "10")]


def test_paginate_csv_yields_rows_keyed_by_column(client: Client, server: FakeServer) -> None:
    rows = list(client.paginate("businesses", "*", page_size=20, format="CSV"))
    assert rows[0] == {"id": "r0", "name": "Hotel 0, Inc."}
    assert len(rows) == 25
    assert sent_json(server.requests[0]) == {"query": "*", "format": "CSV"}


def test_paginate_is_lazy(client: Client, server: FakeServer) -> None:
    first = next(iter(client.paginate("businesses", "*", page_size=5)))
    assert first["id"] == "r0"
    assert len(server.requests) == 1


def test_get_record_quotes_the_id_and_passes_the_view(client: Client, server: FakeServer) -> None:
    server.records.append({"id": "a/b c", "name": "Odd"})
    assert client.get_record("businesses", "a/b c", view="v1") == {"id": "a/b c", "name": "Odd"}
    request = server.requests[-1]
    assert request.url.raw_path == b"/v4/businesses/a%2Fb%20c?view=v1"


def test_account(client: Client) -> None:
    account = client.account()
    assert isinstance(account, Account)
    assert (account.id, account.email, account.available_credits) == ("1", "a@example.com", 990)
    assert account.created_at is not None
    assert account.created_at.year == 2024
    assert account.num_credits_used == 10
    assert account.credits_used == {"business": 7, "product": 3, "property": 0, "people": 0}
    assert account.limits == AccountLimits(
        max_active_downloads=5, query_rate_per_minute=120.0, query_concurrency=4
    )
    assert (account.held_credits, account.active_downloads) == (0, 0)


def test_an_account_without_dlserve_extensions_still_parses() -> None:
    account = Account.from_json({"id": 7, "email": "info@datafiniti.co", "num_credits_used": 7})
    assert (account.id, account.num_credits_used, account.credits_used, account.limits) == ("7", 7, {}, None)


def test_login_keeps_the_token(server: FakeServer, clock: FakeClock) -> None:
    with Client.login(API, "a@example.com", "pw", transport=server.transport(), sleep=clock.sleep) as client:
        assert client.token == TOKEN
        assert client.count("businesses", "*") == 25
    with pytest.raises(AuthenticationError, match="Wrong email or password"):
        Client.login(API, "a@example.com", "nope", transport=server.transport())


def test_base_url_with_a_path_prefix_and_trailing_slash(server: FakeServer) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(200, json={"num_found": 7})

    with Client("http://dl.test/prefix/", TOKEN, transport=httpx.MockTransport(handler)) as client:
        assert client.count("people", "*") == 7
    assert seen == ["/prefix/v4/people/search"]


def test_a_bad_base_url_is_refused() -> None:
    with pytest.raises(ValueError, match="absolute http"):
        Client("127.0.0.1:8000", TOKEN)
