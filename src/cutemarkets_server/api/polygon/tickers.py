"""Polygon ticker reference: ``/v3/reference/tickers``, ``/types``, ``/{ticker}`` and
``/v1/related-companies/{ticker}``, answered by the ``/v1`` stock ticker handlers (any valid key: reference
data belongs to no single product)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Depends, Request

from ..auth import Caller
from ..deps import ApiContext, caller, context
from ..envelope import JSONBytes
from ..openapi import params as q
from ..openapi.schemas import ok_body
from ..routing import Router
from ..stocks.common import stock_ticker
from ..stocks.tickers import list_tickers as v1_list_tickers
from ..stocks.tickers import related as v1_related
from ..stocks.tickers import ticker_details as v1_ticker_details
from ..stocks.tickers import ticker_types as v1_ticker_types
from .common import forward, reshape, same_query_as

router = Router(tags=["polygon"])


def _with_ticker(symbol: str) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        body["ticker"] = symbol.strip().upper()

    return change


def _with_count(body: dict[str, Any]) -> None:
    body["count"] = len(body.get("results") or [])


@router.get(
    "/v3/reference/tickers",
    summary="List tickers",
    response_class=JSONBytes,
    responses=ok_body("StockTickersCounted"),
    dependencies=[Depends(same_query_as(v1_list_tickers))],
)
def list_tickers(request: Request, ctx: ApiContext = Depends(context), who: Caller = Depends(caller)) -> JSONBytes:
    """Tickers as listed on ``date`` (default today), with ``count``. Query as ``/v1/stocks/tickers/``:
    ``ticker`` (with ranges), ``type``, ``market``, ``exchange``, ``search``, ``active``, ``date``, ``sort``,
    ``order``, ``limit`` (default 100, maximum 1000), ``cursor``."""
    return reshape(forward(v1_list_tickers, request, ctx, who), _with_count)


@router.get(
    "/v3/reference/tickers/types",
    summary="Ticker types",
    response_class=JSONBytes,
    responses=ok_body("TickerTypes"),
    dependencies=[Depends(same_query_as(v1_ticker_types))],
)
def ticker_types(request: Request, ctx: ApiContext = Depends(context), who: Caller = Depends(caller)) -> JSONBytes:
    """Type codes (CS, ETF, …) with their descriptions; ``asset_class`` and ``locale`` filter them."""
    return forward(v1_ticker_types, request, ctx, who)


@router.get(
    "/v3/reference/tickers/{ticker}",
    summary="Ticker details",
    response_class=JSONBytes,
    responses=ok_body("StockTickerResult"),
    dependencies=[Depends(same_query_as(v1_ticker_details))],
)
def ticker_details(
    request: Request,
    ticker: str = q.stock_ticker(),
    ctx: ApiContext = Depends(context),
    who: Caller = Depends(caller),
) -> JSONBytes:
    """One ticker's reference record as in force on ``date`` (default today), with its market cap."""
    return forward(v1_ticker_details, request, ctx, who, stocksTicker=stock_ticker(ticker, "ticker"))


@router.get(
    "/v1/related-companies/{ticker}",
    summary="Related companies",
    response_class=JSONBytes,
    responses=ok_body("RelatedCompanies"),
)
def related_companies(
    request: Request,
    ticker: str = q.stock_ticker(),
    ctx: ApiContext = Depends(context),
    who: Caller = Depends(caller),
) -> JSONBytes:
    """``{ticker, results: [{ticker}]}``: peers and competitors recorded for the ticker."""
    symbol = stock_ticker(ticker, "ticker")
    return reshape(forward(v1_related, request, ctx, who, stocksTicker=symbol), _with_ticker(symbol))
