"""Trade and quote listings and last-tick lookups, shared by the options and stocks routes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from fastapi import Request

from ..market.timestamps import et_date
from ..plans import DELAY_NS
from ..services.ticks import page_ticks
from ..store.market import Position
from .auth import Caller
from .deps import ApiContext
from .envelope import JSONBytes, results
from .errors import not_found
from .openapi import params as q
from .paging import Pager
from .params import parse_choice, parse_limit, time_range

SORT_FIELDS = ("timestamp", "sip_timestamp")
TIMEFRAMES = ("live", "delayed")
TIMESTAMP_DOC = "YYYY-MM-DD (a whole ET day), an epoch integer (ns; unit inferred from its size) or RFC 3339"


def horizon(who: Caller, timeframe: str | None) -> int:
    """The newest instant a listing may show: the plan's horizon, or 15 minutes ago for ``timeframe=delayed``."""
    h = who.horizon_ns
    if parse_choice("timeframe", timeframe, TIMEFRAMES, default="live") == "delayed":
        h = min(h, who.now_ns - DELAY_NS)
    return h


@dataclass(frozen=True)
class TickQuery:
    """The filters, order and page of a trades or quotes listing, as sent."""

    filters: dict[str, str | None]
    sort: str | None
    order: str | None
    limit: str | None
    page: str | None


def tick_query_of(max_limit: int) -> Callable[..., TickQuery]:
    """The query parameters every trades and quotes listing takes (one declaration for the OpenAPI document)."""

    async def tick_query(
        timestamp: str | None = q.timestamp(TIMESTAMP_DOC),
        timestamp_gte: str | None = q.timestamp(alias="timestamp.gte"),
        timestamp_gt: str | None = q.timestamp(alias="timestamp.gt"),
        timestamp_lte: str | None = q.timestamp(alias="timestamp.lte"),
        timestamp_lt: str | None = q.timestamp(alias="timestamp.lt"),
        sort: str | None = q.choice(SORT_FIELDS, "timestamp (the only order key)"),
        order: str | None = q.choice(("asc", "desc"), "desc (default, newest first) or asc"),
        limit: str | None = q.limit(default=1000, maximum=max_limit),
        page: str | None = q.token(),
    ) -> TickQuery:
        filters = {"": timestamp, "gte": timestamp_gte, "gt": timestamp_gt, "lte": timestamp_lte, "lt": timestamp_lt}
        return TickQuery(filters, sort, order, limit, page)

    return tick_query


V1_TICK_LIMIT = 10000
tick_query = tick_query_of(V1_TICK_LIMIT)


def first_page(who: Caller, ticker: str, query: TickQuery, timeframe: str | None, max_limit: int) -> dict[str, Any]:
    """The validated state of a listing's first page (400 naming the parameter, 403 beyond the lookback)."""
    rng, instants = time_range("timestamp", query.filters)
    for inst in instants:
        who.check_lookback(inst.day if inst.day is not None else et_date(inst.ns))
    parse_choice("sort", query.sort, SORT_FIELDS, default="timestamp")
    parse_choice("timeframe", timeframe, TIMEFRAMES)
    return {
        "t": ticker,
        "lo": rng.lo,
        "hi": rng.hi,
        "desc": parse_choice("order", query.order, ("asc", "desc"), default="desc") == "desc",
        "l": parse_limit(query.limit, default=1000, maximum=max_limit),
        "tf": timeframe,
        "pos": None,
    }


def list_ticks(
    request: Request,
    ctx: ApiContext,
    who: Caller,
    *,
    route: str,
    dataset: str,
    ticker: str,
    query: TickQuery,
    timeframe: str | None,
    shape: Callable[[pa.Table], Any],
    max_limit: int = V1_TICK_LIMIT,
) -> JSONBytes:
    pager = Pager(request, ctx, who, route)
    state = pager.load(query.page)
    if state is None:
        state = first_page(who, ticker, query, timeframe, max_limit)
    elif state["lo"] is not None:
        who.check_lookback(et_date(state["lo"]))
    h = horizon(who, state["tf"])
    hi = h + 1 if state["hi"] is None else min(state["hi"], h + 1)
    after = Position(*state["pos"]) if state["pos"] else None
    table, nxt = page_ticks(
        ctx.services.store,
        dataset,
        state["t"],
        state["lo"],
        hi,
        descending=state["desc"],
        limit=state["l"],
        after=after,
    )
    next_url = pager.next_url({**state, "pos": [nxt.ts, nxt.skip]}) if nxt else None
    return results(request, shape(table), next_url=next_url)


def last_tick(ctx: ApiContext, dataset: str, ticker: str, before_ns: int, what: str) -> dict[str, Any]:
    row = ctx.services.store.last_tick(dataset, ticker, before_ns)
    if row is None:
        raise not_found(f"No {what} found for {ticker}.")
    return row
