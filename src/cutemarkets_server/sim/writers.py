"""Writing the planned (non-tick) datasets: reference events, rates, daily bars, open interest, meta."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

import pyarrow as pa

from ..ingest.pipeline import Ingestor
from ..market.calendar import xnys
from ..store.lake import Partition
from .daybars import daily_bar, daily_bars_table
from .openinterest import carried_open_interest, initial_open_interest, open_interest_table, roll_open_interest
from .plan import MarketPlan
from .reference import contract_row, rates_table, records_table, split_row, ticker_record
from .report import DatasetStats
from .surface import surface_meta
from .universe import TickerSpec, spec


class Recorder:
    """Collects the partitions written, keeping the last version of each (dataset, day)."""

    def __init__(self) -> None:
        self.partitions: dict[tuple[str, dt.date], Partition] = {}
        self.quarantined = 0

    def add(self, parts: list[Partition]) -> None:
        for p in parts:
            self.partitions[(p.dataset, p.day)] = p

    def write(self, ingestor: Ingestor, name: str, day: dt.date, table: pa.Table, source: str) -> None:
        for result in ingestor.write_day(name, day, table, source=source):
            self.quarantined += result.rows_quarantined
            if result.partition is not None:
                self.add([result.partition])

    def stats(self) -> dict[str, DatasetStats]:
        out: dict[str, DatasetStats] = {}
        for (name, _day), p in self.partitions.items():
            s = out.setdefault(name, DatasetStats())
            s.partitions += 1
            s.rows += p.rows
            s.bytes += p.bytes
        return out


def write_reference(plan: MarketPlan, ingestor: Ingestor, rec: Recorder) -> None:
    src = plan.source
    by_day: dict[dt.date, dict[str, dict]] = {plan.first_day: {s.ticker: ticker_record(s, src) for s in plan.stocks}}
    nc = plan.profile.name_change
    split = plan.profile.split
    names = {s.ticker: s.reference.name for s in plan.stocks}
    factors = {s.ticker: 1.0 for s in plan.stocks}
    for day, ticker, what in sorted(
        [(plan.name_change_day, nc.ticker, "name"), (plan.split_day, split.ticker, "split")]
    ):
        if ticker not in names:
            continue
        if what == "name":
            names[ticker] = nc.new_name
        else:
            factors[ticker] = split.ratio
        by_day.setdefault(day, {})[ticker] = ticker_record(
            spec(ticker), src, name=names[ticker], share_factor=factors[ticker]
        )
    for day, records in sorted(by_day.items()):
        rec.write(ingestor, "stock_tickers", day, records_table("stock_tickers", list(records.values())), src)
    if split.ticker in names:
        table = records_table("corporate_actions", [split_row(split, plan.split_day, src)])
        rec.write(ingestor, "corporate_actions", plan.split_day, table, src)
    for day in [*plan.daily_days, *plan.tick_days]:
        rec.write(ingestor, "rates", day, rates_table(plan.curves[day]), src)
    for day, events in sorted(plan.chain.events().items()):
        rows = [contract_row(action, c, src) for action, c in events]
        rec.write(ingestor, "option_contracts", day, records_table("option_contracts", rows), src)


def stock_trades_per_day(plan: MarketPlan, s: TickerSpec) -> float:
    return plan.profile.stock_trades_per_day * s.micro.activity


def write_daily_bars(plan: MarketPlan, ingestor: Ingestor, rec: Recorder, advance: Callable[[], None]) -> None:
    """Daily stock bars before the tick window (progress advances here for days without an option task)."""
    with_tasks = set(plan.option_days)
    for day in plan.daily_days:
        rows = [
            daily_bar(plan.seed, s, plan.skeletons[s.ticker], day, stock_trades_per_day(plan, s)) for s in plan.stocks
        ]
        rec.write(ingestor, "stock_day_aggs", day, daily_bars_table(rows), plan.source)
        if day not in with_tasks:
            advance()


class OpenInterestBook:
    """Morning open interest per underlying with listed contracts, rolled forward with each session's
    volume; an underlying's first session with contracts starts from the model level."""

    def __init__(self, plan: MarketPlan) -> None:
        self.plan = plan
        self.morning: dict[str, dict[str, int]] = {}
        self._start(plan.option_days[0])

    def _start(self, day: dt.date) -> None:
        for u in self.plan.with_options(day):
            if u.ticker not in self.morning:
                listed = self.plan.chain.listed(u.ticker, day)
                self.morning[u.ticker] = initial_open_interest(
                    self.plan.seed, u, self.plan.skeletons[u.ticker], day, listed
                )

    def table_for(self, day: dt.date) -> pa.Table:
        figures = {t: v for per in self.morning.values() for t, v in per.items()}
        prev = xnys().previous_session(day)
        assert prev is not None
        return open_interest_table(day, prev, figures)

    def roll(self, day: dt.date, next_day: dt.date, volumes: dict[str, float]) -> None:
        for u in self.plan.with_options(day):
            closing = roll_open_interest(self.plan.seed, u, day, self.morning[u.ticker], volumes)
            self.morning[u.ticker] = carried_open_interest(self.plan.chain.listed(u.ticker, next_day), closing)
        self._start(next_day)


def market_meta(plan: MarketPlan) -> str:
    split = plan.profile.split
    nc = plan.profile.name_change
    variances = {
        u.ticker: {d: (p.variance, p.slow_variance) for d in plan.tick_days for p in [plan.skeletons[u.ticker].day(d)]}
        for u in plan.underlyings
    }
    meta = {
        "generator": "cutemarkets_server.sim",
        "seed": plan.seed,
        "end": plan.end.isoformat(),
        "profile": plan.profile.name,
        "source": plan.source,
        "tick_days": [d.isoformat() for d in plan.tick_days],
        "full_days": [d.isoformat() for d in plan.full_days],
        "focus": list(plan.profile.focus),
        "daily_days": {
            "count": len(plan.daily_days),
            "first": plan.daily_days[0].isoformat() if plan.daily_days else None,
            "last": plan.daily_days[-1].isoformat() if plan.daily_days else None,
        },
        "option_days": {
            "count": len(plan.option_days),
            "first": plan.option_days[0].isoformat() if plan.option_days else None,
            "underlyings": {u.ticker: plan.first_option_day(u.ticker).isoformat() for u in plan.underlyings},
        },
        "first_day": plan.first_day.isoformat(),
        "universe": [
            {"ticker": s.ticker, "options": s in plan.underlyings, "price_level": s.price} for s in plan.stocks
        ],
        "split": {
            "ticker": split.ticker,
            "execution_date": plan.split_day.isoformat(),
            "split_from": split.split_from,
            "split_to": split.split_to,
            "adjusted_root": split.ticker + "1",
            "adjusted_shares_per_contract": round(100 * split.ratio),
        },
        "name_change": {
            "ticker": nc.ticker,
            "date": plan.name_change_day.isoformat(),
            "old_name": spec(nc.ticker).reference.name,
            "new_name": nc.new_name,
        },
        "contracts": len(plan.chain.contracts),
        "surface": surface_meta(plan.underlyings, variances),
        "rates": {d.isoformat(): plan.curves[d].to_json() for d in plan.tick_days},
    }
    return json.dumps(meta, sort_keys=True)
