"""`EdgeMiddleware`: what every response gets, in one pure ASGI layer around the app.

- an id (``X-Request-Id``, also ``request.state.request_id``) and one access-log line carrying it;
- the HTTP latency histogram (:mod:`dlserve.observability.metrics`), by route template;
- the security headers of :mod:`dlserve.api.hardening` (nosniff, no framing, no referrer, and a
  Content-Security-Policy on the dashboard and on other HTML).

These used to be three middlewares, each wrapping ``send`` once more; a status poll is cheap
enough that every layer showed in its cost.
"""

from __future__ import annotations

import secrets
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dlserve.api.hardening import COMMON_HEADERS, DASHBOARD_CSP, OTHER_HTML_CSP
from dlserve.logs import get_logger
from dlserve.observability.metrics import Metrics

log = get_logger("dlserve.http")

_DASHBOARD_CSP = (b"content-security-policy", DASHBOARD_CSP.encode())
_OTHER_HTML_CSP = (b"content-security-policy", OTHER_HTML_CSP.encode())


class EdgeMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = "req_" + secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = request_id
        path: str = scope.get("path", "")
        dashboard = path == "/" or path.startswith("/static/")
        started = time.perf_counter()
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                present = {name.lower(): value for name, value in headers}
                headers.extend(header for header in COMMON_HEADERS if header[0] not in present)
                if b"x-request-id" not in present:
                    headers.append((b"x-request-id", request_id.encode()))
                if b"content-security-policy" not in present:
                    if dashboard:
                        headers.append(_DASHBOARD_CSP)
                    elif present.get(b"content-type", b"").startswith(b"text/html"):
                        headers.append(_OTHER_HTML_CSP)
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            seconds = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "")
            self.metrics.http_latency.labels(template, method, str(status)).observe(seconds)
            log.info(
                "request",
                request_id=request_id,
                method=method,
                path=path,
                status=status,
                ms=round(seconds * 1000, 1),
            )
