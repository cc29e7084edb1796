"""A result file being written: a local temp file, optionally gzip'd, hashed as it is written.

Nothing is visible to clients until :meth:`PartWriter.finish` hands the finished file over; a
part abandoned half-way (cancel, shutdown, crash) is only ever a temp file, removed on discard.

A part's bytes leave the page cache once hashed (:class:`CacheDropper`): a big export writes
gigabytes (11 GB for a 3M-record flat CSV) that nobody reads back soon. Kept cached, they pushed
the snapshot's parts out and made each later write dearer in kernel time: that 3M export took
58.7 s keeping its bytes cached, 45.5 s dropping them behind the hash.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

# Level 1: gzip mostly costs CPU; the first level keeps most of the size win at a fraction of it.
GZIP_LEVEL = 1
_BUFFER = 1 << 20
DROP_EVERY = 32 << 20  # bytes hashed between two requests to drop them from the page cache
_CAN_DROP = hasattr(os, "posix_fadvise") and hasattr(os, "POSIX_FADV_DONTNEED")


class CacheDropper:
    """Asks the kernel to drop a file's first bytes from the page cache once they are hashed, at
    most every :data:`DROP_EVERY` bytes. ``POSIX_FADV_DONTNEED`` starts writing dirty pages back
    and drops the clean ones; a page still being written goes at a later call (each call covers
    the file from its start). Nothing where the call does not exist (it is POSIX, not macOS)."""

    def __init__(self) -> None:
        self._dropped = 0
        self._enabled = _CAN_DROP

    def due(self, hashed: int) -> bool:
        return self._enabled and hashed - self._dropped >= DROP_EVERY

    def drop_if_due(self, fileno: int, hashed: int) -> None:
        if self.due(hashed):
            self.drop(fileno, hashed)

    def drop(self, fileno: int, hashed: int) -> None:
        if not self._enabled:
            return
        try:
            os.posix_fadvise(fileno, 0, hashed, os.POSIX_FADV_DONTNEED)
        except OSError:  # advice only: a filesystem that refuses it must not fail the export
            self._enabled = False
        self._dropped = hashed


@dataclass(frozen=True)
class FinishedPart:
    path: Path
    bytes: int
    sha256: str


class PartWriter:
    def __init__(self, scratch: Path, *, gzip: bool, header: str | None) -> None:
        scratch.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix="part-", suffix=".tmp", dir=scratch)
        self._path = Path(name)
        self._file: BinaryIO = os.fdopen(handle, "wb", buffering=_BUFFER)
        self._hash = hashlib.sha256()
        self._bytes = 0
        # wbits 31: a gzip container (header + trailer) from one streaming compressor.
        self._gzip = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31) if gzip else None
        self._dropper = CacheDropper()
        self.records = 0
        if header is not None:
            self.write_text(header + "\r\n")

    def write_text(self, text: str) -> None:
        self._emit(text.encode("utf-8"))

    def write_bytes(self, data: bytes | memoryview) -> None:
        """Already encoded UTF-8 (e.g. an Arrow string buffer), written without a copy."""
        self._emit(data)

    def _emit(self, data: bytes | memoryview) -> None:
        if self._gzip is not None:
            data = self._gzip.compress(data)
        if data:
            self._hash.update(data)
            self._bytes += len(data)
            self._file.write(data)
            if self._dropper.due(self._bytes):
                self._file.flush()  # the buffer's bytes are in the file, to be dropped too
                self._dropper.drop(self._file.fileno(), self._bytes)

    def finish(self) -> FinishedPart:
        if self._gzip is not None:
            tail = self._gzip.flush()
            self._gzip = None
            self._hash.update(tail)
            self._bytes += len(tail)
            self._file.write(tail)
        self._file.flush()
        os.fsync(self._file.fileno())
        self._dropper.drop(self._file.fileno(), self._bytes)  # written back by now: all of it goes
        self._file.close()
        return FinishedPart(self._path, self._bytes, self._hash.hexdigest())

    def sibling(self, tag: str) -> Path:
        """A fresh path beside this part's temp file, for a file someone else creates (see follow)."""
        handle, name = tempfile.mkstemp(prefix=f"part-{tag}-", suffix=".tmp", dir=self._path.parent)
        os.close(handle)
        os.unlink(name)  # a unique name: the writer creates the file itself
        return Path(name)

    def follow(self, written: Path, writer_done: Callable[[], bool], tick: Callable[[], None]) -> None:
        """Take in a file someone else (DuckDB) is writing, appending only, as it grows: hashed
        (and gzip'd) while it is written, ``tick`` called between reads. Uncompressed into an
        empty part, the file itself becomes the part (hashed, not copied); else it is removed."""
        own = self._gzip is None and self._bytes == 0
        if own:
            self._file.close()
            self._path.unlink(missing_ok=True)
            self._path = written
        try:
            while not written.exists():  # the writer creates it
                # Done is read before the file is looked at again: a writer done a moment after
                # the first look (a small file) has created it by then.
                if writer_done() and not written.exists():
                    raise RuntimeError(f"{written} was never written")
                tick()
            with written.open("rb") as source:
                while True:
                    done = writer_done()  # before reading: a done writer has written everything
                    while chunk := source.read(_BUFFER):
                        if own:
                            self._hash.update(chunk)
                            self._bytes += len(chunk)
                            self._dropper.drop_if_due(source.fileno(), self._bytes)
                        else:
                            self._emit(chunk)
                    if done:
                        break
                    tick()
        finally:
            if own:
                self._file = written.open("ab")
            else:
                written.unlink(missing_ok=True)

    def adopt(self, written: Path) -> None:
        """A finished file someone else (DuckDB) wrote becomes this empty, uncompressed part,
        hashed in one read. For files not written appending only, which :meth:`follow` needs."""
        if self._gzip is not None or self._bytes:
            raise RuntimeError("only an empty, uncompressed part can adopt a file")
        self._file.close()
        self._path.unlink(missing_ok=True)
        self._path = written
        with written.open("rb") as source:
            while chunk := source.read(_BUFFER):
                self._hash.update(chunk)
                self._bytes += len(chunk)
                self._dropper.drop_if_due(source.fileno(), self._bytes)
        self._file = written.open("ab")

    def discard(self) -> None:
        if not self._file.closed:
            self._file.close()
        self._path.unlink(missing_ok=True)
