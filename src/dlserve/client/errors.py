"""One error hierarchy for everything the SDK raises.

HTTP errors carry what the server said: the v4 envelope's ``error``/``message``/``details``, or the
media API's ``{"detail": ...}`` (whose text becomes ``message``). ``status_code`` and
``request_id`` (the server's ``X-Request-Id``, the id its log has for the failure) help a bug report.
"""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from dlserve.client.models import Download, MediaDownload


@dataclass(frozen=True)
class ErrorDetail:
    """One field-specific complaint from a 400: ``field`` names the parameter (``query``, ...)."""

    field: str
    message: str


class DlserveError(Exception):
    """Base of every error the SDK raises."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        error: str | None = None,
        details: list[ErrorDetail] | None = None,
        request_id: str | None = None,
        response: httpx.Response | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.error = error
        self.details = details or []
        self.request_id = request_id
        self.response = response

    def __str__(self) -> str:
        text = self.message
        if self.status_code is not None:
            text = f"{self.status_code} {self.error or ''}: {text}".replace(" :", ":")
        if self.details:
            text += " (" + "; ".join(f"{d.field}: {d.message}" for d in self.details) + ")"
        return text


class ValidationError(DlserveError):
    """400 (or a media API 422): a bad parameter or query; ``details`` name the fields."""


class AuthenticationError(DlserveError):
    """401: no token, a wrong token, a wrong password."""


class PaymentRequired(DlserveError):
    """402: not enough credits; ``details`` say the cost and the balance."""


class NotFound(DlserveError):
    """404: unknown type, record, download, or another account's download."""


class Conflict(DlserveError):
    """409: e.g. cancelling a download that already ended."""


class RateLimited(DlserveError):
    """429 after the retries ran out (or the server asked to wait longer than the SDK will)."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(DlserveError):
    """5xx (503 only after the retries ran out)."""


class TransportError(DlserveError):
    """The request got no complete HTTP answer: connection refused, timeout, a cut transfer.
    The httpx exception is ``__cause__``."""


class DownloadFailed(DlserveError):
    """A download ended with status ``failed``; ``download`` is its last state."""

    def __init__(self, message: str, download: Download | MediaDownload) -> None:
        super().__init__(message)
        self.download = download


class WaitTimeout(DlserveError, TimeoutError):
    """``wait``/``media_wait`` gave up before the download ended; ``download`` is its last state."""

    def __init__(self, message: str, download: Download | MediaDownload) -> None:
        super().__init__(message)
        self.download = download


class ChecksumMismatch(DlserveError):
    """A fetched file's sha256 is not the one the server listed; the file was removed."""

    def __init__(self, name: str, expected: str, actual: str) -> None:
        super().__init__(f"{name}: sha256 is {actual}, expected {expected}; the file was removed")
        self.name = name
        self.expected = expected
        self.actual = actual


_BY_STATUS: dict[int, type[DlserveError]] = {
    400: ValidationError,
    401: AuthenticationError,
    402: PaymentRequired,
    404: NotFound,
    409: Conflict,
    422: ValidationError,
    429: RateLimited,
}


def error_from_response(response: httpx.Response, *, retry_after: float | None = None) -> DlserveError:
    """The SDK error for an HTTP error answer (the body must have been read)."""
    status = response.status_code
    title = _reason(status)
    message, details = title, []
    body = _json_or_none(response)
    if isinstance(body, dict):
        title = str(body.get("error") or title)
        if "message" in body:
            message = str(body["message"])
            details = _details(body.get("details"))
        elif "detail" in body:  # the media API (FastAPI's shape)
            message, details = _from_detail(body["detail"])
    elif response.text.strip():
        message = response.text.strip()[:500]
    kwargs: dict[str, Any] = {
        "status_code": status,
        "error": title,
        "details": details,
        "request_id": response.headers.get("x-request-id"),
        "response": response,
    }
    if status == 429:
        return RateLimited(message, retry_after=retry_after, **kwargs)
    cls = ServerError if status >= 500 else _BY_STATUS.get(status, DlserveError)
    return cls(message, **kwargs)


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _details(raw: Any) -> list[ErrorDetail]:
    if not isinstance(raw, list):
        return []
    return [
        ErrorDetail(str(item.get("field", "")), str(item.get("message", "")))
        for item in raw
        if isinstance(item, dict)
    ]


def _from_detail(detail: Any) -> tuple[str, list[ErrorDetail]]:
    """``{"detail": "text"}``, or FastAPI's default 422 ``{"detail": [{"loc", "msg"}, ...]}``."""
    if not isinstance(detail, list):
        return str(detail), []
    details = [
        ErrorDetail(
            ".".join(str(p) for p in item.get("loc", ()) if p not in ("body", "query", "path")),
            str(item.get("msg", "")),
        )
        for item in detail
        if isinstance(item, dict)
    ]
    message = "; ".join(f"{d.field}: {d.message}" if d.field else d.message for d in details)
    return message or "invalid request", details
