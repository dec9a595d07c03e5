"""The services a request handler uses, built once over the runtime."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pyarrow.compute as pc

from ..runtime import Runtime
from ..store.market import MarketStore
from ..store.rowreader import RowReader
from .bars import BarService
from .indicators import IndicatorService
from .option_snapshots import OptionSnapshots, SnapshotOptions
from .pointintime import now_view
from .reference import ContractQuery, ReferenceData
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

    def warm(self, now_ns: int, default_rate: float) -> None:
        """Pay before the first request what it would otherwise pay: fold the reference data, open the newest
        day's files and price the largest page of the largest chain, so a fresh server's first chain page costs about
        what later ones do. Failures only cost the warm-up (the request that needs the data reports them)."""
        try:
            self.reference.ticker_intervals()
            self.reference.contract_records("")  # builds the per-ticker index of the contract listings
            pit = now_view(now_ns)
            chain_data = ("option_quotes", "option_trades", "option_day_aggs", "option_open_interest")
            self.store.warm(chain_data, pit.before_ns)
            listed = self.reference.contracts_on(pit.day, ContractQuery(expired=False))
            if listed.num_rows == 0:
                return
            counts = pc.value_counts(listed["underlying_ticker"]).to_pylist()
            underlying = max(counts, key=lambda c: c["counts"])["values"]
            chain = listed.filter(pc.equal(listed["underlying_ticker"], underlying)).sort_by("ticker").slice(0, 250)
            self.snapshots.build(chain.to_pylist(), pit, SnapshotOptions(True, "real-time", default_rate))
        except Exception:  # a warm-up never stops the server
            logging.getLogger("cutemarkets").warning("warming the caches failed", exc_info=True)
