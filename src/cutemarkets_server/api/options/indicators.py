"""Options indicators: ``/v1/options/indicators/{sma|ema|macd|rsi}/{ticker}/``."""

from __future__ import annotations

from fastapi import Depends, Query, Request

from ..auth import Caller
from ..deps import ApiContext, caller, context
from ..envelope import JSONBytes
from ..indicators import indicator_params, indicator_response
from ..routing import Router
from .common import known_contract, option_ticker

router = Router(tags=["options"])


@router.get(
    "/v1/options/indicators/{indicator}/{options_ticker}/", summary="Option indicators", response_class=JSONBytes
)
def indicators(
    request: Request,
    indicator: str,
    options_ticker: str,
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
    """SMA, EMA, MACD or RSI of one contract from completed bars only."""
    ticker = option_ticker(options_ticker)
    known_contract(ctx.services, ticker)
    return indicator_response(
        request,
        ctx,
        who,
        kind=indicator,
        ticker=ticker,
        aggs_prefix="/v1/options/aggs",
        params=indicator_params(request),
    )
