"""SQL fragments over the jobs table for statements that live elsewhere.

A status poll is the hottest request the API serves, so :mod:`dlserve.downloads.reads` answers it
in one statement, which must include what running jobs have checkpointed. Rather than letting
another domain read the ``jobs`` table, the queue's owner builds that part of the statement here.
(With the in-memory queue of the unit tests there are no rows to find: such totals read 0.)
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from dlserve.db.tables import jobs
from dlserve.jobs.interfaces import JobStatus


def running_checkpoint_total(
    dialect: str, kind: str, subject_id: sa.ColumnElement[Any], key: str
) -> sa.ScalarSelect[Any]:
    """A scalar subquery: the sum of ``checkpoint[key]`` over the running jobs of ``kind`` whose
    subject is ``subject_id`` (an integer column is compared as text, as subjects are stored)."""
    if not key.isidentifier():
        raise ValueError(f"not a plain checkpoint key: {key!r}")
    if dialect == "postgresql":
        value: sa.ColumnElement[Any] = sa.cast(
            sa.cast(jobs.c.checkpoint, postgresql.JSONB)[key].astext, sa.BigInteger
        )
    else:
        value = sa.func.json_extract(jobs.c.checkpoint, f"$.{key}")
    return (
        sa.select(sa.func.coalesce(sa.func.sum(value), 0))
        .where(
            jobs.c.subject_id == sa.cast(subject_id, sa.String),
            jobs.c.kind == kind,
            jobs.c.status == JobStatus.RUNNING.value,
        )
        .scalar_subquery()
    )
