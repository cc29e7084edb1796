"""Operational endpoints: health and Prometheus metrics."""

from __future__ import annotations

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from dlserve.api.responses import QUERY, success, v4_errors
from dlserve.observability.health import HealthMonitor

router = APIRouter()


@router.get(
    "/v4/health", responses={**v4_errors(QUERY), **success(503, "Down: the database or storage cannot serve")}
)
async def health(request: Request, deep: bool = False) -> Response:
    """The state kept by the background checker (no I/O here); ``?deep=1`` checks live."""
    monitor: HealthMonitor = request.app.state.health
    report = await anyio.to_thread.run_sync(monitor.refresh) if deep else monitor.current()
    return Response(report.body, status_code=report.status_code, media_type="application/json")


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
