"""A part's bytes leave the page cache once hashed (writers.CacheDropper): a big export must not
fill memory with files nobody reads back soon. Checked with ``mincore`` on the real page cache."""

from __future__ import annotations

import ctypes
import mmap
import os
import threading
from pathlib import Path

import pytest

from dlserve.downloads.writers import DROP_EVERY, PartWriter

pytestmark = pytest.mark.skipif(
    not hasattr(os, "posix_fadvise") or not hasattr(ctypes.CDLL(None), "mincore"),
    reason="posix_fadvise and mincore are Linux calls",
)

BODY = (b"1234567,some text that is long enough to fill a page,9.5\r\n" * 20_000) * 3  # ~3.5 MB


def resident_fraction(path: Path) -> float:
    """The share of ``path``'s pages in the page cache (``mincore`` over a mapping of it)."""
    size = path.stat().st_size
    pages = (size + mmap.PAGESIZE - 1) // mmap.PAGESIZE
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
    with path.open("rb") as file, mmap.mmap(file.fileno(), size, access=mmap.ACCESS_COPY) as mapped:
        address = ctypes.addressof(ctypes.c_char.from_buffer(mapped))
        vector = (ctypes.c_ubyte * pages)()
        if libc.mincore(ctypes.c_void_p(address), size, vector) != 0:
            raise OSError(ctypes.get_errno(), "mincore")
        return sum(byte & 1 for byte in vector) / pages


def test_a_part_written_by_python_is_out_of_the_page_cache_when_finished(tmp_path: Path) -> None:
    writer = PartWriter(tmp_path, gzip=False, header="a,b,c")
    for _ in range(12):
        writer.write_bytes(BODY)
    unfinished = writer.sibling("probe")  # the page cache holds what was just written...
    unfinished.write_bytes(BODY)
    assert resident_fraction(unfinished) > 0.9
    finished = writer.finish()
    assert finished.bytes == len(b"a,b,c\r\n") + 12 * len(BODY)
    assert resident_fraction(finished.path) < 0.05  # ...and no longer holds a finished part


@pytest.mark.parametrize("gzip", [False, True])
def test_a_followed_file_is_dropped_behind_the_hash_as_it_grows(
    tmp_path: Path, gzip: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Uncompressed, the followed file (DuckDB's) is the part: its first bytes are dropped while
    the other writer still writes — here it waits for that before writing on. Each request covers
    what is hashed so far; the last one the whole part."""
    requests: list[int] = []
    dropped_while_growing = threading.Event()
    real_fadvise = os.posix_fadvise

    def recorded(fd: int, offset: int, length: int, advice: int) -> None:
        assert (offset, advice) == (0, os.POSIX_FADV_DONTNEED)
        requests.append(length)
        dropped_while_growing.set()
        real_fadvise(fd, offset, length, advice)

    monkeypatch.setattr(os, "posix_fadvise", recorded)
    part = PartWriter(tmp_path, gzip=gzip, header=None)
    written = part.sibling("duckdb")

    def grow() -> None:
        with written.open("wb") as out:
            while out.tell() < 2 * DROP_EVERY:
                out.write(BODY)
                out.flush()
            if not gzip:
                assert dropped_while_growing.wait(30), "nothing was dropped while the file grew"
            out.write(BODY)

    thread = threading.Thread(target=grow)
    thread.start()
    part.follow(written, lambda: not thread.is_alive(), lambda: thread.join(0.01))
    thread.join()
    finished = part.finish()
    assert requests == sorted(requests)
    assert requests[-1] == finished.bytes
    if not gzip:
        assert requests[0] < finished.bytes  # dropped along the way, not only at the end
    assert resident_fraction(finished.path) < 0.05


def test_a_filesystem_refusing_the_advice_does_not_fail_the_part(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []

    def refused(fd: int, offset: int, length: int, advice: int) -> None:
        calls.append(length)
        raise OSError(95, "Operation not supported")

    monkeypatch.setattr(os, "posix_fadvise", refused)
    writer = PartWriter(tmp_path, gzip=False, header="a,b,c")
    for _ in range(24):
        writer.write_bytes(BODY)
    finished = writer.finish()
    assert finished.bytes == len(b"a,b,c\r\n") + 24 * len(BODY)
    assert len(calls) == 1  # asked once, then not again for this part
