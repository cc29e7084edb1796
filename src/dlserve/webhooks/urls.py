"""Which webhook URLs a download may name: http(s) only, and the media SSRF guard's addresses.

Checked when the download is created, for a clear 400 at once; delivery checks the address again
at connect time (:mod:`.delivery`), so a DNS answer that changes later cannot reach an internal host.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from dlserve.errors import ErrorDetail, Invalid
from dlserve.media.guard import ALLOWED_SCHEMES, AddressPolicy, RefusedURL

MAX_WEBHOOK_URL_LENGTH = 2048
FIELD = "webhook_url"


def checked_webhook_url(policy: AddressPolicy, url: str | None) -> str | None:
    """The URL to store (stripped), None for none; ``Invalid`` naming ``webhook_url`` otherwise."""
    if url is None:
        return None
    url = url.strip()
    if not url or len(url) > MAX_WEBHOOK_URL_LENGTH:
        raise _invalid(f"webhook_url must be an http(s) URL of 1 to {MAX_WEBHOOK_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError as error:
        raise _invalid(f"webhook_url is malformed: {error}") from None
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        raise _invalid("webhook_url must be an http:// or https:// URL")
    if parts.username is not None or parts.password is not None:
        raise _invalid("webhook_url must not carry credentials; verify the webhook-signature header instead")
    try:
        policy.check_url(url)
    except RefusedURL as refused:
        raise _invalid(f"webhook_url refused: {refused}") from None
    return url


def _invalid(message: str) -> Invalid:
    return Invalid(message, [ErrorDetail(FIELD, message)])
