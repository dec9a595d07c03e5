"""``GET /v1/options/chain/{underlying}/``: snapshots of every listed contract of an underlying."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
from fastapi import Depends, Request

from ...services.option_snapshots import SnapshotOptions
from ...services.reference import ContractQuery
from ..auth import Caller
from ..deps import ApiContext, caller, context
from ..envelope import JSONBytes, results
from ..openapi import params as q
from ..openapi.schemas import ok_body
from ..paging import Pager
from ..params import parse_choice, parse_date, parse_float, parse_limit
from ..routing import Router
from ..stocks.common import stock_ticker
from .common import AS_OF_DOC, pit_from_state, pit_state, point_in_time

router = Router(tags=["options"])

CHAIN_SORTS = ("ticker", "expiration_date", "strike_price")


@dataclass(frozen=True)
class ContractFilterParams:
    """The contract filters of the chain and contract listings, as sent."""

    contract_type: str | None
    expiration_date: str | None
    expiration_gte: str | None
    expiration_gt: str | None
    expiration_lte: str | None
    expiration_lt: str | None
    strike: str | None
    strike_gte: str | None
    strike_gt: str | None
    strike_lte: str | None
    strike_lt: str | None


def contract_filter_params(
    contract_type: str | None = q.choice(("call", "put"), "call or put"),
    expiration_date: str | None = q.day("YYYY-MM-DD"),
    expiration_date_gte: str | None = q.day(alias="expiration_date.gte"),
    expiration_date_gt: str | None = q.day(alias="expiration_date.gt"),
    expiration_date_lte: str | None = q.day(alias="expiration_date.lte"),
    expiration_date_lt: str | None = q.day(alias="expiration_date.lt"),
    strike_price: str | None = q.number(),
    strike_price_gte: str | None = q.number(alias="strike_price.gte"),
    strike_price_gt: str | None = q.number(alias="strike_price.gt"),
    strike_price_lte: str | None = q.number(alias="strike_price.lte"),
    strike_price_lt: str | None = q.number(alias="strike_price.lt"),
) -> ContractFilterParams:
    """The filter parameters both listings take (one declaration for the OpenAPI document)."""
    return ContractFilterParams(
        contract_type,
        expiration_date,
        expiration_date_gte,
        expiration_date_gt,
        expiration_date_lte,
        expiration_date_lt,
        strike_price,
        strike_price_gte,
        strike_price_gt,
        strike_price_lte,
        strike_price_lt,
    )


def contract_filters(f: ContractFilterParams) -> dict:
    """Validated filter state shared by the chain and contract listings (JSON-serialisable)."""
    ctype = parse_choice("contract_type", f.contract_type, ("call", "put"))
    lo: dt.date | None = None
    hi: dt.date | None = None
    if f.expiration_date:
        lo = hi = parse_date("expiration_date", f.expiration_date)
    for name, raw, shift, is_lo in (
        ("expiration_date.gte", f.expiration_gte, 0, True),
        ("expiration_date.gt", f.expiration_gt, 1, True),
        ("expiration_date.lte", f.expiration_lte, 0, False),
        ("expiration_date.lt", f.expiration_lt, -1, False),
    ):
        if raw:
            day = parse_date(name, raw)
            # "after the last date" / "before the first" can only be that date itself: no contract expires then.
            d = day + dt.timedelta(days=shift) if dt.date.min < day < dt.date.max else day
            if is_lo:
                lo = d if lo is None else max(lo, d)
            else:
                hi = d if hi is None else min(hi, d)
    state: dict = {"ct": ctype, "elo": lo.isoformat() if lo else None, "ehi": hi.isoformat() if hi else None}
    s_lo, s_lo_incl, s_hi, s_hi_incl = None, True, None, True
    if f.strike:
        s_lo = s_hi = parse_float("strike_price", f.strike)
    for name, raw, is_lo, incl in (
        ("strike_price.gte", f.strike_gte, True, True),
        ("strike_price.gt", f.strike_gt, True, False),
        ("strike_price.lte", f.strike_lte, False, True),
        ("strike_price.lt", f.strike_lt, False, False),
    ):
        if raw:
            v = parse_float(name, raw)
            if is_lo and (s_lo is None or v >= s_lo):
                s_lo, s_lo_incl = v, incl
            elif not is_lo and (s_hi is None or v <= s_hi):
                s_hi, s_hi_incl = v, incl
    state.update({"slo": s_lo, "slo_i": s_lo_incl, "shi": s_hi, "shi_i": s_hi_incl})
    return state


def query_from_state(state: dict, *, underlying: str | None, expired: bool | None) -> ContractQuery:
    return ContractQuery(
        underlying=underlying,
        contract_type=state["ct"],
        expiration_lo=dt.date.fromisoformat(state["elo"]) if state["elo"] else None,
        expiration_hi=dt.date.fromisoformat(state["ehi"]) if state["ehi"] else None,
        strike_lo=state["slo"],
        strike_lo_inclusive=state["slo_i"],
        strike_hi=state["shi"],
        strike_hi_inclusive=state["shi_i"],
        expired=expired,
    )


def sorted_page(
    table: pa.Table, sort: str, descending: bool, limit: int, after: list | None, *, presorted: bool = False
) -> tuple[pa.Table, list | None]:
    """Sort by (``sort``, ticker) unless ``presorted``, continue after the keyset ``after``; return the page and
    the next keyset."""
    if not presorted:
        order = "descending" if descending else "ascending"
        keys = [(sort, order)] if sort == "ticker" else [(sort, order), ("ticker", order)]
        table = table.sort_by(keys)
    if after is not None and presorted and table[sort].null_count == 0:
        table = table.slice(_start_after(table, sort, descending, after))  # zero-copy
    elif after is not None:
        value, ticker = after
        col = table[sort]
        if sort == "expiration_date":
            value = dt.date.fromisoformat(value)
        cmp, tie = (pc.less, pc.less) if descending else (pc.greater, pc.greater)
        mask = (
            cmp(col, value)
            if sort == "ticker"
            else pc.or_(cmp(col, value), pc.and_(pc.equal(col, value), tie(table["ticker"], ticker)))
        )
        table = table.filter(mask)
    page = table.slice(0, limit)
    if table.num_rows <= limit:
        return page, None
    last = page.slice(limit - 1, 1).to_pylist()[0]
    v = last[sort]
    return page, [v.isoformat() if isinstance(v, dt.date) else v, last["ticker"]]


def _start_after(table: pa.Table, sort: str, descending: bool, after: list) -> int:
    """The first row of ``table`` (sorted by (``sort``, ticker), both ascending or both descending) that comes
    after the keyset ``after``: a binary search, so a continuation page costs O(log n) plus its own rows."""
    value, ticker = after
    if sort == "expiration_date":
        value = dt.date.fromisoformat(value)
    key = (value, ticker) if sort != "ticker" else (ticker,)
    col, tickers = table[sort], table["ticker"]

    def at(i: int) -> tuple:
        return (col[i].as_py(), tickers[i].as_py()) if sort != "ticker" else (tickers[i].as_py(),)

    lo, hi = 0, table.num_rows
    while lo < hi:
        mid = (lo + hi) // 2
        row = at(mid)
        if (row > key) if descending is False else (row < key):
            hi = mid
        else:
            lo = mid + 1
    return lo


@router.get(
    "/v1/options/chain/{underlying}/",
    summary="Option chain snapshot",
    response_class=JSONBytes,
    responses=ok_body("OptionChain"),
)
def chain(
    request: Request,
    underlying: str = q.stock_ticker("The underlying's symbol"),
    filters: ContractFilterParams = Depends(contract_filter_params),
    sort: str | None = q.choice(CHAIN_SORTS, "ticker (default), expiration_date or strike_price"),
    order: str | None = q.choice(("asc", "desc"), "asc (default) or desc"),
    limit: str | None = q.limit(default=10, maximum=250),
    page: str | None = q.token(),
    as_of: str | None = q.timestamp(AS_OF_DOC),
    ctx: ApiContext = Depends(context),
    who: Caller = Depends(caller),
) -> JSONBytes:
    """Snapshots (greeks, IV, quote, trade, open interest, underlying) of an underlying's listed contracts."""
    pager = Pager(request, ctx, who, "chain")
    state = pager.load(page)
    if state is None:
        pit = point_in_time(who, as_of)
        state = {
            "u": stock_ticker(underlying, "underlying"),
            "f": contract_filters(filters),
            "s": parse_choice("sort", sort, CHAIN_SORTS, default="ticker"),
            "o": parse_choice("order", order, ("asc", "desc"), default="asc"),
            "l": parse_limit(limit, default=10, maximum=250),
            "p": pit_state(pit),
            "k": None,
        }
    else:
        pit = pit_from_state(state["p"], who)
    if state["f"]["elo"]:
        who.check_lookback(dt.date.fromisoformat(state["f"]["elo"]))
    services = ctx.services
    query = query_from_state(state["f"], underlying=state["u"], expired=False)
    desc = state["o"] == "desc"
    listed = services.reference.contracts_on_sorted(pit.day, query, state["s"], desc)
    continuing = state["k"] is not None
    page_rows, next_key = sorted_page(listed, state["s"], desc, state["l"], state["k"], presorted=True)
    rows = services.snapshots.build(
        page_rows.to_pylist(),
        pit,
        SnapshotOptions(
            include_quotes=who.plan.quotes,
            timeframe=who.timeframe,
            default_rate=ctx.runtime.settings.default_risk_free_rate,
        ),
        # A client paging on through the chain gets the whole listing's facts gathered once for its pages.
        listing=listed if continuing else None,
        listing_key=("chain", query) if continuing else None,
    )
    next_url = pager.next_url({**state, "k": next_key}) if next_key else None
    return results(request, rows, next_url=next_url)
