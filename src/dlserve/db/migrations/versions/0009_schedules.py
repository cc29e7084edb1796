"""Scheduled downloads: the ``schedules`` and ``schedule_runs`` tables (issue 15).

Revision ID: 0009_schedules
Revises: 0008_delta
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_schedules"
down_revision: str | Sequence[str] | None = "0008_delta"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.Column[object]:
    return sa.Column("id", sa.Integer(), autoincrement=True, nullable=False)


def _utc(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "schedules",
        _id(),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("data_type", sa.String(length=32), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("view", sa.Text(), nullable=True),
        sa.Column("every", sa.String(length=128), nullable=False),
        sa.Column("delta", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("webhook_url", sa.Text(), nullable=True),
        _utc("next_run_at"),
        _utc("created_at"),
        _utc("deleted_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_schedules_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedules")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_schedules_account_id_id"), "schedules", ["account_id", "id"])
    op.create_index(op.f("ix_schedules_next_run_at"), "schedules", ["next_run_at"])
    op.create_table(
        "schedule_runs",
        _id(),
        sa.Column("schedule_id", sa.Integer(), nullable=False),
        _utc("due_at"),
        sa.Column("download_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        _utc("created_at"),
        _utc("updated_at"),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["schedules.id"],
            name=op.f("fk_schedule_runs_schedule_id_schedules"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["download_id"], ["downloads.id"], name=op.f("fk_schedule_runs_download_id_downloads")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule_runs")),
        sa.UniqueConstraint("schedule_id", "due_at", name=op.f("uq_schedule_runs_schedule_id_due_at")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_schedule_runs_status"), "schedule_runs", ["status"])


def downgrade() -> None:
    op.drop_table("schedule_runs")
    op.drop_table("schedules")
