"""Issue 12, finding 5 and item 10: body size limit, security headers, Host allowlist.

The body limit answers before parsing and before auth, from ``Content-Length`` or from the bytes of a
streamed body, with the envelope of the API the path belongs to.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dlserve.api.app import create_app
from dlserve.container import build_services
from tests.integration.conftest import make_settings

LIMIT = 64 * 1024


@pytest.fixture
def small_limit(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = make_settings(tmp_path, database_url, max_body_bytes=LIMIT)
    services = build_services(settings)
    try:
        with TestClient(create_app(settings, services), raise_server_exceptions=False) as client:
            yield client
    finally:
        services.close()


def streamed(total: int, chunk: int = 16 * 1024) -> Iterator[bytes]:
    """A chunked body without Content-Length: only the bytes themselves tell its size."""
    sent = 0
    while sent < total:
        yield b" " * min(chunk, total - sent)
        sent += chunk


@pytest.mark.parametrize(
    ("path", "keys"),
    [
        ("/v4/businesses/search", {"error", "message", "code", "details"}),
        ("/v4/auth", {"error", "message", "code", "details"}),
        ("/v3/data/businesses", {"error", "message", "code"}),
        ("/api/download", {"detail"}),
    ],
)
def test_a_body_over_the_limit_is_413_before_auth_with_the_paths_envelope(
    small_limit: TestClient, path: str, keys: set[str]
) -> None:
    for body in (b"{" + b" " * (LIMIT + 10) + b"}", streamed(LIMIT * 4)):
        response = small_limit.post(path, content=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 413, response.text
        assert set(response.json()) == keys
        message = response.json().get("message") or response.json()["detail"]
        assert "65,536 bytes" in message
        assert "max_body_bytes" in message
        assert response.headers["x-request-id"].startswith("req_")


def test_a_body_within_the_limit_reaches_the_route(small_limit: TestClient) -> None:
    padded = b'{"email": "x@example.com", "password": "nope"' + b" " * (LIMIT - 100) + b"}"
    json_type = {"Content-Type": "application/json"}
    assert small_limit.post("/v4/auth", content=padded, headers=json_type).status_code == 401
    blank = small_limit.post("/v4/auth", content=streamed(100), headers=json_type)
    assert blank.json()["details"] == [{"field": "body", "message": "the request body is not valid JSON"}]


def test_security_headers_on_the_dashboard_static_files_and_api(client: TestClient) -> None:
    for path in ("/", "/static/app.js", "/static/app.css", "/docs"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"], path
    dashboard = client.get("/").headers["content-security-policy"]
    assert "default-src 'self'" in dashboard
    assert "script-src 'self'" in dashboard
    api = client.get("/v4/account")
    assert api.headers["x-content-type-options"] == "nosniff"


def test_with_anonymous_media_only_loopback_hosts_are_served(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, database_url, allowed_hosts=None, port=8123)  # the default
    services = build_services(settings)
    try:
        with TestClient(create_app(settings, services), base_url="http://127.0.0.1:8123") as client:
            assert client.get("/api/downloads").status_code == 200
            for host in ("localhost:8123", "127.0.0.1", "[::1]:8123"):
                assert client.get("/api/downloads", headers={"Host": host}).status_code == 200, host
            rebound = client.get("/api/downloads", headers={"Host": "attacker.example:8123"})
            assert rebound.status_code == 400
            assert "allowed_hosts" in rebound.json()["detail"]
            v4 = client.get("/v4/account", headers={"Host": "attacker.example"})
            assert v4.status_code == 400
            assert set(v4.json()) == {"error", "message", "code", "details"}
    finally:
        services.close()


def test_without_anonymous_media_any_host_is_served_unless_a_list_is_set(
    database_url: str, tmp_path: Path
) -> None:
    open_settings = make_settings(tmp_path / "a", database_url, allowed_hosts=None, media_anonymous=False)
    listed = make_settings(tmp_path / "b", database_url, allowed_hosts=["data.example.com"])
    for settings, expected in ((open_settings, 401), (listed, 400)):
        services = build_services(settings)
        try:
            with TestClient(create_app(settings, services), raise_server_exceptions=False) as client:
                response = client.get("/v4/account", headers={"Host": "other.example"})
                assert response.status_code == expected
                if settings is listed:
                    ok = client.get("/v4/account", headers={"Host": "data.example.com"})
                    assert ok.status_code == 401  # served (and then asked for a token)
        finally:
            services.close()
