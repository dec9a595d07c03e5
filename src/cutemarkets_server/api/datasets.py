"""``GET /v1/datasets/``: what the lake holds, per dataset: days, rows, bytes and missing sessions."""

from __future__ import annotations

from fastapi import Depends, Request

from ..services.datasets import coverage
from .deps import ApiContext, caller, context
from .envelope import JSONBytes, results
from .openapi.schemas import ok_body
from .routing import Router

router = Router(tags=["reference"])


@router.get(
    "/v1/datasets/",
    summary="Datasets and their coverage by day",
    response_class=JSONBytes,
    responses=ok_body("Datasets"),
)
def datasets(request: Request, ctx: ApiContext = Depends(context), _=Depends(caller)) -> JSONBytes:
    """Every dataset with data: first and last day, rows, bytes, each stored day, and the XNYS sessions
    between its first and last day that hold no data (``missing_sessions``)."""
    rt = ctx.runtime
    return results(request, coverage(rt.lake.snapshot(), rt.calendar))
