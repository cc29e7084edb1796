"""v4 scheduled downloads (issue 15): ``/v4/schedules``.

A schedule creates a normal download at each time of its period (see dlserve.schedules);
``GET /v4/schedules/{id}/latest`` is a stable link to the newest completed one (``303`` to
``/v4/downloads/{id}``), for scripts that fetch "the current copy".
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from dlserve.api.deps import BearerAccount, ServicesDep
from dlserve.api.params import parse_id
from dlserve.api.responses import AUTHED, JSON_BODY, NOT_FOUND, success, v4_errors
from dlserve.api.timefmt import iso_z
from dlserve.errors import NotFound
from dlserve.records.field_lists import stored_field_list
from dlserve.schedules.models import Schedule, ScheduleRun
from dlserve.schedules.services import NewSchedule

router = APIRouter(prefix="/v4")


class ScheduleBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    data_type: str = Field(max_length=64, description="businesses, products, properties or people")
    query: str
    format: str | None = "JSON"
    view: str | list[str] | None = Field(default=None, description="A view's name, or a list of fields")
    every: str = Field(
        default="1d",
        max_length=128,
        description='An interval ("1d", "7d", "6h", "30m") or a five-field cron expression, in UTC',
    )
    delta: bool = Field(default=False, description="Each run delivers only what changed since the last")
    webhook_url: str | None = Field(default=None, description="Called when each run's download ends")


def run_body(run: ScheduleRun) -> dict[str, Any]:
    return {
        "id": str(run.id),
        "due_at": iso_z(run.due_at),
        "status": run.status.value,
        "reason": run.reason,
        "download_id": None if run.download_id is None else str(run.download_id),
        "download_status": run.download_status,
        "created_at": iso_z(run.created_at),
    }


def schedule_body(schedule: Schedule, *, with_runs: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(schedule.id),
        "data_type": schedule.data_type,
        "query": schedule.query,
        "format": schedule.format.upper(),
        "view": stored_field_list(schedule.view) or schedule.view,
        "every": schedule.every,
        "delta": schedule.delta,
        "webhook_url": schedule.webhook_url,
        "next_run_at": None if schedule.deleted_at else iso_z(schedule.next_run_at),
        "created_at": iso_z(schedule.created_at),
    }
    if with_runs:
        body["num_runs"] = schedule.num_runs
        body["runs"] = [run_body(run) for run in schedule.runs]
    return body


def parse_schedule_id(raw: str) -> int:
    schedule_id = parse_id(raw)
    if schedule_id is None:
        raise NotFound(f"Schedule {raw[:40]} was not found")
    return schedule_id


@router.post(
    "/schedules",
    status_code=201,
    responses=v4_errors(JSON_BODY, AUTHED, 409),  # 409: the account's schedule limit
)
def create_schedule(body: ScheduleBody, current: BearerAccount, services: ServicesDep) -> JSONResponse:
    new = NewSchedule(**body.model_dump())
    schedule = services.schedules.create(current, new)
    return JSONResponse(schedule_body(schedule, with_runs=True), status_code=201)


@router.get("/schedules", responses=v4_errors(AUTHED))
def list_schedules(current: BearerAccount, services: ServicesDep) -> dict[str, Any]:
    found = services.schedules.list(current)
    return {"num_found": len(found), "records": [schedule_body(s) for s in found]}


@router.get("/schedules/{schedule_id}", responses=v4_errors(AUTHED, NOT_FOUND))
def get_schedule(schedule_id: str, current: BearerAccount, services: ServicesDep) -> dict[str, Any]:
    return schedule_body(services.schedules.get(current, parse_schedule_id(schedule_id)), with_runs=True)


@router.delete("/schedules/{schedule_id}", responses=v4_errors(AUTHED, NOT_FOUND))
def delete_schedule(schedule_id: str, current: BearerAccount, services: ServicesDep) -> dict[str, str]:
    deleted = services.schedules.delete(current, parse_schedule_id(schedule_id))
    return {"message": f"Schedule {deleted.id} was deleted; the downloads it made are kept"}


@router.get(
    "/schedules/{schedule_id}/latest",
    responses={
        **v4_errors(AUTHED, NOT_FOUND),
        **success(303, "Location names the newest completed download of the schedule"),
    },
)
def latest_download(schedule_id: str, current: BearerAccount, services: ServicesDep) -> Response:
    download_id = services.schedules.latest_download_id(current, parse_schedule_id(schedule_id))
    return Response(status_code=303, headers={"Location": f"/v4/downloads/{download_id}"})
