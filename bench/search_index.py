"""The search index's figures (issue 11), each beside a baseline measured in the same run.

For each size in BENCH_INDEX_SIZES (default 1,000,000; e.g. "1000000,5000000" for the growth
ratio): generate demo businesses, `dlserve load` them without the index (the baseline; only at
the sizes in BENCH_INDEX_PLAIN_SIZES, default the first size) and with it, print the index build
rate, the load-time ratio and the index size next to the Parquet size; then start one `dlserve
serve` per size on the indexed data and measure over HTTP, the sizes' requests interleaved,
p50/p95 per query shape: the free count (num_records 0) and the 10-record preview,
GET /v4/businesses/{id}, paginate page 500 with limit 100, and each API process's RSS.
BENCH_INDEX_BASELINE_ROUNDS > 0 also times the same requests on the unindexed copy (the DuckDB
path) for a same-run speed-up.

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
from typing import cast

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.acceptance.conftest import DLSERVE, cli, start_server, stop  # noqa: E402

from dlserve.demo import write_jsonl  # noqa: E402

SIZES = [int(size) for size in os.environ.get("BENCH_INDEX_SIZES", "1000000").split(",") if size]
ROUNDS = int(os.environ.get("BENCH_INDEX_ROUNDS", "20"))
BASELINE_ROUNDS = int(os.environ.get("BENCH_INDEX_BASELINE_ROUNDS", "3"))
# The load without the index (the load ratio's baseline, and the DuckDB path's data) is only
# needed at the size the load target is set for; larger sizes are there for the growth ratio.
PLAIN_SIZES = {
    int(size) for size in os.environ.get("BENCH_INDEX_PLAIN_SIZES", str(SIZES[0])).split(",") if size
}
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


def _requests() -> list[tuple[str, str, str, dict[str, object]]]:
    requests: list[tuple[str, str, str, dict[str, object]]] = []
    for shape in SHAPES:
        for label, num_records in (("count  ", 0), ("preview", 10)):
            requests.append(
                (
                    f"{label} {shape}",
                    "POST",
                    "/v4/businesses/search",
                    {"json": {"query": shape, "num_records": num_records}},
                )
            )
    for query in ("*", "categories:restaurants"):
        requests.append(
            (
                f"paginate {query} page 500 limit 100",
                "POST",
                "/v4/businesses/paginate?page=500&limit=100",
                {"json": {"query": query}},
            )
        )
    return requests


def measure(targets: list[tuple[dict[str, str], Path]], rounds: int) -> list[tuple[Timings, float]]:
    """Time the same requests against one server per target, interleaved request by request (a
    shared machine's load then falls on every target alike: the growth ratio compares like with
    like); each target's timings and its API process's RSS afterwards."""
    servers: list[tuple[httpx.Client, subprocess.Popen[bytes], list[str]]] = []
    timings: list[Timings] = [{} for _ in targets]
    try:
        for env, data_dir in targets:
            token = json.loads(
                cli(env, "accounts", "create", f"bench{time.time_ns()}@example.com", "--credits", "100000000")
            )["token"]
            base_url, process = start_server(env, data_dir, "--workers", "0")
            client = httpx.Client(
                base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=120
            )
            servers.append((client, process, []))
            servers[-1][2].extend(
                record["id"]
                for record in client.post(
                    "/v4/businesses/search", json={"query": "categories:restaurants", "num_records": 50}
                ).json()["records"]
            )
        requests = _requests()
        for client, _, _ in servers:  # warm-up
            for _label, method, url, kwargs in requests:
                timed(client, method, url, **kwargs)
        for n in range(rounds):
            for label, method, url, kwargs in requests:
                for (client, _, _), own in zip(servers, timings, strict=True):
                    own.setdefault(label, []).append(timed(client, method, url, **kwargs))
            for (client, _, ids), own in zip(servers, timings, strict=True):
                own.setdefault("GET /v4/businesses/{id}", []).append(
                    timed(client, "GET", f"/v4/businesses/{ids[n % len(ids)]}")
                )
        return [(own, rss_mb(process.pid)) for own, (_, process, _) in zip(timings, servers, strict=True)]
    finally:
        for client, process, _ in servers:
            client.close()
            stop(process)


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
    # (size, the indexed copy's environment, the plain copy's or None, plain dir, indexed dir)
    loaded: list[tuple[int, dict[str, str], dict[str, str] | None, Path, Path]] = []
    with tempfile.TemporaryDirectory(prefix="dlserve-bench-index-") as scratch:
        for size in SIZES:
            root = Path(scratch) / str(size)
            plain_dir, indexed_dir = root / "plain", root / "indexed"
            plain_dir.mkdir(parents=True)
            indexed_dir.mkdir()
            source = root / "businesses.jsonl"
            write_jsonl(source, "businesses", size, seed=1)
            print(f"{size:,} demo businesses", flush=True)
            plain = load(plain_dir, source, index=False) if size in PLAIN_SIZES else None
            indexed = load(indexed_dir, source, index=True)
            source.unlink()
            parquet, index_bytes = snapshot_bytes(indexed_dir)
            index_seconds = float(indexed["index_seconds"])  # type: ignore[arg-type]
            if plain is not None:
                print(
                    f"  load without index {plain['seconds']} s, with index {indexed['seconds']} s: "
                    f"ratio {float(indexed['seconds']) / float(plain['seconds']):.2f} (target ≤ 1.5); "  # type: ignore[arg-type]
                    f"CPU {plain['cpu_seconds']:.0f} s and {indexed['cpu_seconds']:.0f} s: "
                    f"ratio {float(indexed['cpu_seconds']) / float(plain['cpu_seconds']):.2f}"  # type: ignore[arg-type]
                )
            else:
                print(f"  load with index {indexed['seconds']} s, CPU {indexed['cpu_seconds']:.0f} s")
            print(
                f"  index build {index_seconds:.1f} s (overlapping the writing of the parts): "
                f"{size / index_seconds:,.0f} records/s"
            )
            print(
                f"  Parquet {parquet / 1e6:,.0f} MB, index {index_bytes / 1e6:,.0f} MB "
                f"({index_bytes / parquet:.2f}× the Parquet)",
                flush=True,
            )
            plain_env = cast(dict[str, str], plain["env"]) if plain is not None else None
            loaded.append((size, cast(dict[str, str], indexed["env"]), plain_env, plain_dir, indexed_dir))
        measured = measure([(env, indexed_dir) for _, env, _, _, indexed_dir in loaded], ROUNDS)
        for (size, _, plain_env, plain_dir, _), (timings, rss) in zip(loaded, measured, strict=True):
            baseline = None
            if BASELINE_ROUNDS and plain_env is not None:
                baseline = measure([(plain_env, plain_dir)], BASELINE_ROUNDS)[0][0]
            print(f"{size:,} records over HTTP, {ROUNDS} rounds (index) / {BASELINE_ROUNDS} (DuckDB path):")
            figures[size] = report(size, timings, baseline)
            print(f"  API process RSS after the requests: {rss:,.0f} MB (target ≤ 600 MB at 1M)", flush=True)
    if len(figures) > 1:
        small, large = min(figures), max(figures)
        print(f"growth {large:,} vs {small:,} records, p50 ratio per request (target ≤ 2):")
        for label, p50 in figures[large].items():
            print(f"  {label:58s} {p50 / figures[small][label]:5.2f}")


if __name__ == "__main__":
    main()
