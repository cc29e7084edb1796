"""The migrations build exactly the schema of ``dlserve.db.tables``, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select
from sqlalchemy.exc import StatementError

from dlserve.db.engine import Database
from dlserve.db.migrate import current_revision, head_revision, upgrade
from dlserve.db.tables import accounts, metadata


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


def test_sqlite_connections_use_wal_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/nested/dir/dlserve.db"
    db = Database(url)
    try:
        with db.read() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() >= 30_000
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
    finally:
        db.dispose()


def test_timestamps_are_stored_as_utc_and_read_back_aware(db: Database) -> None:
    # 12:00 at UTC+02:00 is 10:00 UTC; both databases must hand back the same aware UTC value.
    local = datetime(2024, 12, 25, 12, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    with db.write() as conn:
        conn.execute(accounts.insert().values(email="tz@example.com", created_at=local))
    with db.read() as conn:
        stored = conn.execute(select(accounts.c.created_at)).scalar_one()
        later = conn.execute(
            select(accounts.c.id).where(accounts.c.created_at > datetime(2024, 12, 25, 10, 0, tzinfo=UTC))
        ).all()
    assert stored == datetime(2024, 12, 25, 10, 0, 0, 123456, tzinfo=UTC)
    assert stored.tzinfo is UTC
    assert len(later) == 1


def test_naive_timestamps_are_refused(db: Database) -> None:
    with pytest.raises(StatementError, match="naive datetime"), db.write() as conn:
        conn.execute(accounts.insert().values(email="naive@example.com", created_at=datetime(2024, 1, 1)))
