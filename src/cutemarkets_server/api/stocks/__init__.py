"""The stocks face of the v1 API: one module per resource."""

from __future__ import annotations

from ..routing import Router
from . import aggs, indicators, snapshots, tickers, ticks

router = Router()
for module in (snapshots, tickers, ticks, aggs, indicators):
    router.include_router(module.router)
