"""Issue 12's hostile-user figures against a real `dlserve serve` (loopback only).

- the 10,000-word AND query (60 KB+): status and time (it used to grow the process to 24 GB);
- `GET /v4/account` p50 of one account, idle (the baseline) and while another account runs 48
  heavy queries at once (within the limits: the per-account concurrency is raised to 48 for this);
- 48 heavy queries with the default limits: how many are admitted, how many get 429;
- the server's peak RSS over its idle RSS while 40 wrong-password logins run at once;
- a 300 MB body without a token, declared (Content-Length) and streamed (chunked): status, time,
  and the server's peak RSS over idle.

Run: `.venv/bin/python -m bench.hardening` (BENCH_HARDENING_RECORDS, default 20,000 businesses).
"""

from __future__ import annotations

import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.acceptance.conftest import cli, start_server, stop  # noqa: E402

RECORDS = int(os.environ.get("BENCH_HARDENING_RECORDS", "20000"))
HEAVY = 48
WORDS = [
    "hotel", "coffee", "pizza", "dental", "auto", "repair", "spa", "salon", "bakery", "grill",
    "market", "clinic", "church", "school", "bank", "tavern", "garden", "studio", "fitness", "law",
]  # fmt: skip


def heavy_query(n: int) -> str:
    """About 250 clauses: within the default limits (256 clauses, 8,192 characters)."""
    return " OR ".join(f"{WORDS[(n + i) % len(WORDS)]}{i % 13 or ''}*" for i in range(250))


class RssSampler:
    """Peak resident memory of a process, sampled from /proc every 10 ms."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def rss(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.rss())
            self._stop.wait(0.01)

    @contextmanager
    def sampling(self) -> Iterator[RssSampler]:
        self.peak = self.rss()
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join()


def mib(value: float) -> str:
    return f"{value / 1024**2:,.0f} MiB"


def account_p50(
    client: httpx.Client, token: str, rounds: int, until: Callable[[], bool] | None = None
) -> float:
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        assert client.get("/v4/account", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        timings.append((time.perf_counter() - started) * 1000)
        if until is not None and until():
            break
    return statistics.median(timings)


def send_huge_body(base_url: str, size: int, chunked: bool) -> tuple[str, float]:
    """Send ``size`` bytes to /v4/businesses/search without a token; the status line and seconds."""
    host, port = base_url.removeprefix("http://").split(":")
    started = time.perf_counter()
    with socket.create_connection((host, int(port)), timeout=120) as sock:
        length = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}"
        sock.sendall(
            f"POST /v4/businesses/search HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Content-Type: application/json\r\n{length}\r\n\r\n".encode()
        )
        chunk = b" " * (1024 * 1024)
        sent = 0
        sock.setblocking(False)
        answer = b""
        while b"\r\n" not in answer:
            try:
                answer += sock.recv(65536)
                if not answer:
                    break
                continue
            except BlockingIOError:
                pass
            if sent < size:
                data = (f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n") if chunked else chunk
                try:
                    sock.send(data)
                    sent += len(chunk)
                except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                    time.sleep(0.001)
            else:
                time.sleep(0.001)
    return answer.split(b"\r\n", 1)[0].decode(), time.perf_counter() - started


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="dlserve-hardening-") as scratch:
        data_dir = Path(scratch)
        env = {**os.environ, "DLSERVE_DATA_DIR": str(data_dir), "DLSERVE_LOG_LEVEL": "warning"}
        env.pop("DLSERVE_DATABASE_URL", None)
        cli(env, "demo", "--records", str(RECORDS), "--seed", "12", "--type", "businesses")
        for email in ("heavy@example.com", "cheap@example.com", "login@example.com"):
            cli(env, "accounts", "create", email, "--password", "right-password", "--credits", "1000000")
        print(f"hardening, {RECORDS:,} demo businesses, a real `dlserve serve`:", flush=True)
        within = {
            **env,
            "DLSERVE_QUERY_CONCURRENCY_PER_ACCOUNT": str(HEAVY),
            "DLSERVE_QUERY_RATE_PER_MINUTE": "100000",
        }
        base_url, process = start_server(within, data_dir, "--workers", "0")
        try:
            with httpx.Client(base_url=base_url, timeout=600) as client:
                tokens = {
                    email: client.post(
                        "/v4/auth", json={"email": email, "password": "right-password"}
                    ).json()["token"]
                    for email in ("heavy@example.com", "cheap@example.com")
                }
                heavy_auth = {"Authorization": f"Bearer {tokens['heavy@example.com']}"}
                huge = " ".join(f"w{i}" for i in range(10_000))  # implicit AND, about 60 KB
                started = time.perf_counter()
                answer = client.post("/v4/businesses/search", json={"query": huge}, headers=heavy_auth)
                print(
                    f"  10,000-word AND query ({len(huge) / 1024:,.0f} KB): {answer.status_code} in "
                    f"{(time.perf_counter() - started) * 1000:,.0f} ms ({answer.json()['message']})"
                )
                idle = account_p50(client, tokens["cheap@example.com"], 100)
                one = time.perf_counter()
                client.post(
                    "/v4/businesses/search",
                    json={"query": heavy_query(0), "num_records": 10},
                    headers=heavy_auth,
                )
                one_ms = (time.perf_counter() - one) * 1000
                with ThreadPoolExecutor(HEAVY) as pool:
                    futures = [
                        pool.submit(
                            httpx.post, f"{base_url}/v4/businesses/search", headers=heavy_auth,
                            json={"query": heavy_query(n), "num_records": 10}, timeout=600,
                        )
                        for n in range(HEAVY)
                    ]  # fmt: skip
                    time.sleep(0.2)  # let them all arrive before measuring
                    busy = account_p50(
                        client, tokens["cheap@example.com"], 40, lambda: all(f.done() for f in futures)
                    )
                    statuses = [f.result().status_code for f in futures]
                print(
                    f"  GET /v4/account p50: idle {idle:.1f} ms | while {HEAVY} heavy queries run "
                    f"(250 clauses, {one_ms:,.0f} ms each alone) from another account: {busy:.1f} ms "
                    f"(ratio {busy / idle:.1f}); heavy statuses {sorted(set(statuses))}"
                )
                sampler = RssSampler(process.pid)
                idle_rss = sampler.rss()
                with sampler.sampling(), ThreadPoolExecutor(40) as pool:
                    started = time.perf_counter()
                    logins = list(
                        pool.map(
                            lambda n: (
                                httpx.post(
                                    f"{base_url}/v4/auth",
                                    json={"email": "login@example.com", "password": f"wrong-{n}"},
                                    timeout=600,
                                ).status_code
                            ),
                            range(40),
                        )
                    )
                    login_s = time.perf_counter() - started
                print(
                    f"  40 concurrent wrong-password logins: {login_s:.1f} s, statuses "
                    f"{ {s: logins.count(s) for s in sorted(set(logins))} }, "
                    f"server RSS idle {mib(idle_rss)}, peak {mib(sampler.peak)} "
                    f"(+{mib(sampler.peak - idle_rss)})"
                )
                for chunked in (False, True):
                    sampler = RssSampler(process.pid)
                    idle_rss = sampler.rss()
                    with sampler.sampling():
                        status, seconds = send_huge_body(base_url, 300 * 1024 * 1024, chunked)
                    kind = "streamed (chunked)" if chunked else "with Content-Length"
                    print(
                        f"  300 MB body without a token, {kind}: {status!r} in {seconds * 1000:,.0f} ms, "
                        f"server RSS +{mib(sampler.peak - idle_rss)}"
                    )
        finally:
            stop(process)
        base_url, process = start_server(env, data_dir, "--workers", "0")  # the default limits
        try:
            token = httpx.post(
                f"{base_url}/v4/auth", json={"email": "heavy@example.com", "password": "right-password"}
            ).json()["token"]
            with ThreadPoolExecutor(HEAVY) as pool:
                statuses = list(
                    pool.map(
                        lambda n: (
                            httpx.post(
                                f"{base_url}/v4/businesses/search",
                                json={"query": heavy_query(n), "num_records": 10},
                                headers={"Authorization": f"Bearer {token}"},
                                timeout=600,
                            ).status_code
                        ),
                        range(HEAVY),
                    )
                )
            print(
                f"  {HEAVY} concurrent heavy queries with the default limits: "
                f"{ {s: statuses.count(s) for s in sorted(set(statuses))} }"
            )
        finally:
            stop(process)


if __name__ == "__main__":
    main()
