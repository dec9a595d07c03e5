"""Stock indicators (``/v1/stocks/indicators/{kind}/{ticker}/``) and the product-neutral alias
``/v1/indicators/{kind}/{ticker}/`` (an ``O:`` ticker is an option contract, anything else a stock)."""

from __future__ import annotations

from fastapi import Depends, Request

from ...services.indicators import KINDS
from ..auth import Caller
from ..deps import ApiContext, caller, context
from ..envelope import JSONBytes
from ..indicators import indicator_query, indicator_response, polygon_indicator_query
from ..openapi import params as q
from ..openapi.schemas import ok_body
from ..options.common import is_option_ticker, known_contract, option_ticker
from ..routing import Router
from .common import known_stock, stock_ticker

router = Router(tags=["stocks"])


@router.get(
    "/v1/stocks/indicators/{indicator}/{stocksTicker}/",
    summary="Stock indicators",
    response_class=JSONBytes,
    responses=ok_body("Indicator"),
)
def indicators(
    request: Request,
    indicator: str = q.path_choice(KINDS, "sma, ema, macd or rsi"),
    stocksTicker: str = q.stock_ticker(),
    params: dict[str, str | None] = Depends(indicator_query),
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
        params=params,
    )


@router.get(
    "/v1/indicators/{indicator}/{ticker}/",
    summary="Indicators of a stock or an option contract",
    response_class=JSONBytes,
    tags=["reference"],
    responses=ok_body("Indicator"),
)
def indicators_any(
    request: Request,
    indicator: str = q.path_choice(KINDS, "sma, ema, macd or rsi"),
    ticker: str = q.path(q.ANY_STOCK_OR_OPTION, "A stock symbol or an O: option ticker", example="SPY"),
    params: dict[str, str | None] = Depends(polygon_indicator_query),
    ctx: ApiContext = Depends(context),
    who: Caller = Depends(caller),
) -> JSONBytes:
    """The same indicators for either product: an ``O:`` ticker needs the options product, any other
    ticker the stocks product. Takes every parameter of the product routes."""
    if is_option_ticker(ticker):  # an O: ticker, or a bare OCC symbol
        who.require_product("options")
        symbol = option_ticker(ticker, "ticker")
        known_contract(ctx.services, symbol)
        prefix = "/v1/options/aggs"
    else:
        who.require_product("stocks")
        symbol = stock_ticker(ticker, "ticker")
        known_stock(ctx.services, symbol)
        prefix = "/v1/stocks/aggs"
    return indicator_response(request, ctx, who, kind=indicator, ticker=symbol, aggs_prefix=prefix, params=params)
