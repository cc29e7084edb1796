"""The local side of fetching: plans, names, Content-Disposition, Content-Range."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from dlserve.client.files import (
    FilePlan,
    PartialFile,
    filename_from_content_disposition,
    plan_fetch,
    range_start,
    safe_filename,
    unsatisfied_range_size,
)
from dlserve.client.models import ResultFile

CONTENT = b"0123456789" * 10


def result(content: bytes = CONTENT, sha256: str | None = "auto") -> ResultFile:
    digest = hashlib.sha256(content).hexdigest() if sha256 == "auto" else sha256
    return ResultFile(url="http://x.test/f.txt", name="f.txt", bytes=len(content), sha256=digest)


@pytest.mark.parametrize(
    ("local", "resume", "verify", "expected"),
    [
        (None, True, True, (False, 0)),
        (CONTENT, True, True, (True, 100)),
        (CONTENT[:40], True, True, (False, 40)),
        (CONTENT[:40], False, True, (False, 0)),
        (b"x" * 100, True, True, (False, 0)),  # right size, wrong bytes
        (b"x" * 100, True, False, (True, 100)),  # without verify the size is trusted
        (CONTENT + b"!", True, True, (False, 0)),
    ],
)
def test_plan_fetch(
    local: bytes | None, resume: bool, verify: bool, expected: tuple[bool, int], tmp_path: Path
) -> None:
    path = tmp_path / "f.txt"
    if local is not None:
        path.write_bytes(local)
    assert plan_fetch(result(), path, resume=resume, verify=verify) == FilePlan(path, *expected)


def test_partial_file_hashes_the_kept_prefix(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    path.write_bytes(CONTENT[:40] + b"garbage past the offset")
    with PartialFile(path, 40) as part:
        part.write(CONTENT[40:])
    assert path.read_bytes() == CONTENT
    assert part.hexdigest() == hashlib.sha256(CONTENT).hexdigest()
    assert part.size == 100


def test_partial_file_restart(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "f.txt"
    with PartialFile(path) as part:
        part.write(b"abc")
        part.restart()
        part.write(CONTENT)
    assert path.read_bytes() == CONTENT
    assert part.hexdigest() == hashlib.sha256(CONTENT).hexdigest()


@pytest.mark.parametrize(
    ("header", "name"),
    [
        (None, None),
        ("inline", None),
        ('attachment; filename="a;b.mp4"', "a;b.mp4"),
        (r'attachment; filename="say \"hi\".mp4"', 'say "hi".mp4'),
        ("attachment; FILENAME=upper.mp4", "upper.mp4"),
        ("attachment; filename*=iso-8859-1'es'Canci%F3n.mp3", "Canción.mp3"),
        ("attachment; filename*=UTF-8''%FF%FE.mp4; filename=\"fallback.mp4\"", "fallback.mp4"),
        ("attachment; filename*=bogus-charset''x.mp4; filename=\"fallback.mp4\"", "fallback.mp4"),
    ],
)
def test_filename_from_content_disposition(header: str | None, name: str | None) -> None:
    assert filename_from_content_disposition(header) == name


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("ok.txt", "ok.txt"),
        ("a/b\\c.txt", "a_b_c.txt"),
        ("..", "fallback"),
        ("", "fallback"),
        (None, "fallback"),
        ("bell\x07\n.txt", "bell.txt"),
    ],
)
def test_safe_filename(name: str | None, safe: str) -> None:
    assert safe_filename(name, "fallback") == safe


def test_safe_filename_limits_length_and_keeps_the_extension() -> None:
    name = safe_filename("ñ" * 300 + ".mp4", "x")
    assert name.endswith(".mp4")
    assert len(name.encode()) <= 240


def test_content_range_helpers() -> None:
    assert range_start(200, None) == 0
    assert range_start(206, "bytes 40-99/100") == 40
    assert range_start(206, None) is None
    assert range_start(206, "bytes */100") is None
    assert unsatisfied_range_size("bytes */100") == 100
    assert unsatisfied_range_size(None) is None
