"""Operational endpoints: health and Prometheus metrics."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from dlserve.api.deps import ServicesDep
from dlserve.api.responses import success, v4_errors
from dlserve.records.schema import DATA_TYPES

router = APIRouter()


@router.get(
    "/v4/health", responses={**v4_errors(), **success(503, "Down: the database or storage cannot serve")}
)
def health(services: ServicesDep) -> JSONResponse:
    """``ok``; ``degraded`` (serving, but something needs a look); ``down`` (503: cannot serve)."""
    checks: dict[str, Any] = {}
    try:
        with services.db.read() as conn:
            conn.execute(sa.text("SELECT 1"))
        checks["database"] = {"status": "ok"}
    except Exception as exc:  # health must answer even when the database does not
        checks["database"] = {"status": "down", "error": type(exc).__name__}
        return JSONResponse({"status": "down", "checks": checks}, status_code=503)
    try:
        services.storage.exists("health/probe")
        checks["storage"] = {"status": "ok"}
    except Exception as exc:
        checks["storage"] = {"status": "down", "error": type(exc).__name__}
    stats = services.queue.stats()
    checks["queue"] = {"status": "degraded" if stats.get("dead") else "ok", "jobs": stats}
    loaded = {t: (s.record_count if (s := services.snapshots.current(t)) else 0) for t in DATA_TYPES}
    checks["records"] = {"status": "ok" if any(loaded.values()) else "empty", "loaded": loaded}
    if checks["storage"]["status"] == "down":
        status = "down"
    elif checks["queue"]["status"] != "ok" or checks["records"]["status"] != "ok":
        status = "degraded"
    else:
        status = "ok"
    return JSONResponse({"status": status, "checks": checks}, status_code=503 if status == "down" else 200)


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
