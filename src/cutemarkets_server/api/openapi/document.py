"""The OpenAPI 3.1 document, built once from the routes.

FastAPI describes each route from its declaration: parameters (typed by ``openapi.params``), the request body
(``openapi_extra=request_body(...)``) and the success body (``responses=ok_body(...)`` naming a schema of
``openapi.schemas`` or ``openapi.paper``). This module adds what every route shares, so no route repeats it:

* the error responses it can really give, each with the error envelope: 400 when it takes a query parameter,
  a constrained path parameter or a body; 401 and 429 when it needs a key (``auth.product_for_path``), 403
  as well unless it is in ``NEVER_FORBIDDEN``; 404 when its path has parameters; 503 when it reads the
  lake's files (``reads_lake``); 413, 414, 431 (refused at the edge, before routing) and 500 everywhere;
* the response headers: ``X-Request-Id`` on every answer; ``Retry-After`` on 429 and 503; the
  ``X-RateLimit-*`` headers on every answer of a keyed route once its key is known (not on 401, nor on
  413/414/431, which are answered before the key is read);
* the key schemes (Bearer header or ``apiKey`` query) on keyed routes, none on public ones;
* ``allowEmptyValue`` on optional query parameters (``?as_of=`` means no ``as_of``);
* no 422 (bad input is always a 400 with the envelope).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from ..auth import product_for_path
from . import paper
from .schemas import BODIES, COMPONENTS, CONSOLE, REQUEST_ID, ref

KEYED_ONLY = (401, 403, 429)
EDGE = (413, 414, 431)  # refused by api.security before routing and authentication
ERROR_TEXT = {
    400: "Bad input (`bad_request`, `invalid_page_token`); the message names the parameter",
    401: "Missing, invalid or revoked API key",
    403: "The key lacks the product or plan (`forbidden`), or the date is beyond the plan's lookback",
    404: "Unknown ticker, object or route",
    413: "The request body is too large (`payload_too_large`)",
    414: "The URL is too long (`uri_too_long`)",
    429: "Rate limit exceeded (`Retry-After` says when to retry)",
    431: "The request headers are too large (`bad_request`)",
    500: "Internal error; the request id identifies it in the server log",
    503: "A stored file of the dataset is missing or unreadable (`service_unavailable`); other data keeps serving",
}
# Keyed routes that never answer 403: any valid key may call them and they check no product, plan or lookback.
NEVER_FORBIDDEN = frozenset(
    {
        "/v1/tickers/search/",
        "/v3/reference/tickers/types",
        "/v1/related-companies/{ticker}",
        "/v1/marketstatus/now",
        "/v1/marketstatus/upcoming",
        "/v2/reference/news",
        "/v1/datasets/",
        "/v1/account/",
        "/v1/clock/",
        "/v1/backtests/",
        "/v1/backtests/{run}/",
    }
)
# Keyed routes outside /v1/paper/ that never read a lake file (the calendar, the key, the manifest, a
# results folder); every other keyed route reads market data and may answer 503.
LAKE_FREE = frozenset(
    {
        "/v1/marketstatus/now",
        "/v1/marketstatus/upcoming",
        "/v2/reference/news",
        "/v1/stocks/tickers/types/",
        "/v3/reference/tickers/types",
        "/v1/datasets/",
        "/v1/account/",
        "/v1/clock/",
        "/v1/backtests/",
        "/v1/backtests/{run}/",
    }
)
# The paper routes that value positions or check a symbol against the market (the rest read only the ledger).
PAPER_ACCOUNT = "/v1/paper/accounts/{account_id}/"
PAPER_LAKE_READERS = frozenset(
    {
        ("get", PAPER_ACCOUNT),
        ("patch", PAPER_ACCOUNT),
        ("get", PAPER_ACCOUNT + "account/"),
        ("get", PAPER_ACCOUNT + "positions/"),
        ("post", PAPER_ACCOUNT + "orders/"),
    }
)
REQUEST_ID_HEADER = {
    "X-Request-Id": {"description": "The request id (also in the body)", "required": True, "schema": REQUEST_ID}
}
RETRY_AFTER_HEADER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    }
}
_COUNT = {"type": "string", "pattern": "^(?:[0-9]+|unlimited)$"}
RATE_LIMIT_HEADERS = {
    "X-RateLimit-Plan": {"description": "The key's plan", "required": True, "schema": {"type": "string"}},
    "X-RateLimit-Limit-Minute": {
        "description": "Requests per minute, or unlimited",
        "required": True,
        "schema": _COUNT,
    },
    "X-RateLimit-Remaining-Minute": {
        "description": "Requests left in the last 60 s (2147483647 when unlimited)",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
    "X-RateLimit-Limit-Day": {"description": "Requests per day, or unlimited", "required": True, "schema": _COUNT},
    "X-RateLimit-Remaining-Day": {
        "description": "Requests left in the last 24 h (2147483647 when unlimited)",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
}
SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer cm_…"},
    "apiKey": {"type": "apiKey", "in": "query", "name": "apiKey", "description": "?apiKey=cm_… (or api_key)"},
}


def reads_lake(method: str, path: str) -> bool:
    """Whether the route reads the lake's files (and so can answer 503 ``service_unavailable``)."""
    if path.startswith("/v1/paper/"):
        return (method, path) in PAPER_LAKE_READERS
    return product_for_path(path) is not None and path not in LAKE_FREE


def _may_refuse_input(operation: dict[str, Any]) -> bool:
    """A query parameter, a body or a path parameter whose schema constrains it can be refused with a 400."""
    for parameter in operation.get("parameters", []):
        schema = {k: v for k, v in parameter.get("schema", {}).items() if k not in ("title", "description", "examples")}
        if parameter["in"] != "path" or schema != {"type": "string"}:
            return True
    return "requestBody" in operation


def error_statuses(method: str, path: str, operation: dict[str, Any]) -> list[int]:
    """The error statuses a route can answer with."""
    statuses = {500, *EDGE}
    product = product_for_path(path)
    if product is not None:
        statuses |= set(KEYED_ONLY)
        if path in NEVER_FORBIDDEN:
            statuses.discard(403)
    if _may_refuse_input(operation):
        statuses.add(400)
    if "{" in path:
        statuses.add(404)
    if reads_lake(method, path):
        statuses.add(503)
    return sorted(statuses)


def _error_response(status: int) -> dict[str, Any]:
    return {"description": ERROR_TEXT.get(status, "Error"), "content": {"application/json": {"schema": ref("Error")}}}


def _headers(status: int, keyed: bool) -> dict[str, Any]:
    headers = dict(REQUEST_ID_HEADER)
    if status in (429, 503):
        headers.update(RETRY_AFTER_HEADER)
    if keyed and status not in (401, *EDGE):
        headers.update(RATE_LIMIT_HEADERS)
    return headers


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
    for group in (COMPONENTS, BODIES, CONSOLE, paper.REQUESTS, paper.RESPONSES):
        schemas.update(group)
    components["securitySchemes"] = SECURITY_SCHEMES
    for path, item in doc.get("paths", {}).items():
        keyed = product_for_path(path) is not None
        for method, operation in item.items():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            for response in responses.values():
                for media in response.get("content", {}).values():
                    if "$ref" in media.get("schema", {}):  # drop FastAPI's guess for a raw Response class
                        media["schema"] = {"$ref": media["schema"]["$ref"]}
            for status in error_statuses(method, path, operation):
                responses.setdefault(str(status), _error_response(status))
            for status, response in responses.items():
                if int(status) >= 400:  # a route's own description of an error status keeps the envelope
                    response.setdefault("content", _error_response(int(status))["content"])
            for status, response in responses.items():
                response["headers"] = {**response.get("headers", {}), **_headers(int(status), keyed)}
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query" and not parameter.get("required"):
                    parameter["allowEmptyValue"] = True  # an empty value means the parameter's default
            operation["security"] = [{"bearer": []}, {"apiKey": []}] if keyed else []
    return doc


def install(app: FastAPI) -> None:
    """Serve :func:`build`'s document at ``app.openapi_url`` (built on first request, then cached)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
