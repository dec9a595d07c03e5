"""Reference routes: ticker search and option expirations."""

from __future__ import annotations

import datetime as dt

import pyarrow.compute as pc
from fastapi import Depends, Request

from ..services.reference import ContractQuery
from .auth import Caller
from .deps import ApiContext, caller, context
from .envelope import JSONBytes, ok, results
from .openapi import params as q
from .openapi.schemas import ok_body
from .paging import Pager
from .params import parse_limit
from .routing import Router
from .stocks.common import stock_ticker

router = Router(tags=["reference"])


@router.get("/v1/tickers/search/", summary="Ticker search", response_class=JSONBytes, responses=ok_body("TickerSearch"))
def search(
    request: Request,
    query: str | None = q.text("Part of a symbol or company name"),
    limit: str | None = q.limit(default=10, maximum=1000),
    page: str | None = q.token(),
    ctx: ApiContext = Depends(context),
    who: Caller = Depends(caller),
) -> JSONBytes:
    """Symbols and names matching ``query``: exact symbol first, then symbol prefixes, then name matches."""
    pager = Pager(request, ctx, who, "search")
    state = pager.load(page) or {"q": (query or "").strip(), "l": parse_limit(limit, default=10, maximum=1000), "o": 0}
    table = ctx.services.reference.tickers_on(who.today)
    q = state["q"].upper()
    ranked: list[tuple[int, str, str]] = []
    for sym, name in zip(table["ticker"].to_pylist(), table["name"].to_pylist(), strict=True):
        if not q:
            rank = 3
        elif sym == q:
            rank = 0
        elif sym.startswith(q):
            rank = 1
        elif q in sym or q in (name or "").upper():
            rank = 2
        else:
            continue
        ranked.append((rank, sym, name))
    ranked.sort()
    start, size = state["o"], state["l"]
    rows = [{"symbol": s, "name": n} for _, s, n in ranked[start : start + size]]
    more = start + size < len(ranked)
    return results(request, rows, next_url=pager.next_url({**state, "o": start + size}) if more else None)


@router.get(
    "/v1/tickers/expirations/{ticker}/",
    summary="Option expirations",
    response_class=JSONBytes,
    responses=ok_body("Expirations"),
)
def expirations(
    request: Request,
    ticker: str = q.stock_ticker("The underlying's symbol"),
    ctx: ApiContext = Depends(context),
    who: Caller = Depends(caller),
) -> JSONBytes:
    """Expiration dates (ascending) with at least one listed, unexpired contract today."""
    underlying = stock_ticker(ticker, "ticker")
    listed = ctx.services.reference.contracts_on(who.today, ContractQuery(underlying=underlying, expired=False))
    days: list[dt.date] = sorted(set(pc.unique(listed["expiration_date"]).to_pylist())) if listed.num_rows else []
    return ok(request, {"ticker": underlying, "results": [d.isoformat() for d in days]})
