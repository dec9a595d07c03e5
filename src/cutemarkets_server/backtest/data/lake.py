"""The local lake as a data source, in process, through services/ (the same code the API answers with)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from ...config import Settings
from ...market.timestamps import NS_PER_MIN, et_date, et_midnight_ns
from ...services.bars import BarService
from ...services.cache import TTLCache
from ...services.option_snapshots import OptionSnapshots, SnapshotOptions
from ...services.pointintime import PointInTime
from ...services.reference import ContractQuery, ReferenceData
from ...store.engine import DuckEngine
from ...store.lake import Lake
from ...store.market import MarketStore
from ..calendar import calendar as xnys_calendar
from .base import Bar, ChainRow, DataSourceError, Quote, chain_row_from_snapshot

# Datasets whose partitions a backtest reads (the manifest records their checksums).
DAY_DATASETS = ("stock_minute_aggs", "stock_trades", "stock_quotes", "option_quotes", "option_trades")
REFERENCE_DATASETS = ("option_contracts", "option_open_interest", "option_day_aggs")
QUOTE_PAGE = 1_000_000


class LakeSource:
    """Reads the lake of a data directory; every answer is the one the v1 API would give."""

    kind = "lake"

    def __init__(self, data_dir: Path) -> None:
        data_dir = Path(data_dir)
        if not (data_dir / "lake" / "manifest.sqlite").exists():
            raise DataSourceError(f"no market data in {data_dir} (run `cutemarkets demo` or ingest files first)")
        self.data_dir = data_dir
        self.settings = Settings(data_dir=data_dir)
        # Read-only use of the services a backtest needs (no key store is opened or created).
        calendar = xnys_calendar()
        self.store = MarketStore(Lake(data_dir / "lake"), DuckEngine())
        self.reference = ReferenceData(self.store, TTLCache(maxsize=4096, ttl_s=3600.0))
        self.bars = BarService(self.store, self.reference, calendar)
        self.snapshots = OptionSnapshots(self.store, self.reference, calendar)

    # -- bars ----------------------------------------------------------------------------------------
    def minute_bars(self, ticker: str, day: dt.date) -> list[Bar]:
        return self._bars(ticker, "minute", day, day)

    def minute_bars_between(self, ticker: str, first: dt.date, last: dt.date) -> list[Bar]:
        return self._bars(ticker, "minute", first, last)

    def day_bars(self, ticker: str, first: dt.date, last: dt.date) -> list[Bar]:
        return self._bars(ticker, "day", first, last)

    def _bars(self, ticker: str, timespan: str, first: dt.date, last: dt.date) -> list[Bar]:
        """Unadjusted bars rounded as the API serves them."""
        lo = et_midnight_ns(first)
        hi = et_midnight_ns(last + dt.timedelta(days=1))
        series = self.bars.range(
            ticker, 1, timespan, lo, hi, adjusted=False, limit=50_000, descending=False, horizon_ns=hi, anchor=first
        )
        b = series.bars
        return [
            Bar(
                int(s),
                _bar_end(int(s), timespan),
                round(float(o), 6),
                round(float(h), 6),
                round(float(low), 6),
                round(float(c), 6),
                round(float(v), 4),
            )
            for s, o, h, low, c, v in zip(
                b.window_start.tolist(),
                b.open.tolist(),
                b.high.tolist(),
                b.low.tolist(),
                b.close.tolist(),
                b.volume.tolist(),
                strict=True,
            )
        ]

    # -- chains --------------------------------------------------------------------------------------
    def chain(
        self,
        underlying: str,
        at_ns: int,
        expiration_lo: dt.date,
        expiration_hi: dt.date,
        contract_type: str | None = None,
    ) -> list[ChainRow]:
        pit = PointInTime(at_ns + 1, et_date(at_ns), True)
        listed = self.reference.contracts_on(
            pit.day,
            ContractQuery(
                underlying=underlying,
                contract_type=contract_type,
                expiration_lo=expiration_lo,
                expiration_hi=expiration_hi,
            ),
        ).sort_by("ticker")
        snaps = self.snapshots.build(
            listed.to_pylist(),
            pit,
            SnapshotOptions(
                include_quotes=True,
                timeframe="REAL-TIME",
                default_rate=self.settings.default_risk_free_rate,
                with_fmv=False,
            ),
        )
        return [chain_row_from_snapshot(s, underlying) for s in snaps]

    # -- quotes --------------------------------------------------------------------------------------
    def quotes(self, ticker: str, lo_ns: int, hi_ns: int) -> list[Quote]:
        table = self.store.tick_page("option_quotes", ticker, lo_ns, hi_ns, descending=False, limit=QUOTE_PAGE)
        return _quotes(table.to_pydict())

    def last_quote(self, ticker: str, at_ns: int) -> Quote | None:
        table = self.store.tick_page("option_quotes", ticker, None, at_ns + 1, descending=True, limit=1)
        found = _quotes(table.to_pydict())
        return found[0] if found else None

    def quote_days(self) -> list[dt.date]:
        """Days holding option quotes (the sessions a backtest can fill on)."""
        return self.store.days("option_quotes")

    # -- provenance ----------------------------------------------------------------------------------
    def describe(self, underlying: str, first: dt.date, last: dt.date) -> dict[str, Any]:
        snap = self.store.snapshot()
        parts = []
        for name in DAY_DATASETS + REFERENCE_DATASETS:
            for day, part in sorted(snap.by_dataset.get(name, {}).items()):
                in_range = first <= day <= last if name in DAY_DATASETS else day <= last
                if in_range:
                    parts.append({"dataset": name, "day": day.isoformat(), "rows": part.rows, "sha256": part.sha256})
        return {"kind": "lake", "partitions": parts}


def _bar_end(start_ns: int, timespan: str) -> int:
    if timespan == "minute":
        return start_ns + NS_PER_MIN
    return et_midnight_ns(et_date(start_ns) + dt.timedelta(days=1))


def _quotes(cols: dict[str, list]) -> list[Quote]:
    return [
        Quote(int(ts), float(b), float(a), int(bs), int(asz))
        for ts, b, a, bs, asz in zip(
            cols["sip_timestamp"], cols["bid_price"], cols["ask_price"], cols["bid_size"], cols["ask_size"], strict=True
        )
    ]
