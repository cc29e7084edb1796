"""Jobs name their subject generically: ``jobs.subject_id`` replaces ``jobs.download_id``.

Revision ID: 0005_jobs
Revises: 0004_h2
Create Date: 2026-11-30

The ``jobs`` table belongs to :mod:`dlserve.jobs` alone: a job says what it works on by kind and
subject id (a download's id as text, a media download's UUID), and no other table keeps a foreign
key into it (``media_downloads.job_id`` stays, as a plain column).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_jobs"
down_revision: str | Sequence[str] | None = "0004_h2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("subject_id", sa.String(length=64), nullable=True))
    op.execute("UPDATE jobs SET subject_id = CAST(download_id AS VARCHAR(64)) WHERE download_id IS NOT NULL")
    op.execute(
        "UPDATE jobs SET subject_id = (SELECT m.id FROM media_downloads m WHERE m.job_id = jobs.id) "
        "WHERE kind = 'media'"
    )
    with op.batch_alter_table("jobs", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_index("ix_jobs_download_id")
        batch.drop_constraint("fk_jobs_download_id_downloads", type_="foreignkey")
        batch.drop_column("download_id")
        batch.create_index("ix_jobs_subject_id_kind", ["subject_id", "kind"])
    with op.batch_alter_table("media_downloads") as batch:
        batch.drop_constraint("fk_media_downloads_job_id_jobs", type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("media_downloads") as batch:
        batch.create_foreign_key("fk_media_downloads_job_id_jobs", "jobs", ["job_id"], ["id"])
    with op.batch_alter_table("jobs", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.add_column(sa.Column("download_id", sa.Integer(), nullable=True))
    # Only export jobs had a download; media jobs' subjects are UUIDs.
    op.execute(
        "UPDATE jobs SET download_id = CAST(subject_id AS INTEGER) WHERE kind IN ('export', 'export_part')"
    )
    with op.batch_alter_table("jobs", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_index("ix_jobs_subject_id_kind")
        batch.drop_column("subject_id")
        batch.create_foreign_key("fk_jobs_download_id_downloads", "downloads", ["download_id"], ["id"])
        batch.create_index("ix_jobs_download_id", ["download_id"])
