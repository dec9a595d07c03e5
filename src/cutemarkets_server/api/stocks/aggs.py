"""Stock aggregates: grouped daily, previous day, custom range and daily open/close."""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
from fastapi import Depends, Request

from ...market.bars import INTRADAY, Bars
from ...market.calendar import MarketCalendar
from ...services.stocks import SESSION_LABELS, StockMarket, window_sessions
from ..aggregates import V1_TIMESPANS, aggs_range, open_close, previous_day
from ..auth import Caller
from ..deps import ApiContext, caller, context
from ..envelope import JSONBytes, ok
from ..openapi import params as q
from ..openapi.schemas import ok_body
from ..params import parse_bool, parse_date
from ..routing import Router, on_loop
from ..shapes import grouped_daily_row
from .common import known_stock, stock_ticker

router = Router(tags=["stocks"])
_SESSION_NAMES = pa.array(["", *SESSION_LABELS[1:]], pa.string())  # code 0 (no session) is a null


def session_labeller(calendar: MarketCalendar) -> Callable[[Bars, str, int], pa.Array | None]:
    """The ``session`` (premarket/regular/after_hours) of minute and hour bars that lie inside one session."""

    def labels(bars: Bars, timespan: str, multiplier: int) -> pa.Array | None:
        if timespan not in ("minute", "hour") or len(bars) == 0:
            return None
        codes = window_sessions(calendar, bars.window_start, INTRADAY[timespan] * multiplier)
        return pa.DictionaryArray.from_arrays(pa.array(codes, mask=codes == 0), _SESSION_NAMES)

    return labels


@router.get(
    "/v1/stocks/aggs/grouped/{date}/",
    summary="Grouped daily bars (all stocks)",
    response_class=JSONBytes,
    responses=ok_body("GroupedDaily"),
)
def grouped(
    request: Request,
    date: str = q.path_day(),
    adjusted: str | None = q.boolean("true (default) applies splits"),
    include_otc: str | None = q.boolean("true adds OTC tickers (default false)"),
    ctx: ApiContext = Depends(context),
    who: Caller = Depends(caller),
) -> JSONBytes:
    """Every ticker's daily bar of one day (``t`` = 16:00 ET); a holiday or a day without data gives ``[]``."""
    day = parse_date("date", date)
    who.check_lookback(day)
    adj = parse_bool("adjusted", adjusted, default=True)
    rows = ctx.services.stocks.grouped_daily(
        day, adjusted=adj, include_otc=parse_bool("include_otc", include_otc, default=False), horizon_ns=who.horizon_ns
    )
    stamp = StockMarket.close_stamp_ms(day)
    out = [grouped_daily_row(r, stamp) for r in rows]
    return ok(
        request,
        {"adjusted": adj, "queryCount": len(out), "resultsCount": len(out), "count": len(out), "results": out},
    )


@router.get(
    "/v1/stocks/aggs/{stocksTicker}/prev/",
    summary="Stock previous-day bar",
    response_class=JSONBytes,
    responses=ok_body("Aggregates"),
)
def prev(
    request: Request,
    stocksTicker: str = q.stock_ticker(),
    adjusted: str | None = q.boolean("true (default) applies splits"),
    ctx: ApiContext = Depends(context),
    who: Caller = Depends(caller),
) -> JSONBytes:
    """The latest completed daily bar before today (stamped 16:00 ET of its day)."""
    ticker = stock_ticker(stocksTicker)
    known_stock(ctx.services, ticker)
    return previous_day(request, ctx, who, ticker, adjusted)


@router.get(
    "/v1/stocks/aggs/{stocksTicker}/{multiplier}/{timespan}/{from_date}/{to_date}/",
    summary="Stock aggregates (custom range)",
    response_class=JSONBytes,
    responses=ok_body("Aggregates"),
)
@on_loop
def aggs(
    request: Request,
    stocksTicker: str = q.stock_ticker(),
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
    """OHLC bars from qualifying trades; minute and hour bars inside one session carry ``session``
    (premarket, regular or after_hours). ``from``/``to``: YYYY-MM-DD or ms."""
    ticker = stock_ticker(stocksTicker)
    known_stock(ctx.services, ticker)
    return aggs_range(
        request,
        ctx,
        who,
        route="stock_aggs",
        ticker=ticker,
        multiplier=multiplier,
        timespan=timespan,
        frm=from_date,
        to=to_date,
        adjusted=adjusted,
        sort=sort,
        limit=limit,
        page=page,
        annotate=session_labeller(ctx.runtime.calendar),
    )


@router.get(
    "/v1/stocks/open-close/{stocksTicker}/{date}/",
    summary="Stock daily open/close",
    response_class=JSONBytes,
    responses=ok_body("OpenClose"),
)
def daily_open_close(
    request: Request,
    stocksTicker: str = q.stock_ticker(),
    date: str = q.path_day(),
    adjusted: str | None = q.boolean("true (default) applies splits"),
    ctx: ApiContext = Depends(context),
    who: Caller = Depends(caller),
) -> JSONBytes:
    """Regular-session open, high, low, close and volume, with the first pre-market and the last
    after-hours trade price; 404 when the stock did not trade that day."""
    ticker = stock_ticker(stocksTicker)
    known_stock(ctx.services, ticker)
    return open_close(request, ctx, who, ticker, date, adjusted)
