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


API_PROCESSES = int(os.environ.get("BENCH_API_PROCESSES", "2"))  # the best setting measured on 2 cores


def wrk(url: str, headers: dict[str, str] | None = None, seconds: int = 10) -> tuple[float, float]:
    """(requests/s, p99 latency in ms) of ``wrk -t2 -c32`` on ``url``."""
    command = ["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency", url]
    for name, value in (headers or {}).items():
        command[1:1] = ["-H", f"{name}: {value}"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    # The line of the latency distribution: a stats column such as "70.99%" also holds "99%".
    p99 = re.search(r"^\s*99%\s+(\S+)", out, re.MULTILINE)
    if rate is None or p99 is None:
        raise RuntimeError(f"wrk printed no rate or latency:\n{out}")
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", p99.group(1)).groups()  # type: ignore[union-attr]
    return float(rate.group(1)), float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def api_throughput(data_dir: Path, env: dict[str, str]) -> None:
    """wrk on the polling paths vs a bare FastAPI constant-JSON endpoint, each pair back to back so
    both sides see the same load on a shared machine. dlserve runs with --processes API_PROCESSES
    (the bare app is one uvicorn process, as `uvicorn app:app` would be)."""
    if not shutil.which("wrk"):
        print("  wrk is not installed (apt-get install wrk): API throughput skipped")
        return
    token = json.loads(cli(env, "accounts", "create", "wrk@example.com", "--credits", "1000"))["token"]
    base_url, server = start_server(env, data_dir, "--processes", str(API_PROCESSES))
    port = free_port()
    bare = subprocess.Popen([sys.executable, str(ROOT / "bench" / "bare_app.py"), str(port)])
    auth = {"Authorization": f"Bearer {token}"}
    try:
        created = httpx.post(
            f"{base_url}/v4/businesses/search",
            json={"query": "*", "num_records": 10, "download": True},
            headers=auth,
        ).json()
        url = f"{base_url}/v4/downloads/{created['id']}"
        # A completed download (a signed link in its body) is what most polls see last.
        state = httpx.get(url, headers=auth)
        etag = state.headers["etag"]
        while state.status_code == 304 or state.json()["status"] != "completed":
            state = httpx.get(f"{url}?wait=60", headers={**auth, "If-None-Match": etag}, timeout=90)
            etag = state.headers["etag"]
        for _ in range(100):
            try:
                httpx.get(f"http://127.0.0.1:{port}/const")
                break
            except httpx.TransportError:
                time.sleep(0.1)
        wrk(url, auth, seconds=3)  # warm-up: every API process, every connection pool
        wrk(f"http://127.0.0.1:{port}/const", seconds=3)
        pairs = [
            (f"GET /v4/downloads/{{id}} ({API_PROCESSES} processes)", url, auth),
            ("  the same with If-None-Match (304)", url, {**auth, "If-None-Match": etag}),
            ("GET /v4/health", f"{base_url}/v4/health", {}),
        ]
        for label, target, headers in pairs:
            ours, ours_p99 = wrk(target, headers)
            base, base_p99 = wrk(f"http://127.0.0.1:{port}/const")
            print(
                f"  {label}: {ours:,.0f} req/s (p99 {ours_p99:.1f} ms) | bare FastAPI constant JSON: "
                f"{base:,.0f} req/s (p99 {base_p99:.1f} ms) | ratio {ours / base:.2f}, "
                f"p99 {ours_p99 / base_p99:.1f}x",
                flush=True,
            )
    finally:
        stop(server)
        bare.terminate()
        bare.wait()


def _media_through_api(client: httpx.Client, url: str) -> float:
    """Seconds from POST to ``completed``, polling every 10 ms (loopback: a poll costs ~1 ms).
    ``client`` is one kept-alive client, as an SDK user has: building one per download (its SSL
    context, its pool) costs the client 0.1-0.4 s on a loaded machine, which is not the API's."""
    started = time.perf_counter()
    download_id = client.post("/api/download", json={"url": url}).json()["download_id"]
    while (entry := client.get(f"/api/downloads/{download_id}").json())["status"] not in (
        "completed",
        "failed",
    ):
        time.sleep(0.01)
    seconds = time.perf_counter() - started
    assert entry["status"] == "completed", entry
    return seconds


def _real_mp4(path: Path, size: int) -> None:
    """A playable MP4 (video with noise, so it does not compress away, and audio) of about
    ``size`` bytes, made by ffmpeg (``-fs`` ends it there, with its index written)."""
    from tests.support.media import ffmpeg_binary

    source = ["-f", "lavfi", "-i", "testsrc=size=640x360:rate=25:duration=60"]
    sound = ["-f", "lavfi", "-i", "sine=frequency=440:duration=60"]
    encode = ["-vf", "noise=alls=60:allf=t", "-c:v", "mpeg4", "-q:v", "3", "-c:a", "aac", "-shortest"]
    command = [ffmpeg_binary(), "-v", "error", "-y", *source, *sound, *encode, "-fs", str(size), str(path)]
    subprocess.run(command, check=True, timeout=300)


def media_throughput(size: int, small: int = 10 * 1024 * 1024) -> None:
    """A ``size`` file and two ``small`` ones (a real MP4, and random bytes that no prober can
    read) through the media API (POST → completed) vs ``curl`` of the same file from the same
    loopback server, each pair back to back."""
    from tests.support.media import MediaServer

    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        root = tmp / "media"
        root.mkdir()
        for name, length in (("big.mp4", size), ("small.mp4", small)):
            with (root / name).open("wb") as out:
                chunk = os.urandom(1024 * 1024)
                for _ in range(length // len(chunk)):
                    out.write(chunk)
        _real_mp4(root / "real.mp4", small)
        media = MediaServer(root).start()
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
        client = httpx.Client(base_url=base_url)
        try:
            _media_through_api(client, media.url("/small.mp4"))  # warm-up: first-download costs
            figures = {}
            for name in ("big.mp4", "small.mp4", "real.mp4"):
                url = media.url(f"/{name}")
                started = time.perf_counter()
                subprocess.run(["curl", "-s", "-o", str(tmp / "curl.bin"), url], check=True)
                curl_seconds = time.perf_counter() - started
                (tmp / "curl.bin").unlink()
                figures[name] = (curl_seconds, _media_through_api(client, url))
        finally:
            client.close()
            stop(server)
            media.stop()
    curl_seconds, api_seconds = figures["big.mp4"]
    for name, label in (("real.mp4", "a real MP4"), ("small.mp4", "random bytes")):
        small_curl, small_api = figures[name]
        print(
            f"  media {small / 1e6:,.0f} MB ({label}): through the API {small_api * 1000:,.0f} ms "
            f"| curl {small_curl * 1000:,.0f} ms | API - curl {(small_api - small_curl) * 1000:,.0f} ms"
        )
    megabytes = size / 1e6
    print(
        f"  media {megabytes:,.0f} MB from a loopback server: "
        f"through the API {megabytes / api_seconds:,.0f} MB/s "
        f"| curl {megabytes / curl_seconds:,.0f} MB/s | ratio {curl_seconds / api_seconds:.2f}"
    )
