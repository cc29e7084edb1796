"""The migrations build exactly the schema of ``dlserve.db.tables``, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from dlserve.db.engine import Database
from dlserve.db.migrate import current_revision, head_revision, upgrade
from dlserve.db.tables import metadata


def schema_differences(url: str) -> list[object]:
    db = Database(url)
    try:
        with db.read() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "compare_server_default": True}
            )
            return list(compare_metadata(context, metadata))
    finally:
        db.dispose()


def table_names(url: str) -> set[str]:
    db = Database(url)
    try:
        return set(inspect(db.engine).get_table_names())
    finally:
        db.dispose()


def test_upgrade_from_nothing_creates_exactly_the_model_tables(unmigrated_database_url: str) -> None:
    assert current_revision(unmigrated_database_url) is None

    upgrade(unmigrated_database_url)

    assert current_revision(unmigrated_database_url) == head_revision()
    assert table_names(unmigrated_database_url) == set(metadata.tables) | {"alembic_version"}
    assert schema_differences(unmigrated_database_url) == []


def test_upgrade_twice_is_a_no_op(database_url: str) -> None:
    before = current_revision(database_url)
    assert before == head_revision()

    upgrade(database_url)

    assert current_revision(database_url) == before
    assert schema_differences(database_url) == []


def test_concurrent_upgrades_from_separate_processes_agree(unmigrated_database_url: str) -> None:
    script = "import sys; from dlserve.db.migrate import upgrade; upgrade(sys.argv[1])"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, unmigrated_database_url],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [process.communicate(timeout=120)[0] for process in processes]

    assert [process.returncode for process in processes] == [0, 0, 0, 0], outputs
    assert current_revision(unmigrated_database_url) == head_revision()
    assert schema_differences(unmigrated_database_url) == []


def test_sqlite_connections_use_wal_busy_timeout_and_foreign_keys(tmp_path: object) -> None:
    url = f"sqlite:///{tmp_path}/nested/dir/dlserve.db"
    db = Database(url)
    try:
        with db.read() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() >= 30_000
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
    finally:
        db.dispose()
