"""Polygon stock snapshots: ``/v2/snapshot/locale/us/markets/stocks/tickers[/{ticker}]`` and the
``gainers``/``losers`` movers, answered by the ``/v1`` stock snapshot handlers."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request

from ...services.stocks import DIRECTIONS
from ..auth import Caller
from ..deps import ApiContext, caller, context
from ..envelope import JSONBytes
from ..openapi import params as q
from ..openapi.schemas import ok_body
from ..routing import Router
from ..stocks.common import stock_ticker
from ..stocks.snapshots import movers as v1_movers
from ..stocks.snapshots import snapshot_all as v1_snapshot_all
from ..stocks.snapshots import snapshot_one as v1_snapshot_one
from .common import forward, reshape, same_query_as

router = Router(tags=["polygon"])

PREFIX = "/v2/snapshot/locale/us/markets/stocks"


def _under_ticker(body: dict[str, Any]) -> None:
    """Polygon puts a single stock snapshot under ``ticker`` rather than ``results``."""
    body["ticker"] = body.pop("results")


@router.get(
    f"{PREFIX}/tickers",
    summary="Stock snapshots (all tickers or a list)",
    response_class=JSONBytes,
    responses=ok_body("StockSnapshots"),
    dependencies=[Depends(same_query_as(v1_snapshot_all))],
)
def snapshot_all(request: Request, ctx: ApiContext = Depends(context), who: Caller = Depends(caller)) -> JSONBytes:
    """``{count, tickers: [StockSnapshot]}`` as of now; ``tickers`` (comma list) and ``include_otc`` filter."""
    who.require_product("stocks")
    return forward(v1_snapshot_all, request, ctx, who)


@router.get(
    f"{PREFIX}/tickers/{{ticker}}",
    summary="One stock's snapshot",
    response_class=JSONBytes,
    responses=ok_body("StockSnapshotTicker"),
)
def snapshot_one(
    request: Request,
    ticker: str = q.stock_ticker(),
    ctx: ApiContext = Depends(context),
    who: Caller = Depends(caller),
) -> JSONBytes:
    """``{ticker: StockSnapshot}``; 404 for a ticker without data."""
    who.require_product("stocks")
    symbol = stock_ticker(ticker, "ticker")
    return reshape(forward(v1_snapshot_one, request, ctx, who, stocksTicker=symbol), _under_ticker)


@router.get(
    f"{PREFIX}/{{direction}}",
    summary="Top stock gainers or losers",
    response_class=JSONBytes,
    responses=ok_body("StockMovers"),
    dependencies=[Depends(same_query_as(v1_movers))],
)
def movers(
    request: Request,
    direction: str = q.path_choice(DIRECTIONS, "gainers or losers"),
    ctx: ApiContext = Depends(context),
    who: Caller = Depends(caller),
) -> JSONBytes:
    """``gainers`` or ``losers``: the top 20 by percent change from the previous close (volume ≥ 10,000)."""
    who.require_product("stocks")
    return forward(v1_movers, request, ctx, who, direction=direction)
