"""`media/signatures.py` lets ffprobe skip only files it could not read anyway: every container and
stream real ffmpeg writes announces itself, and what announces nothing is what the real prober
(:func:`dlserve.media.ffmpeg.probe`) finds nothing in."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from dlserve.media.ffmpeg import FfmpegTools, find_tools, probe
from dlserve.media.signatures import HEAD_BYTES, SELF_IDENTIFYING, announces_media, worth_probing
from tests.support.media import _ffmpeg

VIDEO = ["-f", "lavfi", "-i", "testsrc=size=320x240:rate=10:duration=1"]
AUDIO = ["-f", "lavfi", "-i", "sine=frequency=440:duration=1"]
H264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
# name → ffmpeg arguments before the output path: one of each container and stream the media
# demuxers open (dlserve.media.ffmpeg_inputs.MEDIA_DEMUXERS).
SAMPLES: dict[str, list[str]] = {
    "both.mp4": [*VIDEO, *AUDIO, *H264, "-c:a", "aac", "-shortest"],
    "video.mov": [*VIDEO, *H264],
    "audio.m4a": [*AUDIO, "-c:a", "aac"],
    "both.mkv": [*VIDEO, *AUDIO, *H264, "-c:a", "aac", "-shortest"],
    "video.webm": [*VIDEO, "-c:v", "libvpx", "-deadline", "realtime"],
    "audio.ogg": [*AUDIO, "-c:a", "libvorbis"],
    "audio.opus": [*AUDIO, "-c:a", "libopus"],
    "audio.flac": [*AUDIO, "-c:a", "flac"],
    "audio.wav": [*AUDIO, "-c:a", "pcm_s16le"],
    "audio.aiff": [*AUDIO, "-c:a", "pcm_s16be"],
    "video.avi": [*VIDEO, "-c:v", "mpeg4"],
    "video.flv": [*VIDEO, "-c:v", "flv"],
    "video.wmv": [*VIDEO, *AUDIO, "-c:v", "wmv2", "-c:a", "wmav2", "-shortest"],
    "tagged.mp3": [*AUDIO, "-c:a", "libmp3lame"],
    "bare.mp3": [*AUDIO, "-c:a", "libmp3lame", "-id3v2_version", "0", "-write_xing", "0"],
    "adts.aac": [*AUDIO, "-c:a", "aac", "-f", "adts"],
    "audio.ac3": [*AUDIO, "-c:a", "ac3"],
    "both.ts": [*VIDEO, *AUDIO, *H264, "-c:a", "aac", "-shortest"],
    "program.mpg": [*VIDEO, *AUDIO, "-r", "25", "-c:v", "mpeg1video", "-c:a", "mp2", "-shortest"],
    "annexb.h264": [*VIDEO, *H264, "-f", "h264"],
}


@pytest.fixture(scope="module")
def tools() -> FfmpegTools:
    found = find_tools()
    assert found is not None
    return found


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("signatures")
    for name, arguments in SAMPLES.items():
        _ffmpeg(*arguments, str(root / name))
    return root


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_file_ffmpeg_writes_announces_itself(samples: Path, tools: FfmpegTools, name: str) -> None:
    path = samples / name
    info = probe(tools, path)
    assert info.has_video or info.has_audio  # the prober reads it: it must not be skipped
    assert announces_media(path.read_bytes()[:HEAD_BYTES])
    assert worth_probing(path, path.suffix.lstrip("."))


@pytest.mark.parametrize("name", ["both.mkv", "video.webm", "both.ts", "tagged.mp3", "audio.ogg"])
def test_a_container_under_another_name_is_still_probed(samples: Path, tmp_path: Path, name: str) -> None:
    mislabelled = tmp_path / "media.mp4"
    mislabelled.write_bytes((samples / name).read_bytes())
    assert worth_probing(mislabelled, "mp4")


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("ext", ["mp4", "webm", "mov", "mkv"])
def test_bytes_that_announce_nothing_are_not_probed_and_the_prober_agrees(
    tools: FfmpegTools, tmp_path: Path, seed: int, ext: str
) -> None:
    noise = random.Random(seed).randbytes(256 * 1024)
    if noise[:1] == b"\xff" or noise[:1] == b"\x47":  # the few heads that look like a frame or a TS
        noise = b"\x12" + noise[1:]
    path = tmp_path / f"media.{ext}"
    path.write_bytes(noise)
    assert not worth_probing(path, ext)
    info = probe(tools, path)
    assert (info.width, info.height, info.duration, info.has_video, info.has_audio) == (
        None,
        None,
        None,
        False,
        False,
    )


@pytest.mark.parametrize("ext", ["mp3", "aac", "ts", "mpg", "h264", "bin", "unknown"])
def test_raw_streams_and_unknown_names_are_always_probed(tmp_path: Path, ext: str) -> None:
    """ffmpeg finds MP3, AAC, TS… frames anywhere in the head: only it can say."""
    path = tmp_path / f"media.{ext}"
    path.write_bytes(random.Random(1).randbytes(4096))
    assert ext not in SELF_IDENTIFYING
    assert worth_probing(path, ext)


def test_short_empty_and_missing_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    assert not worth_probing(empty, "mp4")
    assert not announces_media(b"\xff")
    assert worth_probing(tmp_path / "missing.mp4", "mp4")  # the probe will say what is wrong
