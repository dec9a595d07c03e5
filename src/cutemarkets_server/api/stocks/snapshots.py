"""Stock snapshots: every ticker, one ticker, and the day's top movers."""

from __future__ import annotations

from fastapi import Depends, Request

from ...services.stocks import DIRECTIONS, MOVERS_COUNT, StockMarket, StockSnapshot
from ..auth import Caller
from ..deps import ApiContext, caller, context
from ..envelope import JSONBytes, ok, results
from ..errors import not_found
from ..openapi import params as q
from ..openapi.schemas import ok_body
from ..params import parse_bool, parse_choice, parse_limit
from ..routing import Router
from ..shapes import stock_snapshot_row
from .common import known_stock, stock_ticker, ticker_list

router = Router(tags=["stocks"])

ALL_ROWS = 1_000_000


def _rows(snaps: list[StockSnapshot], who: Caller) -> list[dict]:
    return [stock_snapshot_row(s, who.timeframe, StockMarket.close_stamp_ms) for s in snaps]


@router.get(
    "/v1/stocks/snapshot/",
    summary="Stock snapshots (all tickers or a list)",
    response_class=JSONBytes,
    responses=ok_body("StockSnapshots"),
)
def snapshot_all(
    request: Request,
    tickers: str | None = q.query(q.TICKER_LIST, "Comma-separated symbols, e.g. AAPL,MSFT,NVDA (default: all)"),
    ticker_any_of: str | None = q.query(q.TICKER_LIST, "Comma-separated symbols", alias="ticker.any_of"),
    include_otc: str | None = q.boolean("true adds OTC tickers (default false)"),
    limit: str | None = q.query({"type": "integer", "minimum": 1}, "At most this many rows (default: all)"),
    ctx: ApiContext = Depends(context),
    who: Caller = Depends(caller),
) -> JSONBytes:
    """Day, previous day, latest minute, last trade (and quote on Expert plans) of each ticker, as of now
    (15 minutes ago on delayed plans). Unknown symbols in the list are left out."""
    market = ctx.services.stocks
    otc = parse_bool("include_otc", include_otc, default=False)
    size = parse_limit(limit, default=ALL_ROWS, maximum=ALL_ROWS)
    listed = ticker_list(tickers, "tickers")
    wanted = listed + [t for t in ticker_list(ticker_any_of, "ticker.any_of") if t not in listed]
    session = market.session_at(who.horizon_ns)
    if not wanted:
        day = session if session is not None else who.today
        wanted = market.universe(day, include_otc=otc)
    snaps = market.snapshots(wanted, who.horizon_ns, include_quotes=who.plan.quotes)
    if not otc:
        snaps = [s for s in snaps if not s.otc]
    rows = _rows(snaps[:size], who)
    return ok(request, {"count": len(rows), "tickers": rows})


@router.get(
    "/v1/stocks/snapshot/movers/{direction}/",
    summary="Top stock gainers or losers",
    response_class=JSONBytes,
    responses=ok_body("StockMovers"),
)
def movers(
    request: Request,
    direction: str = q.path_choice(DIRECTIONS, "gainers or losers"),
    include_otc: str | None = q.boolean("true adds OTC tickers (default false)"),
    limit: str | None = q.limit(default=MOVERS_COUNT, maximum=MOVERS_COUNT),
    ctx: ApiContext = Depends(context),
    who: Caller = Depends(caller),
) -> JSONBytes:
    """The top 20 tickers by percent change from the previous close (gainers: largest rise first; losers:
    largest fall first) among tickers that traded at least 10,000 shares in the current session."""
    way = parse_choice("direction", direction, DIRECTIONS) or "gainers"
    snaps = ctx.services.stocks.movers(
        way,
        who.horizon_ns,
        include_quotes=who.plan.quotes,
        include_otc=parse_bool("include_otc", include_otc, default=False),
        limit=parse_limit(limit, default=MOVERS_COUNT, maximum=MOVERS_COUNT),
    )
    return ok(request, {"tickers": _rows(snaps, who)})


@router.get(
    "/v1/stocks/snapshot/{stocksTicker}/",
    summary="One stock's snapshot",
    response_class=JSONBytes,
    responses=ok_body("StockSnapshotResult"),
)
def snapshot_one(
    request: Request,
    stocksTicker: str = q.stock_ticker(),
    ctx: ApiContext = Depends(context),
    who: Caller = Depends(caller),
) -> JSONBytes:
    """The snapshot of one ticker; 404 for an unknown ticker or one without any data yet."""
    ticker = stock_ticker(stocksTicker)
    known_stock(ctx.services, ticker)
    snaps = ctx.services.stocks.snapshots([ticker], who.horizon_ns, include_quotes=who.plan.quotes)
    if not snaps:
        raise not_found(f"No market data for {ticker} yet.")
    return results(request, _rows(snaps, who)[0])
