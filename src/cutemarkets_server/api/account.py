"""``GET /v1/account/``: the calling key's plan, products and limits (what is left is in the
``X-RateLimit-*`` headers of every answer, this one included)."""

from __future__ import annotations

from fastapi import Depends, Request

from ..plans import DELAY_NS
from .auth import Caller
from .deps import caller
from .envelope import JSONBytes, results
from .openapi.schemas import ok_body
from .routing import Router

router = Router(tags=["reference"])


@router.get(
    "/v1/account/",
    summary="The calling key's plan and limits",
    response_class=JSONBytes,
    responses=ok_body("Account"),
)
def account(request: Request, who: Caller = Depends(caller)) -> JSONBytes:
    p = who.plan
    return results(
        request,
        {
            "name": who.key.name,
            "key_prefix": who.key.key_prefix,
            "plan": p.display,
            "products": list(who.key.products),
            "requests_per_minute": p.per_minute,
            "requests_per_day": p.per_day,
            "lookback_years": p.lookback_years,
            "lookback_from": who.lookback_floor.isoformat(),
            "timeframe": p.timeframe,
            "delay_ns": DELAY_NS if p.delayed else 0,
            "quotes": p.quotes,
            "websocket": p.websocket,
        },
    )
