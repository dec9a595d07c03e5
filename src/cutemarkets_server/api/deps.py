"""FastAPI dependencies: the API context and the authenticated caller of a request."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from ..runtime import Runtime
from ..services.container import Services
from .auth import Authenticator, Caller
from .cursor import PageTokens
from .errors import ApiError


@dataclass
class ApiContext:
    runtime: Runtime
    auth: Authenticator
    tokens: PageTokens
    services: Services

    @property
    def public_url(self) -> str | None:
        return self.runtime.settings.public_url


async def context(request: Request) -> ApiContext:
    return request.app.state.ctx  # type: ignore[no-any-return]


async def caller(request: Request) -> Caller:
    found = getattr(request.state, "caller", None)
    if found is None:
        raise ApiError("unauthorized", "Missing API key: send Authorization: Bearer <key>.")
    return found  # type: ignore[no-any-return]
