"""Options indicators: ``/v1/options/indicators/{sma|ema|macd|rsi}/{ticker}/``."""

from __future__ import annotations

from fastapi import Depends, Request

from ...services.indicators import KINDS
from ..auth import Caller
from ..deps import ApiContext, caller, context
from ..envelope import JSONBytes
from ..indicators import indicator_query, indicator_response
from ..openapi import params as q
from ..openapi.schemas import ok_body
from ..routing import Router
from .common import known_contract, option_ticker

router = Router(tags=["options"])


@router.get(
    "/v1/options/indicators/{indicator}/{options_ticker}/",
    summary="Option indicators",
    response_class=JSONBytes,
    responses=ok_body("Indicator"),
)
def indicators(
    request: Request,
    indicator: str = q.path_choice(KINDS, "sma, ema, macd or rsi"),
    options_ticker: str = q.option_ticker(),
    params: dict[str, str | None] = Depends(indicator_query),
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
        params=params,
    )
