"""Generate and store one session: stock quotes and trades, option quotes and trades, daily option bars.

A :class:`DayTask` carries everything the day depends on (skeleton anchors, listed contracts, the rate
curve), so :func:`run_day` can run in any process; it writes through the ingest pipeline and returns the
partitions written and the option volume per contract (for open interest).

On a session where only some tickers tick (the focus window before the full tick window), the task also
carries the daily bars of the other stocks and the chains of the other option underlyings; the day's
stock and option bars are then derived from the trades of the ticking ones and stored together with the
daily bars of the others (:mod:`.optionbars`). On such a session the focus underlyings' options are quoted
but print no trade rows (``quote_only``): their daily bars are drawn from the trade statistics too, with
the high and low of the underlying's own ticks. A session before every tick window only has daily option
bars.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from ..ingest.pipeline import DERIVED_BARS, Ingestor, bars_from_trades
from ..market.calendar import SessionHours, xnys
from ..store.lake import Lake, Partition, conform
from ..store.schemas import dataset
from .intraday import second_path
from .optionbars import option_day_bars
from .options import ChainDay, Market, option_day
from .profiles import Profile, get_profile
from .rates import RateCurve
from .seeds import Stream, rng_for
from .skeleton import DayPrices
from .stocks import StockDay, stock_day
from .surface import SurfaceParams
from .universe import TickerSpec
from .universe import spec as ticker_spec


@dataclass
class BarChain:
    """An option underlying without ticks on the day: its listed contracts and the day's prices."""

    chain: ChainDay
    prices: DayPrices
    stock_range: tuple[float, float]  # the day's (low, high) of the underlying


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
    bar_chains: list[BarChain] = field(default_factory=list)  # option underlyings with daily bars only
    quote_only: tuple[str, ...] = ()  # underlyings of ``chains`` whose options are quoted without trade rows


@dataclass
class GeneratedDay:
    tables: dict[str, pa.Table]  # stock quotes and trades, option quotes and trades
    volumes: dict[str, float]  # option ticker -> contracts traded
    ranges: dict[str, tuple[float, float]]  # stock ticker -> regular session's (low, high) of its trades


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


def option_trades_per_day(profile: Profile, sp: TickerSpec) -> float:
    """Expected option trades per full session of ``sp``'s chain at unit activity."""
    per_day = profile.option_trades_per_day * sp.micro.option_activity * sp.micro.option_volume
    return per_day * profile.focus_trades if sp.ticker in profile.focus else per_day


def _regular_range(trades: pa.Table, hours: SessionHours) -> tuple[float, float]:
    ts = trades["sip_timestamp"].to_numpy()
    price = trades["price"].to_numpy()[(ts >= hours.open_ns) & (ts < hours.close_ns)]
    return (float(price.min()), float(price.max())) if len(price) else (float("nan"), float("nan"))


def generate_day(task: DayTask) -> GeneratedDay:
    """The session's tick tables, the option volume per contract and the underlyings' ranges, without
    writing anything."""
    profile = get_profile(task.profile)
    day, seed = task.day, task.seed
    hours = xnys().hours(day)
    out: dict[str, list[pa.Table]] = {"stock_quotes": [], "stock_trades": [], "option_quotes": [], "option_trades": []}
    underlying: dict[str, tuple[DayPrices, StockDay]] = {}
    ranges: dict[str, tuple[float, float]] = {}
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
        ranges[ticker] = _regular_range(sd.trades, hours)

    volumes: dict[str, float] = {}
    for chain in task.chains:
        sp = ticker_spec(chain.underlying)
        prices, sd = underlying[chain.underlying]
        market = Market(
            SurfaceParams.of(sp),
            prices.variance,
            prices.slow_variance,
            sp.dividend_yield,
            task.curve,
            sd.quote_ts,
            sd.quote_mid,
        )
        od = option_day(
            rng_for(seed, sp.index, day, Stream.OPTION_QUOTES),
            rng_for(seed, sp.index, day, Stream.OPTION_TRADES),
            sp,
            hours,
            chain,
            market,
            profile.option_quotes_per_day * sp.micro.option_activity,
            0.0 if chain.underlying in task.quote_only else option_trades_per_day(profile, sp),
            profile.fast_sweeps if chain.underlying in profile.focus else 0.0,
        )
        out["option_quotes"].append(od.quotes)
        out["option_trades"].append(od.trades)
        for i in od.volume.nonzero()[0]:
            volumes[chain.tickers[i]] = float(od.volume[i])
    return GeneratedDay({name: _concat(name, tables) for name, tables in out.items()}, volumes, ranges)


def bar_day(task: DayTask, ranges: dict[str, tuple[float, float]]) -> tuple[pa.Table | None, dict[str, float]]:
    """Daily bars of the option underlyings without trade rows on the day (``ranges``: the day's low and high
    of the ticking stocks), and their volume per contract."""
    quoted = {c.underlying: c for c in task.chains if c.underlying in task.quote_only}
    prices = dict(zip(task.stock_tickers, task.stocks, strict=True))
    bar_chains = [*task.bar_chains, *(BarChain(c, prices[u], ranges[u]) for u, c in quoted.items())]
    if not bar_chains:
        return None, {}
    profile = get_profile(task.profile)
    hours = xnys().hours(task.day)
    tables, volumes = [], {}
    for bc in bar_chains:
        sp = ticker_spec(bc.chain.underlying)
        rng = rng_for(task.seed, sp.index, task.day, Stream.OPTION_DAY_BARS)
        table, volume = option_day_bars(
            rng, sp, hours, bc.chain, bc.prices, bc.stock_range, task.curve, option_trades_per_day(profile, sp)
        )
        tables.append(table)
        for i in volume.nonzero()[0]:
            volumes[bc.chain.tickers[i]] = float(volume[i])
    return _concat("option_day_aggs", tables), volumes


def run_day(task: DayTask) -> DayOutcome:
    generated = generate_day(task)
    option_bars, bar_volumes = bar_day(task, generated.ranges)
    ingestor = _ingestor(task.data_dir)
    outcome = DayOutcome(task.day, volumes={**generated.volumes, **bar_volumes})
    others = {"stock_trades": ("stocks", task.other_day_bars), "option_trades": ("options", option_bars)}
    trading = any(c.underlying not in task.quote_only for c in task.chains)
    ticking = {
        "stock_quotes": bool(task.stock_tickers),
        "stock_trades": bool(task.stock_tickers),
        "option_quotes": bool(task.chains),
        "option_trades": trading,
    }
    results = []
    for name, table in generated.tables.items():
        if not ticking[name]:
            continue
        asset, other = others.get(name, ("", None))
        results += ingestor.write_day(name, task.day, table, source=task.source, derive_bars=other is None)
        if other is not None:
            _, minute_ds, day_ds = DERIVED_BARS[name]
            minute, daily = bars_from_trades(asset, task.day, table)
            daily = pa.concat_tables([daily, conform(dataset(day_ds), other)])
            results += ingestor.write_day(minute_ds, task.day, minute, source=task.source)
            results += ingestor.write_day(day_ds, task.day, daily.sort_by("ticker"), source=task.source)
    if option_bars is not None and not trading:
        results += ingestor.write_day("option_day_aggs", task.day, option_bars, source=task.source)
    for result in results:
        if result.partition is not None:
            outcome.partitions.append(result.partition)
        outcome.quarantined += result.rows_quarantined
    return outcome
