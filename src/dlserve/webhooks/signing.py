"""The Standard Webhooks headers of one attempt (https://www.standardwebhooks.com/).

``webhook-signature`` is ``v1,`` + base64 HMAC-SHA256 of ``{webhook-id}.{webhook-timestamp}.{body}``
keyed by the base64-decoded part of the account's ``whsec_`` secret; the ``standardwebhooks``
package computes it, so receivers verify with the same code (see docs/api.md).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from standardwebhooks import Webhook

from dlserve import __version__

USER_AGENT = f"dlserve-webhooks/{__version__}"


def signed_headers(secret: str, webhook_id: str, timestamp: datetime, body: bytes) -> dict[str, str]:
    if timestamp.tzinfo is None:
        raise ValueError("the webhook timestamp must be timezone-aware")
    # standardwebhooks reads the datetime as UTC wall time: hand it UTC.
    signature = Webhook(secret).sign(webhook_id, timestamp.astimezone(UTC), body.decode("utf-8"))
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(math.floor(timestamp.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }
