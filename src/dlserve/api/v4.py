"""Datafiniti v4 wire format: auth, account, search (preview/count), paginate, single records, views."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from dlserve.accounts.services import Account
from dlserve.api.deps import BearerAccount, ServicesDep, bearer_token
from dlserve.api.params import MAX_INT64, parse_id
from dlserve.api.responses import AUTHED, JSON_BODY, NOT_FOUND, PAID, QUERY, success, v4_errors
from dlserve.api.timefmt import iso_z
from dlserve.api.v4_downloads import download_body, json_response
from dlserve.catalog.services import PreparedQuery, prepare
from dlserve.container import Services
from dlserve.errors import ErrorDetail, Invalid
from dlserve.limits.admission import require_heavy_pool
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
    # A view's name, or a field list: an array of names, or one comma-separated string.
    view: str | list[str] | None = None
    download: bool = False
    compress: str | None = None
    webhook_url: str | None = Field(
        default=None, description="POSTed the download (signed, Standard Webhooks) when it ends."
    )
    # A delta (see docs/api.md): the id of an earlier download, as a string (v4's ids) or a number.
    since: StrictStr | StrictInt | None = None


class PaginateBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    query: str
    format: str | None = "JSON"
    view: str | list[str] | None = None


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
    available, held, secret = services.accounts.credits_and_webhook_secret(current.id)
    return {
        "id": str(current.id),
        "email": current.email,
        "plan_id": current.plan_id,
        # The balance minus the credits active downloads hold: what a new request may spend.
        "available_credits": available,
        "held_credits": held,
        "created_at": iso_z(current.created_at),
        # Signs webhook deliveries (Standard Webhooks); created the first time it is asked for.
        # Read with the credits: one statement once it exists.
        "webhook_secret": secret or services.webhooks.service.secret(current.id),
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
            # What a field list may name inside each nested field (``reviews.rating``).
            "sub_fields": view.declared_sub_fields(),
        }
        for view in list_views()
    ]


@router.post(
    "/{data_type}/search",
    responses={
        # 503: the query timeout; 410: a delta's base (since) was made from data no longer kept
        **v4_errors(JSON_BODY, AUTHED, NOT_FOUND, PAID, 410, 503),
        **success(202, "The download was queued (download: true)"),
    },
)
async def search(
    data_type: str, body: SearchBody, request: Request, current: BearerAccount, services: ServicesDep
) -> Any:
    check_query_length(body.query, services.query_limits)  # a 400 at once, before any queueing
    since = parse_since(body.since)

    def run() -> Any:  # on the interactive pool, or the heavy one (see dlserve.limits.admission)
        prepared = prepare(data_type, body.query, body.view, body.format, services.query_limits)
        if body.download:
            require_heavy_pool()
            download = services.downloads.create(
                current,
                prepared,
                body.num_records,
                compress=body.compress,
                webhook_url=body.webhook_url,
                since=since,
            )
            return JSONResponse(download_body(request, services, download), status_code=202)
        if since is not None:
            return delta_count_body(services, current, prepared, since, body.num_records)
        preview = services.catalog.preview(current, prepared, body.num_records)
        # (records are plain JSON values: orjson, not a model to validate, on every preview)
        return json_response(
            {"num_found": preview.num_found, "total_cost": preview.total_cost, "records": preview.records}
        )

    return await services.admission.run_interactive(current.id, run)


def parse_since(raw: str | int | None) -> int | None:
    """A download id, as v4 writes them (a string) or as a number; anything else is a 400."""
    if raw is None:
        return None
    text = str(raw) if isinstance(raw, int) and not isinstance(raw, bool) else raw
    since = parse_id(text) if isinstance(text, str) else None
    if since is None:
        message = "since must be the id of one of your downloads"
        raise Invalid(message, [ErrorDetail("since", message)])
    return since


def delta_count_body(
    services: Services, current: Account, prepared: PreparedQuery, since: int, num_records: int | None
) -> dict[str, Any]:
    """``download: false`` with ``since``: a free count of what the delta download would deliver
    (``num_found``, each one a credit) and of the ids it would list as deleted."""
    if num_records not in (None, 0):
        message = "with since, a search only counts (num_records: 0); download: true delivers the records"
        raise Invalid(message, [ErrorDetail("num_records", message)])
    require_heavy_pool()  # two scans in DuckDB, never an index read
    matching, changes = services.downloads.delta_count(current, prepared, since)
    return {
        "num_found": changes.delivered,
        "total_cost": 0,
        "records": [],
        "since": str(since),
        "num_matching": matching,
        "num_added": changes.added,
        "num_changed": changes.changed,
        "num_deleted": changes.deleted,
    }


@router.post(
    "/{data_type}/paginate",
    response_model=dict[str, Any],
    responses=v4_errors(JSON_BODY, AUTHED, QUERY, NOT_FOUND, PAID, 503),
)
async def paginate(
    data_type: str,
    body: PaginateBody,
    current: BearerAccount,
    services: ServicesDep,
    page: int = Query(default=1),
    limit: int = Query(default=10),
) -> Response:
    check_query_length(body.query, services.query_limits)

    def run() -> Response:
        prepared = prepare(data_type, body.query, body.view, body.format, services.query_limits)
        result = services.catalog.paginate(current, prepared, page, limit)
        return json_response({"num_found": result.num_found, "records": result.records})

    return await services.admission.run_interactive(current.id, run)


@router.get(
    "/{data_type}/{record_id}",
    response_model=dict[str, Any],
    responses=v4_errors(AUTHED, QUERY, NOT_FOUND, PAID),
)
def get_record(
    data_type: str, record_id: str, current: BearerAccount, services: ServicesDep, view: str | None = None
) -> Response:
    return json_response(services.catalog.get_record(current, data_type, record_id, view))
