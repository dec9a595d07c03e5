"""``GET /v1/options/contracts/`` and ``/{options_ticker}/``: point-in-time contract reference."""

from __future__ import annotations

import datetime as dt

from fastapi import Depends, Request

from ...services.reference import ContractQuery
from ..auth import Caller
from ..deps import ApiContext, caller, context
from ..envelope import JSONBytes, results
from ..errors import bad_request, not_found
from ..openapi import params as q
from ..openapi.schemas import ok_body
from ..paging import Pager
from ..params import parse_bool, parse_choice, parse_date, parse_limit
from ..routing import Router
from ..shapes import contract_row
from .chain import ContractFilterParams, contract_filter_params, contract_filters, query_from_state, sorted_page
from .common import known_contract, option_ticker

router = Router(tags=["options"])

CONTRACT_SORTS = ("ticker", "underlying_ticker", "expiration_date", "strike_price")
AS_OF_DATE_DOC = "YYYY-MM-DD (default today): contracts as listed on that day (a later day means today)"


@router.get(
    "/v1/options/contracts/",
    summary="List option contracts",
    response_class=JSONBytes,
    responses=ok_body("OptionContracts"),
)
def list_contracts(
    request: Request,
    underlying_ticker: str | None = q.text("The underlying's symbol"),
    underlying_ticker_gte: str | None = q.text(alias="underlying_ticker.gte"),
    underlying_ticker_gt: str | None = q.text(alias="underlying_ticker.gt"),
    underlying_ticker_lte: str | None = q.text(alias="underlying_ticker.lte"),
    underlying_ticker_lt: str | None = q.text(alias="underlying_ticker.lt"),
    filters: ContractFilterParams = Depends(contract_filter_params),
    as_of: str | None = q.day(AS_OF_DATE_DOC),
    expired: str | None = q.boolean("false (default): unexpired on as_of; true: only expired"),
    sort: str | None = q.choice(CONTRACT_SORTS, "ticker (default), underlying_ticker, expiration_date, strike_price"),
    order: str | None = q.choice(("asc", "desc"), "asc (default) or desc"),
    limit: str | None = q.limit(default=10, maximum=1000),
    page: str | None = q.token(),
    ctx: ApiContext = Depends(context),
    who: Caller = Depends(caller),
) -> JSONBytes:
    """Contracts listed on ``as_of`` (point in time), filtered, sorted and paged."""
    if "ticker" in request.query_params:
        raise bad_request("The ticker parameter is not supported here; use /v1/options/contracts/{options_ticker}/.")
    pager = Pager(request, ctx, who, "contracts")
    state = pager.load(page)
    if state is None:
        day = min(parse_date("as_of", as_of), who.today) if as_of else who.today
        state = {
            "u": underlying_ticker.strip().upper() if underlying_ticker else None,
            "ur": [
                v.strip().upper() if v else None
                for v in (underlying_ticker_gte, underlying_ticker_gt, underlying_ticker_lte, underlying_ticker_lt)
            ],
            "f": contract_filters(filters),
            "d": day.isoformat(),
            "e": parse_bool("expired", expired, default=False),
            "s": parse_choice("sort", sort, CONTRACT_SORTS, default="ticker"),
            "o": parse_choice("order", order, ("asc", "desc"), default="asc"),
            "l": parse_limit(limit, default=10, maximum=1000),
            "k": None,
        }
    day = dt.date.fromisoformat(state["d"])
    who.check_lookback(day)
    for bound in (state["f"]["elo"], state["f"]["ehi"]):
        if bound:
            who.check_lookback(dt.date.fromisoformat(bound))
    query = query_from_state(state["f"], underlying=state["u"], expired=state["e"])
    gte, gt, lte, lt = state["ur"]
    if any((gte, gt, lte, lt)):
        lo, lo_incl = (gt, False) if gt and (not gte or gt >= gte) else (gte, True)
        hi, hi_incl = (lt, False) if lt and (not lte or lt <= lte) else (lte, True)
        query = ContractQuery(**{**query.__dict__, "underlying_range": (lo, hi, lo_incl, hi_incl)})
    table = ctx.services.reference.contracts_on(day, query)
    page_rows, next_key = sorted_page(table, state["s"], state["o"] == "desc", state["l"], state["k"])
    rows = [contract_row(r) for r in page_rows.to_pylist()]
    return results(request, rows, next_url=pager.next_url({**state, "k": next_key}) if next_key else None)


@router.get(
    "/v1/options/contracts/{options_ticker}/",
    summary="Option contract details",
    response_class=JSONBytes,
    responses=ok_body("OptionContractResult"),
)
def contract_detail(
    request: Request,
    options_ticker: str = q.option_ticker(),
    as_of: str | None = q.day("YYYY-MM-DD: the contract as listed on that day"),
    ctx: ApiContext = Depends(context),
    who: Caller = Depends(caller),
) -> JSONBytes:
    """One contract's reference record; with ``as_of`` as in force that day (expired contracts included)."""
    ticker = option_ticker(options_ticker)
    services = ctx.services
    known_contract(services, ticker)
    if as_of:
        day = min(parse_date("as_of", as_of), who.today)  # a later day's listing is not knowable yet
        who.check_lookback(day)
        record = services.reference.contract(ticker, day)
        if record is None:
            raise not_found(f"Option contract {ticker} was not listed on {day.isoformat()}.")
    else:
        record = services.reference.contract(ticker, who.today) or services.reference.contract(ticker, None)
    assert record is not None
    return results(request, contract_row(record))
