"""Indicator routes shared by both products (SMA, EMA, MACD, RSI over completed bars)."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request

from ..market.timestamps import et_date
from ..services.indicators import KINDS, SERIES, IndicatorSpec
from .auth import Caller
from .cursor import absolute_url
from .deps import ApiContext
from .envelope import JSONBytes, ok
from .openapi import params as q
from .params import parse_bool, parse_choice, parse_int, parse_limit, time_range
from .shapes import bar_rows, num

INDICATOR_TIMESPANS = ("minute", "hour", "day", "week", "month", "quarter", "year")

# The product-neutral alias ``/v1/indicators/…`` is also the Polygon/Massive route: Polygon's page limit, and
# ``results.underlying.url`` (always present; the Massive client requires it) names the ``/v2/aggs`` range.
POLYGON_PATH_PREFIX = "/v1/indicators/"
POLYGON_MAX_LIMIT = 5000
V1_MAX_LIMIT = 1000
# Windows are counted in bars; a longer window than this has no data to average in any market served.
MAX_WINDOW = 10_000


def indicator_response(
    request: Request,
    ctx: ApiContext,
    who: Caller,
    *,
    kind: str,
    ticker: str,
    aggs_prefix: str,
    params: dict[str, str | None],
) -> JSONBytes:
    kind = parse_choice("indicator", kind, KINDS) or "sma"
    polygon = request.url.path.startswith(POLYGON_PATH_PREFIX)
    rng, instants = time_range(
        "timestamp",
        {op: params.get("timestamp" + ("." + op if op else "")) for op in ("", "gte", "gt", "lte", "lt")},
        integer_unit="ms",
    )
    for inst in instants:
        who.check_lookback(inst.day if inst.day is not None else et_date(inst.ns))
    default_window = 14 if kind == "rsi" else 50
    spec = IndicatorSpec(
        kind=kind,
        timespan=parse_choice("timespan", params.get("timespan"), INDICATOR_TIMESPANS, default="day") or "day",
        window=_window(params, "window", default_window),
        short_window=_window(params, "short_window", 12),
        long_window=_window(params, "long_window", 26),
        signal_window=_window(params, "signal_window", 9),
        series_type=parse_choice("series_type", params.get("series_type"), SERIES, default="close") or "close",
        adjusted=parse_bool("adjusted", params.get("adjusted"), default=True),
    )
    expand = parse_bool("expand_underlying", params.get("expand_underlying"), default=False)
    descending = parse_choice("order", params.get("order"), ("asc", "desc"), default="desc") == "desc"
    limit = parse_limit(params.get("limit"), default=10, maximum=POLYGON_MAX_LIMIT if polygon else V1_MAX_LIMIT)
    res = ctx.services.indicators.series(ticker, spec, rng.lo, rng.hi, limit=limit, horizon_ns=who.horizon_ns)
    order = list(range(len(res.value)))
    if descending:
        order.reverse()
    order = order[:limit]
    values: list[dict[str, Any]] = []
    for i in order:
        row: dict[str, Any] = {"timestamp": int(res.timestamps_ms[i]), "value": num(float(res.value[i]))}
        if res.signal is not None and res.histogram is not None:
            row["signal"] = num(float(res.signal[i]))
            row["histogram"] = num(float(res.histogram[i]))
        values.append(row)
    body: dict[str, Any] = {"values": values}
    if expand or polygon:
        first = int(res.bars.window_start[0]) if len(res.bars) else res.fetch_lo
        span = f"1/{spec.timespan}/{first // 1_000_000}/{(res.fetch_hi - 1) // 1_000_000}"
        path = f"/v2/aggs/ticker/{ticker}/range/{span}" if polygon else f"{aggs_prefix}/{ticker}/{span}/"
        underlying: dict[str, Any] = {
            "url": absolute_url(
                request, ctx.public_url, path, {"adjusted": str(spec.adjusted).lower(), "limit": "50000"}
            )
        }
        if expand:
            underlying["aggregates"] = bar_rows(res.bars)
        body["underlying"] = underlying
    return ok(request, {"results": body})


def _window(params: dict[str, str | None], name: str, default: int) -> int:
    raw = params.get(name)
    return parse_int(name, raw, minimum=1, maximum=MAX_WINDOW) if raw else default


def _indicator_params(
    timestamp: str | None = q.timestamp("YYYY-MM-DD (a whole ET day), epoch milliseconds or RFC 3339"),
    timestamp_gte: str | None = q.timestamp(alias="timestamp.gte"),
    timestamp_gt: str | None = q.timestamp(alias="timestamp.gt"),
    timestamp_lte: str | None = q.timestamp(alias="timestamp.lte"),
    timestamp_lt: str | None = q.timestamp(alias="timestamp.lt"),
    timespan: str | None = q.choice(INDICATOR_TIMESPANS, "minute, hour, day (default), week, month, quarter, year"),
    adjusted: str | None = q.boolean("true (default) applies splits"),
    window: str | None = q.integer("SMA/EMA default 50, RSI default 14", maximum=MAX_WINDOW),
    short_window: str | None = q.integer("MACD, default 12; smaller than long_window", maximum=MAX_WINDOW),
    long_window: str | None = q.integer("MACD, default 26", maximum=MAX_WINDOW),
    signal_window: str | None = q.integer("MACD, default 9", maximum=MAX_WINDOW),
    series_type: str | None = q.choice(SERIES, "open, high, low or close (default)"),
    expand_underlying: str | None = q.boolean("true adds the bars and their aggs URL"),
    order: str | None = q.choice(("asc", "desc"), "desc (default) or asc"),
) -> dict[str, str | None]:
    """The query parameters every indicator route takes (one declaration for the OpenAPI document)."""
    return {
        "timestamp": timestamp,
        "timestamp.gte": timestamp_gte,
        "timestamp.gt": timestamp_gt,
        "timestamp.lte": timestamp_lte,
        "timestamp.lt": timestamp_lt,
        "timespan": timespan,
        "adjusted": adjusted,
        "window": window,
        "short_window": short_window,
        "long_window": long_window,
        "signal_window": signal_window,
        "series_type": series_type,
        "expand_underlying": expand_underlying,
        "order": order,
    }


def indicator_query(
    params: dict[str, str | None] = Depends(_indicator_params),
    limit: str | None = q.limit(default=10, maximum=V1_MAX_LIMIT, what="Values"),
) -> dict[str, str | None]:
    return {**params, "limit": limit}


def polygon_indicator_query(
    params: dict[str, str | None] = Depends(_indicator_params),
    limit: str | None = q.limit(default=10, maximum=POLYGON_MAX_LIMIT, what="Values"),
) -> dict[str, str | None]:
    """``/v1/indicators/…`` (the Polygon route) pages up to Polygon's 5,000 values."""
    return {**params, "limit": limit}
