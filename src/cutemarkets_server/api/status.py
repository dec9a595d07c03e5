"""``GET /v1/status/``: the public health probe (no key, never rate limited)."""

from __future__ import annotations

from fastapi import Depends, Request

from ..services.health import check_cache, check_database, check_lake
from .deps import ApiContext, context
from .envelope import JSONBytes, request_id
from .openapi.schemas import ok_body
from .routing import Router

router = Router(tags=["status"])


@router.get("/v1/status/", summary="Service health", response_class=JSONBytes, responses=ok_body("Status"))
def status(request: Request, ctx: ApiContext = Depends(context)) -> JSONBytes:
    """``ok`` when every service is healthy, else ``degraded``; always 200 with measured latencies.

    ``services.lake`` lists under ``datasets`` each dataset whose stored files cannot be read right now."""
    database = check_database(ctx.runtime)
    cache = check_cache(ctx.runtime)
    lake, datasets = check_lake(ctx.runtime)
    lake_json = lake.to_json()
    if datasets:
        lake_json["datasets"] = {name: {"status": "degraded", "message": why} for name, why in datasets.items()}
    healthy = all(s.status == "ok" for s in (database, cache, lake))
    return JSONBytes(
        {
            "status": "ok" if healthy else "degraded",
            "request_id": request_id(request),
            "services": {
                "api": {"status": "ok"},
                "database": database.to_json(),
                "cache": cache.to_json(),
                "lake": lake_json,
            },
        }
    )
