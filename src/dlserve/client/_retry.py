"""When to send a request again, and how long to wait first.

The rule (docs/sdk.md, "Retries"): a request is sent again only when doing so cannot make the
server act twice —

- a **429 or 503 answer**, for any method: the server says it did not act (too many active downloads,
  or not ready); its ``Retry-After`` (seconds or an HTTP date) is honoured;
- a **connection that was never made** (connect error or timeout, no free pooled connection), for
  any method: nothing was sent;
- any other **transport failure** (read timeout, reset, a cut answer) **only for idempotent methods**
  (GET, HEAD, OPTIONS, PUT, DELETE). A POST — starting a download, a preview that bills credits, a
  media download — may have been acted on, so it is never re-sent after it left; the caller gets a
  ``TransportError`` and decides (e.g. by looking at ``list_downloads()``).

Waits grow ``backoff * 2**attempt`` up to ``max_backoff``. A ``Retry-After`` longer than
``max_retry_after`` is not waited out: the error is raised at once, carrying ``retry_after``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRY_STATUSES = frozenset({429, 503})
# Raised before a byte of the request left this machine: the server cannot have acted.
NOTHING_SENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Failures that may be over by the next attempt (unlike an unsupported scheme or a bad proxy URL).
TRANSIENT_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


@dataclass(frozen=True)
class RetryPolicy:
    """``retries`` is the number of attempts after the first one (0 turns retrying off)."""

    retries: int = 3
    backoff: float = 0.5
    max_backoff: float = 30.0
    max_retry_after: float = 120.0

    def backoff_delay(self, attempt: int) -> float:
        return float(min(self.backoff * 2**attempt, self.max_backoff))

    def delay_after_response(self, response: httpx.Response, attempt: int, now: datetime) -> float | None:
        """Seconds to wait before sending again after ``response``, or ``None`` to give up."""
        if response.status_code not in RETRY_STATUSES or attempt >= self.retries:
            return None
        retry_after = parse_retry_after(response.headers.get("retry-after"), now)
        if retry_after is None:
            return self.backoff_delay(attempt)
        return retry_after if retry_after <= self.max_retry_after else None

    def delay_after_error(self, error: httpx.TransportError, method: str, attempt: int) -> float | None:
        """Seconds to wait before sending again after ``error``, or ``None`` to give up."""
        if attempt >= self.retries or not isinstance(error, TRANSIENT_ERRORS):
            return None
        if isinstance(error, NOTHING_SENT_ERRORS) or method.upper() in IDEMPOTENT_METHODS:
            return self.backoff_delay(attempt)
        return None


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` as seconds from ``now``: delay-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - now).total_seconds(), 0.0)


def utc_now() -> datetime:
    return datetime.now(UTC)
