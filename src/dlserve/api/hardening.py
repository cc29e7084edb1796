"""ASGI middlewares that protect every route before FastAPI sees the request.

- :class:`BodyLimitMiddleware`: a request body larger than ``max_body_bytes`` is answered ``413``
  before it is parsed and before auth — at once from ``Content-Length``, else while the streamed
  (chunked) body arrives; at most the limit is ever held in memory.
- :class:`HostAllowlistMiddleware`: only the listed ``Host`` headers are served. Without it, a web
  page on any site could rebind its own name to 127.0.0.1 and drive the anonymous media API of a
  server on the victim's loopback (DNS rebinding).
- the security headers: ``nosniff``, no framing, no referrer on every response, and a strict
  Content-Security-Policy on the dashboard's HTML and static files — added by
  :class:`dlserve.api.edge.EdgeMiddleware`, with the request id and metrics, in one layer.

Errors use the envelope of the API the path belongs to (:func:`dlserve.api.errors.error_response`).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dlserve.api.errors import error_response
from dlserve.settings import Settings

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")

DASHBOARD_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# Other HTML (the OpenAPI page loads its viewer from a CDN): no framing, no plugins, no <base>.
OTHER_HTML_CSP = "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
COMMON_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.max_bytes <= 0:
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if (
            declared is None
            and scope.get("http_version") in ("1.0", "1.1")
            and _header(scope, b"transfer-encoding") is None
        ):
            # HTTP/1.x: neither header means no body at all (a GET poll): nothing to count.
            await self.app(scope, receive, send)
            return
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break  # the client went away; the app will see the disconnect
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(b"".join(chunks), receive), send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope)
        message = f"The request body is larger than the limit of {self.max_bytes:,} bytes (max_body_bytes)"
        # The rest of the body is never read: the server closes the connection after this answer.
        response = error_response(request, 413, message, headers={"Connection": "close"})
        await response(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # afterwards: disconnects, as the server reports them

    return replay


class HostAllowlistMiddleware:
    def __init__(self, app: ASGIApp, allowed: Iterable[str]) -> None:
        self.app = app
        self.allowed = frozenset(host.lower().strip("[]") for host in allowed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = _host_name(_header(scope, b"host") or "")
        if "*" in self.allowed or host in self.allowed:
            await self.app(scope, receive, send)
            return
        response = error_response(
            Request(scope), 400, "The Host header names a host this server does not serve (allowed_hosts)"
        )
        await response(scope, receive, send)


def allowed_hosts(settings: Settings, anonymous_media: bool) -> list[str] | None:
    """The Host allowlist in force: the setting, else loopback names plus the configured host and
    the public URL's host when the media API is anonymous; None = every host."""
    if settings.allowed_hosts is not None:
        return settings.allowed_hosts
    if not anonymous_media:
        return None
    hosts = [*LOOPBACK_HOSTS, settings.host]
    public = urlsplit(settings.resolved_public_url()).hostname
    if public:
        hosts.append(public)
    return hosts


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1").strip()
    return None


@functools.lru_cache(maxsize=256)  # a handful of distinct Host headers, parsed once each
def _host_name(header: str) -> str:
    """``Host`` without its port, lower case, IPv6 brackets removed."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    name, _, port = header.rpartition(":")
    if name and port.isdigit():
        header = name
    try:
        return str(ipaddress.ip_address(header))
    except ValueError:
        return header
