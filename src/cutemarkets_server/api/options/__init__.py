"""The options face of the v1 API: one module per resource."""

from __future__ import annotations

from ..routing import Router
from . import aggs, chain, contracts, indicators, snapshot, ticks

router = Router()
for module in (chain, snapshot, contracts, ticks, aggs, indicators):
    router.include_router(module.router)
