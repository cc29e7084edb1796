"""Fixtures: a ``FakeServer`` behind ``httpx.MockTransport``, and a fake clock so nothing sleeps."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dlserve.client import AsyncClient, Client, RetryPolicy
from tests.unit.client.fake_server import API, TOKEN, FakeServer


class FakeClock:
    """``sleep`` records each wait and moves ``now`` on; ``monotonic`` reads it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)


@pytest.fixture
def server() -> FakeServer:
    return FakeServer()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def client(server: FakeServer, clock: FakeClock) -> Iterator[Client]:
    with make_client(server, clock) as built:
        yield built


def make_client(server: FakeServer, clock: FakeClock, retries: int | RetryPolicy = 3) -> Client:
    return Client(
        API, TOKEN, transport=server.transport(), retries=retries, sleep=clock.sleep, clock=clock.monotonic
    )


def make_async_client(server: FakeServer, clock: FakeClock, retries: int | RetryPolicy = 3) -> AsyncClient:
    return AsyncClient(
        API,
        TOKEN,
        transport=server.transport(),
        retries=retries,
        sleep=clock.async_sleep,
        clock=clock.monotonic,
    )


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
