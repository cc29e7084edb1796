"""Demo records to a JSON Lines file, split between worker processes for large datasets.

About 20 µs of Python per record remain after all the table tricks, so a million records take a
while in one process; blocks (see :mod:`dlserve.demo.generate`) let several processes each write a
run of whole blocks to a part file, appended in order: the file is the same whatever their number.
"""

from __future__ import annotations

import gc
import os
import shutil
import subprocess
import sys
from pathlib import Path

import orjson

from dlserve.demo.generate import BLOCK, check_arguments, generate_range

# Below this many records a worker process costs more (about a second to import Faker and build the
# pools) than it saves.
PARALLEL_FROM = 200_000


def write_jsonl(path: Path, data_type: str, count: int, seed: int = 0, *, workers: int | None = None) -> int:
    """Write ``count`` demo records to ``path`` as JSON Lines (orjson, one record per line).

    Returns the number of records written. ``workers`` processes share the work: by default one per
    CPU (at most 4) from ``PARALLEL_FROM`` records on. The file is the same whatever their number.
    """
    check_arguments(data_type, count)
    if workers is None:
        workers = min(os.cpu_count() or 1, 4) if count >= PARALLEL_FROM else 1
    ranges = _split_range(count, max(1, workers))
    parts = [path.with_name(f".{path.name}.part{n}") for n in range(1, len(ranges))]
    children = [
        _start_writer(part, data_type, seed, *bounds) for part, bounds in zip(parts, ranges[1:], strict=True)
    ]
    try:
        written = _write_range(path, data_type, seed, *ranges[0])
        for child, part, (start, stop) in zip(children, parts, ranges[1:], strict=True):
            _, stderr = child.communicate()
            if child.returncode != 0:
                raise RuntimeError(f"demo data writer for records {start}-{stop} failed: {stderr.decode()}")
            _append(path, part)
            written += stop - start
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
        for part in parts:
            part.unlink(missing_ok=True)
    return written


def _split_range(count: int, workers: int) -> list[tuple[int, int]]:
    """Contiguous ranges of whole blocks, one per worker (fewer if there are fewer blocks)."""
    blocks = -(-count // BLOCK)
    per_worker = max(1, -(-blocks // workers)) * BLOCK
    return [(start, min(count, start + per_worker)) for start in range(0, count, per_worker)] or [(0, 0)]


def _write_range(path: Path, data_type: str, seed: int, start: int, stop: int) -> int:
    dumps, option = orjson.dumps, orjson.OPT_APPEND_NEWLINE
    # One buffered write per record: batching lines into big joined chunks costs more, because every
    # multi-megabyte chunk is a fresh allocation the kernel has to fault in.
    with path.open("wb", buffering=1 << 16) as out:
        write = out.write
        for record in generate_range(data_type, seed, start, stop):
            write(dumps(record, option=option))
    return stop - start


def _append(path: Path, part: Path) -> None:
    with path.open("r+b") as out, part.open("rb") as records:
        out.seek(0, os.SEEK_END)
        size, copied = os.fstat(records.fileno()).st_size, 0
        try:
            # In the kernel: a gigabyte of records appends in well under a second, twice as fast as
            # copying it through Python.
            while copied < size:
                step = os.copy_file_range(records.fileno(), out.fileno(), size - copied)
                if step == 0:
                    break
                copied += step
        except (AttributeError, OSError):  # not Linux, or a file system that refuses: copy by hand
            records.seek(copied)
            out.seek(0, os.SEEK_END)
            shutil.copyfileobj(records, out, 1 << 20)


def _start_writer(part: Path, data_type: str, seed: int, start: int, stop: int) -> subprocess.Popen[bytes]:
    # A fresh interpreter rather than multiprocessing: it never re-imports the caller's __main__
    # module (which spawn does) and is safe to start from a threaded server (which fork is not).
    code = "import sys; from dlserve.demo.writer import writer_main; writer_main(sys.argv[1:])"
    argv = [sys.executable, "-c", code, str(part), data_type, str(seed), str(start), str(stop)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    return subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: S603


def writer_main(argv: list[str]) -> None:
    """Entry point of a worker process: write one range of records to one part file."""
    part, data_type, seed, start, stop = argv
    # Records hold no reference cycles, and this process does nothing else: the collector only costs time.
    gc.disable()
    _write_range(Path(part), data_type, int(seed), int(start), int(stop))
