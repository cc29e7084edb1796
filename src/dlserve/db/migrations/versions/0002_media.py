"""Media downloads: the ``media_downloads`` table (``/api/download``; jobs of kind ``media``).

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-06

Plain ``DateTime(timezone=True)`` where :mod:`dlserve.db.tables` has ``UtcDateTime`` (see 0001).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "media_downloads",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("quality", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("progress", sa.Float(), server_default=sa.text("0"), nullable=False),
        sa.Column("downloaded_bytes", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("total_bytes", sa.BigInteger(), nullable=True),
        sa.Column("speed", sa.Float(), nullable=True),
        sa.Column("eta", sa.Integer(), nullable=True),
        sa.Column("filename", sa.Text(), nullable=True),
        sa.Column("storage_key", sa.String(length=1024), nullable=True),
        sa.Column("file_bytes", sa.BigInteger(), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("duration", sa.Float(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        _utc("created_at"),
        _utc("updated_at"),
        _utc("started_at", nullable=True),
        _utc("completed_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_media_downloads_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name=op.f("fk_media_downloads_job_id_jobs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_downloads")),
    )
    op.create_index(
        op.f("ix_media_downloads_account_id_created_at"), "media_downloads", ["account_id", "created_at"]
    )
    op.create_index(op.f("ix_media_downloads_status"), "media_downloads", ["status"])
    op.create_index(op.f("ix_media_downloads_job_id"), "media_downloads", ["job_id"])


def downgrade() -> None:
    op.drop_table("media_downloads")
