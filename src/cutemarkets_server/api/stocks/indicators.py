"""Stock indicators (``/v1/stocks/indicators/{kind}/{ticker}/``) and the product-neutral alias
``/v1/indicators/{kind}/{ticker}/`` (an ``O:`` ticker is an option contract, anything else a stock)."""

from __future__ import annotations

from fastapi import Depends, Query, Request

from ..auth import Caller
from ..deps import ApiContext, caller, context
from ..envelope import JSONBytes
from ..indicators import indicator_params, indicator_response
from ..options.common import known_contract, option_ticker
from ..routing import Router
from .common import known_stock, stock_ticker

router = Router(tags=["stocks"])


@router.get("/v1/stocks/indicators/{indicator}/{stocksTicker}/", summary="Stock indicators", response_class=JSONBytes)
def indicators(
    request: Request,
    indicator: str,
    stocksTicker: str,
    timestamp: str | None = Query(None, description="YYYY-MM-DD or ms; also .gte/.gt/.lte/.lt"),
    timespan: str | None = Query(None, description="minute, hour, day (default), week, month, quarter, year"),
    adjusted: str | None = Query(None),
    window: str | None = Query(None, description="SMA/EMA default 50, RSI default 14"),
    short_window: str | None = Query(None, description="MACD, default 12"),
    long_window: str | None = Query(None, description="MACD, default 26"),
    signal_window: str | None = Query(None, description="MACD, default 9"),
    series_type: str | None = Query(None, description="open, high, low or close (default)"),
    expand_underlying: str | None = Query(None, description="true adds the bars and their aggs URL"),
    order: str | None = Query(None, description="desc (default) or asc"),
    limit: str | None = Query(None, description="default 10, maximum 1000"),
    ctx: ApiContext = Depends(context),
    who: Caller = Depends(caller),
) -> JSONBytes:
    """SMA, EMA, MACD or RSI of one stock from completed bars only."""
    ticker = stock_ticker(stocksTicker)
    known_stock(ctx.services, ticker)
    return indicator_response(
        request,
        ctx,
        who,
        kind=indicator,
        ticker=ticker,
        aggs_prefix="/v1/stocks/aggs",
        params=indicator_params(request),
    )


@router.get(
    "/v1/indicators/{indicator}/{ticker}/",
    summary="Indicators of a stock or an option contract",
    response_class=JSONBytes,
    tags=["reference"],
)
def indicators_any(
    request: Request,
    indicator: str,
    ticker: str,
    timestamp: str | None = Query(None, description="YYYY-MM-DD or ms; also .gte/.gt/.lte/.lt"),
    timespan: str | None = Query(None, description="minute, hour, day (default), week, month, quarter, year"),
    window: str | None = Query(None, description="SMA/EMA default 50, RSI default 14"),
    limit: str | None = Query(None, description="default 10, maximum 1000"),
    ctx: ApiContext = Depends(context),
    who: Caller = Depends(caller),
) -> JSONBytes:
    """The same indicators for either product: an ``O:`` ticker needs the options product, any other
    ticker the stocks product. Takes every parameter of the product routes."""
    if ticker.strip().upper().startswith("O:"):
        who.require_product("options")
        symbol = option_ticker(ticker, "ticker")
        known_contract(ctx.services, symbol)
        prefix = "/v1/options/aggs"
    else:
        who.require_product("stocks")
        symbol = stock_ticker(ticker, "ticker")
        known_stock(ctx.services, symbol)
        prefix = "/v1/stocks/aggs"
    return indicator_response(
        request, ctx, who, kind=indicator, ticker=symbol, aggs_prefix=prefix, params=indicator_params(request)
    )
