"""Alembic environment: run by :func:`dlserve.db.migrate.upgrade`, which passes its open connection.

For writing a new revision during development (no alembic.ini is shipped)::

    python -m dlserve.db.migrate revision "add a column" sqlite:////tmp/dev.db

Revisions are portable by construction: SQLite gets ``render_as_batch`` so ALTERs become table
copies, and a migration must run unchanged on both databases.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from dlserve.db.tables import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        compare_server_default=True,
    )
    # The caller already opened the transaction (holding the lock); this joins it.
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError("run migrations through dlserve.db.migrate, which supplies the connection")
    _run(connection)


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported")
_main()
