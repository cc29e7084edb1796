"""Operational endpoints: health."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from dlserve.api.deps import ServicesDep
from dlserve.records.schema import DATA_TYPES

router = APIRouter()


@router.get("/v4/health")
def health(services: ServicesDep) -> JSONResponse:
    checks: dict[str, Any] = {}
    status = "ok"
    try:
        with services.db.read() as conn:
            conn.execute(sa.text("SELECT 1"))
        checks["database"] = {"status": "ok"}
    except Exception as exc:  # health must answer even when the database does not
        checks["database"] = {"status": "down", "error": type(exc).__name__}
        status = "down"
    if status == "ok":
        loaded = {t: (s.record_count if (s := services.snapshots.current(t)) else 0) for t in DATA_TYPES}
        checks["records"] = {"status": "ok" if any(loaded.values()) else "empty", "loaded": loaded}
        if not any(loaded.values()):
            status = "degraded"
    return JSONResponse({"status": status, "checks": checks}, status_code=503 if status == "down" else 200)
