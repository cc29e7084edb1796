"""`media/isobmff.py` reads what ffprobe reads from MP4/MOV/M4A headers, and gives up (None) on
anything else, so the caller falls back to ffprobe. Files are made by real ffmpeg and compared with
the real prober (:func:`dlserve.media.ffmpeg.probe`)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dlserve.media import isobmff
from dlserve.media.ffmpeg import find_tools, probe
from tests.support.media import _ffmpeg

VIDEO = ["-f", "lavfi", "-i", "testsrc=size=640x360:rate=10:duration=2"]
AUDIO = ["-f", "lavfi", "-i", "sine=frequency=440:duration=2"]
H264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("isobmff")
    _ffmpeg(*VIDEO, *AUDIO, *H264, "-c:a", "aac", "-shortest", str(root / "both.mp4"))
    _ffmpeg(
        *VIDEO, *AUDIO, *H264, "-c:a", "aac", "-shortest", "-movflags", "+faststart", str(root / "fast.mp4")
    )
    _ffmpeg(*VIDEO, *H264, str(root / "video.mov"))
    _ffmpeg(*AUDIO, "-c:a", "aac", str(root / "audio.m4a"))
    _ffmpeg(*VIDEO, "-c:v", "mpeg4", "-vf", "scale=320:240", str(root / "mpeg4.mp4"))
    _ffmpeg(*VIDEO, *H264, "-movflags", "+frag_keyframe+empty_moov", str(root / "fragmented.mp4"))
    _ffmpeg(*VIDEO, *H264, str(root / "video.mkv"))
    return root


@pytest.mark.parametrize("name", ["both.mp4", "fast.mp4", "video.mov", "audio.m4a", "mpeg4.mp4"])
def test_the_header_says_what_ffprobe_says(media: Path, name: str) -> None:
    tools = find_tools()
    assert tools is not None
    read = isobmff.read_info(media / name)
    probed = probe(tools, media / name)
    assert read is not None
    assert (read.width, read.height, read.has_video, read.has_audio) == (
        probed.width,
        probed.height,
        probed.has_video,
        probed.has_audio,
    )
    assert read.duration is not None
    assert probed.duration is not None
    assert abs(read.duration - probed.duration) < 0.1


@pytest.mark.parametrize("name", ["fragmented.mp4", "video.mkv"])
def test_other_containers_are_left_to_ffprobe(media: Path, name: str) -> None:
    assert isobmff.read_info(media / name) is None


def test_random_truncated_or_hostile_bytes_give_none(media: Path, tmp_path: Path) -> None:
    random = tmp_path / "random.mp4"
    random.write_bytes(os.urandom(1 << 20))
    assert isobmff.read_info(random) is None
    whole = (media / "both.mp4").read_bytes()
    for cut in (8, 100, len(whole) // 2, len(whole) - 1):
        truncated = tmp_path / f"cut{cut}.mp4"
        truncated.write_bytes(whole[:cut])
        assert isobmff.read_info(truncated) is None
    # A box that claims more bytes than the file has, and one with an impossible length.
    lying = tmp_path / "lying.mp4"
    lying.write_bytes(b"\x00\x00\x00\x10ftypisom\x00\x00\x02\x00" + b"\xff\xff\xff\xffmoov" + b"\x00" * 32)
    assert isobmff.read_info(lying) is None
    tiny = tmp_path / "tiny.mp4"
    tiny.write_bytes(b"\x00\x00\x00\x10ftypisom\x00\x00\x02\x00" + b"\x00\x00\x00\x04moov")
    assert isobmff.read_info(tiny) is None
    assert isobmff.read_info(tmp_path / "missing.mp4") is None
