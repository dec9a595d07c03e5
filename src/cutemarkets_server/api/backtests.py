"""``GET /v1/backtests/`` and ``GET /v1/backtests/{run}/``: the backtest runs found in the results folder."""

from __future__ import annotations

from fastapi import Depends, Request

from ..services.backtest_runs import BacktestRunService, UnknownRunError
from ..store.backtest_runs import RUN_NAME
from .deps import ApiContext, caller, context
from .envelope import JSONBytes, results
from .errors import bad_request, not_found
from .openapi import params as q
from .openapi.schemas import ok_body
from .routing import Router

RUN_SCHEMA = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]*$", "maxLength": 200}

router = Router(tags=["backtests"])


def _service(ctx: ApiContext) -> BacktestRunService:
    return BacktestRunService(ctx.runtime.settings.backtests_root)


@router.get("/v1/backtests/", summary="Backtest runs", response_class=JSONBytes, responses=ok_body("BacktestRuns"))
def list_runs(request: Request, ctx: ApiContext = Depends(context), _=Depends(caller)) -> JSONBytes:
    """Each run directory (one with a ``manifest.json``) with its headline manifest and summary fields."""
    return results(request, _service(ctx).listing())


@router.get(
    "/v1/backtests/{run}/", summary="One backtest run", response_class=JSONBytes, responses=ok_body("BacktestRun")
)
def run_detail(
    request: Request,
    run: str = q.path({"type": "string", "pattern": RUN_NAME.pattern}, "Run directory name"),
    ctx: ApiContext = Depends(context),
    _=Depends(caller),
) -> JSONBytes:
    """Manifest, summary, decisions, fills, equity and trades as the engine wrote them (columns and the first
    5,000 rows each, with ``total_rows``; integer timestamps in UTC nanoseconds), the drawdown of the equity
    curve from the initial cash, and the rejected decisions counted by reason."""
    if not RUN_NAME.match(run):
        raise bad_request(f"run: {run!r} is not a run directory name (letters, digits, '.', '_', '-').")
    try:
        return results(request, _service(ctx).detail(run))
    except UnknownRunError:
        raise not_found(f"No backtest run named {run!r}.") from None
