"""The real fetcher: yt-dlp and ffmpeg against media served from loopback, guard included.

Every server here listens on 127.0.0.1 or 127.0.0.2. Names like ``allowed.test`` and
``internal.test`` exist only in the injected resolvers, and a policy that allows only 127.0.0.1
stands in for "the public internet" so that the guard's refusals can be exercised without ever
sending a packet off this machine.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dlserve.media.errors import Cancelled, FetchError, Refused, TooLarge
from dlserve.media.fetcher import YtDlpFetcher
from dlserve.media.ffmpeg import FfmpegTools, find_tools, probe
from dlserve.media.ffmpeg_inputs import SAFE_INPUT_OPTIONS
from dlserve.media.guard import AddressPolicy
from dlserve.media.interfaces import FetchedMedia, FetchRequest
from dlserve.media.progress import ProgressTracker
from tests.support.media import MediaServer, probe_streams, write_page


class OnlyFirstLoopback(AddressPolicy):
    """127.0.0.1 plays "a public host"; every other address (127.0.0.2 included) is internal."""

    def allows(self, address: str) -> bool:
        return address == "127.0.0.1"


def names(**table: str) -> Any:
    def resolve(host: str, port: int) -> list[tuple[int, tuple[Any, ...]]]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "unknown test name")
        return [(socket.AF_INET, (table[host], port))]

    return resolve


@pytest.fixture
def canary(media_dir: Path) -> Iterator[MediaServer]:
    """A server on 127.0.0.2 that a refused fetch must never reach."""
    running = MediaServer(media_dir, host="127.0.0.2").start()
    yield running
    running.stop()


def fetch(
    url: str,
    quality: str,
    workdir: Path,
    policy: AddressPolicy | None = None,
    tracker: ProgressTracker | None = None,
) -> FetchedMedia:
    fetcher = YtDlpFetcher(policy or AddressPolicy(allow_private=True), find_tools(), socket_timeout=10)
    return fetcher.fetch(FetchRequest(url, quality, workdir), tracker or ProgressTracker())


# -- quality selection ------------------------------------------------------------------------------


@pytest.mark.parametrize(("quality", "height"), [("720p", 720), ("best", 1080), ("480p", 360), ("240p", 360)])
def test_hls_master_playlist_quality_selection(
    server: MediaServer, tmp_path: Path, quality: str, height: int
) -> None:
    result = fetch(server.url("/master.m3u8"), quality, tmp_path)
    streams = probe_streams(result.path)
    assert streams["height"] == height
    assert streams["audio"]
    assert result.ext == "mp4"


@pytest.mark.parametrize(("quality", "height"), [("720p", 720), ("best", 1080)])
def test_separate_video_and_audio_streams_are_merged(
    server: MediaServer, tmp_path: Path, quality: str, height: int
) -> None:
    tracker = ProgressTracker()
    result = fetch(server.url("/dash.mpd"), quality, tmp_path, tracker=tracker)
    streams = probe_streams(result.path)
    assert (streams["height"], streams["video"], streams["audio"]) == (height, True, True)
    assert tracker.snapshot().downloaded_bytes > result.path.stat().st_size * 0.9
    assert sorted(p.name for p in tmp_path.iterdir()) == [result.path.name]  # streams merged, parts gone


@pytest.mark.parametrize("source", ["/dash.mpd", "/master.m3u8", "/v360.mp4"])
def test_audio_quality_gives_an_audio_only_m4a(server: MediaServer, tmp_path: Path, source: str) -> None:
    result = fetch(server.url(source), "audio", tmp_path)
    streams = probe_streams(result.path)
    assert result.ext == "m4a"
    assert (streams["video"], streams["audio"], streams["codecs"]) == (False, True, ["aac"])


def test_a_direct_file_is_taken_as_it_is_and_its_height_measured(server: MediaServer, tmp_path: Path) -> None:
    result = fetch(server.url("/v360.mp4"), "720p", tmp_path)  # yt-dlp can't know a bare file's height
    assert probe_streams(result.path)["height"] == 360
    assert result.title == "v360"


def test_the_imageio_ffmpeg_wheel_alone_merges_and_measures(server: MediaServer, tmp_path: Path) -> None:
    import imageio_ffmpeg

    wheel = FfmpegTools(ffmpeg=imageio_ffmpeg.get_ffmpeg_exe(), ffprobe=None)  # no Debian package needed
    fetcher = YtDlpFetcher(AddressPolicy(allow_private=True), wheel, socket_timeout=10)
    result = fetcher.fetch(FetchRequest(server.url("/dash.mpd"), "720p", tmp_path), ProgressTracker())
    info = probe(wheel, result.path)
    assert (info.width, info.height, info.has_video, info.has_audio) == (1280, 720, True, True)
    assert info.duration is not None
    assert abs(info.duration - 2.0) < 0.2
    assert probe_streams(result.path)["height"] == 720


def test_aes_128_hls_is_decrypted_natively_through_the_guard(server: MediaServer, tmp_path: Path) -> None:
    result = fetch(server.url("/encrypted.m3u8"), "best", tmp_path)
    assert probe_streams(result.path)["height"] == 720
    assert server.hits("/enc.key")


def test_the_title_comes_from_the_page(server: MediaServer, media_dir: Path, tmp_path: Path) -> None:
    page = write_page(media_dir, "titled", "Canción de prueba – ñ", server.url("/master.m3u8"))
    tracker = ProgressTracker()
    result = fetch(server.url(page), "720p", tmp_path, tracker=tracker)
    assert result.title == "Canción de prueba – ñ"
    assert tracker.snapshot().title == "Canción de prueba – ñ"
    assert probe_streams(result.path)["height"] == 720


# -- the guard, end to end through yt-dlp -------------------------------------------------------------


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "0x7f.1", "2130706433", "0177.0.0.1", "127.1", "[::ffff:127.0.0.1]"]
)
def test_internal_addresses_are_refused_at_connect_in_any_spelling(
    server: MediaServer, tmp_path: Path, host: str
) -> None:
    before = len(server.hits())
    with pytest.raises(Refused, match="not a public address"):
        fetch(f"http://{host}:{server.port}/v360.mp4", "best", tmp_path, policy=AddressPolicy())
    assert len(server.hits()) == before


def test_a_redirect_from_an_allowed_host_to_an_internal_one_is_refused(
    server: MediaServer, canary: MediaServer, tmp_path: Path
) -> None:
    policy = OnlyFirstLoopback(resolver=names(**{"allowed.test": "127.0.0.1", "internal.test": "127.0.0.2"}))
    for target in (
        f"http://internal.test:{canary.port}/v360.mp4",
        f"http://127.0.0.2:{canary.port}/v360.mp4",
    ):
        url = f"http://allowed.test:{server.port}/redirect?to={target}"
        with pytest.raises(Refused):
            fetch(url, "best", tmp_path, policy=policy)
    assert canary.hits() == []
    assert len(server.hits("/redirect")) >= 2


@pytest.mark.parametrize(
    "target", ["ftp://127.0.0.1/video.mp4", "file:///etc/passwd", "gopher://127.0.0.1:70/"]
)
def test_redirects_to_other_schemes_are_refused(server: MediaServer, tmp_path: Path, target: str) -> None:
    with pytest.raises(Refused, match="only http and https"):
        fetch(server.url(f"/redirect?to={target}"), "best", tmp_path)


def _playlist(
    server: MediaServer, path: str, text: str, content_type: str = "application/vnd.apple.mpegurl"
) -> str:
    server.bodies[path] = (content_type, text.encode())
    return server.url(path)


def test_hls_segments_and_keys_on_internal_hosts_are_refused(
    server: MediaServer, canary: MediaServer, tmp_path: Path
) -> None:
    policy = OnlyFirstLoopback(resolver=names(**{"internal.test": "127.0.0.2"}))
    segments = _playlist(
        server,
        "/internal-segments.m3u8",
        f"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nhttp://internal.test:{canary.port}/hls720_000.ts\n"
        "#EXT-X-ENDLIST\n",
    )
    key = _playlist(
        server,
        "/internal-key.m3u8",
        f'#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-KEY:METHOD=AES-128,URI="http://127.0.0.2:{canary.port}/key"\n'
        f"#EXTINF:2.0,\n{server.url('/hls720_000.ts')}\n#EXT-X-ENDLIST\n",
    )
    for url in (segments, key):
        with pytest.raises(Refused, match="not a public address"):
            fetch(url, "best", tmp_path, policy=policy)
    assert canary.hits() == []


def test_hls_that_would_need_ffmpeg_to_fetch_is_refused_not_handed_to_ffmpeg(
    server: MediaServer, canary: MediaServer, tmp_path: Path
) -> None:
    # SAMPLE-AES makes yt-dlp's native HLS downloader hand the stream to ffmpeg, which would fetch
    # the segments itself, outside the guard. The canary is even "allowed" here: only the refusal
    # of external downloaders stands between ffmpeg and it.
    url = _playlist(
        server,
        "/sample-aes.m3u8",
        f'#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-KEY:METHOD=SAMPLE-AES,URI="{canary.url("/key")}"\n'
        f"#EXTINF:2.0,\n{canary.url('/hls720_000.ts')}\n#EXT-X-ENDLIST\n",
    )
    with pytest.raises(Refused, match="outside the address guard"):
        fetch(url, "best", tmp_path)
    assert canary.hits() == []


def test_a_playlist_disguised_as_a_media_file_is_not_followed_by_ffmpeg(
    server: MediaServer, canary: MediaServer, tmp_path: Path
) -> None:
    url = _playlist(
        server,
        "/disguised.mp4",
        f"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\n{canary.url('/hls720_000.ts')}\n#EXT-X-ENDLIST\n",
        content_type="video/mp4",
    )
    for quality in ("best", "audio"):
        with pytest.raises(FetchError, match=r"playlist or markup .* where media was expected"):
            fetch(url, quality, tmp_path)
    assert canary.hits() == []


def test_ffmpeg_post_processing_may_open_local_files_only(
    server: MediaServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from yt_dlp.postprocessor import ffmpeg as ffmpeg_postprocessors

    commands: list[list[str]] = []
    run = ffmpeg_postprocessors.Popen.run

    def recording_run(args: list[str], *rest: Any, **options: Any) -> Any:
        commands.append([str(arg) for arg in args])
        return run(args, *rest, **options)

    monkeypatch.setattr(ffmpeg_postprocessors.Popen, "run", recording_run)
    fetch(server.url("/dash.mpd"), "720p", tmp_path)  # merge
    fetch(server.url("/master.m3u8"), "audio", tmp_path)  # fixup + audio extraction
    ffmpeg_runs = [c for c in commands if "-i" in c and Path(c[0]).name.startswith("ffmpeg")]
    assert len(ffmpeg_runs) >= 3
    for command in ffmpeg_runs:
        inputs = [i for i, arg in enumerate(command) if arg == "-i"]
        width = len(SAFE_INPUT_OPTIONS)
        assert all(command[i - width : i] == SAFE_INPUT_OPTIONS for i in inputs), command


# -- limits, cancellation, errors ------------------------------------------------------------------


@pytest.mark.parametrize("length", ["yes", "no"])
def test_the_size_limit_aborts_the_transfer(server: MediaServer, tmp_path: Path, length: str) -> None:
    tracker = ProgressTracker(max_bytes=1_000_000)
    with pytest.raises(TooLarge, match="limit of 1,000,000 bytes"):
        fetch(server.url(f"/big/video.mp4?bytes=20000000&length={length}"), "best", tmp_path, tracker=tracker)
    assert tracker.snapshot().downloaded_bytes < 5_000_000


def test_cancelling_cuts_a_stalled_transfer_promptly(server: MediaServer, tmp_path: Path) -> None:
    tracker = ProgressTracker()

    def cancel_when_streaming() -> None:
        deadline = time.monotonic() + 20
        # Cancel once bytes are flowing (a transfer in progress), not after a guessed delay.
        while (
            server.open_transfers == 0 or tracker.snapshot().downloaded_bytes == 0
        ) and time.monotonic() < deadline:
            time.sleep(0.05)
        tracker.cancel("removed by the user")

    threading.Thread(target=cancel_when_streaming, daemon=True).start()
    started = time.monotonic()
    with pytest.raises(Cancelled, match="removed by the user"):
        fetch(server.url("/stall/video.mp4"), "best", tmp_path, tracker=tracker)
    assert time.monotonic() - started < 10  # the socket timeout is 10 s: the read was cut, not timed out


def test_a_missing_page_fails_for_good_and_a_dead_server_is_worth_a_retry(
    server: MediaServer, tmp_path: Path
) -> None:
    with pytest.raises(FetchError) as missing:
        fetch(server.url("/nothing-here.mp4"), "best", tmp_path)
    assert not missing.value.retryable
    assert "404" in missing.value.message
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(FetchError) as refused:
        fetch(f"http://127.0.0.1:{port}/video.mp4", "best", tmp_path)
    assert refused.value.retryable


# -- the plain-file fast path ------------------------------------------------------------------------


def test_a_plain_file_takes_one_request_and_arrives_byte_for_byte(
    server: MediaServer, media_dir: Path, tmp_path: Path
) -> None:
    before = len(server.hits("/v720.mp4"))
    result = fetch(server.url("/v720.mp4"), "best", tmp_path)
    assert len(server.hits("/v720.mp4")) - before == 1  # yt-dlp's generic extractor would ask twice
    assert result.path.read_bytes() == (media_dir / "v720.mp4").read_bytes()
    assert (result.title, result.ext) == ("v720", "mp4")
    # The guard, the size limit, cancelling and the text sniff on this path: the tests above all
    # fetch with quality "best", which takes it (redirects, disguised playlists, stalls, limits).
