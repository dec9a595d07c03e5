"""Polygon trades and quotes: ``/v3/trades/{ticker}``, ``/v3/quotes/{ticker}``, ``/v2/last/trade/{ticker}``
and ``/v2/last/nbbo/{ticker}``, for stocks and options alike (the ``O:`` prefix decides)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pyarrow as pa
from fastapi import Depends, Request

from ..auth import Caller
from ..deps import ApiContext, caller, context
from ..envelope import JSONBytes, results
from ..errors import not_found
from ..openapi import params as qp
from ..openapi.schemas import ok_body
from ..paging import Pager
from ..routing import Router
from ..shapes import last_trade_compact, option_quote_rows, option_trade_rows, stock_quote_rows, stock_trade_rows
from ..ticklists import TickQuery, first_page, horizon, last_tick, list_ticks, tick_query_of
from .common import CURSOR_DOC, Instrument, cursor_of, instrument, no_rows
from .shapes import last_nbbo

router = Router(tags=["polygon"])

MAX_LIMIT = 50000
tick_query = tick_query_of(MAX_LIMIT)
ROW_SHAPES: dict[str, Callable[[pa.Table], Any]] = {
    "option_trades": option_trade_rows,
    "option_quotes": option_quote_rows,
    "stock_trades": stock_trade_rows,
    "stock_quotes": stock_quote_rows,
}


def _dataset(inst: Instrument, kind: str) -> str:
    return f"{'option' if inst.is_option else 'stock'}_{kind}"


def _listing(
    request: Request,
    ctx: ApiContext,
    who: Caller,
    inst: Instrument,
    kind: str,
    *,
    query: TickQuery,
    timeframe: str | None = None,
) -> JSONBytes:
    dataset = _dataset(inst, kind)
    if not inst.known:
        page = cursor_of(request)
        if page:
            Pager(request, ctx, who, f"polygon_{dataset}").load(page)
        else:
            first_page(who, inst.ticker, query, timeframe, MAX_LIMIT)
        return no_rows(request)
    return list_ticks(
        request,
        ctx,
        who,
        route=f"polygon_{dataset}",
        dataset=dataset,
        ticker=inst.ticker,
        query=replace(query, page=cursor_of(request)),
        timeframe=timeframe,
        shape=ROW_SHAPES[dataset],
        max_limit=MAX_LIMIT,
    )


@router.get(
    "/v3/trades/{ticker}", summary="Trades, stocks and options", response_class=JSONBytes, responses=ok_body("Trades")
)
def trades(
    request: Request,
    ticker: str = qp.any_ticker(),
    q: TickQuery = Depends(tick_query),
    cursor: str | None = qp.token(CURSOR_DOC),
    ctx: ApiContext = Depends(context),
    who: Caller = Depends(caller),
) -> JSONBytes:
    """Tick-level trades with nanosecond timestamps; a ticker without trades answers ``results: []``."""
    return _listing(
        request,
        ctx,
        who,
        instrument(ctx, who, ticker),
        "trades",
        query=q,
    )


@router.get(
    "/v3/quotes/{ticker}",
    summary="NBBO quotes, stocks and options (Expert plan)",
    response_class=JSONBytes,
    responses=ok_body("Quotes"),
)
def quotes(
    request: Request,
    ticker: str = qp.any_ticker(),
    q: TickQuery = Depends(tick_query),
    cursor: str | None = qp.token(CURSOR_DOC),
    timeframe: str | None = qp.choice(("live", "delayed"), "live (default) or delayed"),
    ctx: ApiContext = Depends(context),
    who: Caller = Depends(caller),
) -> JSONBytes:
    """NBBO quotes with nanosecond ``sip_timestamp``; needs an Expert or Commercial plan."""
    inst = instrument(ctx, who, ticker)
    who.require_quotes()
    return _listing(
        request,
        ctx,
        who,
        inst,
        "quotes",
        query=q,
        timeframe=timeframe,
    )


@router.get(
    "/v2/last/trade/{ticker}",
    summary="Last trade, stocks and options",
    response_class=JSONBytes,
    responses=ok_body("LastTradeResult"),
)
def last_trade(
    request: Request,
    ticker: str = qp.any_ticker(),
    ctx: ApiContext = Depends(context),
    who: Caller = Depends(caller),
) -> JSONBytes:
    """The latest trade (``t`` SIP ns, ``y`` participant ns, ``f`` TRF ns, ``i`` id)."""
    inst = instrument(ctx, who, ticker)
    if not inst.known:
        raise not_found(f"No trade found for {inst.ticker}.")
    row = last_tick(ctx, _dataset(inst, "trades"), inst.ticker, who.horizon_ns + 1, "trade")
    return results(request, last_trade_compact(inst.ticker, row))


@router.get(
    "/v2/last/nbbo/{ticker}",
    summary="Last NBBO quote (Expert plan)",
    response_class=JSONBytes,
    responses=ok_body("LastNBBOResult"),
)
def last_quote(
    request: Request,
    ticker: str = qp.any_ticker(),
    ctx: ApiContext = Depends(context),
    who: Caller = Depends(caller),
) -> JSONBytes:
    """The current NBBO with Polygon's keys (``x`` bid exchange, ``X`` ask exchange, ``y`` participant ns)."""
    inst = instrument(ctx, who, ticker)
    who.require_quotes()
    if not inst.known:
        raise not_found(f"No quote found for {inst.ticker}.")
    row = last_tick(ctx, _dataset(inst, "quotes"), inst.ticker, horizon(who, None) + 1, "quote")
    return results(request, last_nbbo(inst.ticker, row))
