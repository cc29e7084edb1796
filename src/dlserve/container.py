"""Wiring: builds the services from settings once, for the app, the CLI and the workers."""

from __future__ import annotations

from dataclasses import dataclass

from dlserve.accounts.services import AccountService
from dlserve.catalog.services import CatalogService
from dlserve.clock import Clock, SystemClock
from dlserve.db.engine import Database
from dlserve.records.snapshots import SnapshotCatalog
from dlserve.records.store import RecordStore
from dlserve.settings import Settings


@dataclass
class Services:
    settings: Settings
    clock: Clock
    db: Database
    accounts: AccountService
    snapshots: SnapshotCatalog
    store: RecordStore
    catalog: CatalogService

    def close(self) -> None:
        self.store.close()
        self.db.dispose()


def build_services(settings: Settings, clock: Clock | None = None) -> Services:
    clock = clock or SystemClock()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url())
    accounts = AccountService(db, clock)
    snapshots = SnapshotCatalog(db, settings.snapshots_dir(), clock)
    store = RecordStore(snapshots)
    catalog = CatalogService(
        store, accounts, preview_max=settings.preview_max_records, page_max=settings.paginate_max_limit
    )
    return Services(settings, clock, db, accounts, snapshots, store, catalog)
