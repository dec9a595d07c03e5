"""Stock trades and quotes: ``/v1/stocks/trades/{ticker}/`` and ``/v1/stocks/quotes/{ticker}/`` (+ ``/last/``)."""

from __future__ import annotations

from fastapi import Depends, Request

from ..auth import Caller
from ..deps import ApiContext, caller, context
from ..envelope import JSONBytes, results
from ..openapi import params as qp
from ..openapi.schemas import ok_body
from ..routing import Router, on_loop
from ..shapes import last_trade_compact, stock_last_quote_compact, stock_quote_rows, stock_trade_rows
from ..ticklists import TickQuery, horizon, last_tick, list_ticks, tick_query
from .common import known_stock, stock_ticker

router = Router(tags=["stocks"])


@router.get(
    "/v1/stocks/trades/{stocksTicker}/",
    summary="Stock trades",
    response_class=JSONBytes,
    responses=ok_body("StockTrades"),
)
@on_loop
def trades(
    request: Request,
    stocksTicker: str = qp.stock_ticker(),
    q: TickQuery = Depends(tick_query),
    ctx: ApiContext = Depends(context),
    who: Caller = Depends(caller),
) -> JSONBytes:
    """Tick-level SIP trades of one stock with nanosecond timestamps and sale conditions."""
    ticker = stock_ticker(stocksTicker)
    known_stock(ctx.services, ticker)
    return list_ticks(
        request,
        ctx,
        who,
        route="stock_trades",
        dataset="stock_trades",
        ticker=ticker,
        query=q,
        timeframe=None,
        shape=stock_trade_rows,
    )


@router.get(
    "/v1/stocks/trades/{stocksTicker}/last/",
    summary="Last stock trade",
    response_class=JSONBytes,
    responses=ok_body("LastTradeResult"),
)
@on_loop
def last_trade(
    request: Request,
    stocksTicker: str = qp.stock_ticker(),
    ctx: ApiContext = Depends(context),
    who: Caller = Depends(caller),
) -> JSONBytes:
    """The latest trade of one stock (compact keys)."""
    ticker = stock_ticker(stocksTicker)
    known_stock(ctx.services, ticker)
    row = last_tick(ctx, "stock_trades", ticker, who.horizon_ns + 1, "trade")
    return results(request, last_trade_compact(ticker, row))


@router.get(
    "/v1/stocks/quotes/{stocksTicker}/",
    summary="Stock quotes (Expert plan)",
    response_class=JSONBytes,
    responses=ok_body("StockQuotes"),
)
@on_loop
def quotes(
    request: Request,
    stocksTicker: str = qp.stock_ticker(),
    q: TickQuery = Depends(tick_query),
    timeframe: str | None = qp.choice(("live", "delayed"), "live (default) or delayed (rows at least 15 minutes old)"),
    ctx: ApiContext = Depends(context),
    who: Caller = Depends(caller),
) -> JSONBytes:
    """NBBO quotes of one stock; needs an Expert or Commercial stocks plan."""
    who.require_quotes()
    ticker = stock_ticker(stocksTicker)
    known_stock(ctx.services, ticker)
    return list_ticks(
        request,
        ctx,
        who,
        route="stock_quotes",
        dataset="stock_quotes",
        ticker=ticker,
        query=q,
        timeframe=timeframe,
        shape=stock_quote_rows,
    )


@router.get(
    "/v1/stocks/quotes/{stocksTicker}/last/",
    summary="Last stock quote (Expert plan)",
    response_class=JSONBytes,
    responses=ok_body("StockLastQuoteResult"),
)
@on_loop
def last_quote(
    request: Request,
    stocksTicker: str = qp.stock_ticker(),
    timeframe: str | None = qp.choice(("live", "delayed"), "live (default) or delayed (rows at least 15 minutes old)"),
    ctx: ApiContext = Depends(context),
    who: Caller = Depends(caller),
) -> JSONBytes:
    """The current NBBO of one stock (compact keys: ``x`` bid exchange, ``y`` and ``X`` ask exchange)."""
    who.require_quotes()
    ticker = stock_ticker(stocksTicker)
    known_stock(ctx.services, ticker)
    row = last_tick(ctx, "stock_quotes", ticker, horizon(who, timeframe) + 1, "quote")
    return results(request, stock_last_quote_compact(ticker, row))
