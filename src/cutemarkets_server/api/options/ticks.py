"""Options trades and quotes: ``/v1/options/trades/{ticker}/`` and ``/v1/options/quotes/{ticker}/`` (+ ``/last/``)."""

from __future__ import annotations

from fastapi import Depends, Request

from ..auth import Caller
from ..deps import ApiContext, caller, context
from ..envelope import JSONBytes, results
from ..openapi import params as qp
from ..openapi.schemas import ok_body
from ..routing import Router, on_loop
from ..shapes import last_trade_compact, option_quote_row, option_quote_rows, option_trade_rows
from ..ticklists import TickQuery, horizon, last_tick, list_ticks, tick_query
from .common import known_contract, option_ticker

router = Router(tags=["options"])


@router.get(
    "/v1/options/trades/{options_ticker}/",
    summary="Option trades",
    response_class=JSONBytes,
    responses=ok_body("OptionTrades"),
)
@on_loop
def trades(
    request: Request,
    options_ticker: str = qp.option_ticker(),
    q: TickQuery = Depends(tick_query),
    ctx: ApiContext = Depends(context),
    who: Caller = Depends(caller),
) -> JSONBytes:
    """Tick-level trades of one contract with nanosecond timestamps."""
    ticker = option_ticker(options_ticker)
    known_contract(ctx.services, ticker)
    return list_ticks(
        request,
        ctx,
        who,
        route="option_trades",
        dataset="option_trades",
        ticker=ticker,
        query=q,
        timeframe=None,
        shape=option_trade_rows,
    )


@router.get(
    "/v1/options/trades/{options_ticker}/last/",
    summary="Last option trade",
    response_class=JSONBytes,
    responses=ok_body("LastTradeResult"),
)
@on_loop
def last_trade(
    request: Request,
    options_ticker: str = qp.option_ticker(),
    ctx: ApiContext = Depends(context),
    who: Caller = Depends(caller),
) -> JSONBytes:
    """The latest trade of one contract (compact keys)."""
    ticker = option_ticker(options_ticker)
    known_contract(ctx.services, ticker)
    row = last_tick(ctx, "option_trades", ticker, who.horizon_ns + 1, "trade")
    return results(request, last_trade_compact(ticker, row))


@router.get(
    "/v1/options/quotes/{options_ticker}/",
    summary="Option quotes (Expert plan)",
    response_class=JSONBytes,
    responses=ok_body("OptionQuotes"),
)
@on_loop
def quotes(
    request: Request,
    options_ticker: str = qp.option_ticker(),
    q: TickQuery = Depends(tick_query),
    timeframe: str | None = qp.choice(("live", "delayed"), "live (default) or delayed (rows at least 15 minutes old)"),
    ctx: ApiContext = Depends(context),
    who: Caller = Depends(caller),
) -> JSONBytes:
    """NBBO quotes of one contract; needs an Expert or Commercial options plan."""
    who.require_quotes()
    ticker = option_ticker(options_ticker)
    known_contract(ctx.services, ticker)
    return list_ticks(
        request,
        ctx,
        who,
        route="option_quotes",
        dataset="option_quotes",
        ticker=ticker,
        query=q,
        timeframe=timeframe,
        shape=option_quote_rows,
    )


@router.get(
    "/v1/options/quotes/{options_ticker}/last/",
    summary="Last option quote (Expert plan)",
    response_class=JSONBytes,
    responses=ok_body("OptionLastQuoteResult"),
)
@on_loop
def last_quote(
    request: Request,
    options_ticker: str = qp.option_ticker(),
    timeframe: str | None = qp.choice(("live", "delayed"), "live (default) or delayed (rows at least 15 minutes old)"),
    ctx: ApiContext = Depends(context),
    who: Caller = Depends(caller),
) -> JSONBytes:
    """The current NBBO of one contract (a quote row plus ``ticker``)."""
    who.require_quotes()
    ticker = option_ticker(options_ticker)
    known_contract(ctx.services, ticker)
    row = last_tick(ctx, "option_quotes", ticker, horizon(who, timeframe) + 1, "quote")
    return results(request, {"ticker": ticker, **option_quote_row(row)})
