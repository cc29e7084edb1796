"""``dlserve.client``: the Python SDK for a dlserve server (sync ``Client``, async ``AsyncClient``).

    from dlserve.client import Client

    with Client("http://127.0.0.1:8000", token) as client:
        client.count("businesses", "categories:hotels")
        download = client.wait(client.create_download("businesses", "province:TX", format="CSV"))
        paths = client.fetch_files(download, "out/")

Built on httpx: pass ``transport=httpx.MockTransport(handler)`` to test code that uses it.
See docs/sdk.md.
"""

from dlserve.client._async import AsyncClient
from dlserve.client._retry import RetryPolicy
from dlserve.client._sync import Client
from dlserve.client.errors import (
    AuthenticationError,
    ChecksumMismatch,
    Conflict,
    DlserveError,
    DownloadFailed,
    ErrorDetail,
    NotFound,
    PaymentRequired,
    RateLimited,
    ServerError,
    TransportError,
    ValidationError,
    WaitTimeout,
)
from dlserve.client.models import (
    Account,
    Changes,
    Download,
    MediaDownload,
    Progress,
    ResultFile,
    Schedule,
    ScheduleRun,
    SearchResult,
    WebhookAttempt,
    WebhookDelivery,
)

__all__ = [
    "Account",
    "AsyncClient",
    "AuthenticationError",
    "Changes",
    "ChecksumMismatch",
    "Client",
    "Conflict",
    "DlserveError",
    "Download",
    "DownloadFailed",
    "ErrorDetail",
    "MediaDownload",
    "NotFound",
    "PaymentRequired",
    "Progress",
    "RateLimited",
    "ResultFile",
    "RetryPolicy",
    "Schedule",
    "ScheduleRun",
    "SearchResult",
    "ServerError",
    "TransportError",
    "ValidationError",
    "WaitTimeout",
    "WebhookAttempt",
    "WebhookDelivery",
]
