"""Charges name their data type: ``credit_ledger.data_type`` (account usage per data type).

Revision ID: 0010_ledger_data_type
Revises: 0009_schedules
Create Date: 2026-11-30

Previews, pages and single records are charged with the data type they read; a download's
charges already name it through their download. Charges made before this revision have none
(they count in ``num_credits_used``, in no data type's total).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_ledger_data_type"
down_revision: str | Sequence[str] | None = "0009_schedules"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("credit_ledger", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.add_column(sa.Column("data_type", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("credit_ledger", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_column("data_type")
