"""Creating, reading, listing and cancelling downloads. Exports themselves run in :mod:`runner`.

Every read is scoped to the account: another account's download is simply not found (404),
never "forbidden", so ids reveal nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sqlalchemy as sa

from dlserve.accounts.services import Account, AccountService
from dlserve.catalog.services import PreparedQuery
from dlserve.clock import Clock
from dlserve.db.engine import Database
from dlserve.db.tables import download_files, downloads
from dlserve.downloads.models import ACTIVE_STATUSES, DELETED_PART_NO, Download, DownloadStatus
from dlserve.downloads.reads import PART_KIND, DownloadReads, add_in_flight
from dlserve.downloads.settled import SettledDownloads
from dlserve.errors import Conflict, ErrorDetail, Gone, Invalid, NotFound, TooManyRequests
from dlserve.jobs.interfaces import JobQueue
from dlserve.records.delta import DeltaCounts
from dlserve.records.snapshots import Snapshot
from dlserve.records.store import RecordStore
from dlserve.storage.interfaces import ResolvedFile
from dlserve.webhooks.events import download_ended_in

COMPRESSIONS = (None, "gzip")
PLAN_KIND = "export"  # a download's first job: cuts it into parts (see runner.py)
# PART_KIND (one job per result file) lives in reads.py, whose queries count running parts.
EXPORT_KINDS = (PLAN_KIND, PART_KIND)  # a download's jobs: its subject id is the download's id
__all__ = ["EXPORT_KINDS", "PART_KIND", "PLAN_KIND", "DownloadService"]


class DownloadService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        accounts: AccountService,
        store: RecordStore,
        queue: JobQueue,
        *,
        max_active: int,
        on_change: Callable[[int], None] | None = None,
        check_webhook_url: Callable[[str | None], str | None] | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._accounts = accounts
        self._store = store
        self._queue = queue
        self._max_active = max_active
        self._reads = DownloadReads(db)
        self._settled = SettledDownloads(clock)
        # Called with a download's id after a change commits (wakes this process's long polls).
        self._on_change = on_change or (lambda _download_id: None)
        # Validates a webhook URL (the SSRF guard, dlserve.webhooks.urls); returns what to store.
        self._check_webhook_url = check_webhook_url or (lambda url: url.strip() if url else None)

    def create(
        self,
        account: Account,
        prepared: PreparedQuery,
        num_records: int | None,
        *,
        compress: str | None = None,
        api_version: str = "v4",
        webhook_url: str | None = None,
        since: int | None = None,
        on_created_in: Callable[[sa.Connection, int], None] | None = None,
    ) -> Download:
        """Queue an export of the query's matches (all of them when ``num_records`` is None).

        ``webhook_url``: POSTed the download when it ends (completed, failed or cancelled).

        With ``since`` (the id of a completed download of the account, same data type): a delta
        download, of the matches added or changed since that download's snapshot, with the ids
        deleted since in a separate file (see dlserve.records.delta). It delivers every change:
        ``num_records`` cannot cap it, or the next delta would miss what was left out.

        ``on_created_in(conn, download_id)`` runs inside the transaction that creates the download,
        so the caller's own rows commit with it (a schedule's run); raising there un-creates it.
        """
        if since is not None and num_records is not None:
            raise Invalid(
                "A delta download (since) delivers every change and takes no num_records",
                [ErrorDetail("num_records", "leave num_records out when since is given")],
            )
        if num_records is not None and num_records < 1:
            raise Invalid(
                "A download needs at least one record",
                [ErrorDetail("num_records", "num_records must be 1 or more, or left out for every match")],
            )
        if compress not in COMPRESSIONS:
            raise Invalid(
                f"Unknown compression '{compress}'", [ErrorDetail("compress", 'use "gzip" or leave it out')]
            )
        webhook_url = self._check_webhook_url(webhook_url)
        snapshot = self._store.snapshot(prepared.schema.name)
        num_found = self._store.count(snapshot, prepared.compiled)
        to_deliver = num_found if num_records is None else min(num_records, num_found)
        changes: DeltaCounts | None = None
        if since is not None:
            changes = self._store.delta_counts(
                snapshot, self._delta_base(account, prepared, since), prepared.compiled
            )
            to_deliver = changes.delivered
        now = self._clock.now()
        with self._db.write() as conn:
            # The account lock first: concurrent creations then see each other's downloads and holds.
            self._accounts.lock_account_in(conn, account.id)
            active = conn.execute(
                sa.select(sa.func.count())
                .select_from(downloads)
                .where(downloads.c.account_id == account.id, downloads.c.status.in_(ACTIVE_STATUSES))
            ).scalar_one()
            if active >= self._max_active:
                raise TooManyRequests(
                    f"This account already has {active} active downloads (the limit is {self._max_active}); "
                    "wait for one to finish or cancel one"
                )
            # Checked before the insert too, so a refused download takes no id (PostgreSQL sequences
            # do not roll back).
            self._accounts.check_available_in(conn, account.id, to_deliver)
            # An empty download is queued like any other (its plan job completes it), so it counts
            # toward the active limit while it waits instead of being free and unbounded.
            download_id = conn.execute(
                downloads.insert()
                .values(
                    account_id=account.id,
                    data_type=prepared.schema.name,
                    query=prepared.query_text,
                    view=prepared.stored_view,
                    format=prepared.format.value,
                    compress=compress,
                    num_requested=num_records,
                    num_found=num_found,
                    num_records=to_deliver,
                    num_downloaded=0,
                    status=DownloadStatus.QUEUED.value,
                    snapshot_id=snapshot.id,
                    api_version=api_version,
                    webhook_url=webhook_url,
                    since=since,
                    num_added=changes.added if changes else None,
                    num_changed=changes.changed if changes else None,
                    num_deleted=changes.deleted if changes else None,
                    created_at=now,
                    updated_at=now,
                )
                .returning(downloads.c.id)
            ).scalar_one()
            # Reserve the credits in the same transaction: a 402 here un-queues the download.
            self._accounts.hold_in(conn, account.id, int(download_id), to_deliver)
            self._queue.enqueue_in(conn, PLAN_KIND, str(download_id))
            if on_created_in is not None:
                on_created_in(conn, int(download_id))
        return self.get(account, int(download_id))

    def delta_count(self, account: Account, prepared: PreparedQuery, since: int) -> tuple[int, DeltaCounts]:
        """(the query's matches now, how they changed since download ``since``): what a delta
        download would deliver and cost, free of charge, like a count."""
        snapshot = self._store.snapshot(prepared.schema.name)
        base = self._delta_base(account, prepared, since)
        return self._store.count(snapshot, prepared.compiled), self._store.delta_counts(
            snapshot, base, prepared.compiled
        )

    def _delta_base(self, account: Account, prepared: PreparedQuery, since: int) -> Snapshot:
        """The snapshot download ``since`` was made from, once it is shown to be a sound base: the
        account's own, same data type, completed with every match delivered."""
        base = self._read(since, account.id)
        if base is None:
            raise NotFound(f"Download {since} was not found", [ErrorDetail("since", "no such download")])
        data_type = prepared.schema.name
        if base.data_type != data_type:
            message = f"Download {since} is a {base.data_type} download, not a {data_type} one"
            raise Invalid(message, [ErrorDetail("since", message)])
        if base.status is not DownloadStatus.COMPLETED:
            message = f"Download {since} is {base.status.value}; a delta needs a completed download"
            raise Invalid(message, [ErrorDetail("since", message)])
        if base.num_requested is not None and base.num_requested < (base.num_found or 0):
            message = (
                f"Download {since} delivered {base.num_records} of its {base.num_found} matches; a delta "
                "needs a download of every match"
            )
            raise Invalid(message, [ErrorDetail("since", message)])
        gone = f"The data download {since} was made from is no longer kept; download everything again"
        if base.snapshot_id is None:
            raise Gone(gone, [ErrorDetail("since", gone)])
        try:
            return self._store.catalog.get(base.snapshot_id)
        except NotFound:
            raise Gone(gone, [ErrorDetail("since", gone)]) from None

    def get(self, account: Account, download_id: int) -> Download:
        """The account's download (one query: row, files and in-flight records together; none
        for a settled download read before, see :mod:`dlserve.downloads.settled`)."""
        download = self.settled(account, download_id)
        if download is None:
            download = self._read(download_id, account.id)
        if download is None:
            raise NotFound(f"Download {download_id} was not found")
        return download

    def settled(self, account: Account, download_id: int) -> Download | None:
        """The account's download when it is settled and known here: no I/O (callers on an event
        loop try this first). ``NotFound`` for another account's; None when it must be read."""
        download = self._settled.get(download_id)
        if download is not None and download.account_id != account.id:
            raise NotFound(f"Download {download_id} was not found")
        return download

    def find(self, download_id: int) -> Download | None:
        return self._read(download_id, None)

    def list(self, account: Account, *, limit: int = 100, offset: int = 0) -> tuple[int, list[Download]]:
        """(how many the account has, one page of them newest first), in one query."""
        in_sql = self._queue.in_database
        total, page = self._reads.page(account.id, limit, offset, jobs_in_sql=in_sql)
        if not in_sql:
            page = add_in_flight(page, self._written_by_running_parts(page))
        return total, page

    def _read(self, download_id: int, account_id: int | None) -> Download | None:
        in_sql = self._queue.in_database
        download = self._reads.download(download_id, account_id, jobs_in_sql=in_sql)
        if download is not None and not in_sql:
            download = add_in_flight([download], self._written_by_running_parts([download]))[0]
        if download is not None:
            self._settled.remember(download)
        return download

    def _written_by_running_parts(self, among: Sequence[Download]) -> dict[int, int]:
        """For a queue outside the database: records its running parts report, by download."""
        written: dict[int, int] = {}
        subjects = [str(d.id) for d in among if d.status.is_active]
        if not subjects:
            return written
        with self._db.read() as conn:
            running = self._queue.running_checkpoints_in(conn, PART_KIND, subjects)
        for subject_id, state in running:
            written[int(subject_id)] = written.get(int(subject_id), 0) + int(state.get("written", 0))
        return written

    def cancel(self, account: Account, download_id: int) -> Download:
        """Stop the download; files finished before now stay, are listed and were charged.

        A running export checks the status before it commits each file, so nothing is added after
        this returns, and the part it was writing is thrown away.
        """
        now = self._clock.now()
        with self._db.write() as conn:
            row = conn.execute(
                sa.select(downloads.c.account_id, downloads.c.status).where(downloads.c.id == download_id)
            ).first()
            if row is None or row.account_id != account.id:
                raise NotFound(f"Download {download_id} was not found")
            if row.status not in ACTIVE_STATUSES:
                raise Conflict(f"Download {download_id} is already {row.status} and cannot be cancelled")
            delivered = conn.execute(
                sa.select(sa.func.coalesce(sa.func.sum(download_files.c.records), 0)).where(
                    download_files.c.download_id == download_id,
                    download_files.c.part_no != DELETED_PART_NO,
                )
            ).scalar_one()
            cancelled = conn.execute(
                downloads.update()
                .where(downloads.c.id == download_id, downloads.c.status.in_(ACTIVE_STATUSES))
                .values(
                    status=DownloadStatus.CANCELLED.value,
                    cancel_requested=True,
                    num_downloaded=int(delivered),
                    updated_at=now,
                    completed_at=now,
                )
            ).rowcount
            if cancelled != 1:  # it ended between the read and the update (PostgreSQL)
                raise Conflict(f"Download {download_id} is no longer active and cannot be cancelled")
            self._queue.withdraw_in(conn, EXPORT_KINDS, str(download_id))
            download_ended_in(conn, self._queue, self._clock, download_id)  # its webhook, if any
            self._accounts.release_hold_in(conn, download_id)
        self._on_change(download_id)
        return self.get(account, download_id)

    def resolve_file(self, download_id: str, name: str) -> ResolvedFile | None:
        """For the file route: the signed link already proved who may read it."""
        # ASCII digits only ("²".isdigit() is true), within a 64-bit id.
        if not (download_id.isascii() and download_id.isdigit()) or len(download_id) > 18:
            return None
        with self._db.read() as conn:
            row = (
                conn.execute(
                    sa.select(download_files).where(
                        download_files.c.download_id == int(download_id), download_files.c.name == name
                    )
                )
                .mappings()
                .first()
            )
        if row is None or row["deleted_at"] is not None:
            return None
        return ResolvedFile(storage_key=row["storage_key"], filename=row["name"], size=row["bytes"])
