"""What measuring a downloaded file costs: a plain file nothing can read starts no probe at all, and
the probe that does run reads only the head of a file to recognise it (real ffmpeg/ffprobe)."""

from __future__ import annotations

import os
import re
import stat
import subprocess
from pathlib import Path

import pytest

from dlserve.media.ffmpeg import FORMAT_PROBE_BYTES, FfmpegTools, find_tools, probe, probe_command
from tests.support.media import MediaServer, _ffmpeg
from tests.support.media_app import media_app, media_settings, media_workers, start, wait_for

NOISE_BYTES = 4 * 1024 * 1024
_READ = re.compile(r"Statistics: (\d+) bytes read")


def tool_sets() -> list[FfmpegTools]:
    """Debian's ffprobe when installed (as in the Docker image), and the wheel's ffmpeg alone."""
    import imageio_ffmpeg

    found = [tools for tools in (find_tools(),) if tools is not None and tools.ffprobe]
    return [*found, FfmpegTools(ffmpeg=imageio_ffmpeg.get_ffmpeg_exe(), ffprobe=None)]


def bytes_read(command: list[str]) -> int:
    """Run ``command`` at debug level; what ffmpeg's I/O layer says it read from the input."""
    done = subprocess.run([*command, "-v", "debug"], capture_output=True, text=True, timeout=60, check=False)
    counts = [int(found) for found in _READ.findall(done.stderr)]
    assert counts, done.stderr[-2000:]
    return sum(counts)


@pytest.fixture
def noise(tmp_path: Path) -> Path:
    path = tmp_path / "noise.mp4"
    path.write_bytes(b"\x12" + os.urandom(NOISE_BYTES - 1))  # \x12: no frame or TS sync at offset 0
    return path


@pytest.mark.parametrize("tools", tool_sets(), ids=lambda tools: "ffprobe" if tools.ffprobe else "ffmpeg")
def test_the_probe_reads_only_the_head_of_bytes_it_cannot_recognise(tools: FfmpegTools, noise: Path) -> None:
    command = probe_command(tools, noise)
    assert bytes_read(command) <= 2 * FORMAT_PROBE_BYTES
    info = probe(tools, noise)
    assert (info.width, info.height, info.duration, info.has_video, info.has_audio) == (
        None,
        None,
        None,
        False,
        False,
    )
    # The bound is what keeps it small: ffmpeg's default reads a megabyte trying every demuxer.
    at = command.index("-formatprobesize")
    unbounded = command[:at] + command[at + 2 :]
    assert bytes_read(unbounded) > 1024 * 1024


@pytest.mark.parametrize("tools", tool_sets(), ids=lambda tools: "ffprobe" if tools.ffprobe else "ffmpeg")
def test_the_bounded_probe_still_reads_an_mp3_behind_a_long_tag(tools: FfmpegTools, tmp_path: Path) -> None:
    """An MP3 with a 500 KB cover in its ID3 tag, longer than the head: still recognised."""
    cover = tmp_path / "cover.png"
    noise = "nullsrc=size=600x600,geq=random(1)*255:128:128"  # does not compress: a large picture
    _ffmpeg("-f", "lavfi", "-i", noise, "-frames:v", "1", str(cover))
    assert cover.stat().st_size > 4 * FORMAT_PROBE_BYTES
    tagged = tmp_path / "tagged.bin"  # no name to go by
    _ffmpeg(
        "-f", "lavfi", "-i", "sine=duration=3", "-i", str(cover), "-map", "0", "-map", "1",
        "-c:a", "libmp3lame", "-c:v", "copy", "-id3v2_version", "3", "-disposition:v", "attached_pic",
        "-f", "mp3", str(tagged),
    )  # fmt: skip
    info = probe(tools, tagged)
    assert info.has_audio
    assert info.duration is not None
    assert abs(info.duration - 3.0) < 0.2


# -- through the runner: which probes run -----------------------------------------------------------


@pytest.fixture
def recorded_tools(tmp_path: Path) -> tuple[Path, Path]:
    """The real ffmpeg (and ffprobe, when there is one) behind scripts that log every argv first:
    ``DLSERVE_MEDIA_FFMPEG`` points at the ffmpeg script, ffprobe is found beside it."""
    real = find_tools()
    assert real is not None
    folder = tmp_path / "tools"
    folder.mkdir()
    log = tmp_path / "calls.log"
    log.touch()
    for name, target in (("ffmpeg", real.ffmpeg), ("ffprobe", real.ffprobe)):
        if target is None:
            continue
        script = folder / name
        script.write_text(f'#!/bin/sh\nprintf "{name} %s\\n" "$*" >> "{log}"\nexec "{target}" "$@"\n')
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return folder / "ffmpeg", log


def probes_in(log: Path) -> list[str]:
    """Every logged run that opened a file (version checks by yt-dlp don't count)."""
    return [line for line in log.read_text().splitlines() if "file:" in line or " -i " in line]


def test_a_plain_file_nothing_can_read_starts_no_probe_and_reports_unknown_dimensions(
    server: MediaServer, recorded_tools: tuple[Path, Path], database_url: str, tmp_path: Path
) -> None:
    ffmpeg, log = recorded_tools
    body = b"\x12" + os.urandom(NOISE_BYTES - 1)
    server.bodies["/noise.mp4"] = ("video/mp4", body)
    settings = media_settings(tmp_path, database_url, media_ffmpeg=str(ffmpeg))
    with media_app(settings) as (services, client), media_workers(services):
        entry = wait_for(client, start(client, server.url("/noise.mp4")))
        assert (entry["width"], entry["height"], entry["duration"]) == (None, None, None)  # unknown: null
        assert entry["filesize"] == len(body)
        assert client.get(f"/api/download/{entry['id']}/file").content == body
    assert probes_in(log) == []


def test_a_container_under_a_wrong_name_is_still_probed_once(
    server: MediaServer, media_dir: Path, recorded_tools: tuple[Path, Path], database_url: str, tmp_path: Path
) -> None:
    ffmpeg, log = recorded_tools
    matroska = tmp_path / "v360.mkv"
    _ffmpeg("-i", str(media_dir / "v360.mp4"), "-c", "copy", str(matroska))
    server.bodies["/matroska.mp4"] = ("video/mp4", matroska.read_bytes())  # served as MP4
    settings = media_settings(tmp_path, database_url, media_ffmpeg=str(ffmpeg))
    with media_app(settings) as (services, client), media_workers(services):
        entry = wait_for(client, start(client, server.url("/matroska.mp4")))
        assert (entry["width"], entry["height"]) == (640, 360)
        assert entry["duration"] == pytest.approx(2.0, abs=0.2)
    assert len(probes_in(log)) == 1
