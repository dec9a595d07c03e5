"""The services a request handler uses, built once over the runtime."""

from __future__ import annotations

from dataclasses import dataclass

from ..runtime import Runtime
from ..store.market import MarketStore
from ..store.rowreader import RowReader
from .bars import BarService
from .indicators import IndicatorService
from .option_snapshots import OptionSnapshots
from .reference import ReferenceData
from .stocks import StockMarket


@dataclass
class Services:
    store: MarketStore
    reference: ReferenceData
    snapshots: OptionSnapshots
    bars: BarService
    indicators: IndicatorService
    stocks: StockMarket

    @classmethod
    def build(cls, rt: Runtime, store: MarketStore | None = None) -> Services:
        store = store or MarketStore(rt.lake, rt.engine, RowReader(cache_bytes=rt.settings.read_cache_mb << 20))
        reference = ReferenceData(store, rt.cache)
        bars = BarService(store, reference, rt.calendar)
        return cls(
            store=store,
            reference=reference,
            snapshots=OptionSnapshots(store, reference, rt.calendar),
            bars=bars,
            indicators=IndicatorService(bars, rt.calendar),
            stocks=StockMarket(store, reference, rt.calendar, rt.cache),
        )
