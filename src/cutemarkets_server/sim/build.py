"""Build the built-in market into a data directory.

``build_market`` plans the whole market in the calling process (:mod:`.plan`), then generates the tick
sessions - one day per task, in a process pool when the profile asks for more than one worker - while
the calling process writes reference data, daily bars before the tick window and open interest
(:mod:`.writers`). Every partition goes through :class:`~cutemarkets_server.ingest.pipeline.Ingestor`;
the same (seed, end, profile) gives byte-identical Parquet files whatever the number of workers.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import time
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from ..ingest.pipeline import DERIVED_BARS, Ingestor
from ..store.lake import Lake
from .chain import Contract
from .day import BarChain, DayOutcome, DayTask, run_day
from .daybars import daily_bar, daily_bars_table
from .options import ChainDay
from .plan import MarketPlan, plan_market, resolve_end
from .profiles import get_profile
from .report import BuildReport, DatasetStats
from .surface import expiry_ns
from .writers import (
    OpenInterestBook,
    Recorder,
    market_meta,
    stock_trades_per_day,
    write_daily_bars,
    write_reference,
)

if TYPE_CHECKING:
    from rich.progress import Progress

__all__ = ["BuildReport", "DatasetStats", "build_market", "resolve_end"]

META_KEY = "market"


def _chain_day(underlying: str, contracts: list[Contract], expiries: dict[dt.date, int]) -> ChainDay:
    for c in contracts:
        if c.expiration not in expiries:
            expiries[c.expiration] = expiry_ns(c.expiration)
    return ChainDay(
        underlying=underlying,
        tickers=[c.ticker for c in contracts],
        is_call=np.array([c.contract_type == "call" for c in contracts], dtype=bool),
        strike=np.array([c.strike for c in contracts], dtype=np.float64),
        expiry_ns=np.array([expiries[c.expiration] for c in contracts], dtype=np.int64),
        deliverable=np.array([c.shares / 100.0 for c in contracts], dtype=np.float64),
    )


def _day_tasks(plan: MarketPlan, data_dir: Path) -> Iterator[DayTask]:
    """One task per session with option contracts listed (the tick window, and before it the daily
    sessions when the profile keeps option history)."""
    expiries: dict[dt.date, int] = {}
    ticks = set(plan.tick_days)
    for day in plan.option_days:
        stocks = plan.ticking(plan.stocks, day) if day in ticks else []
        others = [s for s in plan.stocks if s not in stocks]
        bars = {
            s.ticker: daily_bar(plan.seed, s, plan.skeletons[s.ticker], day, stock_trades_per_day(plan, s))
            for s in others
        }
        chained = plan.ticking(plan.underlyings, day) if day in ticks else []
        yield DayTask(
            data_dir=str(data_dir),
            seed=plan.seed,
            profile=plan.profile.name,
            day=day,
            source=plan.source,
            stocks=[plan.skeletons[s.ticker].day(day) for s in stocks],
            stock_tickers=[s.ticker for s in stocks],
            chains=[_chain_day(u.ticker, plan.chain.listed(u.ticker, day), expiries) for u in chained],
            curve=plan.curves[day],
            other_day_bars=daily_bars_table(list(bars.values())) if stocks and others else None,
            quote_only=() if plan.prints_option_trades(day) else tuple(u.ticker for u in chained),
            bar_chains=[
                BarChain(
                    _chain_day(u.ticker, plan.chain.listed(u.ticker, day), expiries),
                    plan.skeletons[u.ticker].day(day),
                    (bars[u.ticker]["low"], bars[u.ticker]["high"]),
                )
                for u in plan.with_options(day)
                if u not in chained
            ],
        )


def _single_threaded_arrow() -> None:
    """Workers already run in parallel; Arrow thread pools on top of them oversubscribe the cores."""
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)


def _outcomes(tasks: list[DayTask], workers: int) -> Iterator[Future[DayOutcome] | DayOutcome]:
    if workers <= 1:
        for task in tasks:
            yield run_day(task)
        return
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_single_threaded_arrow) as pool:
        futures = [pool.submit(run_day, t) for t in tasks]
        try:
            yield from futures
        finally:
            for f in futures:
                f.cancel()


def _drop_stale(lake: Lake, rec: Recorder) -> None:
    """Remove partitions of an earlier built-in market that this build did not write again."""
    snap = lake.snapshot()
    written = set(rec.partitions)
    for name, parts in snap.by_dataset.items():
        for day, part in parts.items():
            if (name, day) in written or not part.source.startswith("sim:"):
                continue
            lake.delete_partition(name, day)
            for derived in DERIVED_BARS.get(name, ())[1:]:
                dp = snap.partition(derived, day)
                if dp is not None and (derived, day) not in written and dp.source.startswith("derived:"):
                    lake.delete_partition(derived, day)


def build_market(
    data_dir: Path,
    *,
    seed: int = 7,
    end: dt.date | None = None,
    profile: str = "default",
    now_ns: int | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
) -> BuildReport:
    """Generate the built-in market into ``data_dir`` (lake under ``data_dir/lake``) and report what was written.

    ``end`` is the last tick session (default: the last completed XNYS session before ``now_ns``).
    ``workers`` overrides the profile's process count (the output does not depend on it).
    """
    started = time.perf_counter()
    data_dir = Path(data_dir)
    prof = get_profile(profile)
    plan = plan_market(seed, resolve_end(end, now_ns), prof)
    lake = Lake(data_dir / "lake")
    ingestor = Ingestor(lake, data_dir / "quarantine")
    rec = Recorder()
    task_id = None
    if progress is not None:
        task_id = progress.add_task(f"building {prof.name} market", total=len(plan.daily_days) + len(plan.tick_days))

    def advance() -> None:
        if progress is not None and task_id is not None:
            progress.advance(task_id)

    n_workers = max(1, min(prof.workers if workers is None else workers, os.cpu_count() or 1, len(plan.tick_days)))
    tasks = list(_day_tasks(plan, data_dir))
    outcomes = _outcomes(tasks, n_workers)
    try:
        # With a pool, start it first so that tick days are generated while reference data is written.
        pending = [next(outcomes)] if n_workers > 1 else []
        write_reference(plan, ingestor, rec)
        write_daily_bars(plan, ingestor, rec, advance)
        oi = OpenInterestBook(plan)
        days = plan.option_days
        rec.write(ingestor, "option_open_interest", days[0], oi.table_for(days[0]), plan.source)
        for i, day in enumerate(days):
            item = pending.pop() if pending else next(outcomes)
            outcome = item.result() if isinstance(item, Future) else item
            rec.add(outcome.partitions)
            rec.quarantined += outcome.quarantined
            if i + 1 < len(days):
                nxt = days[i + 1]
                oi.roll(day, nxt, outcome.volumes)
                rec.write(ingestor, "option_open_interest", nxt, oi.table_for(nxt), plan.source)
            advance()
    finally:
        outcomes.close()
    _drop_stale(lake, rec)
    lake.compact(processes=n_workers)
    lake.set_meta(META_KEY, market_meta(plan))
    return BuildReport(
        data_dir=data_dir,
        profile=prof.name,
        seed=seed,
        end=plan.end,
        seconds=time.perf_counter() - started,
        tick_days=plan.tick_days,
        daily_days=len(plan.daily_days),
        contracts=len(plan.chain.contracts),
        quarantined=rec.quarantined,
        datasets=rec.stats(),
    )
