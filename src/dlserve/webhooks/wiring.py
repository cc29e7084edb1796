"""Building the webhooks domain (the container calls :func:`build_webhooks`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import orjson

from dlserve.api.bodies import download_json, file_link, media_json
from dlserve.clock import Clock
from dlserve.db.engine import Database
from dlserve.downloads.services import DownloadService
from dlserve.jobs.interfaces import Job, JobQueue
from dlserve.jobs.worker import Handler, JobContext, UpkeepTask
from dlserve.media.guard import AddressPolicy
from dlserve.media.service import MediaService
from dlserve.settings import Settings
from dlserve.storage.interfaces import Storage
from dlserve.storage.links import LinkSigner
from dlserve.webhooks.account_secret import WebhookSecrets
from dlserve.webhooks.delivery import DeliverySettings, PayloadRenderer, WebhookDeliverer
from dlserve.webhooks.models import JOB_KIND, RetrySchedule, SubjectType
from dlserve.webhooks.service import WebhookService
from dlserve.webhooks.transport import Poster, guarded_poster

UPKEEP_EVERY_S = 30.0


@dataclass
class WebhookComponents:
    service: WebhookService
    deliverer: WebhookDeliverer

    def handler(self) -> Handler:
        def run(job: Job, context: JobContext) -> None:
            self.deliverer.run(job, context.worker_id, context.stop)

        return Handler(kinds=(JOB_KIND,), run=run, on_dead=self.deliverer.fail_job)

    def upkeep_task(self) -> UpkeepTask:
        return UpkeepTask("webhook-upkeep", self.deliverer.reap_dead_jobs, UPKEEP_EVERY_S)


def schedule_from(settings: Settings) -> RetrySchedule:
    return RetrySchedule(
        base=timedelta(seconds=settings.webhook_retry_base_seconds),
        max_delay=timedelta(seconds=settings.webhook_retry_max_seconds),
        retry_for=timedelta(seconds=settings.webhook_retry_for_seconds),
    )


def payload_renderer(
    clock: Clock,
    downloads: DownloadService,
    media: MediaService,
    storage: Storage,
    signer: LinkSigner,
    base_url: str,
) -> PayloadRenderer:
    """The body of ``GET /v4/downloads/{id}`` (links on the public URL) or of a media download."""
    link = file_link(storage, signer, base_url)

    def render(subject_type: str, subject_id: str) -> bytes | None:
        if subject_type == SubjectType.DOWNLOAD.value:
            download = downloads.find(int(subject_id))
            return orjson.dumps(download_json(download, clock.now(), link)) if download else None
        found = media.find(subject_id)
        return orjson.dumps(media_json(found)) if found is not None else None

    return render


def build_webhooks(
    settings: Settings,
    db: Database,
    clock: Clock,
    queue: JobQueue,
    render: PayloadRenderer,
    policy: AddressPolicy,
    *,
    post: Poster | None = None,
) -> WebhookComponents:
    secrets = WebhookSecrets(db)
    deliverer = WebhookDeliverer(
        db,
        clock,
        queue,
        secrets,
        render,
        post or guarded_poster(policy),
        DeliverySettings(schedule_from(settings), settings.webhook_timeout_seconds),
    )
    return WebhookComponents(service=WebhookService(db, secrets), deliverer=deliverer)
