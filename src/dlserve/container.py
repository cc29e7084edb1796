"""Wiring: builds the services from settings once, for the app, the CLI and the workers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from dlserve.accounts.services import AccountService
from dlserve.catalog.services import CatalogService
from dlserve.clock import Clock, SystemClock
from dlserve.db.engine import Database
from dlserve.downloads.handlers import export_handler, export_upkeep
from dlserve.downloads.janitor import Janitor
from dlserve.downloads.runner import ExportRunner, ExportSettings
from dlserve.downloads.services import EXPORT_KINDS, DownloadService
from dlserve.jobs.interfaces import JobQueue
from dlserve.jobs.queue import SqlJobQueue
from dlserve.jobs.worker import WorkerRuntime
from dlserve.media.models import JOB_KIND as MEDIA_KIND
from dlserve.media.wiring import MediaComponents, build_media
from dlserve.records.snapshots import RemoteSnapshots, SnapshotCatalog
from dlserve.records.store import RecordStore
from dlserve.settings import Settings
from dlserve.storage.factory import s3_storage_from_url, storage_from_url
from dlserve.storage.interfaces import Storage
from dlserve.storage.links import LinkSigner
from dlserve.storage.snapshot_cache import SnapshotCache


@dataclass
class Services:
    settings: Settings
    clock: Clock
    db: Database
    accounts: AccountService
    snapshots: SnapshotCatalog
    store: RecordStore
    catalog: CatalogService
    storage: Storage
    link_signer: LinkSigner
    queue: JobQueue
    downloads: DownloadService
    runner: ExportRunner
    janitor: Janitor
    media: MediaComponents

    def worker_runtime(self, export_threads: int, media_threads: int) -> WorkerRuntime:
        """This process's one worker runtime: every domain's handlers and upkeep registered, and
        threads for each kind of work (none at all: no upkeep either)."""
        runtime = WorkerRuntime(self.queue)
        runtime.register(export_handler(self.runner, self.janitor))
        runtime.register(self.media.handler())
        runtime.add_upkeep(export_upkeep(self.janitor))
        for task in self.media.upkeep_tasks(warm_up=media_threads > 0):
            runtime.add_upkeep(task)
        runtime.add_threads("export", export_threads, EXPORT_KINDS)
        runtime.add_threads("media", media_threads, (MEDIA_KIND,))
        return runtime

    def close(self) -> None:
        self.runner.close()
        self.store.close()
        self.db.dispose()


def remote_snapshots(settings: Settings) -> RemoteSnapshots | None:
    """With S3 result storage, record snapshots live in the same bucket and each machine reads
    them through a local cache (downloaded once per snapshot version, evicted by size)."""
    if not (settings.storage_url or "").startswith("s3://"):
        return None
    url = (settings.storage_url or "").rstrip("/")
    return RemoteSnapshots(
        storage=s3_storage_from_url(url, settings),
        url=url,
        cache=SnapshotCache(
            settings.data_dir / "snapshot-cache",
            settings.snapshot_cache_bytes,
            lambda location: s3_storage_from_url(location, settings),
        ),
    )


def build_services(settings: Settings, clock: Clock | None = None) -> Services:
    clock = clock or SystemClock()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url())
    accounts = AccountService(
        db, clock, token_ttl=timedelta(days=settings.token_ttl_days) if settings.token_ttl_days else None
    )
    snapshots = SnapshotCatalog(db, settings.snapshots_dir(), clock, remote_snapshots(settings))
    store = RecordStore(snapshots)
    catalog = CatalogService(
        store, accounts, preview_max=settings.preview_max_records, page_max=settings.paginate_max_limit
    )
    storage = storage_from_url(settings.storage_url, settings.files_dir(), settings)
    queue = SqlJobQueue(
        db, clock, lease_seconds=settings.job_lease_seconds, max_attempts=settings.job_max_attempts
    )
    downloads = DownloadService(db, clock, accounts, store, queue, max_active=settings.max_active_downloads)
    runner = ExportRunner(
        db,
        clock,
        queue,
        accounts,
        snapshots,
        storage,
        ExportSettings(
            records_per_file=settings.records_per_file,
            link_ttl=timedelta(seconds=settings.link_ttl_seconds),
            scratch_dir=settings.data_dir / "tmp",
        ),
    )
    return Services(
        settings=settings,
        clock=clock,
        db=db,
        accounts=accounts,
        snapshots=snapshots,
        store=store,
        catalog=catalog,
        storage=storage,
        link_signer=LinkSigner(settings.resolved_secret_key()),
        queue=queue,
        downloads=downloads,
        runner=runner,
        janitor=Janitor(db, clock, queue, storage),
        media=build_media(settings, db, clock, queue, storage),
    )
