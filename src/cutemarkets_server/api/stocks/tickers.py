"""Stock ticker reference: the point-in-time listing, types, details and related tickers."""

from __future__ import annotations

import datetime as dt

from fastapi import Depends, Request

from ...services.stocks import TICKER_SORTS, TICKER_TYPES, StockMarket, TickerQuery
from ..auth import Caller
from ..deps import ApiContext, caller, context
from ..envelope import JSONBytes, results
from ..errors import not_found
from ..openapi import params as q
from ..openapi.schemas import ok_body
from ..paging import Pager
from ..params import parse_bool, parse_choice, parse_date, parse_limit
from ..routing import Router
from ..shapes import stock_ticker_row
from .common import stock_ticker

router = Router(tags=["stocks"])

MARKETS = ("stocks", "otc", "crypto", "fx", "indices")
ASSET_CLASSES = ("stocks", "options", "crypto", "fx", "indices")
LOCALES = ("us", "global")
TYPE_CODES = tuple(code.lower() for code, _, _ in TICKER_TYPES)


def _day(who: Caller, date: str | None) -> dt.date:
    """The reference day: ``date`` (never later than today, so no record is seen before it takes effect)."""
    day = min(parse_date("date", date), who.today) if date else who.today
    who.check_lookback(day)
    return day


@router.get(
    "/v1/stocks/tickers/",
    summary="List stock tickers",
    response_class=JSONBytes,
    responses=ok_body("StockTickers"),
)
def list_tickers(
    request: Request,
    ticker: str | None = q.query(q.STOCK_TICKER, "A stock symbol"),
    ticker_gte: str | None = q.query(q.STOCK_TICKER, alias="ticker.gte"),
    ticker_gt: str | None = q.query(q.STOCK_TICKER, alias="ticker.gt"),
    ticker_lte: str | None = q.query(q.STOCK_TICKER, alias="ticker.lte"),
    ticker_lt: str | None = q.query(q.STOCK_TICKER, alias="ticker.lt"),
    type: str | None = q.choice([c.upper() for c in TYPE_CODES], "A type code from /v1/stocks/tickers/types/"),
    market: str | None = q.choice(MARKETS, "stocks, otc, crypto, fx or indices"),
    exchange: str | None = q.text("Primary exchange MIC, e.g. XNAS"),
    search: str | None = q.text("Part of a symbol or company name"),
    active: str | None = q.boolean("true (default): listed on date; false: delisted by then"),
    date: str | None = q.day("YYYY-MM-DD (default today): tickers as listed on that day"),
    sort: str | None = q.choice(TICKER_SORTS, "ticker (default) or another StockTicker field"),
    order: str | None = q.choice(("asc", "desc"), "asc (default) or desc"),
    limit: str | None = q.limit(default=100, maximum=1000),
    page: str | None = q.token(),
    ctx: ApiContext = Depends(context),
    who: Caller = Depends(caller),
) -> JSONBytes:
    """Tickers as the reference data recorded them on ``date``, paged with a signed cursor."""
    pager = Pager(request, ctx, who, "stock_tickers")
    state = pager.load(page)
    if state is None:
        lo, lo_incl, hi, hi_incl = None, True, None, True
        if ticker:
            lo = hi = stock_ticker(ticker, "ticker")
        for name, raw, is_lo, incl in (
            ("ticker.gte", ticker_gte, True, True),
            ("ticker.gt", ticker_gt, True, False),
            ("ticker.lte", ticker_lte, False, True),
            ("ticker.lt", ticker_lt, False, False),
        ):
            if raw:
                v = stock_ticker(raw, name)
                if is_lo and (lo is None or v > lo or (v == lo and not incl)):
                    lo, lo_incl = v, incl
                elif not is_lo and (hi is None or v < hi or (v == hi and not incl)):
                    hi, hi_incl = v, incl
        kind = parse_choice("type", type, TYPE_CODES)
        state = {
            "d": _day(who, date).isoformat(),
            "a": parse_bool("active", active, default=True),
            "m": parse_choice("market", market, MARKETS),
            "ty": kind.upper() if kind else None,
            "x": exchange.strip().upper() if exchange and exchange.strip() else None,
            "q": search.strip().upper() if search and search.strip() else None,
            "r": [lo, lo_incl, hi, hi_incl],
            "s": parse_choice("sort", sort, TICKER_SORTS, default="ticker"),
            "o": parse_choice("order", order, ("asc", "desc"), default="asc"),
            "l": parse_limit(limit, default=100, maximum=1000),
            "k": None,
        }
    else:
        who.check_lookback(dt.date.fromisoformat(state["d"]))
    lo, lo_incl, hi, hi_incl = state["r"]
    query = TickerQuery(
        day=dt.date.fromisoformat(state["d"]),
        active=state["a"],
        market=state["m"],
        type=state["ty"],
        exchange=state["x"],
        search=state["q"],
        ticker_lo=lo,
        ticker_lo_inclusive=lo_incl,
        ticker_hi=hi,
        ticker_hi_inclusive=hi_incl,
    )
    rows, next_key = ctx.services.stocks.tickers(
        query, sort=state["s"], descending=state["o"] == "desc", limit=state["l"], after=state["k"]
    )
    next_url = pager.next_url({**state, "k": next_key}) if next_key else None
    return results(request, [stock_ticker_row(r) for r in rows], next_url=next_url)


@router.get(
    "/v1/stocks/tickers/types/",
    summary="Stock ticker types",
    response_class=JSONBytes,
    responses=ok_body("TickerTypes"),
)
def ticker_types(
    request: Request,
    asset_class: str | None = q.choice(ASSET_CLASSES, "stocks, options, crypto, fx or indices"),
    locale: str | None = q.choice(LOCALES, "us or global"),
    who: Caller = Depends(caller),
) -> JSONBytes:
    """The ticker type codes (CS, ETF, …) with their descriptions."""
    rows = StockMarket.ticker_types(
        parse_choice("asset_class", asset_class, ASSET_CLASSES), parse_choice("locale", locale, LOCALES)
    )
    return results(request, rows)


@router.get(
    "/v1/stocks/tickers/{stocksTicker}/",
    summary="Stock ticker details",
    response_class=JSONBytes,
    responses=ok_body("StockTickerResult"),
)
def ticker_details(
    request: Request,
    stocksTicker: str = q.stock_ticker(),
    date: str | None = q.day("YYYY-MM-DD (default today): the record in force that day"),
    ctx: ApiContext = Depends(context),
    who: Caller = Depends(caller),
) -> JSONBytes:
    """The reference record of one ticker on ``date`` (point in time: e.g. the name before a change)."""
    symbol = stock_ticker(stocksTicker)
    day = _day(who, date)
    rec = ctx.services.stocks.ticker_details(symbol, day, who.horizon_ns)
    if rec is None:
        if ctx.services.reference.ticker(symbol, None) is None:
            raise not_found(f"Unknown stock ticker {symbol}.")
        raise not_found(f"Stock ticker {symbol} is not listed on {day.isoformat()}.")
    return results(request, stock_ticker_row(rec, detail=True))


@router.get(
    "/v1/stocks/tickers/{stocksTicker}/related/",
    summary="Related tickers",
    response_class=JSONBytes,
    responses=ok_body("RelatedTickers"),
)
def related(
    request: Request,
    stocksTicker: str = q.stock_ticker(),
    ctx: ApiContext = Depends(context),
    who: Caller = Depends(caller),
) -> JSONBytes:
    """Tickers related to this one (peers, competitors); an empty list when none are recorded."""
    symbol = stock_ticker(stocksTicker)
    rows = ctx.services.stocks.related(symbol, who.today)
    if rows is None:
        raise not_found(f"Unknown stock ticker {symbol}.")
    return results(request, rows)
