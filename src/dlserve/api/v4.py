"""Datafiniti v4 wire format: auth, account, search (preview/count), paginate, single records, views."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from dlserve.api.deps import BearerAccount, ServicesDep, bearer_token
from dlserve.api.params import MAX_INT64
from dlserve.api.responses import AUTHED, JSON_BODY, NOT_FOUND, PAID, QUERY, success, v4_errors
from dlserve.api.timefmt import iso_z
from dlserve.api.v4_downloads import download_body
from dlserve.catalog.services import prepare
from dlserve.limits.query_cost import check_query_length
from dlserve.records.views import list_views

router = APIRouter(prefix="/v4")


class AuthBody(BaseModel):
    email: str
    password: str


class SearchBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    query: str
    num_records: int | None = Field(default=None, ge=0, le=MAX_INT64)
    format: str | None = "JSON"
    view: str | None = None
    download: bool = False
    compress: str | None = None
    webhook_url: str | None = Field(
        default=None, description="POSTed the download (signed, Standard Webhooks) when it ends."
    )


class PaginateBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    query: str
    format: str | None = "JSON"
    view: str | None = None


@router.post("/auth", responses=v4_errors(JSON_BODY, 401))
async def authenticate(body: AuthBody, request: Request, services: ServicesDep) -> dict[str, str]:
    """Throttled per email and client address (429); hashed on a bounded pool (accounts.login_gate)."""
    address = request.client.host if request.client else "unknown"
    return {"token": await services.logins.login(body.email, body.password, address)}


@router.delete(
    "/auth", summary="Revoke the token this request presents (sign out)", responses=v4_errors(AUTHED)
)
def revoke_token(request: Request, current: BearerAccount, services: ServicesDep) -> dict[str, str]:
    services.accounts.revoke_token(bearer_token(request))
    return {"message": "The token was revoked"}


@router.get("/account", responses=v4_errors(AUTHED))
def account(current: BearerAccount, services: ServicesDep) -> dict[str, Any]:
    available, held = services.accounts.credits(current.id)
    return {
        "id": str(current.id),
        "email": current.email,
        "plan_id": current.plan_id,
        # The balance minus the credits active downloads hold: what a new request may spend.
        "available_credits": available,
        "held_credits": held,
        "created_at": iso_z(current.created_at),
        # Signs webhook deliveries (Standard Webhooks); created the first time it is asked for.
        "webhook_secret": services.webhooks.service.secret(current.id),
    }


@router.get("/views", responses=v4_errors(AUTHED))
def views(current: BearerAccount) -> list[dict[str, Any]]:
    return [
        {
            "name": view.name,
            "data_type": view.data_type,
            "fields": view.declared_fields(),
            "all_fields": view.include is None,  # also the fields a record has beyond the schema
            "exclude": list(view.exclude),
            "flatten": view.flatten,
        }
        for view in list_views()
    ]


@router.post(
    "/{data_type}/search",
    responses={
        **v4_errors(JSON_BODY, AUTHED, NOT_FOUND, PAID, 503),  # 503: the query timeout
        **success(202, "The download was queued (download: true)"),
    },
)
async def search(
    data_type: str, body: SearchBody, request: Request, current: BearerAccount, services: ServicesDep
) -> Any:
    check_query_length(body.query, services.query_limits)  # a 400 at once, before any queueing

    def run() -> Any:  # on the heavy-query pool (see dlserve.limits.admission)
        prepared = prepare(data_type, body.query, body.view, body.format, services.query_limits)
        if body.download:
            download = services.downloads.create(
                current,
                prepared,
                body.num_records,
                compress=body.compress,
                view_name=body.view,
                webhook_url=body.webhook_url,
            )
            return JSONResponse(download_body(request, services, download), status_code=202)
        preview = services.catalog.preview(current, prepared, body.num_records)
        return {"num_found": preview.num_found, "total_cost": preview.total_cost, "records": preview.records}

    return await services.admission.run(current.id, run)


@router.post("/{data_type}/paginate", responses=v4_errors(JSON_BODY, AUTHED, QUERY, NOT_FOUND, PAID, 503))
async def paginate(
    data_type: str,
    body: PaginateBody,
    current: BearerAccount,
    services: ServicesDep,
    page: int = Query(default=1),
    limit: int = Query(default=10),
) -> dict[str, Any]:
    check_query_length(body.query, services.query_limits)

    def run() -> dict[str, Any]:
        prepared = prepare(data_type, body.query, body.view, body.format, services.query_limits)
        result = services.catalog.paginate(current, prepared, page, limit)
        return {"num_found": result.num_found, "records": result.records}

    return await services.admission.run(current.id, run)


@router.get("/{data_type}/{record_id}", responses=v4_errors(AUTHED, QUERY, NOT_FOUND, PAID))
def get_record(
    data_type: str, record_id: str, current: BearerAccount, services: ServicesDep, view: str | None = None
) -> dict[str, Any]:
    return services.catalog.get_record(current, data_type, record_id, view)
