"""Polygon aggregates: ``/v2/aggs/ticker/…/range/…``, ``/v2/aggs/ticker/…/prev``, grouped daily and
``/v1/open-close/…``, for stocks and options alike (the ``O:`` prefix decides)."""

from __future__ import annotations

from fastapi import Depends, Request

from ...market.bars import TIMESPANS
from ..aggregates import aggs_range, open_close, parse_range_bounds, previous_day
from ..auth import Caller
from ..deps import ApiContext, caller, context
from ..envelope import JSONBytes
from ..errors import not_found
from ..openapi import params as q
from ..openapi.schemas import ok_body
from ..paging import Pager
from ..params import parse_bool, parse_choice, parse_int, parse_limit
from ..routing import Router
from ..stocks.aggs import grouped as v1_grouped
from .common import CURSOR_DOC, cursor_of, forward, instrument, no_aggregates, same_query_as

router = Router(tags=["polygon"])

DEFAULT_LIMIT = 5000
MAX_LIMIT = 50000


@router.get(
    "/v2/aggs/ticker/{ticker}/range/{multiplier}/{timespan}/{from_date}/{to_date}",
    summary="Aggregates (custom range), stocks and options",
    response_class=JSONBytes,
    responses=ok_body("Aggregates"),
)
def aggs(
    request: Request,
    ticker: str = q.any_ticker(),
    multiplier: str = q.multiplier(),
    timespan: str = q.path_choice(TIMESPANS, "Bar length unit"),
    from_date: str = q.range_bound("from"),
    to_date: str = q.range_bound("to"),
    adjusted: str | None = q.boolean("true (default) applies splits"),
    sort: str | None = q.choice(("asc", "desc"), "asc (default) or desc"),
    limit: str | None = q.limit(default=DEFAULT_LIMIT, maximum=MAX_LIMIT, what="Base bars read"),
    cursor: str | None = q.token(CURSOR_DOC),
    page: str | None = q.token(),
    ctx: ApiContext = Depends(context),
    who: Caller = Depends(caller),
) -> JSONBytes:
    """Bars of a stock or an ``O:`` option (``second`` … ``year``); ``t`` is the bar start in ms, day and
    longer bars start at 00:00 America/New_York. A ticker without data answers 200 with no results."""
    inst = instrument(ctx, who, ticker)
    if not inst.known:  # validated all the same: bad input is a 400 whether or not the ticker has data
        parse_int("multiplier", multiplier, minimum=1, maximum=q.MAX_MULTIPLIER)
        parse_choice("timespan", timespan, TIMESPANS)
        parse_range_bounds(from_date, to_date)
        parse_choice("sort", sort, ("asc", "desc"))
        parse_limit(limit, default=DEFAULT_LIMIT, maximum=MAX_LIMIT)
        if cursor_of(request):
            Pager(request, ctx, who, f"polygon_{inst.product}_aggs").load(cursor_of(request))
        return no_aggregates(request, inst.ticker, parse_bool("adjusted", adjusted, default=True))
    return aggs_range(
        request,
        ctx,
        who,
        route=f"polygon_{inst.product}_aggs",
        ticker=inst.ticker,
        multiplier=multiplier,
        timespan=timespan,
        frm=from_date,
        to=to_date,
        adjusted=adjusted,
        sort=sort,
        limit=limit,
        page=cursor_of(request),
        timespans=TIMESPANS,
        default_limit=DEFAULT_LIMIT,
        max_limit=MAX_LIMIT,
    )


@router.get(
    "/v2/aggs/ticker/{ticker}/prev",
    summary="Previous day bar, stocks and options",
    response_class=JSONBytes,
    responses=ok_body("Aggregates"),
)
def prev(
    request: Request,
    ticker: str = q.any_ticker(),
    adjusted: str | None = q.boolean("true (default) applies splits"),
    ctx: ApiContext = Depends(context),
    who: Caller = Depends(caller),
) -> JSONBytes:
    """The latest completed daily bar before today, with ``T`` and ``t`` = 16:00 ET of its day."""
    inst = instrument(ctx, who, ticker)
    if not inst.known:
        return no_aggregates(request, inst.ticker, parse_bool("adjusted", adjusted, default=True), with_results=False)
    return previous_day(request, ctx, who, inst.ticker, adjusted)


@router.get(
    "/v2/aggs/grouped/locale/us/market/stocks/{date}",
    summary="Grouped daily bars (stocks)",
    response_class=JSONBytes,
    responses=ok_body("GroupedDaily"),
    dependencies=[Depends(same_query_as(v1_grouped))],
)
def grouped(
    request: Request,
    date: str = q.path_day(),
    ctx: ApiContext = Depends(context),
    who: Caller = Depends(caller),
) -> JSONBytes:
    """Every stock's bar of one day (``t`` = 16:00 ET). Query: ``adjusted``, ``include_otc``."""
    who.require_product("stocks")
    return forward(v1_grouped, request, ctx, who, date=date)


@router.get(
    "/v1/open-close/{ticker}/{date}",
    summary="Daily open/close, stocks and options",
    response_class=JSONBytes,
    responses=ok_body("OpenClose"),
)
def daily_open_close(
    request: Request,
    ticker: str = q.any_ticker(),
    date: str = q.path_day(),
    adjusted: str | None = q.boolean("true (default) applies splits"),
    ctx: ApiContext = Depends(context),
    who: Caller = Depends(caller),
) -> JSONBytes:
    """Regular-session open, high, low, close and volume with pre-market and after-hours prices; 404
    when the ticker did not trade that day."""
    inst = instrument(ctx, who, ticker)
    if not inst.known:
        raise not_found(f"Unknown ticker {inst.ticker}.")
    return open_close(request, ctx, who, inst.ticker, date, adjusted)
