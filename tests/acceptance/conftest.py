"""Real processes: `dlserve serve` on a free loopback port, driven over HTTP."""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

DLSERVE = [sys.executable, "-m", "dlserve"]


@dataclass(frozen=True)
class RunningServer:
    base_url: str
    token: str
    data_dir: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli(env: dict[str, str], *args: str, timeout: float | None = 600) -> str:
    """Run ``dlserve *args``; ``timeout=None`` for the bench's multi-million-record loads."""
    done = subprocess.run([*DLSERVE, *args], env=env, capture_output=True, check=False, timeout=timeout)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode()


def wait_until_up(
    base_url: str, process: subprocess.Popen[bytes], seconds: float = 60, verify: ssl.SSLContext | bool = True
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            if httpx.get(f"{base_url}/v4/health", timeout=2, verify=verify).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("server did not come up")


def start_server(
    env: dict[str, str], data_dir: Path, *extra: str, cert: Path | None = None, port: int | None = None
) -> tuple[str, subprocess.Popen[bytes]]:
    """``dlserve serve`` on a loopback port (a free one unless given; HTTPS when ``cert`` is given)."""
    port = port or free_port()
    base_url = f"{'https' if cert else 'http'}://127.0.0.1:{port}"
    if cert is not None:
        env = {
            **env,
            "DLSERVE_SSL_CERTFILE": str(cert),
            "DLSERVE_SSL_KEYFILE": str(cert.with_name("key.pem")),
        }
    log = (data_dir / f"server-{port}.log").open("ab")
    process = subprocess.Popen(
        [*DLSERVE, "serve", "--port", str(port), *extra], env=env, stdout=log, stderr=log
    )
    wait_until_up(base_url, process, verify=ssl.create_default_context(cafile=str(cert)) if cert else True)
    return base_url, process


def start_worker(env: dict[str, str], data_dir: Path, name: str, **settings: str) -> subprocess.Popen[bytes]:
    """A standalone ``dlserve worker`` process; ``settings`` become DLSERVE_* variables for it alone."""
    extra = {f"DLSERVE_{key.upper()}": value for key, value in settings.items()}
    log = (data_dir / f"worker-{name}.log").open("wb")
    return subprocess.Popen([*DLSERVE, "worker"], env={**env, **extra}, stdout=log, stderr=log)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server with 3,000 demo records per type and one account with 100,000 credits."""
    data_dir = tmp_path_factory.mktemp("server")
    env = {**os.environ, "DLSERVE_DATA_DIR": str(data_dir), "DLSERVE_LOG_JSON": "true"}
    env.pop("DLSERVE_DATABASE_URL", None)
    cli(env, "demo", "--records", "3000", "--seed", "7")
    account = json.loads(cli(env, "accounts", "create", "sdk@example.com", "--credits", "100000"))
    base_url, process = start_server(env, data_dir)
    try:
        yield RunningServer(base_url, account["token"], data_dir, env, process)
    finally:
        stop(process)
