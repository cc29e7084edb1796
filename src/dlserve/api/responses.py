"""What every route may answer besides success, declared once for the OpenAPI document.

Each API family has one error envelope (see :mod:`dlserve.api.errors`); a router declares the status
codes a route can return in one line::

    @router.get("/downloads", responses=v4_errors(AUTHED))

The sets below name why a code can happen, so a route's list reads as its behaviour: ``JSON_BODY``
(a JSON body: 400 malformed, 413 too large — the body-size limit runs before auth — and 429, the
per-account rate limits), ``AUTHED`` (401), and so on. 500 is on every route: an unexpected error
still answers with the envelope.

FastAPI adds a ``422`` to every route with parameters; ours answer malformed input with 400
(``api.errors``), so :func:`install_openapi` takes those 422s out of the document.
"""

from __future__ import annotations

from collections.abc import Iterable
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field

# -- the envelopes ---------------------------------------------------------------------------------


class V4ErrorDetail(BaseModel):
    field: str
    message: str


class V4Error(BaseModel):
    """v4 (and the ops and file routes): ``{"error", "message", "code", "details"}``."""

    error: str = Field(examples=["Bad Request"])
    message: str
    code: int = Field(examples=[400])
    details: list[V4ErrorDetail]


class V3Error(BaseModel):
    """v3: ``{"error", "message", "code"}``; a 500 adds ``requestId``."""

    error: str = Field(examples=["Not Found"])
    message: str
    code: int = Field(examples=[404])
    requestId: str | None = None  # noqa: N815 - the wire name


class MediaError(BaseModel):
    """The media API (``/api/``): FastAPI's ``{"detail": "..."}``."""

    detail: str


# -- why a route can fail ----------------------------------------------------------------------------

ALWAYS = frozenset({500})
AUTHED = frozenset({401, 429}) | ALWAYS  # a token is checked; per-account rate limits apply
QUERY = frozenset({400})  # query-string parameters are validated
JSON_BODY = frozenset({400, 413, 429}) | ALWAYS  # parsed body, size limit before auth, rate limits
NOT_FOUND = frozenset({404})
PAID = frozenset({402})  # spends (or reserves) credits


def _responses(model: type[BaseModel], codes: Iterable[int | Iterable[int]]) -> dict[int | str, Any]:
    flat: set[int] = set()
    for code in codes:
        flat.update([code] if isinstance(code, int) else code)
    return {code: {"model": model, "description": HTTPStatus(code).phrase} for code in sorted(flat | ALWAYS)}


def v4_errors(*codes: int | Iterable[int]) -> dict[int | str, Any]:
    return _responses(V4Error, codes)


def v3_errors(*codes: int | Iterable[int]) -> dict[int | str, Any]:
    return _responses(V3Error, codes)


def media_errors(*codes: int | Iterable[int]) -> dict[int | str, Any]:
    return _responses(MediaError, codes)


def success(status: int, description: str, media_type: str = "application/json") -> dict[int | str, Any]:
    """A success status other than the route's default (202, 206, 303), with a free-form body."""
    schema: dict[str, Any] = (
        {} if media_type == "application/json" else {"type": "string", "format": "binary"}
    )
    return {status: {"description": description, "content": {media_type: {"schema": schema}}}}


NOT_MODIFIED: dict[int | str, Any] = {
    304: {"description": "Not modified: the If-None-Match ETag is still current (no body)"}
}


# -- the document ------------------------------------------------------------------------------------


def install_openapi(app: FastAPI) -> None:
    """Build the document once, without FastAPI's automatic 422 (malformed input answers 400)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = build()
            for path_item in document.get("paths", {}).values():
                for operation in path_item.values():
                    if isinstance(operation, dict):
                        operation.get("responses", {}).pop("422", None)
            schemas = document.get("components", {}).get("schemas", {})
            for unused in ("HTTPValidationError", "ValidationError"):
                schemas.pop(unused, None)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
