"""The OpenAPI 3.1 document, built once from the routes.

FastAPI describes each route from its declaration: parameters (typed by ``openapi.params``) and the 200
body (``responses=ok_body(...)`` naming a schema of ``openapi.schemas``, or a pydantic ``response_model``).
This module adds what every route shares, so no route repeats it:

* the error responses it can really give, each with the error envelope: 400 when it takes parameters or a body;
  401, 403 and 429 when it needs a key (``auth.product_for_path``); 404 when its path has parameters;
  500 and any other status of the error table (``errors.ERROR_STATUS``) everywhere;
* the key schemes (Bearer header or ``apiKey`` query) on keyed routes, none on public ones;
* the ``X-Request-Id`` header on every response;
* ``allowEmptyValue`` on query parameters (``?as_of=`` means no ``as_of``);
* no 422 (bad input is always a 400 with the envelope).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from ..auth import product_for_path
from ..errors import ERROR_STATUS
from ..paper_schemas import COMPONENTS as PAPER_COMPONENTS
from .schemas import BODIES, COMPONENTS, REQUEST_ID, ref

KEYED_ONLY = (401, 403, 429)
ERROR_TEXT = {
    400: "Bad input (`bad_request`, `invalid_page_token`); the message names the parameter",
    401: "Missing, invalid or revoked API key",
    403: "The key lacks the product or plan (`forbidden`), or the date is beyond the plan's lookback",
    404: "Unknown ticker or object",
    429: "Rate limit exceeded (`Retry-After` says when to retry)",
    500: "Internal error; the request id identifies it in the server log",
}
REQUEST_ID_HEADER = {
    "X-Request-Id": {"description": "The request id (also in the body)", "required": True, "schema": REQUEST_ID}
}
SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer cm_…"},
    "apiKey": {"type": "apiKey", "in": "query", "name": "apiKey", "description": "?apiKey=cm_… (or api_key)"},
}


def error_statuses(path: str, operation: dict[str, Any]) -> list[int]:
    """The error statuses a route can answer with."""
    statuses = set(ERROR_STATUS.values())
    if product_for_path(path) is None:
        statuses -= set(KEYED_ONLY)
    if not operation.get("parameters") and "requestBody" not in operation:
        statuses.discard(400)
    if "{" not in path:
        statuses.discard(404)
    return sorted(statuses)


def _error_response(status: int) -> dict[str, Any]:
    return {
        "description": ERROR_TEXT.get(status, "Error"),
        "headers": REQUEST_ID_HEADER,
        "content": {"application/json": {"schema": ref("Error")}},
    }


def build(app: FastAPI) -> dict[str, Any]:
    doc = get_openapi(
        title=app.title,
        version=app.version,
        openapi_version="3.1.0",
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas.update(COMPONENTS)
    schemas.update(BODIES)
    schemas.update(PAPER_COMPONENTS)
    components["securitySchemes"] = SECURITY_SCHEMES
    for path, item in doc.get("paths", {}).items():
        for operation in item.values():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            for response in responses.values():
                for media in response.get("content", {}).values():
                    if "$ref" in media.get("schema", {}):  # drop FastAPI's guess for a raw Response class
                        media["schema"] = {"$ref": media["schema"]["$ref"]}
            for status in error_statuses(path, operation):
                responses.setdefault(str(status), _error_response(status))
            for response in responses.values():
                response.setdefault("headers", {}).update(REQUEST_ID_HEADER)
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query":
                    parameter["allowEmptyValue"] = True  # an empty value means the parameter's default
            operation["security"] = [{"bearer": []}, {"apiKey": []}] if product_for_path(path) is not None else []
    return doc


def install(app: FastAPI) -> None:
    """Serve :func:`build`'s document at ``app.openapi_url`` (built on first request, then cached)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
