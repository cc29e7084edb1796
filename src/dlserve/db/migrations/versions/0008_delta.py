"""Delta downloads: ``downloads.since`` and the counts of added, changed and deleted records.

Revision ID: 0008_delta
Revises: 0007_fields
Create Date: 2026-11-30

``since`` is the id of the download a delta download is relative to (a plain column: downloads are
never deleted, and a self-reference would need SQLite's batch mode for nothing). The three counts
are NULL on every other download, including all those made before this revision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_delta"
down_revision: str | Sequence[str] | None = "0007_fields"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COUNTS = ("num_added", "num_changed", "num_deleted")


def upgrade() -> None:
    op.add_column("downloads", sa.Column("since", sa.Integer(), nullable=True))
    for name in _COUNTS:
        op.add_column("downloads", sa.Column(name, sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("downloads", table_kwargs={"sqlite_autoincrement": True}) as batch:
        for name in reversed(_COUNTS):
            batch.drop_column(name)
        batch.drop_column("since")
