"""Bring a database's schema up to date with Alembic, driven from code (no alembic.ini at run time).

``upgrade`` is idempotent and safe when several processes start at once (``dlserve serve`` and a few
``dlserve worker`` against one PostgreSQL): on PostgreSQL they queue on an advisory lock, on SQLite
on the write lock of ``BEGIN IMMEDIATE``; whoever comes second finds the schema at head and does
nothing. The whole upgrade is one transaction on both databases, so a failed migration leaves the
schema as it was.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from dlserve.db.engine import Database

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

# Key of the PostgreSQL advisory lock that serialises upgrades ("dlserve" in ASCII).
_ADVISORY_LOCK_KEY = 0x646C7365727665


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


def current_revision(database_url: str) -> str | None:
    """The revision the database is at, or None before the first upgrade."""
    db = Database(database_url)
    try:
        with db.read() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        db.dispose()


def upgrade(database_url: str) -> None:
    """Migrate the database at ``database_url`` to the newest revision."""
    db = Database(database_url)
    try:
        with db.engine.connect() as conn:
            if db.is_postgres:
                _upgrade_postgres(conn)
            else:
                _upgrade_sqlite(conn)
    finally:
        db.dispose()


def _run_alembic_upgrade(conn: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = conn
    command.upgrade(config, "head")


def _upgrade_postgres(conn: Connection) -> None:
    # A session-level lock: it must outlive the transaction so that the next process reads the
    # committed version table, not a snapshot taken while it waited.
    conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _ADVISORY_LOCK_KEY})
    conn.commit()
    try:
        with conn.begin():
            _run_alembic_upgrade(conn)
    finally:
        conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _ADVISORY_LOCK_KEY})
        conn.commit()


def _upgrade_sqlite(conn: Connection) -> None:
    # Batch migrations copy a table and drop the original. With foreign keys enforced, that DROP
    # would cascade-delete child rows; SQLite's documented procedure is to switch enforcement off
    # (only possible outside a transaction) and check the keys before committing.
    raw = conn.connection.dbapi_connection
    assert raw is not None
    raw.execute("PRAGMA foreign_keys = OFF")
    try:
        conn.execution_options(dlserve_write_lock=True)
        with conn.begin():
            _run_alembic_upgrade(conn)
            violations = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if violations:
                raise RuntimeError(f"migration left foreign key violations: {violations[:10]}")
    finally:
        raw.execute("PRAGMA foreign_keys = ON")


def make_revision(database_url: str, message: str) -> None:
    """Development helper: upgrade a scratch database, then autogenerate a revision against it."""
    upgrade(database_url)
    db = Database(database_url)
    try:
        with db.write() as conn:
            config = alembic_config()
            config.attributes["connection"] = conn
            command.revision(config, message=message, autogenerate=True)
    finally:
        db.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m dlserve.db.migrate")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("upgrade", help="migrate a database to the newest revision")
    up.add_argument("database_url")
    rev = sub.add_parser("revision", help="autogenerate a new revision (development)")
    rev.add_argument("message")
    rev.add_argument("database_url", help="a scratch database, e.g. sqlite:////tmp/dlserve-dev.db")
    args = parser.parse_args(argv)
    if args.command == "upgrade":
        upgrade(args.database_url)
    else:
        make_revision(args.database_url, args.message)


if __name__ == "__main__":
    main()
