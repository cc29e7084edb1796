"""Dependencies shared by the routers: the services container and the authenticated account."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from dlserve.accounts.services import Account
from dlserve.api.errors import UNAUTHORIZED_MESSAGE
from dlserve.container import Services
from dlserve.errors import Unauthorized


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def bearer_token(request: Request) -> str:
    """The token of ``Authorization: Bearer <token>``; ``Unauthorized`` without one."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(UNAUTHORIZED_MESSAGE)
    return token.strip()


def bearer_account(request: Request, services: ServicesDep) -> Account:
    """v4 auth: ``Authorization: Bearer <token>``."""
    return services.accounts.authenticate(bearer_token(request))


BearerAccount = Annotated[Account, Depends(bearer_account)]
