"""Fixtures for HTTP-level integration tests: a real app on a real database, with records loaded."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from dlserve.api.app import create_app
from dlserve.clock import Clock
from dlserve.container import Services, build_services
from dlserve.records.loader import load_files
from dlserve.settings import Settings
from tests.support.media import MediaServer, shared_media

BUSINESSES = [
    {
        "id": "b1",
        "name": "Hilton Garden Inn",
        "address": "500 N Capital of Texas Hwy",
        "city": "Austin",
        "province": "TX",
        "country": "US",
        "latitude": 30.27,
        "longitude": -97.74,
        "categories": ["Hotels"],
        "dateAdded": "2017-01-02T03:04:05Z",
        "dateUpdated": "2019-05-06T07:08:09Z",
        "reviews": [{"rating": 5, "text": "Great stay", "username": "ann"}, {"rating": 2, "text": "Noisy"}],
    },
    {
        "id": "b2",
        "name": "Joe's Coffee",
        "city": "Dallas",
        "province": "TX",
        "country": "US",
        "latitude": 32.78,
        "longitude": -96.8,
        "categories": ["Coffee Shops"],
        "dateAdded": "2018-03-01T00:00:00Z",
    },
    {
        "id": "b3",
        "name": "Marriott Downtown",
        "city": "Austin",
        "province": "TX",
        "country": "US",
        "latitude": 30.26,
        "longitude": -97.74,
        "categories": ["Hotels", "Lodging"],
        "dateAdded": "2020-07-01T00:00:00Z",
        "reviews": [{"rating": 4, "text": "Fine"}],
        "extraField": "kept",
    },
    {
        "id": "b4",
        "name": "Hilton Chicago",
        "city": "Chicago",
        "province": "IL",
        "country": "US",
        "latitude": 41.87,
        "longitude": -87.62,
        "categories": ["Hotels"],
        "dateAdded": "2021-01-01T00:00:00Z",
    },
]


# DLSERVE_TEST_STORAGE=s3 runs the suite with result files in a real S3 server (`make test-cluster`);
# the fixture below fills this in for each test, and make_settings applies it.
STORAGE_UNDER_TEST: dict[str, object] = {}


@pytest.fixture(autouse=True)
def _storage_under_test(request: pytest.FixtureRequest) -> Iterator[None]:
    if os.environ.get("DLSERVE_TEST_STORAGE") == "s3":
        if request.node.get_closest_marker("local_storage"):
            pytest.skip("about the local storage's own signed links (S3 hands out presigned URLs)")
        s3 = request.getfixturevalue("s3_server")
        STORAGE_UNDER_TEST.update(storage_url=s3.url(s3.fresh_prefix("suite")), **s3.settings())
    yield
    STORAGE_UNDER_TEST.clear()


TEST_HOSTS = ["testserver", "127.0.0.1", "localhost"]


def make_settings(tmp_path: Path, database_url: str, **extra: object) -> Settings:
    """Settings of a test app; explicit ``extra`` wins over the storage under test."""
    # TestClient's Host is "testserver"; the default allowlist (anonymous media) only has loopback names.
    values = {"allowed_hosts": TEST_HOSTS, **STORAGE_UNDER_TEST, **extra}
    return Settings(data_dir=tmp_path / "data", database_url=database_url, log_json=False, **values)  # type: ignore[arg-type]


@contextmanager
def loaded_services(
    tmp_path: Path,
    database_url: str,
    businesses: Sequence[Mapping[str, object]],
    clock: Clock | None = None,
    *,
    dumps: Callable[[object], str] = json.dumps,
    **settings: object,
) -> Iterator[Services]:
    """Services of a test app with ``businesses`` loaded (the modules' ``services`` fixtures),
    each written as one line by ``dumps``."""
    built = build_services(make_settings(tmp_path, database_url, **settings), clock)
    source = tmp_path / "businesses.jsonl"
    source.write_text("".join(dumps(r) + "\n" for r in businesses), encoding="utf-8")
    load_files(built.snapshots, "businesses", [source])
    try:
        yield built
    finally:
        built.close()


def fetch_result(client: TestClient, url: str) -> httpx.Response:
    """GET a download's result link (200 required): through the app, or from the loopback S3
    server when the link is presigned there."""
    parts = urlsplit(url)
    if parts.hostname not in (None, "testserver"):
        response = httpx.get(url, timeout=30)
    else:
        response = client.get(f"{parts.path}?{parts.query}")
    assert response.status_code == 200, response.text
    return response


@pytest.fixture
def services(database_url: str, tmp_path: Path) -> Iterator[Services]:
    with loaded_services(tmp_path, database_url, BUSINESSES) as built:
        yield built


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services.settings, services), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def token(services: Services) -> str:
    return services.accounts.create_account("user@example.com", password="secret-pw", credits=100).token


@pytest.fixture
def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# The media modules' loopback server and the files it serves (made once per test session).
@pytest.fixture(scope="module")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_media(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def server(media_dir: Path) -> Iterator[MediaServer]:
    running = MediaServer(media_dir).start()
    yield running
    running.stop()
