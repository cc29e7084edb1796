"""`Database`: one SQLAlchemy engine (SQLite file or PostgreSQL) and the two kinds of transaction.

- ``read()`` — a transaction for queries. On SQLite a deferred one: a consistent snapshot that
  never waits for writers (WAL).
- ``write()`` — a transaction that holds the write lock from its first statement. On SQLite that is
  ``BEGIN IMMEDIATE``: a deferred transaction that reads and then writes can fail with "database is
  locked" when another writer committed in between, while an immediate one simply waits its turn
  (``busy_timeout``). On PostgreSQL it is an ordinary transaction; code that needs a row lock says
  ``FOR UPDATE`` itself.

The object is safe to share between threads: the engine's pool hands each thread its own
connection.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import ConnectionPoolEntry

SQLITE_BUSY_TIMEOUT_SECONDS = 30.0
PING_AFTER_IDLE_SECONDS = 10.0  # PostgreSQL: a connection idle this long is tested before use

# Execution options read by the SQLite "begin" listener: BEGIN IMMEDIATE; no BEGIN at all.
_WRITE_LOCK_OPTION = "dlserve_write_lock"
_ONE_STATEMENT_OPTION = "dlserve_one_statement"


class Database:
    """The application's database, built from a SQLAlchemy URL."""

    def __init__(self, url: str | URL, *, echo: bool = False) -> None:
        self._url = make_url(url)
        if self._url.get_backend_name() == "sqlite":
            self._engine = _create_sqlite_engine(self._url, echo=echo)
        elif self._url.get_backend_name() == "postgresql":
            self._engine = create_engine(self._url, echo=echo)
            _ping_when_idle(self._engine)
        else:
            raise ValueError(
                f"unsupported database {self._url.get_backend_name()!r}: use sqlite or postgresql"
            )

    @property
    def url(self) -> URL:
        return self._url

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def is_postgres(self) -> bool:
        return self._engine.dialect.name == "postgresql"

    @property
    def is_sqlite(self) -> bool:
        return self._engine.dialect.name == "sqlite"

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection inside a transaction (committed at the end; writes belong in ``write()``)."""
        with self._engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def read_one(self) -> Iterator[Connection]:
        """A connection for a single SELECT, which is consistent on its own. On SQLite no BEGIN
        is sent (the statement is its own transaction): for the hottest reads (status polls)
        that is a third of the work. Run exactly one statement in it."""
        with self._engine.connect() as conn:
            conn.execution_options(**{_ONE_STATEMENT_OPTION: True})
            with conn.begin():
                yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A connection inside a transaction that holds the write lock; committed unless it raises."""
        with self._engine.connect() as conn:
            conn.execution_options(**{_WRITE_LOCK_OPTION: True})
            with conn.begin():
                yield conn

    def dispose(self) -> None:
        """Close every pooled connection (at shutdown, and in tests before dropping a database)."""
        self._engine.dispose()

    def __repr__(self) -> str:
        return f"Database({self._url.render_as_string(hide_password=True)!r})"


def is_postgres(db: Database) -> bool:
    return db.is_postgres


def _ping_when_idle(engine: Engine) -> None:
    """A connection idle for a while is tested before use, so a worker that idled through a
    server restart gets a fresh connection instead of an error on its next job (SQLAlchemy's
    checkout-event recipe: ``DisconnectionError`` makes the pool retry with a new connection).
    Unlike ``pool_pre_ping``, a connection in steady use is not pinged: a status poll stays one
    round trip."""

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("SELECT 1")
            finally:
                cursor.close()
        except Exception as error:
            raise DisconnectionError(f"idle connection is gone: {error}") from error


def _create_sqlite_engine(url: URL, *, echo: bool) -> Engine:
    if url.database and url.database != ":memory:" and not url.database.startswith("file:"):
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, echo=echo, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})

    # SQLAlchemy's documented pysqlite recipe: stop the driver from issuing BEGIN on its own (it
    # delays BEGIN until the first INSERT/UPDATE, which breaks read consistency and write locking)
    # and emit BEGIN ourselves.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_SECONDS * 1000)}")
            # WAL: readers never block the writer and the writer never blocks readers.
            cursor.execute("PRAGMA journal_mode = WAL")
            # NORMAL (SQLite's advice for WAL): a commit writes the WAL without waiting for the
            # disk; the WAL is synced at checkpoints. A process crash loses nothing; a power
            # loss may undo the last commits, never corrupts. Waiting for the disk on every
            # commit was most of a record read's time (it charges one credit): 3-8 ms here.
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get(_ONE_STATEMENT_OPTION):
            return  # autocommit: the driver runs the one statement as its own transaction
        mode = "IMMEDIATE" if conn.get_execution_options().get(_WRITE_LOCK_OPTION) else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine
