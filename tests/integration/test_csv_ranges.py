"""A CSV part is cut into ranges of ``_seq``: its exact records are written by DuckDB from the
typed columns, its inexact ones (a rating spelled ``5.0``) rendered from their stored JSON, in one
file in load order — byte for byte what the JSON renderer writes for the whole part.

The records go through the real loader and the downloads through the API and the export runner;
the JSON renderer (:func:`csv_line_select`) is the referee.
"""

from __future__ import annotations

import gzip
import itertools
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest
from fastapi.testclient import TestClient

from dlserve.api.app import create_app
from dlserve.container import Services
from dlserve.downloads import typed_csv
from dlserve.downloads.part import PartExport
from dlserve.downloads.runner import EXPORT_KINDS
from dlserve.downloads.sql_render import csv_header, csv_line_select, records_between, typed_records_between
from dlserve.query import compile_query
from dlserve.records.schema import SCHEMAS
from dlserve.records.snapshots import PART_GLOB
from dlserve.records.typed_cells import EXACT_COLUMN
from dlserve.records.views import VIEWS
from tests.integration.conftest import fetch_result, loaded_services

PER_FILE = 12
# First of a part (0, 12, 36), two in a row (7, 8), last of all (39), and some in between.
INEXACT = {0, 7, 8, 12, 20, 27, 36, 39}
# Spelled as the typed columns spell them (schema order, compact, every sub-field): exact, but for
# the changed rating.
RECORDS: list[dict[str, Any]] = [
    {
        "id": f"r{i:02d}",
        "name": f'Place {i}, "quoted"' if i % 5 == 0 else f"Place {i}",
        "city": "Austin" if i % 3 else "Dallas",
        "province": "TX",
        "latitude": round(30.25 + i / 1000, 3),
        "longitude": -97.75,
        "categories": ["Hotels"] if i % 2 == 0 else ["Coffee Shops"],
        "reviews": [
            {
                "date": f"2020-01-0{r}T10:00:00Z",
                "dateSeen": f"2021-02-0{r}T11:30:00Z",
                "rating": r,
                "text": f"review {r} of {i}, fine" if r == 2 else f"review {r} of {i}",
                "title": f"title {r}",
                "username": f"user{r}",
            }
            for r in range(1, i % 3 + 2)
        ],
    }
    for i in range(40)
]
for _i in INEXACT:
    RECORDS[_i]["reviews"][0]["rating"] = 5.0  # stored as 5.0; the typed column would spell 5


@pytest.fixture
def services(database_url: str, tmp_path: Path) -> Iterator[Services]:
    with loaded_services(
        tmp_path, database_url, RECORDS, dumps=lambda r: orjson.dumps(r).decode(), records_per_file=PER_FILE
    ) as built:
        yield built


@pytest.fixture
def auth(services: Services) -> dict[str, str]:
    token = services.accounts.create_account("ranges@example.com", credits=1_000_000).token
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def scan(services: Services) -> Iterator[str]:
    """The snapshot's parts, on this machine (fetched from S3 in the cluster run) for the test."""
    snapshot = services.snapshots.current("businesses")
    assert snapshot is not None
    with services.snapshots.open(snapshot) as directory:
        yield str(Path(directory) / PART_GLOB)


def test_the_loader_marks_exactly_the_unusual_spellings_inexact(scan: str) -> None:
    rows = duckdb.execute(f"SELECT id, {EXACT_COLUMN} FROM read_parquet(?) ORDER BY _seq", [scan]).fetchall()
    assert {int(str(row[0])[1:]) for row in rows if not row[1]} == INEXACT


def test_ranges_cover_every_match_and_put_each_inexact_record_in_a_json_range(scan: str) -> None:
    con = duckdb.connect()
    seqs = [
        int(row[0])
        for row in con.execute("SELECT _seq FROM read_parquet(?) ORDER BY _seq", [scan]).fetchall()
    ]
    inexact_seqs = {seqs[i] for i in INEXACT}
    for query in ("*", "categories:hotels", "city:austin"):
        compiled = compile_query(SCHEMAS["businesses"], query)
        records = typed_records_between(compiled.sql)
        params: list[object] = [scan, *compiled.params, 0, seqs[-1]]
        matches = [
            int(row[0]) for row in con.execute(f"SELECT _seq FROM {records} ORDER BY _seq", params).fetchall()
        ]
        ranges = typed_csv.part_ranges(con, records, params, 0, len(matches))
        assert ranges is not None
        assert ranges[0].after == 0
        assert ranges[-1].through == matches[-1]
        for before, after in itertools.pairwise(ranges):
            assert before.through == after.after  # consecutive
            assert before.typed != after.typed  # neighbours of one kind are merged
        for seq_range in ranges:
            inside = [seq for seq in matches if seq_range.after < seq <= seq_range.through]
            assert inside, f"{seq_range} holds no record of {query}"
            if seq_range.typed:
                assert not inexact_seqs & set(inside)
            else:
                assert set(inside) <= inexact_seqs
        assert any(r.typed for r in ranges)
        assert any(not r.typed for r in ranges)
    # A wrong count (the plan and the snapshot disagree) leaves the part to the JSON renderer.
    assert typed_csv.part_ranges(con, typed_records_between("TRUE"), [scan, 0, seqs[-1]], 0, 41) is None


def test_records_scattered_over_too_many_ranges_are_rendered_from_json_alone(
    scan: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(typed_csv, "MAX_RANGES", 3)
    con = duckdb.connect()
    assert typed_csv.part_ranges(con, typed_records_between("TRUE"), [scan, 0, 10**9], 0, 40) is None
    assert typed_csv.part_ranges(con, typed_records_between("TRUE"), [scan, 1, 7], 1, 6) is not None


def expected_files(scan: str, query: str, view_name: str) -> list[bytes]:
    """The JSON renderer's bytes for each file of PER_FILE matching records."""
    schema = SCHEMAS["businesses"]
    view = VIEWS["businesses"][view_name]
    compiled = compile_query(schema, query)
    rows = (
        duckdb.connect(config={"preserve_insertion_order": True})
        .execute(
            csv_line_select(view, schema, records_between(compiled.sql)),
            [scan, *compiled.params, 0, 10**9],
        )
        .fetchall()
    )
    files: list[list[str]] = []
    seen: list[int] = []
    for seq, line in rows:
        if not seen or seen[-1] != seq:
            seen.append(seq)
            if (len(seen) - 1) % PER_FILE == 0:
                files.append([csv_header(view, schema)])
        files[-1].append(line)
    return ["".join(line + "\r\n" for line in lines).encode() for lines in files]


@pytest.mark.parametrize("compress", [None, "gzip"])
@pytest.mark.parametrize("view_name", ["business_flat_reviews", "business_all_nested"])
@pytest.mark.parametrize("query", ["*", "categories:hotels"])
def test_a_csv_download_mixing_exact_and_inexact_records_is_the_json_renderers_bytes(
    services: Services,
    scan: str,
    auth: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    compress: str | None,
    view_name: str,
    query: str,
) -> None:
    # Count what each renderer wrote (the real functions run): DuckDB's CSV writer for typed
    # ranges, the line renderer for the inexact records alone.
    typed_copies: list[int] = []
    json_records: list[int] = []
    real_copy, real_lines = typed_csv.copy_csv, PartExport._write_lines

    def counting_copy(*args: Any, **kwargs: Any) -> int:
        lines = real_copy(*args, **kwargs)
        typed_copies.append(lines)
        return lines

    def counting_lines(part: Any, writer: Any, newline: str, after: int, through: int) -> None:
        before = writer.records
        real_lines(part, writer, newline, after, through)
        json_records.append(writer.records - before)

    monkeypatch.setattr(typed_csv, "copy_csv", counting_copy)
    monkeypatch.setattr(PartExport, "_write_lines", counting_lines)

    body: dict[str, Any] = {"query": query, "view": view_name, "format": "CSV", "download": True}
    if compress:
        body["compress"] = compress
    with TestClient(create_app(services.settings, services), raise_server_exceptions=False) as client:
        created = client.post("/v4/businesses/search", json=body, headers=auth)
        assert created.status_code == 202, created.text
        while (job := services.queue.claim("test-worker", EXPORT_KINDS)) is not None:
            services.runner.run(job, "test-worker", threading.Event())
        done = client.get(f"/v4/downloads/{created.json()['id']}", headers=auth).json()
        assert done["status"] == "completed", done
        files = [fetch_result(client, result["url"]).content for result in done["results"]]
    if compress:
        files = [gzip.decompress(data) for data in files]
    assert files == expected_files(scan, query, view_name)
    matching = [i for i, r in enumerate(RECORDS) if query == "*" or "Hotels" in r["categories"]]
    assert sum(json_records) == len(INEXACT & set(matching))  # only they were rendered from JSON
    assert sum(typed_copies) > 0  # the others from the typed columns
    assert done["num_downloaded"] == len(matching)


def test_the_expected_bytes_hold_the_unusual_spelling(scan: str) -> None:
    """The referee keeps ``5.0`` as loaded (what the typed columns alone would lose)."""
    body = b"".join(expected_files(scan, "*", "business_flat_reviews"))
    assert body.count(b",5.0,") == len(INEXACT)


def test_two_export_threads_take_turns_at_duckdbs_writes(
    services: Services, scan: str, auth: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each part's COPY runs on all of DuckDB's threads: two export threads of one process write
    one after the other (each copy waits a while for the other to enter; none ever does), and the
    files are still the JSON renderer's bytes."""
    inside: list[int] = []
    overlapped: list[bool] = []
    entered = threading.Event()
    real_copy = typed_csv.copy_csv

    def watching_copy(*args: Any, **kwargs: Any) -> int:
        inside.append(1)
        overlapped.append(len(inside) > 1)
        entered.set()
        try:
            time.sleep(0.2)  # room for another thread's copy to start, if it could
            return real_copy(*args, **kwargs)
        finally:
            inside.pop()

    monkeypatch.setattr(typed_csv, "copy_csv", watching_copy)
    body = {"query": "*", "view": "business_all_nested", "format": "CSV", "download": True}
    with TestClient(create_app(services.settings, services), raise_server_exceptions=False) as client:
        created = client.post("/v4/businesses/search", json=body, headers=auth)
        assert created.status_code == 202, created.text
        plan = services.queue.claim("planner", EXPORT_KINDS)
        assert plan is not None
        services.runner.run(plan, "planner", threading.Event())

        def export_thread(name: str) -> None:
            while (job := services.queue.claim(name, EXPORT_KINDS)) is not None:
                services.runner.run(job, name, threading.Event())

        threads = [threading.Thread(target=export_thread, args=(f"t{n}",)) for n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        done = client.get(f"/v4/downloads/{created.json()['id']}", headers=auth).json()
        assert done["status"] == "completed", done
        files = [fetch_result(client, result["url"]).content for result in done["results"]]
    assert entered.is_set()
    assert len(overlapped) >= len(files) > 1
    assert not any(overlapped)
    assert files == expected_files(scan, "*", "business_all_nested")


def test_parquet_parts_do_not_wait_for_the_csv_writers_turn(services: Services, auth: dict[str, str]) -> None:
    """A Parquet part is one row group, which DuckDB compresses on one thread, so Parquet parts are
    written side by side: with the process's bulk-write turn held elsewhere the whole time, a
    Parquet download still completes (a CSV part would wait for the turn)."""
    body = {"query": "*", "format": "PARQUET", "download": True}
    with TestClient(create_app(services.settings, services), raise_server_exceptions=False) as client:
        created = client.post("/v4/businesses/search", json=body, headers=auth)
        assert created.status_code == 202, created.text
        finished = threading.Event()

        def export() -> None:
            while (job := services.queue.claim("parquet-worker", EXPORT_KINDS)) is not None:
                services.runner.run(job, "parquet-worker", threading.Event())
            finished.set()

        assert services.runner.bulk_write.acquire(timeout=5)
        thread = threading.Thread(target=export, daemon=True)
        try:
            thread.start()
            assert finished.wait(60), "a Parquet part waited for the CSV writers' turn"
        finally:
            services.runner.bulk_write.release()
        thread.join()
        done = client.get(f"/v4/downloads/{created.json()['id']}", headers=auth).json()
    assert done["status"] == "completed", done
    assert done["num_downloaded"] == len(RECORDS)
    assert len(done["results"]) == -(-len(RECORDS) // PER_FILE)
