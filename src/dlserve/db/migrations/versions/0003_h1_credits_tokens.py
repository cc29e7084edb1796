"""Credit holds (``credit_holds``) and token expiry (``api_tokens.expires_at``).

Revision ID: 0003_h1
Revises: 0002
Create Date: 2026-11-30

Tokens issued before this revision keep ``expires_at`` NULL (no expiry); ``dlserve accounts tokens
EMAIL --revoke-all`` retires them. Downloads queued before it have no hold: their parts are charged
as before.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_h1"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "credit_holds",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("download_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        _utc("created_at"),
        _utc("updated_at"),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_credit_holds_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["download_id"],
            ["downloads.id"],
            name=op.f("fk_credit_holds_download_id_downloads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_holds")),
        sa.UniqueConstraint("download_id", name=op.f("uq_credit_holds_download_id")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_credit_holds_account_id"), "credit_holds", ["account_id"])
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(_utc("expires_at", nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("expires_at")
    op.drop_index(op.f("ix_credit_holds_account_id"), table_name="credit_holds")
    op.drop_table("credit_holds")
