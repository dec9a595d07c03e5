"""Exception handlers: every failure becomes the error envelope with JSON content, never a 422."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from ..store.errors import DatasetUnavailable
from .envelope import JSONBytes, error
from .errors import ApiError

log = logging.getLogger("cutemarkets.errors")


def _param_name(loc: tuple) -> str:
    parts = [str(p) for p in loc if p not in ("query", "path", "body", "header")]
    return ".".join(parts) or "request"


METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at the request's path (Starlette names only the first route's)."""
    routes = request.app.router.routes
    return [
        method
        for method in METHODS
        if any(route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes)
    ]


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONBytes:
        return error(request, exc.status, exc.code, exc.message, exc.headers or None)

    @app.exception_handler(DatasetUnavailable)
    async def dataset_unavailable(request: Request, exc: DatasetUnavailable) -> JSONBytes:
        # The file path stays in the server log; the client learns only which dataset is affected.
        log.warning("dataset %s unavailable on %s: %s (%s)", exc.dataset, request.url.path, exc.detail, exc.path)
        request.app.state.ctx.runtime.faults.record(exc)
        message = (
            f"The {exc.dataset} dataset is temporarily unavailable: a stored file is missing or unreadable. "
            "Other data keeps serving; retry later."
        )
        return error(request, 503, "service_unavailable", message, {"Retry-After": "30"})

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONBytes:
        first = exc.errors()[0] if exc.errors() else {}
        name = _param_name(tuple(first.get("loc", ())))
        msg = first.get("msg", "invalid value")
        return error(request, 400, "bad_request", f"Invalid {name}: {msg}.")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONBytes:
        if exc.status_code == 404:
            return error(request, 404, "not_found", f"Unknown route {request.url.path}.")
        if exc.status_code == 405:
            return error(
                request,
                405,
                "bad_request",
                f"Method {request.method} is not allowed on {request.url.path}.",
                {"Allow": ", ".join(allowed_methods(request))},
            )
        code = "bad_request" if exc.status_code < 500 else "internal_error"
        return error(request, exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONBytes:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error(request, 500, "internal_error", "Internal server error; the request id identifies it in the logs.")

