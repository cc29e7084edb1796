"""What record fingerprints (issue 15) add to ``dlserve load``, against a baseline in the same run.

Generates BENCH_FINGERPRINT_RECORDS (default 1,000,000) demo businesses once, then loads them with
and without fingerprints (the loader's internal ``fingerprints=False`` switch, which writes the
parts without the ``_fingerprint`` column), back to back in ABBA order so a drift in the shared
machine's load falls on both sides, each into a fresh data directory. Prints every load, the
median of each side and the ratio. BENCH_FINGERPRINT_INDEX=false leaves the search index out of
both (the loader's own work only: fingerprints' worst-case share); by default the loads build it,
as ``dlserve load`` does. BENCH_FINGERPRINT_PAIRS (default 2) sets the number of pairs.

Wall time is what the target is about; the CPU time of the loading process is printed beside it,
as the steadier figure on a shared machine. Run alone: ``.venv/bin/python bench/fingerprints.py``.
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dlserve.db.migrate import upgrade  # noqa: E402
from dlserve.demo import write_jsonl  # noqa: E402
from dlserve.logs import configure_logging  # noqa: E402
from dlserve.records.fingerprints import FINGERPRINT_COLUMN  # noqa: E402
from dlserve.records.loader import load_files  # noqa: E402
from dlserve.records.snapshots import PART_GLOB, SnapshotCatalog  # noqa: E402
from dlserve.settings import Settings  # noqa: E402

RECORDS = int(os.environ.get("BENCH_FINGERPRINT_RECORDS", "1000000"))
PAIRS = int(os.environ.get("BENCH_FINGERPRINT_PAIRS", "2"))
INDEX = os.environ.get("BENCH_FINGERPRINT_INDEX", "true").lower() != "false"


def cpu_seconds() -> float:
    """This process's CPU time (user + system, every thread: DuckDB's and Tantivy's included)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed_load(scratch: Path, source: Path, *, fingerprints: bool, run: int) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, bytes of the parts) of one load into a fresh data directory."""
    from dlserve.container import build_services

    data_dir = scratch / f"run-{run}"
    settings = Settings(data_dir=data_dir, log_json=True)
    upgrade(settings.resolved_database_url())
    services = build_services(settings)
    try:
        catalog: SnapshotCatalog = services.snapshots
        started, cpu_started = time.perf_counter(), cpu_seconds()
        result = load_files(catalog, "businesses", [source], index=INDEX, fingerprints=fingerprints)
        seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu_started
        with catalog.open(result.snapshot) as directory:
            parts = list(directory.glob(PART_GLOB))
            size = sum(p.stat().st_size for p in parts)
            _check_column(directory, fingerprints)
    finally:
        services.close()
    return seconds, cpu, size


def _check_column(directory: Path, expected: bool) -> None:
    con = duckdb.connect()
    try:
        columns = {
            row[0]
            for row in con.execute(
                "DESCRIBE SELECT * FROM read_parquet(?)", [str(directory / PART_GLOB)]
            ).fetchall()
        }
    finally:
        con.close()
    if (FINGERPRINT_COLUMN in columns) != expected:
        raise RuntimeError(f"fingerprints={expected} but the parts' columns are {sorted(columns)}")


def main() -> None:
    configure_logging("warning")
    for name in ("DLSERVE_DATABASE_URL", "DLSERVE_STORAGE_URL"):  # a local load, like `make run`'s
        os.environ.pop(name, None)
    with tempfile.TemporaryDirectory(prefix="dlserve-bench-fp-") as tmp:
        scratch = Path(tmp)
        source = scratch / "businesses.jsonl"
        write_jsonl(source, "businesses", RECORDS, seed=1)
        print(
            f"record fingerprints: dlserve load of {RECORDS:,} businesses "
            f"({'with' if INDEX else 'without'} the search index), ABBA x {PAIRS}",
            flush=True,
        )
        without: list[float] = []
        with_fp: list[float] = []
        cpu: dict[bool, list[float]] = {False: [], True: []}
        sizes: dict[bool, int] = {}
        run = 0
        for pair in range(PAIRS):
            order = (False, True) if pair % 2 == 0 else (True, False)
            for fingerprints in order:
                run += 1
                seconds, used, size = timed_load(scratch, source, fingerprints=fingerprints, run=run)
                sizes[fingerprints] = size
                cpu[fingerprints].append(used)
                (with_fp if fingerprints else without).append(seconds)
                label = "with fingerprints   " if fingerprints else "without (baseline)  "
                print(
                    f"  load {run}: {label} {seconds:7.1f} s  ({RECORDS / seconds:,.0f} records/s), "
                    f"CPU {used:7.1f} s",
                    flush=True,
                )
                shutil.rmtree(scratch / f"run-{run}", ignore_errors=True)
        base, fp = statistics.median(without), statistics.median(with_fp)
        print(
            f"  median: without {base:.1f} s | with {fp:.1f} s | ratio {fp / base:.3f} "
            f"({(fp / base - 1) * 100:+.1f} %, target <= +10 %)"
        )
        cpu_base, cpu_fp = statistics.median(cpu[False]), statistics.median(cpu[True])
        print(
            f"  median CPU time (less sensitive to a busy machine): without {cpu_base:.1f} s | "
            f"with {cpu_fp:.1f} s | ratio {cpu_fp / cpu_base:.3f} ({(cpu_fp / cpu_base - 1) * 100:+.1f} %)"
        )
        print(
            f"  parts: {sizes[False] / 1e6:,.1f} MB without | {sizes[True] / 1e6:,.1f} MB with "
            f"(+{(sizes[True] - sizes[False]) / RECORDS:.1f} bytes/record)"
        )


if __name__ == "__main__":
    main()
