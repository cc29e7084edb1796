"""`make bench`: dlserve's figures, each against a baseline measured in the same run.

1. Load: `dlserve load` of BENCH_RECORDS (1,000,000) demo businesses.
2. Search: preview latency (p50/p95) over HTTP against a real `dlserve serve`.
3. API throughput, the export fleet and the media API: see bench/cluster.py.
4. Export: records/s of a bulk download (CSV flat view, CSV all-nested, JSON Lines, Parquet) in a
   worker process vs DuckDB writing the same bytes straight from the snapshot's typed columns (its
   own `COPY (SELECT * REPLACE (...)) TO`, checked by SHA-256; Parquet: DuckDB's own
   `COPY (SELECT ...) TO (FORMAT parquet, COMPRESSION zstd)` of the same rows into one file, checked
   by a digest of the rows' content); the worker's peak RSS, at 1M and at BENCH_BIG_RECORDS
   (3,000,000) to show memory does not grow with the export. `python bench/run.py parquet` runs
   the Parquet pair alone (at BENCH_RECORDS); `python bench/run.py exports` runs only the export
   pairs, at each size of BENCH_EXPORT_SIZES (comma-separated, default
   "BENCH_RECORDS,BENCH_BIG_RECORDS", e.g. `BENCH_EXPORT_SIZES=1000000,3000000`; BENCH_EXPORT_FORMATS
   keeps some of the formats, e.g. `csv,json`). Data loaded only
   for exports skips the search index (exports never read it); loads have no timeout.
5. Hardening: the hostile-user figures of issue 12, see bench/hardening.py.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.acceptance.conftest import cli, start_server, stop  # noqa: E402

from bench.cluster import api_throughput, export_with_workers, media_throughput  # noqa: E402
from bench.hardening import main as hardening_figures  # noqa: E402
from dlserve.catalog.services import prepare  # noqa: E402
from dlserve.container import build_services  # noqa: E402
from dlserve.demo import write_jsonl  # noqa: E402
from dlserve.downloads import parquet, typed_csv  # noqa: E402
from dlserve.logs import configure_logging  # noqa: E402
from dlserve.records import typed_cells  # noqa: E402
from dlserve.records.layout import quote_ident  # noqa: E402
from dlserve.records.schema import BUSINESSES, Kind  # noqa: E402
from dlserve.records.views import find_view  # noqa: E402
from dlserve.settings import Settings  # noqa: E402

RECORDS = int(os.environ.get("BENCH_RECORDS", "1000000"))
FLEET_RECORDS = int(os.environ.get("BENCH_FLEET_RECORDS", "2000000"))
MEDIA_BYTES = int(os.environ.get("BENCH_MEDIA_BYTES", str(500 * 1024 * 1024)))
BIG_RECORDS = int(os.environ.get("BENCH_BIG_RECORDS", "3000000"))
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
EXPORTS = [("csv", "business_flat_reviews"), ("csv", None), ("json", None), ("parquet", None)]
# `python bench/run.py exports` only: a subset of the pairs, e.g. "csv,json" (default: all four).
EXPORT_FORMATS = [name for name in os.environ.get("BENCH_EXPORT_FORMATS", "").split(",") if name]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def prepare_data(data_dir: Path, records: int, *, index: bool = True) -> tuple[dict[str, str], float, float]:
    """Generate and `dlserve load` ``records`` demo businesses: (env, generation s, load s).

    ``index=False`` loads without the Tantivy index: exports never read it (downloads count and
    render with DuckDB over the Parquet snapshot), and building it is most of a big load's time.
    The load has no timeout: 3M records on a shared machine take longer than a test's 600 s."""
    env = {**os.environ, "DLSERVE_DATA_DIR": str(data_dir), "DLSERVE_LOG_JSON": "true"}
    env.pop("DLSERVE_DATABASE_URL", None)
    if not index:
        env["DLSERVE_SEARCH_INDEX"] = "false"
    source = data_dir / "businesses.jsonl"
    started = time.perf_counter()
    write_jsonl(source, "businesses", records, seed=1)
    generated = time.perf_counter() - started
    loaded = json.loads(cli(env, "load", "businesses", str(source), timeout=None))
    source.unlink()
    return env, generated, float(loaded["seconds"])


def search_latency(env: dict[str, str], data_dir: Path) -> dict[str, list[float]]:
    token = json.loads(cli(env, "accounts", "create", "search@example.com", "--credits", "100000000"))[
        "token"
    ]
    # One account sends every query of the rounds at once: lift the per-account rate limit.
    unlimited = {**env, "DLSERVE_QUERY_RATE_PER_MINUTE": "1000000"}
    base_url, process = start_server(unlimited, data_dir, "--workers", "0")
    latencies: dict[str, list[float]] = {q: [] for q in QUERIES}
    try:
        with httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60
        ) as client:
            for query in QUERIES:  # warm-up: first touch of each column
                client.post(
                    "/v4/businesses/search", json={"query": query, "num_records": 10}
                ).raise_for_status()
            for _ in range(ROUNDS):
                for query in QUERIES:
                    t0 = time.perf_counter()
                    client.post(
                        "/v4/businesses/search", json={"query": query, "num_records": 10}
                    ).raise_for_status()
                    latencies[query].append((time.perf_counter() - t0) * 1000)
    finally:
        stop(process)
    return latencies


def dlserve_export(data_dir: Path, output_format: str, view: str | None) -> dict[str, Any]:
    services = build_services(Settings(data_dir=data_dir, log_level="warning"))
    try:
        account = services.accounts.find_by_email("export@example.com")
        if account is None:
            created = services.accounts.create_account("export@example.com", credits=10**12)
            account = services.accounts.get_account(created.id)
        download = services.downloads.create(account, prepare("businesses", "*", view, output_format), None)
    finally:
        services.close()
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "export_job.py"), str(data_dir), str(download.id)],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def reference_select(output_format: str, view_name: str | None, source: str, columns: list[str]) -> str:
    """DuckDB writing the export's bytes straight from the typed columns, with none of dlserve's
    machinery (no query, no parts, no exactness check): each column spelled as the wire format
    spells it (``SELECT * REPLACE``), the flattened list unnested, DuckDB's own CSV writer.
    ``columns``: the snapshot's columns; those that are no field of the schema (``_seq``,
    ``_record``, token columns, ``_fingerprint``…) are left out."""
    schema = BUSINESSES
    view = find_view("businesses", view_name)
    if output_format == "parquet":  # the typed columns, dates spelled as in JSON (the export's rows)
        return parquet.typed_select(view, schema, source)
    if output_format != "csv":
        return f"SELECT {typed_cells.record_json(schema)} FROM {source}"
    fields = {f.name for f in schema.fields}
    hidden = [column for column in columns if column not in fields]
    kept = [f for f in schema.fields if view.selects(f.name) and f.name != view.flatten]
    spelled = ", ".join(
        f"NULLIF({typed_cells.cell(f, quote_ident(f.name))}, '') AS {quote_ident(f.name)}"
        for f in kept
        if f.kind not in (Kind.KEYWORD, Kind.TEXT)
    )
    strings = ", ".join(
        f"NULLIF({quote_ident(f.name)}, '') AS {quote_ident(f.name)}"
        for f in kept
        if f.kind in (Kind.KEYWORD, Kind.TEXT)
    )
    exclude = ", ".join(quote_ident(name) for name in hidden)
    if view.flatten is None:
        return f"SELECT * EXCLUDE ({exclude}) REPLACE ({spelled}, {strings}) FROM {source}"
    nested = schema.field(view.flatten)
    assert nested is not None
    flat = quote_ident(view.flatten)
    children = ", ".join(
        f"NULLIF({typed_cells.cell(child, 'e.' + quote_ident(child.name))}, '') "
        f"AS {quote_ident(view.flatten + '.' + child.name)}"
        for child in nested.children
    )
    # the flattened columns sit where the list sits in the schema: split the select around it
    before = [f.name for f in schema.fields if f.name != view.flatten][: schema.fields.index(nested)]
    after = [f.name for f in schema.fields if f.name != view.flatten][schema.fields.index(nested) :]
    unnested = (
        f"(SELECT * EXCLUDE ({exclude}) REPLACE ({spelled}, {strings}), "
        f"unnest(CASE WHEN len({flat}) > 0 THEN {flat} ELSE [NULL] END) AS e FROM {source})"
    )
    selected = ", ".join([*(quote_ident(n) for n in before), children, *(quote_ident(n) for n in after)])
    return f"SELECT {selected} FROM {unnested}"


def duckdb_copy(data_dir: Path, output_format: str, view: str | None, target: Path) -> tuple[float, str]:
    """Seconds DuckDB takes to write the export's bytes from the typed columns, and their SHA-256."""
    services = build_services(Settings(data_dir=data_dir, log_level="warning"))
    snapshot = services.snapshots.current("businesses")
    services.close()
    assert snapshot is not None
    source = f"read_parquet('{snapshot.scan_path}')"
    con = duckdb.connect(config={"preserve_insertion_order": True})
    columns = [str(row[0]) for row in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]
    select = reference_select(output_format, view, source, columns)
    if output_format == "csv":
        options = f"{typed_csv.COPY_OPTIONS}, HEADER true"
    elif output_format == "parquet":  # the export's own options: zstd, row groups of 100,000 at most
        options = parquet.COPY_OPTIONS
    else:  # the JSON text as it is, one line each
        options = "FORMAT csv, HEADER false, QUOTE '', ESCAPE ''"
    started = time.perf_counter()
    con.execute(f"COPY ({select}) TO '{target}' ({options})")
    seconds = time.perf_counter() - started
    con.close()
    if output_format == "parquet":
        digest_text = parquet_content([target])
        target.unlink()
        return seconds, digest_text
    digest = hashlib.sha256()
    with target.open("rb") as written:
        while chunk := written.read(1 << 20):
            digest.update(chunk)
    target.unlink()
    return seconds, digest.hexdigest()


def parquet_content(paths: list[Path]) -> str:
    """A digest of the rows of Parquet files, in order: the files' bytes differ (one file against
    several, writer metadata), their content must not."""
    con = duckdb.connect(config={"preserve_insertion_order": True})
    con.execute("SET enable_progress_bar = false")
    row = con.execute(
        "SELECT count(*), sum(hash(n, r)::HUGEINT) "
        "FROM (SELECT row_number() OVER () AS n, t AS r FROM read_parquet(?) t)",
        [[str(path) for path in paths]],
    ).fetchone()
    con.close()
    assert row is not None
    return f"{row[0]}:{row[1]}"


def inexact_records(data_dir: Path) -> int:
    """Records whose typed columns do not spell them as loaded (``34.0`` stored, DOUBLE 34 typed):
    dlserve renders them from their JSON, the DuckDB reference cannot, so their lines differ."""
    services = build_services(Settings(data_dir=data_dir, log_level="warning"))
    snapshot = services.snapshots.current("businesses")
    services.close()
    assert snapshot is not None
    con = duckdb.connect()
    row = con.execute(
        f"SELECT count(*) FILTER (WHERE NOT {typed_cells.EXACT_COLUMN}) FROM read_parquet(?)",
        [snapshot.scan_path],
    ).fetchone()
    con.close()
    return int(row[0]) if row else 0


def warm_snapshot(data_dir: Path) -> None:
    """Read the snapshot's parts once, so each side of a pair starts with them in the page cache:
    the export before it wrote up to 11 GB (3M flat CSV) and pushed them out, and the side that
    ran second found them back in memory, read by the first."""
    for part in (data_dir / "snapshots").rglob("part-*.parquet"):
        with part.open("rb") as stream:
            while stream.read(1 << 24):
                pass


def export_figures(
    data_dir: Path, records: int, exports: list[tuple[str, str | None]] = EXPORTS
) -> list[str]:
    """Each export and its DuckDB reference back to back (the machine is shared: a pair sees the
    same load); the figures say whether both wrote the very same bytes (Parquet: the same rows)."""
    lines = []
    for output_format, view in exports:
        warm_snapshot(data_dir)
        ours = dlserve_export(data_dir, output_format, view)
        warm_snapshot(data_dir)
        seconds, digest = duckdb_copy(data_dir, output_format, view, data_dir / f"copy.{output_format}")
        ours_rate = ours["records"] / ours["seconds"]
        base_rate = records / seconds
        label = f"{output_format.upper()} {view or 'business_all_nested'}"
        if output_format == "parquet":
            ours_digest = parquet_content([Path(path) for path in ours["paths"]])
            same = "same rows" if digest == ours_digest else "ROWS DIFFER"
        elif digest == ours["content_sha256"]:
            same = "same bytes"
        else:  # the typed columns cannot spell a record that is not exact (e.g. 34.0) as loaded
            same = f"BYTES DIFFER; {inexact_records(data_dir)} records not exact"
        for path in ours["paths"]:  # a 3M flat CSV is 11 GB: kept data directories must not fill the disk
            Path(path).unlink(missing_ok=True)
        lines.append(
            f"  {records:>9,} {label:30s} dlserve {ours_rate:>9,.0f} rec/s ({ours['files']:.0f} files, "
            f"{ours['threads']} worker threads) | "
            f"DuckDB from typed columns {base_rate:>9,.0f} rec/s ({same}) | "
            f"ratio {ours_rate / base_rate:4.2f} | worker peak RSS {ours['peak_rss_mb']:,.0f} MB"
        )
        print(lines[-1], flush=True)
    return lines


def parquet_only() -> None:
    """`python bench/run.py parquet`: load BENCH_RECORDS businesses, then the Parquet pair alone."""
    configure_logging("warning")
    with tempfile.TemporaryDirectory(prefix="dlserve-bench-") as scratch:
        data_dir = Path(scratch) / "main"
        data_dir.mkdir()
        prepare_data(data_dir, RECORDS)
        print("Parquet export vs DuckDB COPY of the same rows, same snapshot:", flush=True)
        export_figures(data_dir, RECORDS, [("parquet", None)])


def exports_only() -> None:
    """`python bench/run.py exports`: the export pairs alone (CSV flat view, CSV all-nested, JSON
    Lines, Parquet) at each size of BENCH_EXPORT_SIZES (default BENCH_RECORDS,BENCH_BIG_RECORDS),
    each size loaded without the search index into a directory of its own, removed after its
    pairs — unless BENCH_EXPORT_DIR names a directory to keep them in (`<dir>/<size>`), where a
    size loaded by an earlier run is used again (a 3M load takes many minutes)."""
    configure_logging("warning")
    sizes = os.environ.get("BENCH_EXPORT_SIZES", f"{RECORDS},{BIG_RECORDS}")
    kept = os.environ.get("BENCH_EXPORT_DIR")
    print("bulk export vs DuckDB COPY of the same rows, same format, same snapshot:", flush=True)
    for records in [int(size) for size in sizes.split(",")]:
        with contextlib.ExitStack() as stack:
            if kept:
                data_dir = Path(kept) / str(records)
            else:
                data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="dlserve-bench-")))
            loaded_marker = data_dir / "bench-loaded.json"
            if loaded_marker.exists():
                print(f"  {records:>9,} businesses: loaded by an earlier run ({data_dir})", flush=True)
            else:
                data_dir.mkdir(parents=True, exist_ok=True)
                _, generated, load_seconds = prepare_data(data_dir, records, index=False)
                loaded_marker.write_text(json.dumps({"records": records}))
                print(
                    f"  {records:>9,} businesses: generated in {generated:.1f} s, loaded (no search "
                    f"index) in {load_seconds:.1f} s",
                    flush=True,
                )
            export_figures(
                data_dir, records, [e for e in EXPORTS if e[0] in EXPORT_FORMATS or not EXPORT_FORMATS]
            )


def main() -> None:
    configure_logging("warning")
    with tempfile.TemporaryDirectory(prefix="dlserve-bench-") as scratch:
        data_dir = Path(scratch) / "main"
        data_dir.mkdir()
        env, generated, load_seconds = prepare_data(data_dir, RECORDS)
        print(f"demo data: {RECORDS:,} businesses generated in {generated:.1f} s")
        print(f"dlserve load: {load_seconds:.1f} s ({RECORDS / load_seconds:,.0f} records/s)", flush=True)
        latencies = search_latency(env, data_dir)
        every = [ms for values in latencies.values() for ms in values]
        print(f"preview latency over {len(every)} requests (num_records 10, HTTP round trip):")
        print(f"  all queries: p50 {statistics.median(every):.1f} ms, p95 {percentile(every, 0.95):.1f} ms")
        for query, values in latencies.items():
            print(
                f"  {query:52s} p50 {statistics.median(values):7.1f} ms  "
                f"p95 {percentile(values, 0.95):7.1f} ms"
            )
        print("bulk export vs DuckDB COPY of the same rows, same format, same snapshot:", flush=True)
        export_figures(data_dir, RECORDS)
        print("API throughput:", flush=True)
        api_throughput(data_dir, env)
        if BIG_RECORDS:
            big_dir = Path(scratch) / "big"
            big_dir.mkdir()
            big_env, _, _ = prepare_data(big_dir, BIG_RECORDS, index=False)  # exports only
            export_figures(big_dir, BIG_RECORDS)
            fleet = min(FLEET_RECORDS, BIG_RECORDS)
            one = export_with_workers(big_dir, big_env, fleet, workers=1)
            two = export_with_workers(big_dir, big_env, fleet, workers=2)
            print(
                f"  {fleet:>9,} JSON export, 1 worker process {fleet / one:,.0f} rec/s ({one:.1f} s) | "
                f"2 worker processes {fleet / two:,.0f} rec/s ({two:.1f} s) | speed-up {one / two:.2f}"
            )
    if MEDIA_BYTES:
        print("media API:", flush=True)
        media_throughput(MEDIA_BYTES)
    hardening_figures()  # issue 12: hostile-user figures (bench/hardening.py)


if __name__ == "__main__":
    if sys.argv[1:] == ["parquet"]:
        parquet_only()
    elif sys.argv[1:] == ["exports"]:
        exports_only()
    else:
        main()
