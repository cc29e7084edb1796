"""Database fixtures for every test tier.

- ``database_url`` — a migrated, empty database, parametrized over ``sqlite`` (a file in the test's
  tmp_path) and ``postgresql`` (a throwaway database made once per session, truncated before
  each test).
- ``db`` — a :class:`~dlserve.db.engine.Database` on ``database_url``, disposed after the test.
- ``unmigrated_database_url`` — the same two kinds, but empty of any schema (migration tests).

PostgreSQL is the machine's server on 127.0.0.1:5432 (``DLSERVE_TEST_POSTGRES_URL`` overrides the
server URL, without a database name). When it is down the tests start it with
``scripts/ensure-services.sh``; if it stays down they fail, unless ``DLSERVE_TEST_SKIP_POSTGRES=1``
asks to skip the PostgreSQL variants instead.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from dlserve.db.engine import Database
from dlserve.db.migrate import upgrade
from dlserve.db.tables import metadata

REPO_ROOT = Path(__file__).resolve().parents[1]
POSTGRES_SERVER_URL = os.environ.get(
    "DLSERVE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432"
)

DATABASE_KINDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]
# DLSERVE_TEST_DATABASES=postgresql (or sqlite) runs the database-parametrized tests on one kind only.
if os.environ.get("DLSERVE_TEST_DATABASES"):
    _wanted = set(os.environ["DLSERVE_TEST_DATABASES"].split(","))
    DATABASE_KINDS = [p for p in DATABASE_KINDS if p.id in _wanted]


def _server_url(database: str) -> URL:
    return make_url(POSTGRES_SERVER_URL).set(database=database)


def _admin_engine() -> Engine:
    """AUTOCOMMIT on the ``postgres`` database: CREATE/DROP DATABASE can't run in a transaction."""
    return create_engine(
        _server_url("postgres"),
        isolation_level="AUTOCOMMIT",
        poolclass=NullPool,
        connect_args={"connect_timeout": 5},
    )


def _postgres_error() -> str | None:
    engine = _admin_engine()
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return None
    except OperationalError as error:
        return str(error.orig or error).strip()
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def postgres_server() -> URL:
    """The PostgreSQL server URL (no database), after making sure the server answers."""
    error = _postgres_error()
    if error is not None:
        subprocess.run(["bash", str(REPO_ROOT / "scripts" / "ensure-services.sh")], check=False, timeout=120)
        error = _postgres_error()
    if error is not None:
        message = (
            f"PostgreSQL at {make_url(POSTGRES_SERVER_URL).render_as_string(hide_password=True)} is "
            f"unreachable even after scripts/ensure-services.sh ({error}). Start it (see the README) or "
            "set DLSERVE_TEST_SKIP_POSTGRES=1 to skip the PostgreSQL variants."
        )
        if os.environ.get("DLSERVE_TEST_SKIP_POSTGRES") == "1":
            pytest.skip(message)
        pytest.fail(message, pytrace=False)
    return make_url(POSTGRES_SERVER_URL)


def _create_postgres_database() -> str:
    name = f"dlserve_test_{secrets.token_hex(6)}"
    engine = _admin_engine()
    try:
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return _server_url(name).render_as_string(hide_password=False)


def _drop_postgres_database(url: str) -> None:
    name = make_url(url).database
    engine = _admin_engine()
    try:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def postgres_database_url(postgres_server: URL) -> Iterator[str]:
    """A migrated database of this test session's own (``dlserve_test_<hex>``), dropped at the end."""
    url = _create_postgres_database()
    try:
        upgrade(url)
        yield url
    finally:
        _drop_postgres_database(url)


@pytest.fixture(scope="session")
def _postgres_truncate_engine(postgres_database_url: str) -> Iterator[Engine]:
    engine = create_engine(postgres_database_url, poolclass=NullPool)
    yield engine
    engine.dispose()


def _truncate_all(engine: Engine) -> None:
    names = ", ".join(f'"{table.name}"' for table in metadata.sorted_tables)
    with engine.begin() as conn:
        # A test that leaked an open transaction would otherwise make this wait forever.
        conn.execute(text("SET LOCAL lock_timeout = '10s'"))
        conn.execute(text(f"TRUNCATE TABLE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file per session; each test gets a copy (faster than migrating anew)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "dlserve.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(params=DATABASE_KINDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of a migrated, empty database: a fresh SQLite file, or the session's PostgreSQL database."""
    return database_url_for(request.param, request, tmp_path)


def database_url_for(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """:func:`database_url` for one kind (``sqlite`` or ``postgresql``), for fixtures that choose."""
    if kind == "sqlite":
        template: Path = request.getfixturevalue("_sqlite_template")
        path = tmp_path / "dlserve.db"
        shutil.copyfile(template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_database_url")
    _truncate_all(request.getfixturevalue("_postgres_truncate_engine"))
    return url


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture(params=DATABASE_KINDS)
def unmigrated_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a database with no schema at all (SQLite: the file does not exist yet)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh' / 'dlserve.db'}"
        return
    request.getfixturevalue("postgres_server")
    url = _create_postgres_database()
    try:
        yield url
    finally:
        _drop_postgres_database(url)


# The real S3 server (SeaweedFS `weed mini`), one per test session, for every tier that needs it.
from tests.support.seaweed import s3_server_fixture  # noqa: E402, F401
