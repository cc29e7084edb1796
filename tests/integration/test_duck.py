"""Snapshot readers keep Parquet footers cached (records/duck.py), and a cached footer never hides
a file written anew at the same path."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from dlserve.records import duck


def test_a_connection_caches_parquet_footers(tmp_path: Path) -> None:
    con = duck.connect({"preserve_insertion_order": True})
    row = con.execute("SELECT current_setting('parquet_metadata_cache')").fetchone()
    assert row == (True,)
    plain = duckdb.connect()
    plain.execute("SELECT 1 FROM range(1)").fetchall()
    assert plain.execute("SELECT current_setting('parquet_metadata_cache')").fetchone() == (False,)


def test_a_file_written_again_at_the_same_path_is_read_anew(tmp_path: Path) -> None:
    con = duck.connect({})
    part = tmp_path / "part-00001.parquet"
    con.execute(f"COPY (SELECT range AS _seq FROM range(10)) TO '{part}' (FORMAT parquet)")
    assert con.execute("SELECT count(*), max(_seq) FROM read_parquet(?)", [str(part)]).fetchone() == (10, 9)
    con.execute(f"COPY (SELECT range AS _seq FROM range(25)) TO '{part}' (FORMAT parquet)")
    stat = part.stat()
    os.utime(part, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))  # a later modification time
    assert con.execute("SELECT count(*), max(_seq) FROM read_parquet(?)", [str(part)]).fetchone() == (25, 24)
