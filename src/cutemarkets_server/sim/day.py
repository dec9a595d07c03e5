"""Generate and store one tick session: stock quotes and trades, option quotes and trades.

A :class:`DayTask` carries everything the day depends on (skeleton anchors, listed contracts, the rate
curve), so :func:`run_day` can run in any process; it writes through the ingest pipeline and returns the
partitions written and the option volume per contract (for open interest).

On a session where only some tickers tick (the focus window before the full tick window), the task also
carries the daily bars of the other stocks; the day's stock bars are then derived from the trades of the
ticking ones and stored together with those daily bars.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from ..ingest.pipeline import Ingestor, bars_from_trades
from ..market.calendar import xnys
from ..store.lake import Lake, Partition, conform
from ..store.schemas import dataset
from .intraday import second_path
from .options import ChainDay, Market, option_day
from .profiles import get_profile
from .rates import RateCurve
from .seeds import Stream, rng_for
from .skeleton import DayPrices
from .stocks import StockDay, stock_day
from .surface import SurfaceParams
from .universe import spec as ticker_spec


@dataclass
class DayTask:
    data_dir: str
    seed: int
    profile: str
    day: dt.date
    source: str
    stocks: list[DayPrices]
    stock_tickers: list[str]
    chains: list[ChainDay]
    curve: RateCurve
    other_day_bars: pa.Table | None = None  # daily bars of the stocks without ticks on this day


@dataclass
class DayOutcome:
    day: dt.date
    partitions: list[Partition] = field(default_factory=list)
    quarantined: int = 0
    volumes: dict[str, float] = field(default_factory=dict)  # option ticker -> contracts traded


_INGESTORS: dict[str, Ingestor] = {}


def _ingestor(data_dir: str) -> Ingestor:
    if data_dir not in _INGESTORS:
        root = Path(data_dir)
        _INGESTORS[data_dir] = Ingestor(Lake(root / "lake"), root / "quarantine")
    return _INGESTORS[data_dir]


def _concat(name: str, tables: list[pa.Table]) -> pa.Table:
    schema = dataset(name).schema
    tables = [t for t in tables if t.num_rows]
    if not tables:
        return schema.empty_table()
    return pa.concat_tables(tables, promote_options="permissive")


def generate_day(task: DayTask) -> tuple[dict[str, pa.Table], dict[str, float]]:
    """The session's tick tables (stock quotes and trades, option quotes and trades) and the option volume
    per contract, without writing anything."""
    profile = get_profile(task.profile)
    day, seed = task.day, task.seed
    hours = xnys().hours(day)
    out: dict[str, list[pa.Table]] = {"stock_quotes": [], "stock_trades": [], "option_quotes": [], "option_trades": []}
    underlying: dict[str, tuple[DayPrices, StockDay]] = {}
    for ticker, prices in zip(task.stock_tickers, task.stocks, strict=True):
        sp = ticker_spec(ticker)
        path = second_path(rng_for(seed, sp.index, day, Stream.PATH), hours, prices)
        sd = stock_day(
            rng_for(seed, sp.index, day, Stream.STOCK_QUOTES),
            rng_for(seed, sp.index, day, Stream.STOCK_TRADES),
            sp,
            day,
            hours,
            path,
            profile.stock_quotes_per_day * sp.micro.activity,
            profile.stock_trades_per_day * sp.micro.activity,
        )
        out["stock_quotes"].append(sd.quotes)
        out["stock_trades"].append(sd.trades)
        underlying[ticker] = (prices, sd)

    volumes: dict[str, float] = {}
    for chain in task.chains:
        sp = ticker_spec(chain.underlying)
        prices, sd = underlying[chain.underlying]
        market = Market(SurfaceParams.of(sp), prices.variance, sp.dividend_yield, task.curve, sd.quote_ts, sd.quote_mid)
        od = option_day(
            rng_for(seed, sp.index, day, Stream.OPTION_QUOTES),
            rng_for(seed, sp.index, day, Stream.OPTION_TRADES),
            sp,
            hours,
            chain,
            market,
            profile.option_quotes_per_day * sp.micro.option_activity,
            profile.option_trades_per_day * sp.micro.option_activity,
            profile.fast_sweeps if chain.underlying in profile.focus else 0.0,
        )
        out["option_quotes"].append(od.quotes)
        out["option_trades"].append(od.trades)
        for i in od.volume.nonzero()[0]:
            volumes[chain.tickers[i]] = float(od.volume[i])
    return {name: _concat(name, tables) for name, tables in out.items()}, volumes


def run_day(task: DayTask) -> DayOutcome:
    tables, volumes = generate_day(task)
    ingestor = _ingestor(task.data_dir)
    outcome = DayOutcome(task.day, volumes=volumes)
    results = []
    for name, table in tables.items():
        partial = name == "stock_trades" and task.other_day_bars is not None
        results += ingestor.write_day(name, task.day, table, source=task.source, derive_bars=not partial)
        if partial:
            assert task.other_day_bars is not None
            minute, daily = bars_from_trades("stocks", task.day, table)
            daily = pa.concat_tables([daily, conform(dataset("stock_day_aggs"), task.other_day_bars)])
            results += ingestor.write_day("stock_minute_aggs", task.day, minute, source=task.source)
            results += ingestor.write_day("stock_day_aggs", task.day, daily.sort_by("ticker"), source=task.source)
    for result in results:
        if result.partition is not None:
            outcome.partitions.append(result.partition)
        outcome.quarantined += result.rows_quarantined
    return outcome
