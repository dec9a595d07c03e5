"""``GET /v1/options/snapshot/{underlying}/{option_contract}/``: one contract's snapshot."""

from __future__ import annotations

from fastapi import Depends, Request

from ...services.option_snapshots import SnapshotOptions
from ..auth import Caller
from ..deps import ApiContext, caller, context
from ..envelope import JSONBytes, results
from ..errors import bad_request, not_found
from ..openapi import params as q
from ..openapi.schemas import ok_body
from ..routing import Router
from .common import AS_OF_DOC, known_contract, option_ticker, point_in_time

router = Router(tags=["options"])


def _snapshot(
    request: Request, ctx: ApiContext, who: Caller, underlying: str | None, contract: str, as_of: str | None
) -> JSONBytes:
    ticker = option_ticker(contract, "option_contract")
    services = ctx.services
    known_contract(services, ticker)
    latest = services.reference.contract(ticker, None)
    assert latest is not None
    if underlying is not None and underlying.strip().upper() != latest["underlying_ticker"]:
        raise bad_request(f"Invalid underlying {underlying!r}: {ticker} belongs to {latest['underlying_ticker']}.")
    pit = point_in_time(who, as_of)
    record = services.reference.contract(ticker, pit.day)
    if record is None or record["expiration_date"] < pit.day:
        when = f"on {pit.day.isoformat()}" if pit.explicit else "any more"
        raise not_found(f"Option contract {ticker} is not listed {when}; use /v1/options/contracts/ with as_of.")
    rows = services.snapshots.build(
        [record],
        pit,
        SnapshotOptions(
            include_quotes=who.plan.quotes,
            timeframe=who.timeframe,
            default_rate=ctx.runtime.settings.default_risk_free_rate,
        ),
    )
    return results(request, rows[0])


@router.get(
    "/v1/options/snapshot/{underlying}/{option_contract}/",
    summary="Option contract snapshot",
    response_class=JSONBytes,
    responses=ok_body("OptionSnapshotResult"),
)
def snapshot(
    request: Request,
    underlying: str = q.stock_ticker("The underlying's symbol"),
    option_contract: str = q.option_ticker(),
    as_of: str | None = q.timestamp(AS_OF_DOC),
    ctx: ApiContext = Depends(context),
    who: Caller = Depends(caller),
) -> JSONBytes:
    """Greeks, IV, break-even, day bar, last quote and trade, open interest and underlying of one contract."""
    return _snapshot(request, ctx, who, underlying, option_contract, as_of)


@router.get(
    "/v1/options/snapshot/{option_contract}/",
    summary="Option contract snapshot (underlying from the ticker)",
    response_class=JSONBytes,
    responses=ok_body("OptionSnapshotResult"),
)
def snapshot_by_contract(
    request: Request,
    option_contract: str = q.option_ticker(),
    as_of: str | None = q.timestamp(AS_OF_DOC),
    ctx: ApiContext = Depends(context),
    who: Caller = Depends(caller),
) -> JSONBytes:
    """The same snapshot with the underlying taken from the contract."""
    return _snapshot(request, ctx, who, None, option_contract, as_of)
