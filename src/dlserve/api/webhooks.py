"""Webhook routes: a download's deliveries and their attempts, and the account's signing secret.

``GET /v4/account`` shows the secret (``webhook_secret``, see :mod:`dlserve.api.v4`); rotating it is
``POST /v4/account/webhook-secret``. Deliveries are listed for v4 downloads and for media downloads.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from dlserve.api.deps import BearerAccount, ServicesDep
from dlserve.api.media import Caller
from dlserve.api.responses import AUTHED, NOT_FOUND, media_errors, v4_errors
from dlserve.api.timefmt import iso_z
from dlserve.api.v4_downloads import parse_download_id
from dlserve.media.service import NOT_FOUND_MESSAGE
from dlserve.webhooks.models import Delivery

router = APIRouter()


def deliveries_body(webhook_url: str | None, deliveries: list[Delivery]) -> dict[str, Any]:
    return {
        "webhook_url": webhook_url,
        "num_found": len(deliveries),
        "deliveries": [
            {
                "webhook_id": delivery.id,
                "event": delivery.event,
                "url": delivery.url,
                "status": delivery.status.value,
                "num_attempts": delivery.attempts,
                "next_attempt_at": iso_z(delivery.next_attempt_at),
                "created_at": iso_z(delivery.created_at),
                "finished_at": iso_z(delivery.finished_at),
                "attempts": [
                    {
                        "attempt": attempt.attempt,
                        "attempted_at": iso_z(attempt.attempted_at),
                        "status_code": attempt.status_code,
                        "error": attempt.error,
                        "duration_ms": attempt.duration_ms,
                    }
                    for attempt in delivery.history
                ],
            }
            for delivery in deliveries
        ],
    }


@router.get(
    "/v4/downloads/{download_id}/webhooks",
    summary="The download's webhook deliveries and every attempt",
    responses=v4_errors(AUTHED, NOT_FOUND),
)
def download_webhooks(download_id: str, current: BearerAccount, services: ServicesDep) -> dict[str, Any]:
    url, deliveries = services.webhooks.service.for_download(current.id, parse_download_id(download_id))
    return deliveries_body(url, deliveries)


@router.post(
    "/v4/account/webhook-secret",
    summary="Replace the account's webhook signing secret (returns the new one)",
    responses=v4_errors(AUTHED),
)
def rotate_webhook_secret(current: BearerAccount, services: ServicesDep) -> dict[str, str]:
    return {"webhook_secret": services.webhooks.service.rotate_secret(current.id)}


@router.get(
    "/api/downloads/{download_id}/webhooks",
    summary="A media download's webhook deliveries and every attempt",
    tags=["media"],
    responses=media_errors(AUTHED, NOT_FOUND),
)
def media_webhooks(download_id: str, caller: Caller, services: ServicesDep) -> dict[str, Any]:
    url, deliveries = services.webhooks.service.for_media(caller, download_id, NOT_FOUND_MESSAGE)
    return deliveries_body(url, deliveries)
