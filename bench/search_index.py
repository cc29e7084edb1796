"""The search index's figures (issue 11), each beside a baseline measured in the same run.

For each size in BENCH_INDEX_SIZES (default 1,000,000; e.g. "1000000,5000000" for the growth
ratio): generate demo businesses, `dlserve load` them without the index (the baseline) and with
it, print the index build rate, the load-time ratio and the index size next to the Parquet size;
then start `dlserve serve` on the indexed data and measure over HTTP, p50/p95 per query shape:
the free count (num_records 0) and the 10-record preview, GET /v4/businesses/{id}, paginate page
500 with limit 100, and the API process's RSS. BENCH_INDEX_BASELINE_ROUNDS > 0 also times the
same requests on the unindexed copy (the DuckDB path) for a same-run speed-up.

Run alone: `.venv/bin/python bench/search_index.py` (BENCH_INDEX_ROUNDS, default 20).
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.acceptance.conftest import DLSERVE, cli, start_server, stop  # noqa: E402

from dlserve.demo import write_jsonl  # noqa: E402

SIZES = [int(size) for size in os.environ.get("BENCH_INDEX_SIZES", "1000000").split(",") if size]
ROUNDS = int(os.environ.get("BENCH_INDEX_ROUNDS", "20"))
BASELINE_ROUNDS = int(os.environ.get("BENCH_INDEX_BASELINE_ROUNDS", "3"))
SHAPES = [
    "categories:hotels",
    "name:hilton",
    "reviews.rating:5",
    "reviews.text:clean AND province:CA",
    "geoLocation:[-97.74,30.27,10,mi]",
    "city:austin AND province:TX",
    "dateUpdated:[2020-01-01 TO 2021-01-01]",
    "name:hilt*",
    "NOT categories:hotels",
    "websites:*",
    # the query_string dialect (issue 17): one shape per construct
    "city:austin && province:TX",
    "!city:austin",
    "_exists_:websites",
    "name:hil?on",
    "name:*ton",
    "name:hilton~1",
    "name:/hil.*/",
    'name:"hilton inn"~2',
]
Timings = dict[str, list[float]]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def load(data_dir: Path, source: Path, index: bool) -> dict[str, object]:
    env = {
        **os.environ,
        "DLSERVE_DATA_DIR": str(data_dir),
        "DLSERVE_LOG_JSON": "true",
        "DLSERVE_SEARCH_INDEX": "true" if index else "false",
        # one account fires every timed request: the per-account rate limit is not under test
        "DLSERVE_QUERY_RATE_PER_MINUTE": os.environ.get("DLSERVE_QUERY_RATE_PER_MINUTE", "1000000"),
    }
    env.pop("DLSERVE_DATABASE_URL", None)
    started = time.perf_counter()
    cpu_before = _children_cpu()
    done = subprocess.run(
        [*DLSERVE, "load", "businesses", str(source)], env=env, capture_output=True, check=True
    )
    result: dict[str, object] = json.loads(done.stdout.decode().strip().splitlines()[-1])
    result["wall_seconds"] = time.perf_counter() - started
    # CPU time is what a shared, loaded machine cannot blur: the ratio beside the wall-time one
    result["cpu_seconds"] = _children_cpu() - cpu_before
    result["env"] = env
    return result


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def snapshot_bytes(data_dir: Path) -> tuple[int, int]:
    """(Parquet bytes, index bytes) of the loaded snapshot."""
    parts = sum(p.stat().st_size for p in data_dir.glob("snapshots/businesses/*/part-*.parquet"))
    index = sum(p.stat().st_size for p in data_dir.glob("snapshots/businesses/*/index/*") if p.is_file())
    return parts, index


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def timed(client: httpx.Client, method: str, url: str, **kwargs: object) -> float:
    started = time.perf_counter()
    response = client.request(method, url, **kwargs)  # type: ignore[arg-type]
    elapsed = (time.perf_counter() - started) * 1000
    response.raise_for_status()
    return elapsed


def measure(env: dict[str, str], data_dir: Path, rounds: int) -> tuple[Timings, float]:
    token = json.loads(
        cli(env, "accounts", "create", f"bench{time.time_ns()}@example.com", "--credits", "100000000")
    )["token"]
    base_url, process = start_server(env, data_dir, "--workers", "0")
    timings: Timings = {}
    try:
        with httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=120
        ) as client:
            ids = [
                record["id"]
                for record in client.post(
                    "/v4/businesses/search", json={"query": "categories:restaurants", "num_records": 50}
                ).json()["records"]
            ]
            requests: list[tuple[str, str, str, dict[str, object]]] = []
            for shape in SHAPES:
                requests.append(
                    (
                        f"count   {shape}",
                        "POST",
                        "/v4/businesses/search",
                        {"json": {"query": shape, "num_records": 0}},
                    )
                )
                requests.append(
                    (
                        f"preview {shape}",
                        "POST",
                        "/v4/businesses/search",
                        {"json": {"query": shape, "num_records": 10}},
                    )
                )
            requests.append(
                (
                    "paginate * page 500 limit 100",
                    "POST",
                    "/v4/businesses/paginate?page=500&limit=100",
                    {"json": {"query": "*"}},
                )
            )
            requests.append(
                (
                    "paginate categories:restaurants page 500 limit 100",
                    "POST",
                    "/v4/businesses/paginate?page=500&limit=100",
                    {"json": {"query": "categories:restaurants"}},
                )
            )
            for _label, method, url, kwargs in requests:  # warm-up
                timed(client, method, url, **kwargs)
            for n in range(rounds):
                for label, method, url, kwargs in requests:
                    timings.setdefault(label, []).append(timed(client, method, url, **kwargs))
                timings.setdefault("GET /v4/businesses/{id}", []).append(
                    timed(client, "GET", f"/v4/businesses/{ids[n % len(ids)]}")
                )
        rss = rss_mb(process.pid)
    finally:
        stop(process)
    return timings, rss


def report(size: int, timings: Timings, baseline: Timings | None) -> dict[str, float]:
    p50s: dict[str, float] = {}
    for label, values in timings.items():
        p50 = statistics.median(values)
        p50s[label] = p50
        line = f"  {label:58s} p50 {p50:7.1f} ms  p95 {percentile(values, 0.95):7.1f} ms"
        if baseline and label in baseline:
            duck = statistics.median(baseline[label])
            line += f"  | DuckDB path p50 {duck:8.1f} ms (×{duck / p50:,.0f})"
        print(line, flush=True)
    return p50s


def main() -> None:
    figures: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="dlserve-bench-index-") as scratch:
        for size in SIZES:
            root = Path(scratch) / str(size)
            plain_dir, indexed_dir = root / "plain", root / "indexed"
            plain_dir.mkdir(parents=True)
            indexed_dir.mkdir()
            source = root / "businesses.jsonl"
            write_jsonl(source, "businesses", size, seed=1)
            print(f"{size:,} demo businesses", flush=True)
            plain = load(plain_dir, source, index=False)
            indexed = load(indexed_dir, source, index=True)
            source.unlink()
            parquet, index_bytes = snapshot_bytes(indexed_dir)
            index_seconds = float(indexed["index_seconds"])  # type: ignore[arg-type]
            print(
                f"  load without index {plain['seconds']} s, with index {indexed['seconds']} s: "
                f"ratio {float(indexed['seconds']) / float(plain['seconds']):.2f} (target ≤ 1.5); "  # type: ignore[arg-type]
                f"CPU {plain['cpu_seconds']:.0f} s and {indexed['cpu_seconds']:.0f} s: "
                f"ratio {float(indexed['cpu_seconds']) / float(plain['cpu_seconds']):.2f}"  # type: ignore[arg-type]
            )
            print(
                f"  index build {index_seconds:.1f} s (overlapping the writing of the parts): "
                f"{size / index_seconds:,.0f} records/s"
            )
            print(
                f"  Parquet {parquet / 1e6:,.0f} MB, index {index_bytes / 1e6:,.0f} MB "
                f"({index_bytes / parquet:.2f}× the Parquet)",
                flush=True,
            )
            timings, rss = measure(indexed["env"], indexed_dir, ROUNDS)  # type: ignore[arg-type]
            baseline = None
            if BASELINE_ROUNDS:
                baseline, _ = measure(plain["env"], plain_dir, BASELINE_ROUNDS)  # type: ignore[arg-type]
            print(f"  over HTTP, {ROUNDS} rounds (index) / {BASELINE_ROUNDS} (DuckDB path):")
            figures[size] = report(size, timings, baseline)
            print(f"  API process RSS after the requests: {rss:,.0f} MB (target ≤ 600 MB at 1M)", flush=True)
    if len(figures) > 1:
        small, large = min(figures), max(figures)
        print(f"growth {large:,} vs {small:,} records, p50 ratio per request (target ≤ 2):")
        for label, p50 in figures[large].items():
            print(f"  {label:58s} {p50 / figures[small][label]:5.2f}")


if __name__ == "__main__":
    main()
