"""Building the media domain from settings (the container calls :func:`build_media`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from dlserve.clock import Clock
from dlserve.db.engine import Database
from dlserve.jobs.queue import JobQueue
from dlserve.media.ffmpeg import FfmpegTools, find_tools
from dlserve.media.guard import AddressPolicy, Resolver, system_resolver
from dlserve.media.interfaces import Fetcher, OnDemandFetcher
from dlserve.media.runner import MediaRunner, MediaRunSettings
from dlserve.media.service import MediaService
from dlserve.media.upkeep import MediaUpkeep
from dlserve.media.wakeup import WakeUp
from dlserve.media.worker import MediaWorkerPool
from dlserve.settings import Settings
from dlserve.storage.interfaces import Storage


@dataclass
class MediaComponents:
    service: MediaService
    queue: JobQueue
    runner: MediaRunner
    upkeep: MediaUpkeep
    policy: AddressPolicy
    wakeup: WakeUp

    def worker_pool(self, threads: int) -> MediaWorkerPool:
        return MediaWorkerPool(self.queue, self.runner, self.upkeep, threads, self.wakeup)


def build_media(
    settings: Settings,
    db: Database,
    clock: Clock,
    storage: Storage,
    *,
    resolver: Resolver = system_resolver,
    fetcher: Fetcher | None = None,
) -> MediaComponents:
    policy = AddressPolicy(allow_private=settings.media_allow_private, resolver=resolver)
    # Its own queue object (same table) for the media retry budget; jobs are told apart by kind.
    queue = JobQueue(
        db, clock, lease_seconds=settings.job_lease_seconds, max_attempts=max(1, settings.media_max_attempts)
    )
    tools = find_tools(settings.media_ffmpeg)
    scratch = settings.data_dir / "tmp" / "media"
    runner = MediaRunner(
        db,
        clock,
        queue,
        storage,
        fetcher or OnDemandFetcher(lambda: _yt_dlp_fetcher(policy, tools, settings.media_socket_timeout)),
        MediaRunSettings(
            scratch_dir=scratch,
            max_bytes=settings.media_max_bytes or None,
            tools=tools,
            quota_bytes=settings.media_quota_bytes or None,
        ),
    )
    retention = (
        timedelta(hours=settings.media_retention_hours) if settings.media_retention_hours > 0 else None
    )
    wakeup = WakeUp()
    return MediaComponents(
        service=MediaService(
            db,
            clock,
            queue,
            storage,
            policy,
            max_active_per_caller=settings.media_max_active,
            wakeup=wakeup,
            quota_bytes=settings.media_quota_bytes or None,
        ),
        queue=queue,
        runner=runner,
        upkeep=MediaUpkeep(db, clock, storage, scratch, retention),
        policy=policy,
        wakeup=wakeup,
    )


def _yt_dlp_fetcher(policy: AddressPolicy, tools: FfmpegTools | None, socket_timeout: float) -> Fetcher:
    from dlserve.media.fetcher import YtDlpFetcher

    return YtDlpFetcher(policy, tools, socket_timeout=socket_timeout)
