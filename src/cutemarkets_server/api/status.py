"""``GET /v1/status/``: the public health probe (no key, never rate limited)."""

from __future__ import annotations

from fastapi import Depends, Request

from ..services.health import check_cache, check_database
from .deps import ApiContext, context
from .envelope import JSONBytes, request_id
from .openapi.schemas import ok_body
from .routing import Router

router = Router(tags=["status"])


@router.get("/v1/status/", summary="Service health", response_class=JSONBytes, responses=ok_body("Status"))
def status(request: Request, ctx: ApiContext = Depends(context)) -> JSONBytes:
    """``ok`` when every service is healthy, else ``degraded``; always 200 with measured latencies."""
    database = check_database(ctx.runtime)
    cache = check_cache(ctx.runtime)
    overall = "ok" if database.status == "ok" and cache.status == "ok" else "degraded"
    return JSONBytes(
        {
            "status": overall,
            "request_id": request_id(request),
            "services": {"api": {"status": "ok"}, "database": database.to_json(), "cache": cache.to_json()},
        }
    )
