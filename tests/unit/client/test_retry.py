"""Retries: 429/503 and connection errors with backoff and Retry-After; never a POST that may have
been acted on."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest

from dlserve.client import Client, Download, RateLimited, RetryPolicy, ServerError, TransportError
from dlserve.client._retry import parse_retry_after
from tests.unit.client.conftest import FakeClock, make_client
from tests.unit.client.fake_server import FakeServer, download_json, envelope, json_response, jsonl

Handler = Callable[[httpx.Request], httpx.Response]


def answer(status: int, headers: dict[str, str] | None = None) -> Handler:
    return lambda request: json_response(status, envelope(status, "try later"), headers)


def fail(error: type[httpx.TransportError]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error("boom", request=request)

    return handler


def test_429_is_retried_after_retry_after_seconds(
    client: Client, server: FakeServer, clock: FakeClock
) -> None:
    server.queue.extend([answer(429, {"Retry-After": "5"}), answer(429, {"Retry-After": "0"})])
    assert client.create_download("businesses", "*").status == "queued"
    assert clock.sleeps == [5.0, 0.0]
    assert len(server.requests) == 3  # a 429 means the server did not act: the POST is safe to repeat


def test_retry_after_as_an_http_date(client: Client, server: FakeServer, clock: FakeClock) -> None:
    when = datetime.now(UTC) + timedelta(seconds=30)
    server.queue.append(answer(503, {"Retry-After": format_datetime(when, usegmt=True)}))
    assert client.count("businesses", "*") == 25
    assert len(clock.sleeps) == 1
    assert 25 < clock.sleeps[0] <= 30


def test_503_backs_off_exponentially_then_raises(
    client: Client, server: FakeServer, clock: FakeClock
) -> None:
    server.queue.extend([answer(503)] * 4)
    with pytest.raises(ServerError) as caught:
        client.count("businesses", "*")
    assert caught.value.status_code == 503
    assert clock.sleeps == [0.5, 1.0, 2.0]
    assert len(server.requests) == 4


def test_backoff_is_capped(server: FakeServer, clock: FakeClock) -> None:
    server.queue.extend([answer(503)] * 5)
    policy = RetryPolicy(retries=5, backoff=1.0, max_backoff=3.0)
    with make_client(server, clock, retries=policy) as client:
        assert client.account().email == "a@example.com"
    assert clock.sleeps == [1.0, 2.0, 3.0, 3.0, 3.0]


def test_a_retry_after_beyond_the_limit_is_raised_at_once(
    client: Client, server: FakeServer, clock: FakeClock
) -> None:
    server.queue.append(answer(429, {"Retry-After": "3600"}))
    with pytest.raises(RateLimited) as caught:
        client.create_download("businesses", "*")
    assert caught.value.retry_after == 3600.0
    assert clock.sleeps == []


def test_retries_zero_turns_retrying_off(server: FakeServer, clock: FakeClock) -> None:
    server.queue.append(answer(429, {"Retry-After": "1"}))
    with make_client(server, clock, retries=0) as client, pytest.raises(RateLimited) as caught:
        client.count("businesses", "*")
    assert caught.value.retry_after == 1.0
    assert clock.sleeps == []


@pytest.mark.parametrize("status", [400, 401, 404, 409, 500, 502])
def test_other_statuses_are_not_retried(status: int, client: Client, server: FakeServer) -> None:
    server.queue.append(answer(status))
    with pytest.raises(Exception, match="try later"):
        client.get_download("1")
    assert len(server.requests) == 1


@pytest.mark.parametrize("error", [httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout])
def test_a_post_is_retried_when_nothing_was_sent(
    error: type[httpx.TransportError], client: Client, server: FakeServer, clock: FakeClock
) -> None:
    server.queue.extend([fail(error), fail(error)])
    assert client.create_download("businesses", "*").status == "queued"
    assert clock.sleeps == [0.5, 1.0]


@pytest.mark.parametrize(
    "error", [httpx.ReadTimeout, httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError]
)
def test_a_post_is_never_resent_after_it_may_have_been_acted_on(
    error: type[httpx.TransportError], client: Client, server: FakeServer, clock: FakeClock
) -> None:
    server.queue.append(fail(error))
    with pytest.raises(TransportError, match="POST /v4/businesses/search") as caught:
        client.create_download("businesses", "*")
    assert isinstance(caught.value.__cause__, error)
    assert len(server.requests) == 1
    assert clock.sleeps == []


@pytest.mark.parametrize("method", ["get", "delete"])
def test_idempotent_requests_are_resent_after_a_read_error(
    method: str, client: Client, server: FakeServer, clock: FakeClock
) -> None:
    client.create_download("businesses", "*")
    server.queue.extend([fail(httpx.ReadTimeout), fail(httpx.ReadError)])
    if method == "get":
        assert client.get_download("100").id == "100"
    else:
        assert "cancelled" in client.cancel_download("100")
    assert clock.sleeps == [0.5, 1.0]


def test_connection_errors_give_up_after_the_retries(server: FakeServer, clock: FakeClock) -> None:
    server.queue.extend([fail(httpx.ConnectError)] * 3)
    with make_client(server, clock, retries=2) as client, pytest.raises(TransportError) as caught:
        client.account()
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert clock.sleeps == [0.5, 1.0]


def test_an_unsupported_scheme_is_not_retried(client: Client, server: FakeServer, clock: FakeClock) -> None:
    server.queue.append(fail(httpx.UnsupportedProtocol))
    with pytest.raises(TransportError):
        client.account()
    assert clock.sleeps == []


def test_file_transfers_retry_on_503_too(
    client: Client, server: FakeServer, clock: FakeClock, tmp_path: Path
) -> None:
    body = download_json("5", "completed", 3, 3)
    body["results"] = [server.add_file("5", 1, jsonl(3))]
    server.queue.append(answer(503, {"Retry-After": "2"}))
    [path] = client.fetch_files(Download.from_json(body), tmp_path)
    assert path.read_bytes() == jsonl(3)
    assert clock.sleeps == [2.0]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        ("Wed, 01 May 2024 12:00:30 GMT", 30.0),
        ("Wed, 01 May 2024 11:00:00 GMT", 0.0),  # in the past: go now
        ("soon", None),
        ("-5", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    now = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after(value, now) == expected
