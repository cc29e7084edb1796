"""The FastAPI application, built from settings (``create_app``)."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dlserve import __version__
from dlserve.api import files, media, ops, v3, v4, v4_downloads, webhooks
from dlserve.api.errors import install_error_handlers
from dlserve.api.hardening import (
    BodyLimitMiddleware,
    HostAllowlistMiddleware,
    SecurityHeadersMiddleware,
    allowed_hosts,
)
from dlserve.api.responses import install_openapi
from dlserve.container import Services, build_services
from dlserve.logs import get_logger
from dlserve.observability.health import HealthMonitor
from dlserve.observability.metrics import HttpMetricsMiddleware, Metrics
from dlserve.settings import Settings
from dlserve.web.routes import mount_dashboard

log = get_logger("dlserve.http")


class RequestIdMiddleware:
    """Gives every request an id (``X-Request-Id``) and one access-log line carrying it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = "req_" + secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status_holder = {"status": 500}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                headers = list(message.get("headers", []))
                if not any(k.lower() == b"x-request-id" for k, _ in headers):
                    headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            log.info(
                "request",
                request_id=request_id,
                method=scope.get("method"),
                path=scope.get("path"),
                status=status_holder["status"],
                ms=round((time.perf_counter() - started) * 1000, 1),
            )


def create_app(settings: Settings, services: Services | None = None) -> FastAPI:
    """The app. ``services`` may be given (tests, ``serve`` with workers); else built from settings."""
    owned = services is None
    built = services or build_services(settings)

    health = HealthMonitor(
        built.db,
        built.storage,
        built.queue,
        built.snapshots,
        built.clock,
        interval=settings.health_refresh_seconds,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        health.start()
        try:
            yield
        finally:
            health.stop()
            if owned:
                built.close()

    app = FastAPI(
        title="dlserve",
        version=__version__,
        description="Bulk data downloads, wire-compatible with the Datafiniti Data API v4 and v3.",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.services = built
    app.state.health = health
    install_error_handlers(app)
    install_openapi(app)
    app.include_router(ops.router)
    app.include_router(files.router)
    app.include_router(v4_downloads.router)  # before v4: /v4/downloads/{id} is not a record type
    app.include_router(webhooks.router)  # before v4 too: /v4/account/webhook-secret is not a search
    app.include_router(v4.router)
    mount_dashboard(app)
    app.include_router(v3.router)
    app.include_router(media.router)
    app.state.metrics = Metrics(built.db, built.queue)
    add_hardening(app, settings)
    app.add_middleware(HttpMetricsMiddleware, metrics=app.state.metrics)
    app.add_middleware(RequestIdMiddleware)
    return app


def app_from_environment() -> FastAPI:
    """The app of one API process under ``dlserve serve --processes N`` (uvicorn's factory): settings
    from the ``DLSERVE_*`` environment the supervisor set up; no job workers (the supervisor runs
    them, once per machine)."""
    from dlserve.logs import configure_logging
    from dlserve.settings import load_settings

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_json)
    return create_app(settings)


def add_hardening(app: FastAPI, settings: Settings) -> None:
    """Body limit innermost, then headers, then the Host check (the outermost of the three)."""
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeadersMiddleware)
    hosts = allowed_hosts(settings, media.anonymous_allowed(settings))
    if hosts is not None:
        app.add_middleware(HostAllowlistMiddleware, allowed=hosts)
