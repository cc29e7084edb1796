"""Why a fetch ended without a file. The runner decides from ``retryable`` whether to try again."""

from __future__ import annotations


class FetchError(Exception):
    """The fetch failed; ``message`` is shown to the user as the download's ``error``."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable


class Cancelled(FetchError):
    """Stopped on purpose: removed or cancelled by the user, or the worker is shutting down."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, retryable=False)


class TooLarge(FetchError):
    """The media is over ``DLSERVE_MEDIA_MAX_BYTES``."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


class Refused(FetchError):
    """The SSRF guard refused an address, a scheme or a downloader."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)
