"""Media storage quota: how many bytes of media files one caller may keep.

Every account has ``media_quota_bytes`` (anonymous callers share one quota). What counts is the
size of its completed files plus what its running downloads have fetched so far. When the quota is
used up a new request is refused with ``413`` (the media envelope); a running download may fetch at
most what is left (and never more than ``media_max_bytes``), else it fails with a clear message.
Files leave the quota when they are removed or expire (``media_retention_hours``, 24 h by default).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import ColumnElement, Connection

from dlserve.db.tables import media_downloads
from dlserve.errors import DlserveError
from dlserve.media.models import MediaStatus


class QuotaExceeded(DlserveError):
    status_code = 413
    title = "Content Too Large"


def used_bytes_in(conn: Connection, account_id: int | None, *, excluding: str | None = None) -> int:
    """Bytes the caller's files hold, plus the bytes its running downloads have fetched so far."""
    size = sa.case(
        (
            media_downloads.c.status == MediaStatus.COMPLETED.value,
            sa.func.coalesce(media_downloads.c.file_bytes, 0),
        ),
        (media_downloads.c.status == MediaStatus.DOWNLOADING.value, media_downloads.c.downloaded_bytes),
        else_=0,
    )
    query = sa.select(sa.func.coalesce(sa.func.sum(size), 0)).where(_owned_by(account_id))
    if excluding is not None:
        query = query.where(media_downloads.c.id != excluding)
    return int(conn.execute(query).scalar_one())


def check_quota_in(conn: Connection, account_id: int | None, quota_bytes: int | None) -> None:
    """Refuse a new request when the caller's quota is used up (``QuotaExceeded``, 413)."""
    if not quota_bytes:
        return
    used = used_bytes_in(conn, account_id)
    if used >= quota_bytes:
        raise QuotaExceeded(
            f"Media storage quota used up: {used:,} of {quota_bytes:,} bytes (media_quota_bytes); "
            "remove downloads or wait for them to expire"
        )


def byte_limit_in(
    conn: Connection, account_id: int | None, download_id: str, quota_bytes: int | None, max_bytes: int | None
) -> int | None:
    """The most one download may fetch: ``max_bytes``, lowered to what is left of the quota."""
    if not quota_bytes:
        return max_bytes
    left = max(0, quota_bytes - used_bytes_in(conn, account_id, excluding=download_id))
    return left if max_bytes is None else min(left, max_bytes)


def _owned_by(account_id: int | None) -> ColumnElement[bool]:
    if account_id is None:
        return media_downloads.c.account_id.is_(None)
    return media_downloads.c.account_id == account_id
