"""A 250,000-record Parquet download reads back with pyarrow as the JSON download of the same query.

Demo properties (nested lists of structs holding numbers, booleans, dates and string lists), cut
into files of 125,000 records so that each file needs more than one row group (at most 100,000
rows each). Both downloads run through the real export runner and storage; the files are read
from storage one at a time and compared record by record, in order, a batch at a time, so memory
stays small. The snapshot is loaded without its search index (exports never read it).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from itertools import zip_longest
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from dlserve.catalog.services import prepare
from dlserve.container import Services, build_services
from dlserve.demo import write_jsonl
from dlserve.downloads.models import Download
from dlserve.downloads.parquet import MAX_ROW_GROUP_ROWS
from dlserve.downloads.runner import EXPORT_KINDS
from dlserve.records.loader import load_files
from dlserve.records.views import find_view
from tests.conftest import DATABASE_KINDS, database_url_for
from tests.integration.conftest import make_settings
from tests.support.parquet import json_lines, parquet_rows, rows_as_parquet_rows

RECORDS = 250_000
PER_FILE = 125_000

pytestmark = pytest.mark.slow


@pytest.fixture
def services(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Services]:
    # What the files hold does not depend on the database: SQLite only (PostgreSQL runs the small tests),
    # so the PostgreSQL pass of `make test` skips it instead of running it a second time on SQLite.
    if "sqlite" not in {kind.id for kind in DATABASE_KINDS}:
        pytest.skip("runs in the SQLite pass")
    database_url = database_url_for("sqlite", request, tmp_path)
    built = build_services(
        make_settings(tmp_path, database_url, records_per_file=PER_FILE, search_index=False)
    )
    source = tmp_path / "properties.jsonl"
    write_jsonl(source, "properties", RECORDS, seed=3)
    load_files(built.snapshots, "properties", [source], index=False)
    source.unlink()
    try:
        yield built
    finally:
        built.close()


def export(services: Services, output_format: str) -> Download:
    owner = services.accounts.get_account(
        services.accounts.create_account(f"{output_format}@example.com", credits=RECORDS).id
    )
    created = services.downloads.create(owner, prepare("properties", "*", None, output_format), None)
    while (job := services.queue.claim("test-worker", EXPORT_KINDS)) is not None:
        services.runner.run(job, "test-worker", threading.Event())
    done = services.downloads.get(owner, created.id)
    assert done.status.value == "completed"
    assert done.num_downloaded == RECORDS
    assert services.accounts.usage(owner.id).credits_used == RECORDS  # charged like any download
    return done


def test_250k_records_in_parquet_read_back_as_the_json_download(services: Services, tmp_path: Path) -> None:
    as_json, as_parquet = export(services, "json"), export(services, "parquet")
    assert [f.records for f in as_parquet.files] == [PER_FILE, PER_FILE]
    assert [f.name for f in as_parquet.files] == [f"{as_parquet.id}_{n}.parquet" for n in (1, 2)]
    view = find_view("properties", None)

    def expected() -> Iterator[dict[str, object]]:
        for file in sorted(as_json.files, key=lambda f: f.part_no):
            with services.storage.open_read(file.storage_key) as lines:
                yield from rows_as_parquet_rows(view, json_lines(lines))

    def actual() -> Iterator[dict[str, object]]:
        for file in sorted(as_parquet.files, key=lambda f: f.part_no):
            local = tmp_path / file.name
            with services.storage.open_read(file.storage_key) as source, local.open("wb") as out:
                while chunk := source.read(1 << 20):
                    out.write(chunk)
            metadata = pq.ParquetFile(local).metadata
            sizes = [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]
            assert len(sizes) > 1, sizes
            assert max(sizes) <= MAX_ROW_GROUP_ROWS, sizes
            yield from parquet_rows(local)
            local.unlink()

    compared = 0
    for want, got in zip_longest(expected(), actual()):
        assert got == want, f"record {compared + 1}"
        compared += 1
    assert compared == RECORDS
