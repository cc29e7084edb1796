"""The one error hierarchy of the services. Each router maps it to its own wire envelope."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorDetail:
    field: str
    message: str


class DlserveError(Exception):
    """Base of every error a service raises on purpose; anything else is a bug (500)."""

    status_code = 500
    title = "Internal Server Error"

    def __init__(self, message: str, details: list[ErrorDetail] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []


class Invalid(DlserveError):
    status_code = 400
    title = "Bad Request"


class Unauthorized(DlserveError):
    status_code = 401
    title = "Unauthorized"


class InsufficientCredits(DlserveError):
    status_code = 402
    title = "Payment Required"


class Forbidden(DlserveError):
    status_code = 403
    title = "Forbidden"


class NotFound(DlserveError):
    status_code = 404
    title = "Not Found"


class Conflict(DlserveError):
    status_code = 409
    title = "Conflict"


class Gone(DlserveError):
    status_code = 410
    title = "Gone"


class TooManyRequests(DlserveError):
    status_code = 429
    title = "Too Many Requests"


class Unavailable(DlserveError):
    status_code = 503
    title = "Service Unavailable"
