"""Building the media domain from settings (the container calls :func:`build_media`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from dlserve.clock import Clock
from dlserve.db.engine import Database
from dlserve.jobs.interfaces import Job, JobQueue
from dlserve.jobs.wakeup import WakeUp
from dlserve.jobs.worker import Handler, JobContext, UpkeepTask
from dlserve.logs import get_logger
from dlserve.media.ffmpeg import FfmpegTools, find_tools
from dlserve.media.guard import AddressPolicy, Resolver, system_resolver
from dlserve.media.interfaces import Fetcher, OnDemandFetcher
from dlserve.media.models import JOB_KIND
from dlserve.media.runner import MediaRunner, MediaRunSettings
from dlserve.media.service import MediaService
from dlserve.media.upkeep import MediaUpkeep
from dlserve.settings import Settings
from dlserve.storage.interfaces import Storage

log = get_logger("dlserve.media")
UPKEEP_EVERY_S = 30.0


@dataclass
class MediaComponents:
    service: MediaService
    queue: JobQueue
    runner: MediaRunner
    upkeep: MediaUpkeep
    policy: AddressPolicy
    wakeup: WakeUp

    def handler(self) -> Handler:
        """Media jobs: the runner settles every outcome itself (retry, fail, give back)."""

        def run(job: Job, context: JobContext) -> None:
            self.runner.run(job, context.worker_id, context.stop)

        return Handler(kinds=(JOB_KIND,), run=run)

    def upkeep_tasks(self, *, warm_up: bool) -> list[UpkeepTask]:
        tasks = [UpkeepTask("media-upkeep", self.upkeep.run_once, UPKEEP_EVERY_S)]
        if warm_up:  # once, at start: the first media job then does not wait for yt-dlp's imports
            tasks.append(UpkeepTask("media-warm-up", _warm_up, float("inf")))
        return tasks


def build_media(
    settings: Settings,
    db: Database,
    clock: Clock,
    queue: JobQueue,
    storage: Storage,
    *,
    resolver: Resolver = system_resolver,
    fetcher: Fetcher | None = None,
) -> MediaComponents:
    policy = AddressPolicy(allow_private=settings.media_allow_private, resolver=resolver)
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
            max_attempts=max(1, settings.media_max_attempts),  # media's own retry budget
        ),
        queue=queue,
        runner=runner,
        upkeep=MediaUpkeep(db, clock, queue, storage, scratch, retention),
        policy=policy,
        wakeup=wakeup,
    )


def _yt_dlp_fetcher(policy: AddressPolicy, tools: FfmpegTools | None, socket_timeout: float) -> Fetcher:
    from dlserve.media.fetcher import YtDlpFetcher

    return YtDlpFetcher(policy, tools, socket_timeout=socket_timeout)


def _warm_up() -> None:
    try:
        from dlserve.media.fetcher import warm_up

        warm_up()
    except Exception:  # only an optimisation
        log.exception("warming up yt-dlp failed")
