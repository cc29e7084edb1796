"""Wiring: builds the services from settings once, for the app, the CLI and the workers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial

import anyio.to_thread

from dlserve.accounts.login_gate import LoginGate
from dlserve.accounts.services import Account, AccountService
from dlserve.accounts.throttle import LoginThrottle, ThrottlePolicy
from dlserve.accounts.token_cache import TokenCache
from dlserve.catalog.services import CatalogService
from dlserve.clock import Clock, SystemClock
from dlserve.db.engine import Database
from dlserve.downloads.change_feed import local_and_published
from dlserve.downloads.changes import DownloadChanges
from dlserve.downloads.handlers import export_handler, export_upkeep
from dlserve.downloads.janitor import Janitor
from dlserve.downloads.runner import ExportRunner, ExportSettings
from dlserve.downloads.services import EXPORT_KINDS, DownloadService
from dlserve.jobs.interfaces import JobQueue
from dlserve.jobs.queue import SqlJobQueue
from dlserve.jobs.worker import WorkerRuntime
from dlserve.limits.admission import AdmissionLimits, QueryAdmission
from dlserve.limits.query_cost import QueryCostLimits
from dlserve.media.guard import AddressPolicy
from dlserve.media.models import JOB_KIND as MEDIA_KIND
from dlserve.media.wiring import MediaComponents, build_media
from dlserve.records.snapshots import RemoteSnapshots, SnapshotCatalog
from dlserve.records.store import RecordStore
from dlserve.schedules.handlers import schedule_upkeep
from dlserve.schedules.services import ScheduleLimits, ScheduleService
from dlserve.schedules.ticker import ScheduleTicker
from dlserve.search.service import RecordSearch
from dlserve.settings import Settings
from dlserve.storage.factory import s3_storage_from_url, storage_from_url
from dlserve.storage.interfaces import Storage
from dlserve.storage.links import LinkSigner
from dlserve.storage.snapshot_cache import SnapshotCache
from dlserve.webhooks.models import JOB_KIND as WEBHOOK_KIND
from dlserve.webhooks.urls import checked_webhook_url
from dlserve.webhooks.wiring import WebhookComponents, build_webhooks, payload_renderer


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
    webhooks: WebhookComponents
    # Hot paths (issue 13): verified tokens, and "download N changed" for long polls.
    token_cache: TokenCache[Account]
    changes: DownloadChanges
    # Hardening (issue 12): login throttling and hashing pool, query cost limits and admission.
    logins: LoginGate
    # Scheduled downloads (issue 15): the API's service and the tick the workers run.
    schedules: ScheduleService
    ticker: ScheduleTicker
    query_limits: QueryCostLimits = field(default_factory=QueryCostLimits)
    admission: QueryAdmission = field(default_factory=lambda: QueryAdmission(AdmissionLimits()))

    def authenticate(self, token: str) -> Account:
        """The token's account, trusting a verification made here in the last few seconds."""
        return self.token_cache.lookup(token, self.accounts.authenticate)

    async def authenticate_async(self, token: str) -> Account:
        """``authenticate`` for async routes: a cached token costs no thread, a miss one briefly."""
        account = self.token_cache.peek(token)
        if account is None:
            account = await anyio.to_thread.run_sync(self.accounts.authenticate, token)
            self.token_cache.remember(token, account)
        return account

    def revoke_token(self, token: str) -> bool:
        """Revoke a token; at once in this process, within the cache's bound in the others."""
        return self.accounts.revoke_token(token)  # the revocation listener forgets it here

    def worker_runtime(
        self, export_threads: int, media_threads: int, webhook_threads: int | None = None
    ) -> WorkerRuntime:
        """This process's one worker runtime: every domain's handlers and upkeep registered, and
        threads for each kind of work (none at all: no upkeep either). Webhook threads default to
        DLSERVE_WEBHOOK_WORKERS in a process that runs export or media threads, else none."""
        if webhook_threads is None:
            webhook_threads = self.settings.webhook_workers if export_threads + media_threads > 0 else 0
        runtime = WorkerRuntime(self.queue, wakeup=self.media.wakeup)
        runtime.register(export_handler(self.runner, self.janitor))
        runtime.register(self.media.handler())
        runtime.register(self.webhooks.handler())
        runtime.add_upkeep(export_upkeep(self.janitor))
        runtime.add_upkeep(schedule_upkeep(self.ticker, self.settings.schedule_tick_seconds))
        for task in self.media.upkeep_tasks(warm_up=media_threads > 0):
            runtime.add_upkeep(task)
        runtime.add_upkeep(self.webhooks.upkeep_task())
        runtime.add_threads("export", export_threads, EXPORT_KINDS)
        runtime.add_threads("media", media_threads, (MEDIA_KIND,))
        runtime.add_threads("webhook", webhook_threads, (WEBHOOK_KIND,))
        return runtime

    def close(self) -> None:
        self.admission.close()
        self.logins.close()
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
    # The services' clock, so a token past its expiry is re-verified (within the cache bound).
    token_cache: TokenCache[Account] = TokenCache(
        settings.token_cache_seconds, clock=lambda: clock.now().timestamp()
    )
    accounts.add_revocation_listener(token_cache.forget_digests)  # at once in this process
    snapshots = SnapshotCatalog(db, settings.snapshots_dir(), clock, remote_snapshots(settings))
    store = RecordStore(snapshots, query_timeout=settings.query_timeout_seconds or None)
    catalog = CatalogService(
        store,
        accounts,
        preview_max=settings.preview_max_records,
        page_max=settings.paginate_max_limit,
        search=RecordSearch(
            store,
            snapshots,
            use_index=settings.search_index,
            max_expansions=settings.query_max_expansions,
        ),
    )
    storage = storage_from_url(settings.storage_url, settings.files_dir(), settings)
    queue = SqlJobQueue(
        db, clock, lease_seconds=settings.job_lease_seconds, max_attempts=settings.job_max_attempts
    )
    changes = DownloadChanges()
    # On PostgreSQL a change also wakes the long polls of the other processes (LISTEN/NOTIFY).
    on_change = local_and_published(db, changes) if db.is_postgres else changes.notify
    webhook_policy = AddressPolicy(allow_private=settings.media_allow_private)  # media's SSRF guard
    downloads = DownloadService(
        db,
        clock,
        accounts,
        store,
        queue,
        max_active=settings.max_active_downloads,
        on_change=on_change,
        check_webhook_url=partial(checked_webhook_url, webhook_policy),
    )
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
        on_change=on_change,
    )
    query_limits = QueryCostLimits(settings.query_max_length, settings.query_max_clauses)
    link_signer = LinkSigner(settings.resolved_secret_key())
    janitor = Janitor(db, clock, queue, storage)
    media = build_media(settings, db, clock, queue, storage)
    webhooks = build_webhooks(
        settings,
        db,
        clock,
        queue,
        payload_renderer(
            clock, downloads, media.service, storage, link_signer, settings.resolved_public_url()
        ),
        webhook_policy,
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
        link_signer=link_signer,
        queue=queue,
        downloads=downloads,
        runner=runner,
        janitor=janitor,
        media=media,
        webhooks=webhooks,
        token_cache=token_cache,
        changes=changes,
        logins=LoginGate(
            accounts,
            LoginThrottle(
                db,
                clock,
                ThrottlePolicy(
                    settings.login_free_attempts,
                    settings.login_backoff_seconds,
                    settings.login_backoff_max_seconds,
                    settings.login_address_free_attempts,
                ),
            ),
            settings.password_hash_concurrency,
        ),
        schedules=ScheduleService(
            db,
            clock,
            ScheduleLimits(settings.schedule_min_period_seconds, settings.max_schedules),
            query_limits,
            check_webhook_url=partial(checked_webhook_url, webhook_policy),
        ),
        ticker=ScheduleTicker(db, clock, accounts, downloads, query_limits=query_limits),
        query_limits=query_limits,
        admission=QueryAdmission(
            AdmissionLimits(
                settings.query_rate_per_minute, settings.query_concurrency_per_account, settings.query_threads
            )
        ),
    )
