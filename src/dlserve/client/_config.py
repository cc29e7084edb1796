"""What both clients set up the same way: the httpx client options and the token."""

from __future__ import annotations

import ssl
from collections.abc import Generator, Mapping
from typing import Any

import httpx

from dlserve import __version__
from dlserve.client._retry import RetryPolicy

DEFAULT_TIMEOUT = 30.0
USER_AGENT = f"dlserve-client/{__version__} httpx/{httpx.__version__}"


class BearerAuth(httpx.Auth):
    """``Authorization: Bearer`` on requests to the server's own origin only.

    Result links are signed URLs and may point elsewhere (S3 presigned URLs): the token must not
    leak there, and S3 refuses a request that carries both a signature and an Authorization header.
    """

    def __init__(self, token: str | None, base_url: httpx.URL) -> None:
        self.token = token
        self._origin = _origin(base_url)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self.token and _origin(request.url) == self._origin:
            request.headers["Authorization"] = f"Bearer {self.token}"
        yield request


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    default_port = {"http": 80, "https": 443}.get(url.scheme)
    return url.scheme, url.host, url.port or default_port


def http_options(
    base_url: str,
    token: str | None,
    timeout: float | httpx.Timeout,
    headers: Mapping[str, str] | None,
    verify: ssl.SSLContext | str | bool,
) -> tuple[BearerAuth, dict[str, Any]]:
    url = httpx.URL(base_url.rstrip("/"))
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"base_url must be an absolute http(s) URL, not {base_url!r}")
    auth = BearerAuth(token, url)
    options: dict[str, Any] = {
        "base_url": url,
        "auth": auth,
        "timeout": timeout,
        "verify": verify,
        "headers": {"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})},
        "follow_redirects": False,
    }
    return auth, options


def as_policy(retries: int | RetryPolicy) -> RetryPolicy:
    if isinstance(retries, RetryPolicy):
        return retries
    if retries < 0:
        raise ValueError("retries must be 0 or more")
    return RetryPolicy(retries=retries)
