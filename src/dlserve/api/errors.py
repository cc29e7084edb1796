"""Error envelopes. One service error hierarchy, one envelope per API family:

- v4 (and anything not below): ``{"error", "message", "code", "details": [{"field", "message"}]}``
- v3: ``{"error", "message", "code"}``; a 500 adds ``"requestId"``
- media (``/api/``): FastAPI's ``{"detail": "..."}``
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from dlserve.errors import DlserveError, ErrorDetail, Unauthorized
from dlserve.logs import get_logger

log = get_logger("dlserve.api")

UNAUTHORIZED_MESSAGE = "Authentication required. Please provide a valid API token"
NOT_FOUND_MESSAGE = "The requested resource was not found"
INTERNAL_MESSAGE = "An unexpected error occurred on the server"


def request_id_of(request: Request) -> str:
    return str(getattr(request.state, "request_id", "req_unknown"))


def error_response(
    request: Request,
    status: int,
    message: str,
    details: list[ErrorDetail] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    title = HTTPStatus(status).phrase
    path = request.url.path
    body: dict[str, Any]
    if path.startswith("/api/"):
        body = {"detail": message}
    elif path.startswith("/v3/"):
        body = {"error": title, "message": message, "code": status}
        if status >= 500:
            body["requestId"] = request_id_of(request)
    else:
        body = {
            "error": title,
            "message": message,
            "code": status,
            "details": [{"field": d.field, "message": d.message} for d in details or []],
        }
    merged = {"X-Request-Id": request_id_of(request), **(headers or {})}
    return JSONResponse(body, status_code=status, headers=merged)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DlserveError, _service_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected_error)


def _auth_headers(request: Request) -> dict[str, str]:
    scheme = "Basic" if request.url.path.startswith("/v3/") else "Bearer"
    return {"WWW-Authenticate": f'{scheme} realm="dlserve"'}


async def _service_error(request: Request, exc: DlserveError) -> JSONResponse:
    headers = _auth_headers(request) if isinstance(exc, Unauthorized) else None
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        headers = {**(headers or {}), "Retry-After": str(retry_after)}
    return error_response(request, exc.status_code, exc.message, exc.details, headers)


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    details = [_detail_from_pydantic(error) for error in exc.errors()]
    message = "The request contains invalid parameters or malformed data"
    if request.url.path.startswith("/api/") and details:
        message = f"{details[0].field}: {details[0].message}"
    return error_response(request, 400, message, details)


def _detail_from_pydantic(error: Any) -> ErrorDetail:
    location = [str(part) for part in error.get("loc", ())]
    if location and location[0] in ("body", "query", "path", "header"):
        location = location[1:]  # where the value came from, not its name (a field may be called "query")
    field = ".".join(location) or "body"
    message = str(error.get("msg", "invalid value"))
    if error.get("type") == "json_invalid":
        field, message = "body", "the request body is not valid JSON"
    return ErrorDetail(field, message)


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    message = {404: NOT_FOUND_MESSAGE, 405: "This method is not allowed on this resource"}.get(
        exc.status_code, str(exc.detail)
    )
    headers = dict(exc.headers or {})
    return error_response(request, exc.status_code, message, headers=headers)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.error(
        "unhandled error",
        request_id=request_id_of(request),
        method=request.method,
        path=request.url.path,
        exc_info=exc,
    )
    return error_response(request, 500, INTERNAL_MESSAGE)
