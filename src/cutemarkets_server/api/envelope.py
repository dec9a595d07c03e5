"""Success and error envelopes, request ids, and ready-made JSON responses."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

JSON_MEDIA_TYPE = "application/json"


def new_request_id() -> str:
    """``cm_`` followed by 32 lower-case hex characters."""
    return "cm_" + uuid.uuid4().hex


def request_id(request: Request) -> str:
    rid = getattr(request.state, "request_id", None)
    if rid is None:
        rid = new_request_id()
        request.state.request_id = rid
    return rid


class JSONBytes(Response):
    """A JSON response serialised with orjson (NaN/inf become null, never bare NaN)."""

    media_type = JSON_MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        if isinstance(content, bytes):
            return content
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)


def ok(request: Request, body: dict[str, Any] | None = None, *, status: int = 200, **fields: Any) -> JSONBytes:
    """``{"status": "OK", "request_id": …, **body}``; callers add ``results`` / ``next_url`` themselves."""
    payload: dict[str, Any] = {"status": "OK", "request_id": request_id(request)}
    if body:
        payload.update(body)
    payload.update(fields)
    return JSONBytes(payload, status_code=status)


def results(request: Request, rows: Any, *, next_url: str | None = None, **extra: Any) -> JSONBytes:
    """The standard list/single envelope; ``next_url`` appears only when there is another page."""
    payload: dict[str, Any] = {"status": "OK", "request_id": request_id(request)}
    payload.update(extra)
    payload["results"] = rows
    if next_url:
        payload["next_url"] = next_url
    return JSONBytes(payload)


def error_body(rid: str, code: str, message: str) -> dict[str, Any]:
    return {"status": "ERROR", "request_id": rid, "error": {"code": code, "message": message}}


def error(request: Request, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONBytes:
    return JSONBytes(error_body(request_id(request), code, message), status_code=status, headers=headers)
