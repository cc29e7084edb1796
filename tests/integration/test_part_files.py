"""An export part reads only the snapshot parts whose ``_seq`` bounds meet its range."""

from __future__ import annotations

from pathlib import Path

import duckdb

from dlserve.records.part_files import PartFiles


def write_part(directory: Path, name: str, first: int, last: int) -> str:
    path = directory / name
    duckdb.execute(
        f"COPY (SELECT range AS _seq FROM range({first}, {last + 1})) TO '{path}' (FORMAT parquet)"
    )
    return str(path)


def test_a_range_reads_the_parts_that_hold_it_and_only_those(tmp_path: Path) -> None:
    one = write_part(tmp_path, "part-00001.parquet", 1, 100)
    two = write_part(tmp_path, "part-00002.parquet", 101, 200)
    three = write_part(tmp_path, "part-00003.parquet", 201, 300)
    files = PartFiles()
    con = duckdb.connect()
    assert files.holding(con, tmp_path, 0, 100) == [one]
    assert files.holding(con, tmp_path, 100, 200) == [two]  # after is exclusive, through inclusive
    assert files.holding(con, tmp_path, 99, 101) == [one, two]
    assert files.holding(con, tmp_path, 150, 1_000) == [two, three]
    # Past every part: the whole glob (the query finds nothing, as it would have).
    assert files.holding(con, tmp_path, 300, 400) == [str(tmp_path / "part-*.parquet")]


def test_bounds_are_read_once_per_snapshot_directory(tmp_path: Path) -> None:
    first = tmp_path / "a"
    first.mkdir()
    one = write_part(first, "part-00001.parquet", 1, 10)
    files = PartFiles()
    con = duckdb.connect()
    assert files.holding(con, first, 0, 10) == [one]
    write_part(first, "part-00002.parquet", 11, 20)  # never happens to a published snapshot
    assert files.holding(con, first, 10, 20) == [str(first / "part-*.parquet")]  # the kept bounds
