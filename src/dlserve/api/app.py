"""The FastAPI application, built from settings (``create_app``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from dlserve import __version__
from dlserve.api import files, media, ops, v3, v4, v4_downloads, v4_schedules, webhooks
from dlserve.api.edge import EdgeMiddleware
from dlserve.api.errors import install_error_handlers
from dlserve.api.hardening import BodyLimitMiddleware, HostAllowlistMiddleware, allowed_hosts
from dlserve.api.responses import install_openapi
from dlserve.container import Services, build_services
from dlserve.downloads.change_feed import ChangeListener
from dlserve.observability.health import HealthMonitor
from dlserve.observability.metrics import Metrics
from dlserve.settings import Settings
from dlserve.web.routes import mount_dashboard


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

    # PostgreSQL: long polls here wake on changes other processes make (LISTEN/NOTIFY).
    listener = ChangeListener(built.db, built.changes) if built.db.is_postgres else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        health.start()
        if listener is not None:
            listener.start()
        try:
            yield
        finally:
            if listener is not None:
                listener.stop()
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
    app.state.change_listener = listener
    install_error_handlers(app)
    install_openapi(app)
    # The polling routes first: routes are matched in order, and they are the most frequent.
    # (Before v4 in any case: /v4/downloads/{id} is not a record type.)
    app.include_router(v4_downloads.router)
    app.include_router(ops.router)
    app.include_router(files.router)
    app.include_router(v4_schedules.router)  # before v4: /v4/schedules/{id} is not a record
    app.include_router(webhooks.router)  # before v4 too: /v4/account/webhook-secret is not a search
    app.include_router(v4.router)
    mount_dashboard(app)
    app.include_router(v3.router)
    app.include_router(media.router)
    app.state.metrics = Metrics(built.db, built.queue)
    add_hardening(app, settings)
    app.add_middleware(EdgeMiddleware, metrics=app.state.metrics)  # outermost: ids, metrics, headers
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
    """Body limit innermost, then the Host check (security headers: :class:`EdgeMiddleware`)."""
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    hosts = allowed_hosts(settings, media.anonymous_allowed(settings))
    if hosts is not None:
        app.add_middleware(HostAllowlistMiddleware, allowed=hosts)
