"""Reading downloads in one statement each: the row, its result files and the records being
written by running parts come back together, because a status poll is the hottest request the
API serves and each extra round trip to the database is most of its cost.

- one download: ``downloads LEFT JOIN download_files`` (one row per file), with the records of
  running parts as a correlated sum, evaluated only while the download is active;
- a page of an account's downloads: the same around a windowed page that also carries the
  account's total (``count(*) OVER ()``).
"""

from __future__ import annotations

import functools
import threading
from dataclasses import replace
from typing import Any

import sqlalchemy as sa

from dlserve.db.engine import Database
from dlserve.db.prepared import PreparedSelect
from dlserve.db.tables import download_files, downloads
from dlserve.downloads.models import ACTIVE_STATUSES, Download, DownloadFile
from dlserve.jobs.subqueries import running_checkpoint_total

PART_KIND = "export_part"  # one job per result file (see runner.py)
_FILE_PREFIX = "file_"
_FILE_NAMES = [column.name for column in download_files.c]
_FILE_COLUMNS = [column.label(_FILE_PREFIX + column.name) for column in download_files.c]


def _in_flight(
    dialect: str, download_id: sa.ColumnElement[Any], status: sa.ColumnElement[Any], jobs_in_sql: bool
) -> sa.Label[Any]:
    if not jobs_in_sql:  # the caller adds them (see add_in_flight)
        return sa.literal(0).label("_in_flight")
    # A running part's checkpoint ``written``: records in its file so far (reported every second).
    written = running_checkpoint_total(dialect, PART_KIND, download_id, "written")
    # Equalities rather than IN: an IN list is expanded at every execution ("post-compile").
    active = sa.or_(*(status == sa.literal(value) for value in ACTIVE_STATUSES))
    return sa.case((active, written), else_=0).label("_in_flight")


class DownloadReads:
    """The two hot reads as :class:`~dlserve.db.prepared.PreparedSelect` statements (compiled on
    first use, one per shape): a poll costs the database's time, not SQLAlchemy's."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._lock = threading.Lock()
        self._prepared: dict[tuple[str, bool, bool], PreparedSelect] = {}

    def download(self, download_id: int, account_id: int | None, *, jobs_in_sql: bool) -> Download | None:
        """The download (of ``account_id`` when given) with its files, or None. ``jobs_in_sql``:
        the job queue is the database's, so running parts' records are read in the same statement."""
        of_account = account_id is not None
        prepared = self._statement("download", of_account, jobs_in_sql)
        params = (
            {"download_id": download_id, "account_id": account_id}
            if of_account
            else {"download_id": download_id}
        )
        found = _assemble(prepared.all(params))
        return found[0] if found else None

    def page(
        self, account_id: int, limit: int, offset: int, *, jobs_in_sql: bool
    ) -> tuple[int, list[Download]]:
        """(how many downloads the account has, one page of them newest first)."""
        prepared = self._statement("page", True, jobs_in_sql)
        rows = prepared.all({"account_id": account_id, "limit": limit, "offset": offset})
        if rows:
            return int(rows[0]["_total"]), _assemble(rows)
        if offset == 0:
            return 0, []
        # Past the end the page is empty and carries no total: ask for it (the one case with two
        # statements; each is consistent on its own, which is all a count next to nothing needs).
        with self._db.read() as conn:
            total = conn.execute(
                sa.select(sa.func.count()).select_from(downloads).where(downloads.c.account_id == account_id)
            ).scalar_one()
        return int(total), []

    def _statement(self, shape: str, of_account: bool, jobs_in_sql: bool) -> PreparedSelect:
        key = (shape, of_account, jobs_in_sql)
        prepared = self._prepared.get(key)
        if prepared is None:
            dialect = self._db.engine.dialect.name
            if shape == "page":
                prepared = PreparedSelect(
                    self._db, _page_query(dialect, jobs_in_sql), ("account_id", "limit", "offset")
                )
            else:
                names = ("download_id", "account_id") if of_account else ("download_id",)
                prepared = PreparedSelect(self._db, _download_query(dialect, of_account, jobs_in_sql), names)
            with self._lock:
                self._prepared[key] = prepared
        return prepared


# The statements are built once per dialect, with bound parameters: building a SQLAlchemy
# statement costs more than SQLite takes to run this one.


@functools.cache
def _download_query(dialect: str, of_account: bool, jobs_in_sql: bool) -> sa.Select[Any]:
    query = (
        sa.select(
            downloads, _in_flight(dialect, downloads.c.id, downloads.c.status, jobs_in_sql), *_FILE_COLUMNS
        )
        .select_from(downloads.outerjoin(download_files, download_files.c.download_id == downloads.c.id))
        .where(downloads.c.id == sa.bindparam("download_id"))
        .order_by(download_files.c.part_no)
    )
    if of_account:
        query = query.where(downloads.c.account_id == sa.bindparam("account_id"))
    return query


@functools.cache
def _page_query(dialect: str, jobs_in_sql: bool) -> sa.Select[Any]:
    page = (
        sa.select(downloads, sa.func.count().over().label("_total"))
        .where(downloads.c.account_id == sa.bindparam("account_id"))
        .order_by(downloads.c.id.desc())
        .limit(sa.bindparam("limit", type_=sa.Integer))
        .offset(sa.bindparam("offset", type_=sa.Integer))
        .subquery("page")
    )
    return (
        sa.select(page, _in_flight(dialect, page.c.id, page.c.status, jobs_in_sql), *_FILE_COLUMNS)
        .select_from(page.outerjoin(download_files, download_files.c.download_id == page.c.id))
        .order_by(page.c.id.desc(), download_files.c.part_no)
    )


def _assemble(rows: list[dict[str, Any]]) -> list[Download]:
    """Downloads from joined rows (one per file, or one with NULL file columns), in row order."""
    order: list[int] = []
    heads: dict[int, dict[str, Any]] = {}
    files: dict[int, list[DownloadFile]] = {}
    for row in rows:
        download_id = row["id"]
        if download_id not in heads:
            order.append(download_id)
            heads[download_id] = row
            files[download_id] = []
        if row[_FILE_PREFIX + "id"] is not None:
            files[download_id].append(
                DownloadFile.from_row({name: row[_FILE_PREFIX + name] for name in _FILE_NAMES})
            )
    result = []
    for download_id in order:
        head = heads[download_id]
        download = Download.from_row(head, files[download_id])
        extra = int(head["_in_flight"] or 0)
        if extra and download.status.is_active:
            download = replace(download, num_downloaded=download.num_downloaded + extra)
        result.append(download)
    return result


def add_in_flight(downloads_read: list[Download], written: dict[int, int]) -> list[Download]:
    """Downloads read with ``jobs_in_sql=False``, with the records their running parts have
    written (``download id → records``, from the queue itself) added while they are active."""
    return [
        replace(d, num_downloaded=d.num_downloaded + written[d.id])
        if written.get(d.id) and d.status.is_active
        else d
        for d in downloads_read
    ]
