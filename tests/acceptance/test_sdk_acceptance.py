"""``dlserve.client`` against a real ``dlserve serve`` process: records, a bulk download with progress,
files that resume after an interrupted transfer, cancel, and the error classes."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from dlserve.client import (
    AuthenticationError,
    Client,
    Conflict,
    Download,
    NotFound,
    PaymentRequired,
    TransportError,
    ValidationError,
)
from dlserve.demo import generate_records
from tests.acceptance.conftest import cli, start_server, stop

RECORDS = 3000
RECORDS_PER_FILE = 500
EMAIL, PASSWORD = "sdk-user@example.com", "sdk-password"
NOT_TEXAS = "NOT province:TX"


@dataclass(frozen=True)
class SdkServer:
    base_url: str
    token: str
    poor_token: str


def _env(data_dir: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "DLSERVE_DATA_DIR": str(data_dir),
        "DLSERVE_LOG_JSON": "true",
        "DLSERVE_RECORDS_PER_FILE": str(RECORDS_PER_FILE),
    }
    env.pop("DLSERVE_DATABASE_URL", None)
    return env


def _token(env: dict[str, str], email: str, *extra: str) -> str:
    return str(json.loads(cli(env, "accounts", "create", email, *extra))["token"])


@pytest.fixture(scope="module")
def sdk_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SdkServer]:
    """One worker thread, 500 records per result file, 3,000 demo businesses."""
    data_dir = tmp_path_factory.mktemp("sdk-server")
    env = _env(data_dir)
    cli(env, "demo", "--records", str(RECORDS), "--seed", "7", "--type", "businesses")
    token = _token(env, EMAIL, "--password", PASSWORD, "--credits", "1000000")
    poor = _token(env, "poor@example.com", "--credits", "5")
    base_url, process = start_server(env, data_dir, "--workers", "1")
    try:
        yield SdkServer(base_url, token, poor)
    finally:
        stop(process)


@pytest.fixture
def client(sdk_server: SdkServer) -> Iterator[Client]:
    with Client(sdk_server.base_url, sdk_server.token, timeout=30) as built:
        yield built


def expected(predicate: object) -> list[dict[str, object]]:
    return [r for r in generate_records("businesses", RECORDS, seed=7) if predicate(r)]  # type: ignore[operator]


def not_texas(record: dict[str, object]) -> bool:
    return str(record.get("province", "")).upper() != "TX"


class CuttingStream(httpx.SyncByteStream):
    """The real server's body, stopped after ``cut_at`` bytes as if the connection dropped."""

    def __init__(self, inner: httpx.SyncByteStream, cut_at: int) -> None:
        self._inner, self._cut_at = inner, cut_at

    def __iter__(self) -> Iterator[bytes]:
        sent = 0
        for chunk in self._inner:
            chunk = chunk[: self._cut_at - sent]
            sent += len(chunk)
            if chunk:
                yield chunk
            if sent >= self._cut_at:
                break
        raise httpx.ReadError("connection dropped (test)")

    def close(self) -> None:
        self._inner.close()


class RecordingTransport(httpx.BaseTransport):
    """A real HTTP transport that records requests and can cut the next transfer of one path."""

    def __init__(self) -> None:
        self._inner = httpx.HTTPTransport()
        self.requests: list[httpx.Request] = []
        self.cut: tuple[str, int] | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        response = self._inner.handle_request(request)
        if self.cut is not None and request.url.path == self.cut[0]:
            cut_at = self.cut[1]
            self.cut = None
            assert isinstance(response.stream, httpx.SyncByteStream)
            return httpx.Response(
                response.status_code,
                headers=response.headers,
                stream=CuttingStream(response.stream, cut_at),
                extensions=response.extensions,
            )
        return response

    def close(self) -> None:
        self._inner.close()

    def file_ranges(self) -> list[tuple[str, str | None]]:
        return [
            (r.url.path.rsplit("/", 1)[-1], r.headers.get("range"))
            for r in self.requests
            if r.url.path.startswith("/v4/files/")
        ]


def ids_in(paths: list[Path]) -> list[str]:
    return [json.loads(line)["id"] for path in paths for line in path.read_text("utf-8").splitlines()]


def test_search_count_paginate_and_records(client: Client) -> None:
    texans = expected(lambda r: str(r.get("province", "")).upper() == "TX")
    result = client.search("businesses", "province:TX", num_records=5)
    assert result.num_found == len(texans)
    assert result.total_cost == 5
    assert [r["id"] for r in result.records] == [r["id"] for r in texans[:5]]
    assert client.count("businesses", "province:TX") == len(texans)
    assert client.count("businesses", NOT_TEXAS) == len(expected(not_texas))
    paged = [r["id"] for r in client.paginate("businesses", "province:TX", page_size=37)]
    assert paged == [r["id"] for r in texans]
    rows = list(client.paginate("businesses", "province:TX", page_size=100, format="CSV"))
    assert [row["id"] for row in rows] == [r["id"] for r in texans]
    assert rows[0]["name"] == texans[0]["name"]
    first = texans[0]
    assert client.get_record("businesses", str(first["id"]))["name"] == first["name"]
    assert client.account().email == EMAIL


def test_login_with_email_and_password(sdk_server: SdkServer) -> None:
    with Client.login(sdk_server.base_url, EMAIL, PASSWORD) as client:
        assert client.token
        assert client.account().email == EMAIL


def test_download_wait_fetch_and_resume(client: Client, sdk_server: SdkServer, tmp_path: Path) -> None:
    wanted = [str(r["id"]) for r in expected(not_texas)]
    created = client.create_download("businesses", NOT_TEXAS)
    assert created.status == "queued"
    assert created.num_records == len(wanted)

    seen: list[Download] = []
    download = client.wait(created, on_progress=seen.append, poll_interval=0.05, timeout=120)
    assert download.status == "completed"
    dones = [d.progress.done for d in seen]
    assert dones == sorted(dones)
    assert dones[-1] == download.progress.total == len(wanted)
    assert seen[-1].status == "completed"
    assert len(seen) >= 2  # at least the queued state and the end were reported

    results = download.results
    assert [r.name for r in results] == [f"{download.id}_{n}.txt" for n in range(1, len(results) + 1)]
    assert len(results) == -(-len(wanted) // RECORDS_PER_FILE)
    paths = client.fetch_files(download, tmp_path)
    assert ids_in(paths) == wanted
    for path, result in zip(paths, results, strict=True):
        assert hashlib.sha256(path.read_bytes()).hexdigest() == result.sha256

    # A file truncated half-way is resumed with Range; the complete ones are not fetched again.
    victim, result = paths[2], results[2]
    assert result.bytes is not None
    half = result.bytes // 2
    with victim.open("r+b") as handle:
        handle.truncate(half)
    recording = RecordingTransport()
    with Client(sdk_server.base_url, sdk_server.token, transport=recording) as watched:
        again = watched.fetch_files(download, tmp_path)
    assert recording.file_ranges() == [(result.name, f"bytes={half}-")]
    assert ids_in(again) == wanted


def test_an_interrupted_transfer_is_resumed_by_the_next_call(
    client: Client, sdk_server: SdkServer, tmp_path: Path
) -> None:
    download = client.wait(client.create_download("businesses", "province:CA"), poll_interval=0.05)
    [result] = download.results
    assert result.bytes is not None
    cut_at = result.bytes // 3
    recording = RecordingTransport()
    recording.cut = (httpx.URL(result.url).path, cut_at)
    with Client(sdk_server.base_url, sdk_server.token, transport=recording, retries=0) as flaky:
        with pytest.raises(TransportError, match="connection dropped"):
            flaky.fetch_files(download, tmp_path)
        assert (tmp_path / result.name).stat().st_size == cut_at
        paths = flaky.fetch_files(download, tmp_path)
    assert recording.file_ranges() == [(result.name, None), (result.name, f"bytes={cut_at}-")]
    assert ids_in(paths) == [r["id"] for r in expected(lambda r: r.get("province") == "CA")]
    assert hashlib.sha256(paths[0].read_bytes()).hexdigest() == result.sha256


def test_a_transfer_cut_mid_way_is_resumed_within_the_call(sdk_server: SdkServer, tmp_path: Path) -> None:
    recording = RecordingTransport()
    with Client(sdk_server.base_url, sdk_server.token, transport=recording) as client:
        download = client.wait(client.create_download("businesses", "province:FL"), poll_interval=0.05)
        [result] = download.results
        assert result.bytes is not None
        recording.cut = (httpx.URL(result.url).path, result.bytes // 2)
        [path] = client.fetch_files(download, tmp_path)
    assert recording.file_ranges() == [(result.name, None), (result.name, f"bytes={result.bytes // 2}-")]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == result.sha256


def test_csv_gzip_download(client: Client, tmp_path: Path) -> None:
    wanted = [str(r["id"]) for r in expected(not_texas)][:700]
    created = client.create_download("businesses", NOT_TEXAS, num_records=700, format="CSV", compress="gzip")
    download = client.wait(created, poll_interval=0.05, timeout=120)
    assert [r.records for r in download.results] == [500, 200]
    paths = client.fetch_files(download, tmp_path)
    assert all(p.name.endswith(".csv.gz") for p in paths)
    rows = [
        row for p in paths for row in csv.DictReader(io.StringIO(gzip.decompress(p.read_bytes()).decode()))
    ]
    assert [row["id"] for row in rows] == wanted
    assert any(d.id == download.id for d in client.list_downloads())


def test_errors_carry_the_server_envelope(client: Client, sdk_server: SdkServer) -> None:
    with (
        Client(sdk_server.base_url, "dls_not_a_token") as stranger,
        pytest.raises(AuthenticationError) as denied,
    ):
        stranger.count("businesses", "*")
    assert denied.value.status_code == 401
    assert "API token" in denied.value.message
    assert denied.value.request_id

    with pytest.raises(NotFound) as missing:
        client.get_download("999999")
    assert missing.value.status_code == 404
    with pytest.raises(NotFound):
        client.get_record("businesses", "no-such-record")

    with pytest.raises(ValidationError) as invalid:
        client.search("businesses", "nosuchfield:x")
    assert invalid.value.status_code == 400
    assert invalid.value.error == "Bad Request"
    assert [d.field for d in invalid.value.details] == ["nosuchfield"]
    assert invalid.value.details[0].message

    with Client(sdk_server.base_url, sdk_server.poor_token) as poor, pytest.raises(PaymentRequired) as broke:
        poor.create_download("businesses", "*")
    assert broke.value.details


@pytest.fixture(scope="module")
def idle_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SdkServer]:
    """No worker at all, so a download stays queued until it is cancelled."""
    data_dir = tmp_path_factory.mktemp("sdk-idle-server")
    env = _env(data_dir)
    cli(env, "demo", "--records", "200", "--seed", "7", "--type", "businesses")
    token = _token(env, EMAIL, "--credits", "100000")
    base_url, process = start_server(env, data_dir, "--workers", "0")
    try:
        yield SdkServer(base_url, token, token)
    finally:
        stop(process)


def test_cancel(idle_server: SdkServer) -> None:
    with Client(idle_server.base_url, idle_server.token) as client:
        created = client.create_download("businesses", "*")
        message = client.cancel_download(created)
        assert f"Download {created.id} was cancelled" in message
        assert client.wait(created.id, poll_interval=0.05).status == "cancelled"
        with pytest.raises(Conflict) as again:
            client.cancel_download(created.id)
        assert again.value.status_code == 409
