"""Options aggregates: custom range, previous day and daily open/close."""

from __future__ import annotations

from fastapi import Depends, Request

from ..aggregates import V1_TIMESPANS, aggs_range, open_close, previous_day
from ..auth import Caller
from ..deps import ApiContext, caller, context
from ..envelope import JSONBytes
from ..openapi import params as q
from ..openapi.schemas import ok_body
from ..routing import Router, on_loop
from .common import known_contract, option_ticker

router = Router(tags=["options"])


@router.get(
    "/v1/options/aggs/{options_ticker}/{multiplier}/{timespan}/{from_date}/{to_date}/",
    summary="Option aggregates (custom range)",
    response_class=JSONBytes,
    responses=ok_body("Aggregates"),
)
@on_loop
def aggs(
    request: Request,
    options_ticker: str = q.option_ticker(),
    multiplier: str = q.multiplier(),
    timespan: str = q.path_choice(V1_TIMESPANS, "Bar length unit"),
    from_date: str = q.range_bound("from"),
    to_date: str = q.range_bound("to"),
    adjusted: str | None = q.boolean("true (default) applies splits"),
    sort: str | None = q.choice(("asc", "desc"), "asc (default) or desc by bar time"),
    limit: str | None = q.limit(default=5000, maximum=10000, what="Base bars read"),
    page: str | None = q.token(),
    ctx: ApiContext = Depends(context),
    who: Caller = Depends(caller),
) -> JSONBytes:
    """OHLC bars built from qualifying trades; windows without trades are gaps. ``from``/``to``: YYYY-MM-DD or ms."""
    ticker = option_ticker(options_ticker)
    known_contract(ctx.services, ticker)
    return aggs_range(
        request,
        ctx,
        who,
        route="option_aggs",
        ticker=ticker,
        multiplier=multiplier,
        timespan=timespan,
        frm=from_date,
        to=to_date,
        adjusted=adjusted,
        sort=sort,
        limit=limit,
        page=page,
    )


@router.get(
    "/v1/options/aggs/{options_ticker}/prev/",
    summary="Option previous-day bar",
    response_class=JSONBytes,
    responses=ok_body("Aggregates"),
)
def prev(
    request: Request,
    options_ticker: str = q.option_ticker(),
    adjusted: str | None = q.boolean("true (default) applies splits"),
    ctx: ApiContext = Depends(context),
    who: Caller = Depends(caller),
) -> JSONBytes:
    """The latest completed daily bar before today (stamped 16:00 ET of its day)."""
    ticker = option_ticker(options_ticker)
    known_contract(ctx.services, ticker)
    return previous_day(request, ctx, who, ticker, adjusted)


@router.get(
    "/v1/options/open-close/{options_ticker}/{date}/",
    summary="Option daily open/close",
    response_class=JSONBytes,
    responses=ok_body("OpenClose"),
)
def daily_open_close(
    request: Request,
    options_ticker: str = q.option_ticker(),
    date: str = q.path_day(),
    adjusted: str | None = q.boolean("true (default) applies splits"),
    ctx: ApiContext = Depends(context),
    who: Caller = Depends(caller),
) -> JSONBytes:
    """Regular-session open, high, low, close and volume of one day; 404 when the contract did not trade."""
    ticker = option_ticker(options_ticker)
    known_contract(ctx.services, ticker)
    return open_close(request, ctx, who, ticker, date, adjusted)
