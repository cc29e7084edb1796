"""Finding 3 of issue 12: a served "video" that is an HLS playlist naming a local file.

The attack as it was reproduced: ``evil.mp4`` is an HLS playlist with one non-ASCII byte (so an
"all ASCII" text check let it through) and one ``file:///…/canary.ts`` segment; with
``quality=audio`` ffmpeg extracted the audio of the server's local canary. Here the same attack runs
against real yt-dlp and real ffmpeg on a loopback server, and neither the fetch nor ffmpeg on its
own may ever produce the canary's bytes.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from dlserve.media.errors import FetchError
from dlserve.media.fetcher import YtDlpFetcher
from dlserve.media.ffmpeg import find_tools, probe
from dlserve.media.ffmpeg_inputs import SAFE_INPUT_OPTIONS
from dlserve.media.guard import AddressPolicy
from dlserve.media.interfaces import FetchRequest
from dlserve.media.progress import ProgressTracker
from dlserve.media.sniff import non_media_reason
from tests.support.media import MediaServer, ffmpeg_binary


@pytest.fixture
def canary(media_dir: Path, tmp_path: Path) -> Path:
    """A local MPEG-TS file with audio: the "secret" the attack wants to read."""
    secret = tmp_path / "secret" / "canary.ts"
    secret.parent.mkdir()
    secret.write_bytes((media_dir / "hls720_000.ts").read_bytes())
    return secret


def evil_playlist(canary: Path, encoding: str = "utf-8") -> bytes:
    text = (
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n"
        "#EXTINF:2.0,caf\u00e9\n"  # one non-ASCII byte: the text check of the first round missed it
        f"file://{canary}\n#EXT-X-ENDLIST\n"
    )
    return text.encode(encoding)


def outputs_of(directory: Path) -> list[Path]:
    return [path for path in directory.rglob("*") if path.is_file()]


@pytest.mark.parametrize("quality", ["audio", "best", "720p"])
@pytest.mark.parametrize(
    "encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-be", "latin-1"], ids=lambda e: e
)
def test_a_playlist_served_as_mp4_naming_a_local_file_is_refused(
    server: MediaServer, canary: Path, tmp_path: Path, quality: str, encoding: str
) -> None:
    server.bodies["/evil.mp4"] = ("video/mp4", evil_playlist(canary, encoding))
    workdir = tmp_path / "work"
    workdir.mkdir()
    fetcher = YtDlpFetcher(AddressPolicy(allow_private=True), find_tools(), socket_timeout=10)
    with pytest.raises(FetchError, match="where media was expected"):
        fetcher.fetch(FetchRequest(server.url("/evil.mp4"), quality, workdir), ProgressTracker())
    secret = canary.read_bytes()
    for output in outputs_of(workdir):
        data = output.read_bytes()
        assert secret[:4096] not in data, output
        assert non_media_reason(data[:65536]) is not None or b"canary" not in data, output


def test_ffmpeg_on_its_own_will_not_follow_the_playlist_to_the_local_file(
    canary: Path, tmp_path: Path
) -> None:
    """Defence in depth: even handed the playlist directly, ffmpeg refuses to demux it."""
    evil = tmp_path / "evil.mp4"
    evil.write_bytes(evil_playlist(canary))
    extracted = tmp_path / "extracted.m4a"
    done = subprocess.run(
        [ffmpeg_binary(), "-v", "error", "-y", *SAFE_INPUT_OPTIONS, "-i", f"file:{evil}", "-vn",
         "-c:a", "copy", str(extracted)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert not extracted.exists() or extracted.stat().st_size == 0
    tools = find_tools()
    assert tools is not None
    info = probe(tools, evil)
    assert (info.has_audio, info.has_video, info.duration) == (False, False, None)


def test_without_the_input_options_ffmpeg_would_read_the_local_file(canary: Path, tmp_path: Path) -> None:
    """The attack is real: the same command without our input options extracts the canary's audio."""
    evil = tmp_path / "evil.mp4"
    evil.write_bytes(evil_playlist(canary))
    extracted = tmp_path / "extracted.m4a"
    done = subprocess.run(
        [ffmpeg_binary(), "-v", "error", "-y", "-protocol_whitelist", "file,pipe", "-i", f"file:{evil}",
         "-vn", "-c:a", "copy", str(extracted)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert extracted.stat().st_size > 1000


@pytest.mark.parametrize("name", ["v360.mp4", "audio.m4a", "hls720_000.ts", "video720.mp4"])
def test_real_media_is_not_mistaken_for_text(media_dir: Path, name: str) -> None:
    assert non_media_reason((media_dir / name).read_bytes()[:65536]) is None


def test_yt_dlps_own_ffprobe_runs_get_the_safe_input_options(
    server: MediaServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from yt_dlp.utils import Popen

    commands: list[list[str]] = []
    run = Popen.run

    def recording_run(args: list[str], *rest: Any, **options: Any) -> Any:
        commands.append([str(arg) for arg in args])
        return run(args, *rest, **options)

    monkeypatch.setattr(Popen, "run", recording_run)
    fetcher = YtDlpFetcher(AddressPolicy(allow_private=True), find_tools(), socket_timeout=10)
    fetched = fetcher.fetch(FetchRequest(server.url("/v360.mp4"), "audio", tmp_path), ProgressTracker())
    assert fetched.ext == "m4a"
    probes = [c for c in commands if Path(c[0]).name.startswith("ffprobe") and c[-1].startswith("file:")]
    assert probes, commands  # audio extraction asked ffprobe which codec to copy
    width = len(SAFE_INPUT_OPTIONS)
    for command in probes:
        assert any(command[i : i + width] == SAFE_INPUT_OPTIONS for i in range(len(command))), command
