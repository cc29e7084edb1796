"""The media API against real `dlserve serve` processes, driven by the seed's own shell example.

The "Complete Example" script is cut out of seed 004 as it is; only the host and the video URL are
replaced (by the server's and a loopback media page's). The media comes from a loopback server in
this process; ``DLSERVE_MEDIA_ALLOW_PRIVATE=true`` lets the server fetch from it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.acceptance.conftest import start_server, stop
from tests.acceptance.seed_clients import seed_path
from tests.support.media import MediaServer, probe_streams, shared_media, write_page

SEED_HOST = "https://your-api.com"
SEED_VIDEO = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
SEED_ID = "550e8400-e29b-41d4-a716-446655440000"


def seed_complete_example() -> str:
    lines = seed_path("004").read_text(encoding="utf-8").splitlines()
    start = lines.index("Complete Example") + 1
    end = lines.index("Notes", start)
    return "\n".join(lines[start:end]).strip() + "\n"


def seed_wget_line() -> str:
    lines = seed_path("004").read_text(encoding="utf-8").splitlines()
    return next(line for line in lines if line.startswith("wget --content-disposition"))


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MediaServer]:
    running = MediaServer(shared_media(tmp_path_factory.getbasetemp())).start()
    yield running
    running.stop()


def server_env(data_dir: Path, **settings: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DLSERVE_DATA_DIR": str(data_dir),
        "DLSERVE_LOG_JSON": "true",
        "DLSERVE_MEDIA_ALLOW_PRIVATE": "true",
    }
    env.pop("DLSERVE_DATABASE_URL", None)
    env.update({f"DLSERVE_{key.upper()}": value for key, value in settings.items()})
    return env


def run_bash(script: str, cwd: Path, seconds: float = 180) -> str:
    done = subprocess.run(
        ["bash", "-c", script], cwd=cwd, capture_output=True, text=True, timeout=seconds, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def poll(base_url: str, download_id: str, statuses: tuple[str, ...], seconds: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    entry: dict[str, Any] = {}
    while time.monotonic() < deadline:
        entry = httpx.get(f"{base_url}/api/downloads/{download_id}", timeout=10).json()
        if entry.get("status") in statuses:
            return entry
        time.sleep(0.2)
    raise AssertionError(f"not {statuses} after {seconds}s: {entry}")


def test_the_seed_complete_example_saves_the_file_under_its_title(media: MediaServer, tmp_path: Path) -> None:
    data_dir = tmp_path / "server"
    data_dir.mkdir()
    page = write_page(media.root, "seed", "dlserve test pattern", media.url("/master.m3u8"))
    base_url, process = start_server(server_env(data_dir), data_dir)
    try:
        script = seed_complete_example()
        assert script.count(SEED_HOST) == 3
        assert script.count(SEED_VIDEO) == 1
        script = script.replace(SEED_HOST, base_url).replace(SEED_VIDEO, media.url(page))
        workdir = tmp_path / "client"
        workdir.mkdir()

        output = run_bash(script, workdir)

        assert "Status: completed" in output
        saved = workdir / "dlserve test pattern.mp4"
        assert [p.name for p in workdir.iterdir()] == [saved.name]
        streams = probe_streams(saved)
        assert (streams["height"], streams["audio"]) == (720, True)

        # The seed's wget line, for a title that is not ASCII: it must keep the exact title.
        titled = write_page(media.root, "seed-es", "Canción de prueba – ñ", media.url("/dash.mpd"))
        download_id = httpx.post(
            f"{base_url}/api/download", json={"url": media.url(titled), "quality": "480p"}, timeout=30
        ).json()["download_id"]
        poll(base_url, download_id, ("completed",))
        wget_dir = tmp_path / "wget"
        wget_dir.mkdir()
        run_bash(seed_wget_line().replace(SEED_HOST, base_url).replace(SEED_ID, download_id), wget_dir)
        wget_saved = wget_dir / "Canción de prueba – ñ.mp4"
        assert [p.name for p in wget_dir.iterdir()] == [wget_saved.name]
        assert probe_streams(wget_saved)["height"] == 360  # nothing at 480: the nearest lower
        # curl -O -J reads only the ASCII fallback: it saves the transliterated title.
        curl_dir = tmp_path / "curl"
        curl_dir.mkdir()
        run_bash(f"curl -s -O -J {base_url}/api/download/{download_id}/file", curl_dir)
        assert [p.name for p in curl_dir.iterdir()] == ["Cancion de prueba - n.mp4"]
    finally:
        stop(process)


def test_a_restart_keeps_a_queued_request_and_resumes_it(media: MediaServer, tmp_path: Path) -> None:
    data_dir = tmp_path / "server"
    data_dir.mkdir()
    base_url, process = start_server(server_env(data_dir, media_workers="0"), data_dir)
    try:
        response = httpx.post(
            f"{base_url}/api/download", json={"url": media.url("/dash.mpd"), "quality": "720p"}
        )
        download_id = response.json()["download_id"]
        assert poll(base_url, download_id, ("pending",))["status"] == "pending"
    finally:
        stop(process)  # SIGTERM: a graceful stop while the request is queued

    base_url, process = start_server(server_env(data_dir), data_dir)
    try:
        entry = poll(base_url, download_id, ("completed",))
        assert entry["height"] == 720
        file = httpx.get(f"{base_url}/api/download/{download_id}/file", timeout=30)
        assert file.status_code == 200
        assert len(file.content) == entry["filesize"]
    finally:
        stop(process)


def test_a_server_killed_mid_transfer_is_not_left_downloading(media: MediaServer, tmp_path: Path) -> None:
    data_dir = tmp_path / "server"
    data_dir.mkdir()
    env = server_env(data_dir, job_lease_seconds="2")
    base_url, process = start_server(env, data_dir)
    try:
        url = media.url("/slow/v1080.mp4?rate=30000")
        download_id = httpx.post(f"{base_url}/api/download", json={"url": url}).json()["download_id"]
        deadline = time.monotonic() + 30
        while httpx.get(f"{base_url}/api/downloads/{download_id}").json()["downloaded_bytes"] == 0:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    scratch = data_dir / "tmp" / "media" / download_id
    assert scratch.is_dir()  # what the killed process left behind

    base_url, process = start_server(env, data_dir)
    try:
        entry = poll(base_url, download_id, ("completed", "failed"))
        assert entry["status"] == "completed"
        assert entry["height"] == 1080
        assert not scratch.exists()
        file = httpx.get(f"{base_url}/api/download/{download_id}/file", timeout=30)
        saved = tmp_path / "saved.mp4"
        saved.write_bytes(file.content)
        assert probe_streams(saved)["height"] == 1080
    finally:
        stop(process)
