"""Helpers for media API tests: services on a test database, a worker pool, polling."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from dlserve.api.app import create_app
from dlserve.container import Services, build_services
from dlserve.settings import Settings


class OffsetClock:
    """The real time, plus an offset a test can move forward (retention, leases)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


def media_settings(tmp_path: Path, database_url: str, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "database_url": database_url,
        "log_json": False,
        "media_allow_private": True,
        "media_socket_timeout": 10.0,
        "allowed_hosts": ["testserver", "127.0.0.1", "localhost"],  # TestClient's Host is "testserver"
        **extra,
    }
    return Settings(**values)


@contextmanager
def media_app(settings: Settings, clock: OffsetClock | None = None) -> Iterator[tuple[Services, TestClient]]:
    services = build_services(settings, clock)
    try:
        with TestClient(create_app(settings, services), raise_server_exceptions=False) as client:
            yield services, client
    finally:
        services.close()


@contextmanager
def media_workers(services: Services, threads: int = 1) -> Iterator[None]:
    runtime = services.worker_runtime(0, threads)  # media threads only
    runtime.start()
    try:
        yield
    finally:
        runtime.stop()


def wait_for(
    client: TestClient,
    download_id: str,
    statuses: tuple[str, ...] = ("completed",),
    *,
    seconds: float = 60,
    headers: dict[str, str] | None = None,
    until: Any = None,
) -> dict[str, Any]:
    """Poll ``GET /api/downloads/{id}`` until its status is one of ``statuses`` (and ``until(entry)``)."""
    deadline = time.monotonic() + seconds
    entry: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = client.get(f"/api/downloads/{download_id}", headers=headers)
        assert response.status_code == 200, response.text
        entry = response.json()
        if entry["status"] in statuses and (until is None or until(entry)):
            return entry
        if entry["status"] in ("failed", "cancelled") and entry["status"] not in statuses:
            raise AssertionError(f"download ended {entry['status']}: {entry}")
        time.sleep(0.1)
    raise AssertionError(f"download did not reach {statuses} in {seconds}s: {entry}")


def start(client: TestClient, url: str, quality: str = "best", headers: dict[str, str] | None = None) -> str:
    response = client.post("/api/download", json={"url": url, "quality": quality}, headers=headers)
    assert response.status_code == 200, response.text
    return str(response.json()["download_id"])
