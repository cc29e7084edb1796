"""`make bench` figures for the production topology and the media API.

- one export of 2,000,000 records run by 1 worker process vs 2 worker processes (same run);
- `GET /v4/downloads/{id}` throughput with wrk vs a bare FastAPI endpoint (same run);
- media download of a 500 MB file through the API vs curl fetching the same file (same run).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.acceptance.conftest import cli, free_port, start_server, start_worker, stop  # noqa: E402

from dlserve.catalog.services import prepare  # noqa: E402
from dlserve.container import build_services  # noqa: E402
from dlserve.settings import Settings  # noqa: E402


def export_with_workers(data_dir: Path, env: dict[str, str], records: int, workers: int) -> float:
    """Seconds from queueing a `records` JSON export to its completion with `workers` processes."""
    services = build_services(Settings(data_dir=data_dir, log_level="warning"))
    try:
        account = services.accounts.find_by_email("fleet@example.com")
        if account is None:
            account = services.accounts.get_account(
                services.accounts.create_account("fleet@example.com", credits=10**12).id
            )
        download = services.downloads.create(account, prepare("businesses", "*", None, "json"), records)
        started = time.perf_counter()
        processes = [start_worker(env, data_dir, f"fleet{workers}-{n}") for n in range(workers)]
        try:
            while (found := services.downloads.find(download.id)) is not None and found.status.is_active:
                time.sleep(0.2)
            seconds = time.perf_counter() - started
        finally:
            for process in processes:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=60)
        assert found is not None
        assert found.status.value == "completed", found
        return seconds
    finally:
        services.close()


def wrk(url: str, token: str | None = None, seconds: int = 10) -> tuple[float, str]:
    command = ["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency", url]
    if token:
        command[1:1] = ["-H", f"Authorization: Bearer {token}"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p99 = re.search(r"99%\s+(\S+)", out)
    if rate is None or p99 is None:
        raise RuntimeError(f"wrk printed no rate or latency:\n{out}")
    return float(rate.group(1)), p99.group(1)


def api_throughput(data_dir: Path, env: dict[str, str]) -> None:
    if not shutil.which("wrk"):
        print("  wrk is not installed (apt-get install wrk): API throughput skipped")
        return
    token = json.loads(cli(env, "accounts", "create", "wrk@example.com", "--credits", "1000"))["token"]
    base_url, server = start_server(env, data_dir, "--workers", "0")
    port = free_port()
    bare = subprocess.Popen([sys.executable, str(ROOT / "bench" / "bare_app.py"), str(port)])
    try:
        created = httpx.post(
            f"{base_url}/v4/businesses/search",
            json={"query": "*", "num_records": 10, "download": True},
            headers={"Authorization": f"Bearer {token}"},
        ).json()
        for _ in range(100):
            try:
                httpx.get(f"http://127.0.0.1:{port}/const")
                break
            except httpx.TransportError:
                time.sleep(0.1)
        ours, ours_p99 = wrk(f"{base_url}/v4/downloads/{created['id']}", token)
        base, base_p99 = wrk(f"http://127.0.0.1:{port}/const")
        print(
            f"  GET /v4/downloads/{{id}}: {ours:,.0f} req/s (p99 {ours_p99}) | bare FastAPI constant JSON: "
            f"{base:,.0f} req/s (p99 {base_p99}) | ratio {ours / base:.2f}"
        )
    finally:
        stop(server)
        bare.terminate()
        bare.wait()


def media_throughput(size: int) -> None:
    from tests.support.media import MediaServer

    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        root = tmp / "media"
        root.mkdir()
        with (root / "big.mp4").open("wb") as out:
            chunk = os.urandom(1024 * 1024)
            for _ in range(size // len(chunk)):
                out.write(chunk)
        media = MediaServer(root).start()
        url = media.url("/big.mp4")
        started = time.perf_counter()
        subprocess.run(["curl", "-s", "-o", str(tmp / "curl.bin"), url], check=True)
        curl_seconds = time.perf_counter() - started
        (tmp / "curl.bin").unlink()
        data = tmp / "server"
        data.mkdir()
        env = {
            **os.environ,
            "DLSERVE_DATA_DIR": str(data),
            "DLSERVE_MEDIA_ALLOW_PRIVATE": "true",
            "DLSERVE_MEDIA_MAX_BYTES": "0",
        }
        env.pop("DLSERVE_DATABASE_URL", None)
        base_url, server = start_server(env, data)
        try:
            started = time.perf_counter()
            download_id = httpx.post(f"{base_url}/api/download", json={"url": url}).json()["download_id"]
            while (entry := httpx.get(f"{base_url}/api/downloads/{download_id}").json())["status"] not in (
                "completed",
                "failed",
            ):
                time.sleep(0.1)
            api_seconds = time.perf_counter() - started
            assert entry["status"] == "completed", entry
        finally:
            stop(server)
            media.stop()
    megabytes = size / 1e6
    print(
        f"  media {megabytes:,.0f} MB from a loopback server: "
        f"through the API {megabytes / api_seconds:,.0f} MB/s "
        f"| curl {megabytes / curl_seconds:,.0f} MB/s | ratio {curl_seconds / api_seconds:.2f}"
    )
