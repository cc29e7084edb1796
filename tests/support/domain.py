"""The export domain on an in-memory job queue: unit tests of its state machines.

The domain's own tables live in a SQLite file (they are the state the runner moves); the ``jobs``
table is *not* created at all, which also proves that nothing outside ``dlserve.jobs`` needs it.
Time is a :class:`FrozenClock` the test moves.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from dlserve.accounts.services import Account, AccountService
from dlserve.catalog.services import prepare
from dlserve.clock import FrozenClock
from dlserve.db.engine import Database
from dlserve.db.tables import metadata
from dlserve.downloads.janitor import Janitor
from dlserve.downloads.models import Download
from dlserve.downloads.runner import ExportRunner, ExportSettings
from dlserve.downloads.services import DownloadService
from dlserve.jobs.memory import InMemoryJobQueue
from dlserve.records.loader import load_files
from dlserve.records.snapshots import SnapshotCatalog
from dlserve.records.store import RecordStore
from dlserve.storage.local import LocalStorage

LEASE_S = 30.0


def database_without_jobs(path: Path) -> Database:
    """Every table but ``jobs`` (which belongs to the SQL queue), in a fresh SQLite file."""
    db = Database(f"sqlite:///{path}")
    metadata.create_all(db.engine, tables=[t for t in metadata.sorted_tables if t.name != "jobs"])
    return db


@dataclass
class ExportDomain:
    db: Database
    clock: FrozenClock
    queue: InMemoryJobQueue
    accounts: AccountService
    downloads: DownloadService
    runner: ExportRunner
    janitor: Janitor
    storage: LocalStorage

    def account(self, credits: int = 1000) -> Account:
        created = self.accounts.create_account(
            f"user{self.clock.now().timestamp()}@example.com", credits=credits
        )
        return self.accounts.get_account(created.id)

    def account_of(self, download: Download) -> Account:
        return self.accounts.get_account(download.account_id)

    def create(self, account: Account, query: str = "*", num_records: int | None = None) -> Download:
        return self.downloads.create(account, prepare("businesses", query, None, "json"), num_records)


@contextmanager
def export_domain(
    tmp_path: Path, records: Sequence[Mapping[str, object]], *, records_per_file: int
) -> Iterator[ExportDomain]:
    clock = FrozenClock()
    db = database_without_jobs(tmp_path / "domain.db")
    queue = InMemoryJobQueue(clock, lease_seconds=LEASE_S, max_attempts=2)
    accounts = AccountService(db, clock)
    snapshots = SnapshotCatalog(db, tmp_path / "snapshots", clock)
    store = RecordStore(snapshots)
    storage = LocalStorage(tmp_path / "files")
    source = tmp_path / "businesses.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    load_files(snapshots, "businesses", [source])
    runner = ExportRunner(
        db,
        clock,
        queue,
        accounts,
        snapshots,
        storage,
        ExportSettings(
            records_per_file=records_per_file, link_ttl=timedelta(hours=1), scratch_dir=tmp_path / "tmp"
        ),
    )
    try:
        yield ExportDomain(
            db=db,
            clock=clock,
            queue=queue,
            accounts=accounts,
            downloads=DownloadService(db, clock, accounts, store, queue, max_active=5),
            runner=runner,
            janitor=Janitor(db, clock, queue, storage),
            storage=storage,
        )
    finally:
        runner.close()
        store.close()
        db.dispose()
