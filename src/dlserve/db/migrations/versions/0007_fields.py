"""``downloads.view`` holds a field list too (a JSON array of field names): VARCHAR(64) → TEXT.

Revision ID: 0007_fields
Revises: 0006_webhooks
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_fields"
down_revision: str | Sequence[str] | None = "0006_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("downloads", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.alter_column(
            "view", existing_type=sa.String(length=64), type_=sa.Text(), existing_nullable=True
        )


def downgrade() -> None:
    # A field list longer than 64 characters cannot go back: it becomes the default view.
    op.execute("UPDATE downloads SET view = NULL WHERE length(view) > 64")
    with op.batch_alter_table("downloads", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.alter_column(
            "view", existing_type=sa.Text(), type_=sa.String(length=64), existing_nullable=True
        )
