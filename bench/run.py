"""`make bench`: load time and preview latency over a large businesses dataset.

Prints figures measured in this run on this machine. Size with BENCH_RECORDS (default 1,000,000).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.acceptance.conftest import cli, start_server, stop

from dlserve.records.demo import write_jsonl

RECORDS = int(os.environ.get("BENCH_RECORDS", "1000000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "20"))
QUERIES = [
    "name:hilton",
    "categories:hotels AND province:TX",
    'city:"San Antonio"',
    "dateUpdated:[2020-01-01 TO *]",
    "reviews.rating:5 AND categories:restaurants",
    "coffee",
    "geoLocation:[-97.74,30.27,25,mi]",
    "longitude:[-98 TO -97] AND NOT categories:hotels",
    "name:hilt* OR name:marri*",
    "websites:* AND phones:*",
]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="dlserve-bench-") as scratch:
        data_dir = Path(scratch)
        env = {**os.environ, "DLSERVE_DATA_DIR": str(data_dir), "DLSERVE_LOG_JSON": "true"}
        env.pop("DLSERVE_DATABASE_URL", None)
        source = data_dir / "businesses.jsonl"
        started = time.perf_counter()
        write_jsonl(source, "businesses", RECORDS, seed=1)
        generated = time.perf_counter() - started
        size_mb = source.stat().st_size / 1e6

        loaded = json.loads(cli(env, "load", "businesses", str(source)))
        token = json.loads(cli(env, "accounts", "create", "bench@example.com", "--credits", "100000000"))[
            "token"
        ]
        base_url, process = start_server(env, data_dir, "--workers", "0")
        try:
            latencies: dict[str, list[float]] = {q: [] for q in QUERIES}
            with httpx.Client(
                base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60
            ) as client:
                for query in QUERIES:  # warm-up: first touch of each column
                    client.post("/v4/businesses/search", json={"query": query, "num_records": 10})
                for _ in range(ROUNDS):
                    for query in QUERIES:
                        t0 = time.perf_counter()
                        response = client.post(
                            "/v4/businesses/search", json={"query": query, "num_records": 10}
                        )
                        latencies[query].append((time.perf_counter() - t0) * 1000)
                        response.raise_for_status()
        finally:
            stop(process)

    every = [ms for values in latencies.values() for ms in values]
    print(f"records: {RECORDS:,} businesses ({size_mb:,.0f} MB of JSON Lines)")
    print(f"generate demo data: {generated:.1f} s ({RECORDS / generated:,.0f} records/s)")
    print(f"dlserve load: {loaded['seconds']:.1f} s ({RECORDS / loaded['seconds']:,.0f} records/s)")
    print(f"preview latency over {len(every)} requests (num_records 10, HTTP round trip):")
    print(f"  all queries: p50 {statistics.median(every):.1f} ms, p95 {percentile(every, 0.95):.1f} ms")
    for query, values in latencies.items():
        print(
            f"  {query:55s} p50 {statistics.median(values):7.1f} ms  p95 {percentile(values, 0.95):7.1f} ms"
        )


if __name__ == "__main__":
    main()
