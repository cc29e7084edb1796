"""With S3 storage, record snapshots live in the bucket; each machine reads a cached local copy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dlserve.container import build_services
from dlserve.query import compile_query
from dlserve.records.loader import load_files
from dlserve.records.schema import BUSINESSES
from dlserve.settings import Settings
from tests.support.seaweed import S3Server

pytestmark = pytest.mark.s3


def machine(tmp_path: Path, name: str, database_url: str, s3_server: S3Server, prefix: str) -> Settings:
    return Settings(
        data_dir=tmp_path / name,
        database_url=database_url,
        storage_url=s3_server.url(prefix),
        log_json=False,
        **s3_server.settings(),  # type: ignore[arg-type]
    )


def test_snapshots_are_stored_in_s3_and_read_on_another_machine(
    database_url: str, tmp_path: Path, s3_server: S3Server
) -> None:
    prefix = s3_server.fresh_prefix("snap")
    loader_machine = build_services(machine(tmp_path, "loader", database_url, s3_server, prefix))
    source = tmp_path / "b.jsonl"
    source.write_text("".join(json.dumps({"id": f"b{i}", "name": f"Hotel {i}"}) + "\n" for i in range(30)))
    try:
        first = load_files(loader_machine.snapshots, "businesses", [source]).snapshot
        more = tmp_path / "more.jsonl"
        more.write_text(json.dumps({"id": "extra", "name": "Hilton"}) + "\n")
        second = load_files(loader_machine.snapshots, "businesses", [more], append=True).snapshot
    finally:
        loader_machine.close()
    assert first.location.startswith(f"s3://{s3_server.bucket}/{prefix}/snapshots/businesses/")
    assert second.location != first.location
    assert second.record_count == 31
    keys = {
        item["Key"]
        for item in s3_server.client().list_objects_v2(
            Bucket=s3_server.bucket, Prefix=f"{prefix}/snapshots/"
        )["Contents"]
    }
    assert any(key.endswith(".parquet") for key in keys)
    assert not list((tmp_path / "loader" / "snapshots").rglob("*.parquet"))  # nothing kept locally

    reader = build_services(machine(tmp_path, "reader", database_url, s3_server, prefix))
    try:
        snapshot = reader.store.snapshot("businesses")
        query = compile_query(BUSINESSES, "name:hilton OR name:hotel")
        assert reader.store.count(snapshot, query) == 31
        assert json.loads(reader.store.get(snapshot, "extra"))["name"] == "Hilton"
        remote = reader.snapshots._remote
        assert remote is not None
        cached = remote.cache.entries()
        assert [entry.location for entry in cached] == [second.location]  # downloaded once, reused
    finally:
        reader.close()
