"""The client commands of ``dlserve`` against a real ``dlserve serve``: ``dlserve download`` under a
pseudo-terminal (progress bar, files, Ctrl-C), ``--json``, ``count``, and the failure messages."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import termios
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from dlserve.client import Client
from tests.acceptance.conftest import DLSERVE, cli, start_server, stop
from tests.support.media import MediaServer, shared_media, write_page

RECORDS = 3000
RECORDS_PER_FILE = 200
HOTELS = "categories:hotels"
_ANSI = re.compile(r"\x1b(\[[0-9;?]*[A-Za-z]|\][^\x07]*\x07|[()][A-Z0-9])")


@dataclass(frozen=True)
class CliServer:
    base_url: str
    token: str


def _server_env(data_dir: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "DLSERVE_DATA_DIR": str(data_dir),
        "DLSERVE_LOG_JSON": "true",
        "DLSERVE_RECORDS_PER_FILE": str(RECORDS_PER_FILE),
        "DLSERVE_MEDIA_ALLOW_PRIVATE": "true",  # the test media is served on 127.0.0.1
    }
    env.pop("DLSERVE_DATABASE_URL", None)
    return env


def _start(
    tmp_path_factory: pytest.TempPathFactory, name: str, records: int, workers: str
) -> Iterator[CliServer]:
    data_dir = tmp_path_factory.mktemp(name)
    env = _server_env(data_dir)
    cli(env, "demo", "--records", str(records), "--seed", "7", "--type", "businesses")
    token = json.loads(cli(env, "accounts", "create", "cli@example.com", "--credits", "1000000"))["token"]
    base_url, process = start_server(env, data_dir, "--workers", workers)
    try:
        yield CliServer(base_url, token)
    finally:
        stop(process)


@pytest.fixture(scope="module")
def cli_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CliServer]:
    """One export worker, 200 records per result file, 3,000 demo businesses."""
    yield from _start(tmp_path_factory, "cli-server", RECORDS, "1")


@pytest.fixture(scope="module")
def idle_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CliServer]:
    """No export worker: a download stays queued until it is cancelled."""
    yield from _start(tmp_path_factory, "cli-idle-server", 200, "0")


@pytest.fixture(scope="module")
def media_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MediaServer]:
    running = MediaServer(shared_media(tmp_path_factory.getbasetemp())).start()
    yield running
    running.stop()


def client_env(server: CliServer, tmp_path: Path, **extra: str) -> dict[str, str]:
    """What a user's shell has: the server and token in the environment, no config file."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DLSERVE_")}
    env.pop("COLUMNS", None)
    env.update(
        DLSERVE_URL=server.base_url,
        DLSERVE_TOKEN=server.token,
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        TERM="xterm-256color",
        LANG="C.UTF-8",
    )
    env.update(extra)
    return env


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*DLSERVE, *args], env=env, capture_output=True, text=True, check=False, timeout=120,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


class Terminal:
    """A command run under a pseudo-terminal, as a person at a terminal runs it: stdin, stdout and
    stderr are the terminal, Ctrl-C is the byte 0x03 typed into it (the terminal sends SIGINT)."""

    def __init__(self, args: list[str], env: dict[str, str], columns: int = 140) -> None:
        pid, fd = pty.fork()
        if pid == 0:  # the child: its controlling terminal is the pty
            try:
                import fcntl

                fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
                os.execvpe(args[0], args, env)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        self.raw = bytearray()
        self.exit_code: int | None = None

    @property
    def text(self) -> str:
        """What was written so far, without the escape sequences that draw it."""
        return _ANSI.sub("", self.raw.decode("utf-8", errors="replace")).replace("\r", "\n")

    def _read(self, timeout: float) -> bool:
        """Read what is there (waiting up to ``timeout``); ``False`` at the end of output."""
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return True
        try:
            chunk = os.read(self.fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            return False
        self.raw += chunk
        return bool(chunk)

    def expect(self, pattern: str, timeout: float = 60) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if match := re.search(pattern, self.text):
                return match
            if not self._read(0.1):
                break
        raise AssertionError(f"{pattern!r} not seen; the terminal shows:\n{self.text}")

    def type(self, keys: bytes) -> None:
        os.write(self.fd, keys)

    def wait(self, timeout: float = 120) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._read(0.1):
            pass
        for _ in range(int(max(deadline - time.monotonic(), 1) * 10)):
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                os.close(self.fd)
                self.exit_code = os.waitstatus_to_exitcode(status)
                return self.exit_code
            time.sleep(0.1)
        os.kill(self.pid, signal.SIGKILL)
        raise AssertionError(f"still running; the terminal shows:\n{self.text}")


def download_polls(server: CliServer) -> float:
    """How many ``GET /v4/downloads/{id}`` the server has answered (its Prometheus metrics)."""
    text = httpx.get(f"{server.base_url}/metrics", timeout=10).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "dlserve_http_request_duration_seconds_count"
        and sample.labels.get("method") == "GET"
        and sample.labels.get("route", "").startswith("/v4/downloads/{")
    )


def wait_until_polled(server: CliServer, before: float, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while download_polls(server) <= before:
        assert time.monotonic() < deadline, "the CLI never polled its download"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_download_under_a_terminal_shows_progress_and_fetches_verified_files(
    cli_server: CliServer, tmp_path: Path
) -> None:
    out = tmp_path / "hotels"
    terminal = Terminal(
        [*DLSERVE, "download", "businesses", HOTELS, "--format", "csv", "--out", str(out)],
        client_env(cli_server, tmp_path),
    )
    assert terminal.wait() == 0, terminal.text
    shown = terminal.text

    with Client(cli_server.base_url, cli_server.token) as client:
        wanted = [str(r["id"]) for r in client.paginate("businesses", HOTELS, page_size=1000)]
        download_id = re.search(r"download (\d+): ", shown)[1]  # type: ignore[index]
        download = client.get_download(download_id)
    assert download.status == "completed"
    # the files: every match exactly once, in order, each as the server listed it
    assert sorted(p.name for p in out.iterdir()) == sorted(r.name for r in download.results)
    assert len(download.results) == -(-len(wanted) // RECORDS_PER_FILE) > 1
    got = []
    for result in download.results:
        path = out / result.name
        assert path.name.endswith(".csv")
        assert sha256(path) == result.sha256
        with path.open(newline="", encoding="utf-8") as handle:
            got += [row["id"] for row in csv.DictReader(handle)]
    assert got == wanted

    # the progress: a bar with records done of the total, the rate, the ETA and the files
    total = f"{len(wanted):,}"
    assert "━" in shown
    assert re.search(rf"download {download_id} (queued|running|completed) +━+", shown), shown
    assert re.search(rf"\b{total}/{total} records [\d,]+ records/s ETA \d:\d\d:\d\d \d+ files", shown), shown
    for result in download.results:
        assert re.search(rf"✓ {result.name} +{result.records} records +[\d.]+ kB +sha256 ok", shown), shown
    summary = rf"download {download_id} completed: {len(download.results)} files, {total} records, "
    assert re.search(summary + rf"[\d.]+ [kM]B, sha256 verified, in {re.escape(str(out))}\n", shown), shown
    assert "\x1b[" in terminal.raw.decode()  # drawn live, with escape sequences, not printed once


def test_json_output_and_count(cli_server: CliServer, tmp_path: Path) -> None:
    env = client_env(cli_server, tmp_path)
    with Client(cli_server.base_url, cli_server.token) as client:
        expected_count = client.count("businesses", "province:TX")

    counted = run(env, "count", "businesses", "province:TX")
    assert (counted.returncode, counted.stdout) == (0, f"{expected_count}\n")
    counted = run(env, "count", "businesses", "province:TX", "--json")
    assert json.loads(counted.stdout) == {
        "type": "businesses",
        "query": "province:TX",
        "count": expected_count,
    }

    done = run(
        env, "download", "businesses", "province:TX", "--compress", "gzip", "--out", str(tmp_path), "--json"
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    body = json.loads(done.stdout)
    assert body["download"]["status"] == "completed"
    assert body["download"]["num_records"] == expected_count
    assert [f["name"] for f in body["files"]] == [r["name"] for r in body["download"]["results"]]
    for listed in body["files"]:
        assert listed["name"].endswith(".txt.gz")
        assert sha256(Path(listed["path"])) == listed["sha256"]

    download_id = body["download"]["id"]
    listed_downloads = json.loads(run(env, "downloads", "list", "--json").stdout)
    assert download_id in [d["id"] for d in listed_downloads]
    shown = json.loads(run(env, "downloads", "show", download_id, "--json").stdout)
    assert shown["results"] == body["download"]["results"]
    human = run(env, "downloads", "show", download_id)
    assert human.returncode == 0
    assert "completed" in human.stdout
    assert "province:TX" in human.stdout

    # fetching again finds every file complete and verified, and fetches a removed one again
    Path(body["files"][0]["path"]).unlink()
    again = run(env, "downloads", "fetch", download_id, "--out", str(tmp_path), "--json")
    assert again.returncode == 0, again.stderr
    assert sha256(Path(body["files"][0]["path"])) == body["files"][0]["sha256"]


def test_the_config_file_and_the_flags(cli_server: CliServer, tmp_path: Path) -> None:
    config = tmp_path / "dlserve.toml"
    config.write_text(f'url = "{cli_server.base_url}"\ntoken = "{cli_server.token}"\n', "utf-8")
    env = client_env(cli_server, tmp_path, DLSERVE_CONFIG=str(config))
    del env["DLSERVE_URL"], env["DLSERVE_TOKEN"]
    assert run(env, "count", "businesses", "*").stdout == f"{RECORDS}\n"
    wrong = run(env, "count", "businesses", "*", "--token", "dls_wrong")
    assert wrong.returncode == 1
    assert wrong.stderr == "error: 401 Unauthorized: Invalid or revoked API token\n"


def test_failures_exit_1_with_one_clear_line(cli_server: CliServer, tmp_path: Path) -> None:
    env = client_env(cli_server, tmp_path)
    bad_query = run(env, "download", "businesses", "province:TX AND nosuchfield:x", "--out", str(tmp_path))
    assert bad_query.returncode == 1
    assert bad_query.stderr == "error: 400 Bad Request: unknown field 'nosuchfield' at position 16\n"
    assert not list(tmp_path.glob("*_1.*"))

    syntax = run(env, "count", "businesses", "name:(hilton")
    assert syntax.returncode == 1
    assert re.fullmatch(r"error: 400 Bad Request: syntax error at position \d+: .+\n", syntax.stderr)

    wrong_token = run({**env, "DLSERVE_TOKEN": "dls_wrong"}, "downloads", "list")
    assert wrong_token.returncode == 1
    assert wrong_token.stderr == "error: 401 Unauthorized: Invalid or revoked API token\n"

    missing = run(env, "downloads", "show", "987654")
    assert (missing.returncode, missing.stderr) == (
        1,
        "error: 404 Not Found: Download 987654 was not found\n",
    )

    unreachable = run({**env, "DLSERVE_URL": "http://127.0.0.1:9"}, "count", "businesses", "*")
    assert unreachable.returncode == 1
    assert unreachable.stderr.startswith(
        "error: cannot reach http://127.0.0.1:9: POST /v4/businesses/search: "
    )
    assert unreachable.stderr.count("\n") == 1


def test_ctrl_c_at_a_terminal_cancels_the_download_on_the_server(
    idle_server: CliServer, tmp_path: Path
) -> None:
    terminal = Terminal(
        [*DLSERVE, "download", "businesses", "*", "--out", str(tmp_path)], client_env(idle_server, tmp_path)
    )
    download_id = terminal.expect(r"download (\d+) queued")[1]
    terminal.type(b"\x03")
    terminal.expect(r"Cancel the download on the server\? \[y/N\]: ")
    terminal.type(b"y\r")
    assert terminal.wait() == 130, terminal.text
    assert f"interrupted: Download {download_id} was cancelled" in terminal.text
    with Client(idle_server.base_url, idle_server.token) as client:
        assert client.get_download(download_id).status == "cancelled"


def test_ctrl_c_without_a_terminal_leaves_the_download_running(
    idle_server: CliServer, tmp_path: Path
) -> None:
    env = client_env(idle_server, tmp_path)
    polls_before = download_polls(idle_server)
    process = subprocess.Popen(
        [*DLSERVE, "download", "businesses", "*", "--out", str(tmp_path)],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stderr is not None
        first = process.stderr.readline()
        created = re.match(r"download (\d+): ", first)
        assert created is not None, first
        download_id = created[1]
        wait_until_polled(idle_server, polls_before)  # the CLI is following the download now
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130
    assert "Cancel the download" not in err
    assert (
        f"interrupted: download {download_id} keeps running on the server; fetch its files with: "
        f"dlserve downloads fetch {download_id} --out {tmp_path}"
    ) in err
    with Client(idle_server.base_url, idle_server.token) as client:
        assert client.get_download(download_id).status == "queued"
    cancelled = run(env, "downloads", "cancel", download_id)
    assert cancelled.returncode == 0
    assert cancelled.stdout.startswith(f"Download {download_id} was cancelled")


def test_media_get_saves_the_file_under_its_title(
    cli_server: CliServer, media_server: MediaServer, tmp_path: Path
) -> None:
    page = write_page(media_server.root, "cli", "Test Pattern ✓", media_server.url("/master.m3u8"))
    out = tmp_path / "videos"
    terminal = Terminal(
        [*DLSERVE, "media", "get", media_server.url(page), "--quality", "720p", "--out", str(out)],
        client_env(cli_server, tmp_path),
    )
    assert terminal.wait() == 0, terminal.text
    saved = out / "Test Pattern ✓.mp4"
    assert [p.name for p in out.iterdir()] == [saved.name]
    assert saved.read_bytes()[4:8] == b"ftyp"
    assert re.search(r"Test Pattern ✓ completed +━+ +100%", terminal.text), terminal.text
    assert f"{saved}  720p  Test Pattern ✓" in terminal.text

    env = client_env(cli_server, tmp_path)
    again = run(
        env, "media", "get", media_server.url(page), "--quality", "audio", "--out", str(out), "--json"
    )
    assert again.returncode == 0, again.stderr
    body = json.loads(again.stdout)
    assert body["path"] == str(out / "Test Pattern ✓.m4a")
    assert body["bytes"] == Path(body["path"]).stat().st_size == body["media"]["filesize"]
