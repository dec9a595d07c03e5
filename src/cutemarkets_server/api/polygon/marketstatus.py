"""Polygon market status: ``/v1/marketstatus/now`` and ``/v1/marketstatus/upcoming`` from the exchange
calendar (no ``/v1`` CuteMarkets equivalent)."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request

from ...market.timestamps import datetime_from_ns
from ...services.market_status import EXCHANGES, status_at, upcoming
from ..auth import Caller
from ..deps import ApiContext, caller, context
from ..envelope import JSONBytes, request_id
from ..openapi.schemas import ok_body
from ..routing import Router

router = Router(tags=["polygon"])


def _utc_text(ns: int) -> str:
    return datetime_from_ns(ns).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@router.get(
    "/v1/marketstatus/now", summary="Market status now", response_class=JSONBytes, responses=ok_body("MarketStatus")
)
def now(request: Request, ctx: ApiContext = Depends(context), who: Caller = Depends(caller)) -> JSONBytes:
    """``market`` (open, extended-hours or closed), ``earlyHours``, ``afterHours``, ``serverTime`` and the
    status of each exchange, from the XNYS calendar at the server's clock."""
    status = status_at(ctx.runtime.calendar, who.now_ns)
    return JSONBytes(
        {
            "market": status.market,
            "serverTime": status.server_time,
            "earlyHours": status.early_hours,
            "afterHours": status.after_hours,
            "exchanges": {name.lower(): status.market for name in EXCHANGES},
            "request_id": request_id(request),
        }
    )


@router.get(
    "/v1/marketstatus/upcoming",
    summary="Upcoming market holidays",
    response_class=JSONBytes,
    responses=ok_body("MarketHolidays"),
)
def upcoming_holidays(request: Request, ctx: ApiContext = Depends(context), who: Caller = Depends(caller)) -> JSONBytes:
    """A bare array of the next year's holidays (``closed``) and early closes (``early-close``, with
    ``open``/``close`` in UTC) for NYSE, NASDAQ and OTC."""
    rows: list[dict[str, Any]] = []
    for day in upcoming(ctx.runtime.calendar, who.now_ns):
        for exchange in EXCHANGES:
            row: dict[str, Any] = {"exchange": exchange, "name": day.name, "date": day.day.isoformat()}
            row["status"] = day.status
            if day.open_ns is not None and day.close_ns is not None:
                row["open"] = _utc_text(day.open_ns)
                row["close"] = _utc_text(day.close_ns)
            rows.append(row)
    return JSONBytes(rows)
