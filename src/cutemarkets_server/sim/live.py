"""The market clock: the built-in market keeps trading while the server runs.

During an XNYS session (04:00 ET to the after-hours close for stocks, the regular session for options) the
clock generates the session from the built-in model, continuing from the lake's last state: each stock
opens its day from its last stored price and the variance state of the previous session, the option
chains are the contracts listed in the lake, and the morning's open interest rolls the previous session's
figures with its volume. The whole session is generated at its start - deterministically, from (seed, day)
and the lake - and released as the clock reaches each tick, so a restart mid-session produces the same
ticks. Released ticks are published to the stream at once and appended to the lake in batches (every
``lake_batch_s`` of market time, never one write per tick): each batch rewrites the day's partitions
through the ingest pipeline with everything released so far. Outside sessions the clock is quiet; a day
the lake already holds as history is never overwritten.

With several worker processes every worker runs a clock (so each worker's subscribers get the ticks), but
only the one whose ``writer()`` is true - the leader - stores anything: the appends, the session's state and
open interest, the compaction at the end. A worker that becomes the leader mid-session takes over the
storing from where its own (identical) tape has got to.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from ..clock import Clock
from ..ingest.pipeline import Ingestor
from ..market.calendar import MarketCalendar
from ..market.timestamps import NS_PER_S, et_date, et_ns
from ..store.market import MarketStore
from .day import DayTask, generate_day
from .openinterest import open_interest_table, roll_open_interest
from .options import ChainDay
from .rates import RateCurve
from .seeds import Stream, rng_for
from .skeleton import AFTER_HOURS_SHARE, PREMARKET_SHARE, REGULAR_SHARE, SESSIONS_PER_YEAR, DayPrices, slow_step
from .surface import expiry_ns
from .tape import TICK_DATASETS, SessionTape, TapePlayer, TickSink
from .universe import TickerSpec, spec

if TYPE_CHECKING:
    from ..runtime import Runtime
    from ..ws.config import StreamConfig

log = logging.getLogger("cutemarkets.sim.live")

META_KEY = "market"
LIVE_STATE_KEY = "live:{day}"
LIVE_PREFIX = "live:"


def live_day_prices(
    seed: int, ticker: TickerSpec, day: dt.date, prev_after_hours: float, prev_var: float, prev_slow: float
) -> DayPrices:
    """One more step of the skeleton's dynamics: the day's anchors from the previous after-hours close and
    the previous session's variance and its slow average (jump and variance draws from the ticker's stream
    for ``day``)."""
    rng = rng_for(seed, ticker.index, day, Stream.SKELETON)
    vm = ticker.vol
    dt_y = 1.0 / SESSIONS_PER_YEAR
    zv, z_pre, z_reg, z_ah = rng.standard_normal(4)
    jumps = int(rng.poisson(vm.jumps_per_year * dt_y))
    jump = float(rng.normal(vm.jump_mean, vm.jump_sd)) * np.sqrt(jumps) if jumps else 0.0
    jump_at = float(rng.uniform(0.05, 0.95))
    v_next = prev_var + vm.mean_reversion * (vm.long_run_var - prev_var) * dt_y
    v_next += vm.vol_of_var * np.sqrt(prev_var * dt_y) * zv
    v = max(abs(v_next), 0.05 * vm.long_run_var)
    rho = vm.correlation
    z_reg = rho * zv + np.sqrt(1.0 - rho * rho) * z_reg
    ret_pre = -0.5 * v * PREMARKET_SHARE * dt_y + np.sqrt(v * PREMARKET_SHARE * dt_y) * z_pre
    ret_reg = (
        (vm.drift - ticker.dividend_yield - 0.5 * v * REGULAR_SHARE) * dt_y
        + np.sqrt(v * REGULAR_SHARE * dt_y) * z_reg
        + jump
    )
    ret_ah = -0.5 * v * AFTER_HOURS_SHARE * dt_y + np.sqrt(v * AFTER_HOURS_SHARE * dt_y) * z_ah
    open_ = prev_after_hours * float(np.exp(ret_pre))
    close = open_ * float(np.exp(ret_reg))
    return DayPrices(
        day=day,
        prev_after_hours=prev_after_hours,
        open=open_,
        close=close,
        after_hours=close * float(np.exp(ret_ah)),
        variance=float(v),
        slow_variance=slow_step(ticker, prev_slow, float(v)),
        jump=float(jump),
        jump_at=jump_at,
    )


def listed_chains(store: MarketStore, day: dt.date, underlyings: list[str]) -> list[ChainDay]:
    """Each underlying's contracts listed in the lake on ``day`` and not expired (sorted by ticker)."""
    events = store.events("option_contracts", last_day=day)
    latest: dict[str, dict[str, Any]] = {}
    if events.num_rows:
        ordered = events.sort_by([("ticker", "ascending"), ("effective_date", "ascending")])
        columns = [
            "ticker",
            "action",
            "underlying_ticker",
            "contract_type",
            "expiration_date",
            "strike_price",
            "shares_per_contract",
        ]
        for row in ordered.select(columns).to_pylist():
            latest[row["ticker"]] = row
    chains = []
    for underlying in underlyings:
        rows = sorted(
            (
                r
                for r in latest.values()
                if r["underlying_ticker"] == underlying and r["action"] == "list" and r["expiration_date"] >= day
            ),
            key=lambda r: r["ticker"],
        )
        expiries = {d: expiry_ns(d) for d in {r["expiration_date"] for r in rows}}
        chains.append(
            ChainDay(
                underlying=underlying,
                tickers=[r["ticker"] for r in rows],
                is_call=np.array([r["contract_type"] == "call" for r in rows], dtype=bool),
                strike=np.array([r["strike_price"] for r in rows], dtype=np.float64),
                expiry_ns=np.array([expiries[r["expiration_date"]] for r in rows], dtype=np.int64),
                deliverable=np.array([r["shares_per_contract"] / 100.0 for r in rows], dtype=np.float64),
            )
        )
    return chains


@dataclass
class LiveSession:
    tape: SessionTape
    task: DayTask
    prices: list[DayPrices] | None = None


class MarketClock:
    """Generates, publishes and stores the built-in market's current session as the clock reaches it."""

    def __init__(
        self,
        store: MarketStore,
        ingestor: Ingestor,
        calendar: MarketCalendar,
        clock: Clock,
        sink: TickSink,
        meta: dict[str, Any],
        data_dir: Path,
        *,
        step_s: float = 0.02,
        lake_batch_s: float = 60.0,
        writer: Callable[[], bool] | None = None,
    ) -> None:
        self.store = store
        self.ingestor = ingestor
        self.calendar = calendar
        self.clock = clock
        self.sink = sink
        self.meta = meta
        self.data_dir = data_dir
        self.step_s = step_s
        self.batch_ns = max(1, int(lake_batch_s * NS_PER_S))
        self.source = LIVE_PREFIX + str(meta.get("source", "sim"))
        self.writes: list[tuple[dt.date, int]] = []  # (day, until_ns) of every lake append
        self.writer = writer or (lambda: True)  # false: publish only (another process stores the ticks)
        self.player: TapePlayer | None = None
        self.session: LiveSession | None = None
        self._recorded: dt.date | None = None  # the day whose state and open interest were written
        self._written_ns = 0
        self._writing: asyncio.Task[None] | None = None

    @classmethod
    def for_runtime(
        cls, runtime: Runtime, sink: TickSink, config: StreamConfig, *, writer: Callable[[], bool] | None = None
    ) -> MarketClock | None:
        raw = runtime.lake.get_meta(META_KEY)
        if raw is None:
            return None
        layout = runtime.settings.layout
        return cls(
            MarketStore(runtime.lake, runtime.engine),
            Ingestor(runtime.lake, layout.quarantine),
            runtime.calendar,
            runtime.clock,
            sink,
            json.loads(raw),
            layout.root,
            step_s=config.step_s,
            lake_batch_s=config.lake_batch_s,
            writer=writer,
        )

    # -- when ------------------------------------------------------------------------------------
    def active_day(self, now_ns: int) -> dt.date | None:
        """The session whose stock trading window (pre-market to after-hours close) contains ``now_ns``."""
        day = et_date(now_ns)
        if not self.calendar.is_session(day):
            return None
        hours = self.calendar.hours(day)
        return day if hours.premarket_open_ns <= now_ns < hours.after_hours_close_ns else None

    def is_history(self, day: dt.date) -> bool:
        """Whether the lake already holds ``day``'s ticks from a build or an import (never overwritten)."""
        snap = self.store.snapshot()
        for name in TICK_DATASETS:
            part = snap.partition(name, day)
            if part is not None and not part.source.startswith(LIVE_PREFIX):
                return True
        return False

    # -- the loop --------------------------------------------------------------------------------
    async def run(self) -> None:
        while True:
            day = self.active_day(self.clock.now_ns())
            if day is None or await asyncio.to_thread(self.is_history, day):
                await self._sleep_until(lambda d=day: self.active_day(self.clock.now_ns()) not in (None, d))
                continue
            session = await asyncio.to_thread(self.prepare, day)
            await self.play(session)

    async def _sleep_until(self, condition: Callable[[], bool]) -> None:
        while not condition():
            await asyncio.sleep(max(self.step_s, 0.05))

    async def play(self, session: LiveSession) -> None:
        tape = session.tape
        player = TapePlayer(tape, self.sink)
        self.player = player
        self.session = session
        self._written_ns = 0
        player.release(self.clock.now_ns(), silent=True)
        self._schedule_write(tape)
        while not player.done:
            player.release(self.clock.now_ns())
            self._schedule_write(tape)
            await asyncio.sleep(self.step_s)
        if self._writing is not None:
            await self._writing
        if not self.writer():
            return
        await self.flush()
        # The session is final: fold it into its month's packs (readers switch over atomically).
        await asyncio.to_thread(self.store.lake.compact)

    def _schedule_write(self, tape: SessionTape) -> None:
        """Start a lake append when a batch boundary was crossed and no append is running."""
        assert self.player is not None
        if not self.writer():
            return
        if self._writing is not None and not self._writing.done():
            return
        until = self.player.until_ns
        boundary = until - until % self.batch_ns
        if boundary <= self._written_ns:
            return
        self._writing = asyncio.get_running_loop().create_task(asyncio.to_thread(self.append, tape, boundary))

    async def flush(self) -> None:
        """Append everything released so far (the end of a session, or a shutdown)."""
        if self.player is None or not self.writer():
            return
        if self._writing is not None and not self._writing.done():
            await self._writing
        if self.player.until_ns > self._written_ns:
            await asyncio.to_thread(self.append, self.player.tape, self.player.until_ns)

    # -- generation and storage --------------------------------------------------------------------
    def prepare(self, day: dt.date) -> LiveSession:
        """Generate ``day``'s session from the lake's state before it (and record the morning's open interest)."""
        seed = int(self.meta["seed"])
        stocks = [u["ticker"] for u in self.meta["universe"]]
        underlyings = [u["ticker"] for u in self.meta["universe"] if u.get("options")]
        premarket = et_ns(day, 4)
        prices = [
            live_day_prices(seed, spec(t), day, self._last_price(t, premarket), *self._previous_variance(t, day))
            for t in stocks
        ]
        task = DayTask(
            data_dir=str(self.data_dir),
            seed=seed,
            profile=str(self.meta["profile"]),
            day=day,
            source=self.source,
            stocks=prices,
            stock_tickers=stocks,
            chains=listed_chains(self.store, day, underlyings),
            curve=self._curve(day),
        )
        tables = generate_day(task).tables
        hours = self.calendar.hours(day)
        tape = SessionTape(day, tables, hours.premarket_open_ns, hours.after_hours_close_ns)
        session = LiveSession(tape, task, prices)
        if self.writer():
            self.record(session)
        log.info("market clock: generated %s (%d ticks)", day, len(tape))
        return session

    def record(self, session: LiveSession) -> None:
        """Store the session's state and the morning's open interest (once per day; the writer only)."""
        day = session.tape.day
        if self._recorded == day or session.prices is None:
            return
        self._record_state(day, session.prices)
        self._write_open_interest(day, session.task.seed, session.task.chains)
        self._recorded = day

    def append(self, tape: SessionTape, until_ns: int) -> None:
        """Rewrite the day's tick partitions with every tick before ``until_ns`` (trades also re-derive bars)."""
        if self.session is not None and self.session.tape is tape:
            self.record(self.session)  # a process that became the writer mid-session
        for name, table in tape.tables.items():
            n = int(np.searchsorted(table["sip_timestamp"].to_numpy(), until_ns, side="left"))
            self.ingestor.write_day(name, tape.day, table.slice(0, n), source=self.source)
        self._written_ns = max(self._written_ns, until_ns)
        self.writes.append((tape.day, until_ns))

    def _last_price(self, ticker: str, before_ns: int) -> float:
        quote = self.store.last_tick("stock_quotes", ticker, before_ns)
        if quote is not None and quote["bid_price"] > 0 and quote["ask_price"] > 0:
            return (float(quote["bid_price"]) + float(quote["ask_price"])) / 2.0
        trade = self.store.last_tick("stock_trades", ticker, before_ns)
        return float(trade["price"]) if trade is not None else spec(ticker).price

    def _previous_variance(self, ticker: str, day: dt.date) -> tuple[float, float]:
        """The variance state of the session before ``day`` and its slow average."""
        before = self.calendar.previous_session(day)
        long_run = spec(ticker).vol.long_run_var
        if before is not None:
            state = self.store.lake.get_meta(LIVE_STATE_KEY.format(day=before.isoformat()))
            if state is not None and ticker in json.loads(state):
                found = json.loads(state)[ticker]
                return (float(found[0]), float(found[1])) if isinstance(found, list) else (float(found), long_run)
        surface = self.meta.get("surface", {}).get(ticker, {})
        variances, slow = surface.get("variance", {}), surface.get("slow_variance", {})
        known = sorted(d for d in variances if d < day.isoformat())
        if not known:
            return long_run, long_run
        return float(variances[known[-1]]), float(slow.get(known[-1], long_run))

    def _record_state(self, day: dt.date, prices: list[DayPrices]) -> None:
        stocks = [u["ticker"] for u in self.meta["universe"]]
        state = {t: [p.variance, p.slow_variance] for t, p in zip(stocks, prices, strict=True)}
        self.store.lake.set_meta(LIVE_STATE_KEY.format(day=day.isoformat()), json.dumps(state, sort_keys=True))

    def _curve(self, day: dt.date) -> RateCurve:
        latest = self.store.latest_partition_on_or_before("rates", day)
        if latest is None:
            return RateCurve((1, 365), (0.04, 0.04))
        table = self.store.partition_table("rates", latest).sort_by("tenor_days")
        return RateCurve(
            tuple(int(x) for x in table["tenor_days"].to_pylist()), tuple(float(x) for x in table["rate"].to_pylist())
        )

    def _write_open_interest(self, day: dt.date, seed: int, chains: list[ChainDay]) -> None:
        """The morning report for ``day``: the previous session's figures rolled with its volume."""
        snap = self.store.snapshot()
        if snap.partition("option_open_interest", day) is not None:
            return
        previous = self.store.latest_partition_on_or_before("option_open_interest", day - dt.timedelta(days=1))
        if previous is None:
            return
        start = self.store.partition_table("option_open_interest", previous)
        start_oi = dict(zip(start["ticker"].to_pylist(), start["open_interest"].to_pylist(), strict=True))
        traded = self.store.day_bars_on("option_day_aggs", previous)
        volumes = dict(zip(traded["ticker"].to_pylist(), traded["volume"].to_pylist(), strict=True))
        figures: dict[str, int] = {}
        for chain in chains:
            mine = {t: v for t, v in start_oi.items() if t.startswith(f"O:{chain.underlying}")}
            closing = roll_open_interest(seed, spec(chain.underlying), previous, mine, volumes)
            figures.update({t: closing.get(t, 0) for t in chain.tickers})
        if figures:
            table: pa.Table = open_interest_table(day, previous, figures)
            self.ingestor.write_day("option_open_interest", day, table, source=self.source)
