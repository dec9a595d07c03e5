"""The Polygon/Massive face of the API: Polygon paths, parameters, field names and units over the same
handlers and services as ``/v1``. Indicators (``/v1/indicators/{kind}/{ticker}``) are served by the
product-neutral ``/v1`` alias."""

from __future__ import annotations

from ..routing import Router
from . import aggs, marketstatus, news, options, snapshots, tickers, ticks

router = Router()
for module in (aggs, ticks, options, tickers, snapshots, marketstatus, news):
    router.include_router(module.router)
