"""Aggregate routes shared by both products: custom range, previous day, daily open/close."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pyarrow as pa
from fastapi import Request

from ..market.bars import TIMESPANS, Bars
from ..market.timestamps import et_date, et_midnight_ns
from .auth import Caller
from .deps import ApiContext
from .envelope import JSONBytes, ok
from .errors import not_found
from .openapi.params import MAX_MULTIPLIER
from .paging import Pager
from .params import parse_bool, parse_choice, parse_date, parse_instant, parse_int, parse_limit
from .shapes import bar_rows, num

V1_TIMESPANS = tuple(t for t in TIMESPANS if t != "second")
EMPTY_COUNTS = {"queryCount": 0, "resultsCount": 0, "count": 0}


def parse_range_bounds(frm: str, to: str) -> tuple[int, int, dt.date]:
    """[lo, hi) in ns from the path's ``from``/``to`` (dates are whole ET days, integers are ms); ``from``
    after ``to`` is an empty range."""
    a = parse_instant("from", frm, integer_unit="ms")
    b = parse_instant("to", to, integer_unit="ms")
    return a.start_ns(), b.end_ns(), a.day if a.day is not None else et_date(a.ns)


def aggs_range(
    request: Request,
    ctx: ApiContext,
    who: Caller,
    *,
    route: str,
    ticker: str,
    multiplier: str,
    timespan: str,
    frm: str,
    to: str,
    adjusted: str | None,
    sort: str | None,
    limit: str | None,
    page: str | None,
    timespans: tuple[str, ...] = V1_TIMESPANS,
    default_limit: int = 5000,
    max_limit: int = 10000,
    annotate: Callable[[Bars, str, int], pa.Array | None] | None = None,
) -> JSONBytes:
    pager = Pager(request, ctx, who, route)
    state = pager.load(page)
    if state is None:
        mult = parse_int("multiplier", multiplier, minimum=1, maximum=MAX_MULTIPLIER)
        span = parse_choice("timespan", timespan, timespans)
        lo, hi, anchor = parse_range_bounds(frm, to)
        state = {
            "t": ticker,
            "m": mult,
            "ts": span,
            "lo": lo,
            "hi": hi,
            "a": anchor.isoformat(),
            "adj": parse_bool("adjusted", adjusted, default=True),
            "desc": parse_choice("sort", sort, ("asc", "desc"), default="asc") == "desc",
            "l": parse_limit(limit, default=default_limit, maximum=max_limit),
        }
    who.check_lookback(et_date(state["lo"]))
    if state["lo"] >= state["hi"]:
        return ok(request, {"ticker": state["t"], "adjusted": state["adj"], **EMPTY_COUNTS, "results": []})
    series = ctx.services.bars.range(
        state["t"],
        state["m"],
        state["ts"],
        state["lo"],
        state["hi"],
        adjusted=state["adj"],
        limit=state["l"],
        descending=state["desc"],
        horizon_ns=who.horizon_ns,
        anchor=dt.date.fromisoformat(state["a"]),
    )
    labels = annotate(series.bars, state["ts"], state["m"]) if annotate is not None else None
    rows = bar_rows(series.bars, session=labels, descending=state["desc"])
    body = {
        "ticker": state["t"],
        "adjusted": state["adj"],
        "queryCount": series.query_count,
        "resultsCount": len(series.bars),
        "count": len(series.bars),
        "results": rows,
    }
    if series.resume is not None:
        body["next_url"] = pager.next_url({**state, "lo": series.resume[0], "hi": series.resume[1]})
    return ok(request, body)


def previous_day(request: Request, ctx: ApiContext, who: Caller, ticker: str, adjusted: str | None) -> JSONBytes:
    adj = parse_bool("adjusted", adjusted, default=True)
    bars, day = ctx.services.bars.previous_day(ticker, adjusted=adj, horizon_ns=who.horizon_ns)
    body: dict = {
        "ticker": ticker,
        "adjusted": adj,
        "queryCount": len(bars),
        "resultsCount": len(bars),
        "count": len(bars),
    }
    if day is not None:
        body["results"] = bar_rows(bars, ticker=ticker, stamp_ms=[ctx.services.bars.session_stamp_ms(day)])
    return ok(request, body)


def open_close(
    request: Request, ctx: ApiContext, who: Caller, ticker: str, date: str, adjusted: str | None
) -> JSONBytes:
    day = parse_date("date", date)
    who.check_lookback(day)
    adj = parse_bool("adjusted", adjusted, default=True)
    if et_midnight_ns(day) > who.horizon_ns:
        raise not_found(f"No trades for {ticker} on {day.isoformat()} yet.")
    values = ctx.services.bars.open_close(ticker, day, adjusted=adj, horizon_ns=who.horizon_ns)
    if values is None:
        raise not_found(f"No trades for {ticker} on {day.isoformat()}.")
    body = {
        "symbol": ticker,
        "from": day.isoformat(),
        **{k: num(round(v, 6)) for k, v in values.items()},
        "adjusted": adj,
    }
    return ok(request, body)
