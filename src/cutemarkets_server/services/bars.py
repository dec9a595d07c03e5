"""Aggregates at any timespan, previous-day bars and daily open/close, for stocks and options.

Minute and hour bars roll up stored minute bars; day and longer bars roll up stored daily bars
(each built from trades with the sale-condition rules). A bar is only used once every trade in it is
knowable: the window that contains the caller's horizon is rebuilt from the trades before it.
``adjusted`` applies splits to bars before each split's execution date.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from ..market import conditions
from ..market.bars import INTRADAY, Bars, calendar_bucket, intraday_bucket, rollup, trades_to_bars
from ..market.calendar import MarketCalendar
from ..market.splits import Split, adjust_prices, adjust_volumes, price_factors_at
from ..market.timestamps import NS_PER_MIN, et_date, et_midnight_ns, et_ns
from ..store.market import MarketStore
from .reference import ReferenceData


def asset_of(ticker: str) -> str:
    return "options" if ticker.startswith("O:") else "stocks"


def _ds(asset: str, kind: str) -> str:
    return f"{'option' if asset == 'options' else 'stock'}_{kind}"


@dataclass
class BarSeries:
    """Bars of one ticker, oldest first, plus how many stored base bars were read."""

    bars: Bars
    query_count: int
    resume: tuple[int, int] | None = None


def _from_table(table: pa.Table) -> Bars:
    if table.num_rows == 0:
        return Bars.empty()
    return Bars(
        key=np.zeros(table.num_rows, dtype=np.int64),
        window_start=table["window_start"].to_numpy(),
        open=table["open"].to_numpy(),
        high=table["high"].to_numpy(),
        low=table["low"].to_numpy(),
        close=table["close"].to_numpy(),
        volume=table["volume"].to_numpy(),
        vwap=table["vwap"].fill_null(float("nan")).to_numpy(),  # vendor bars may carry no VWAP
        transactions=table["transactions"].to_numpy(),
    )


def _concat(parts: list[Bars]) -> Bars:
    parts = [p for p in parts if len(p)]
    if not parts:
        return Bars.empty()
    return Bars(*(np.concatenate([getattr(p, f) for p in parts]) for f in Bars.__dataclass_fields__))


def _select(bars: Bars, mask: np.ndarray) -> Bars:
    return Bars(*(getattr(bars, f)[mask] for f in Bars.__dataclass_fields__))


def _slice(bars: Bars, lo: int, hi: int) -> Bars:
    """Bars ``lo`` to ``hi`` (views, not copies)."""
    return Bars(*(getattr(bars, f)[lo:hi] for f in Bars.__dataclass_fields__))


class BarService:
    def __init__(self, store: MarketStore, reference: ReferenceData, calendar: MarketCalendar) -> None:
        self.store = store
        self.reference = reference
        self.calendar = calendar

    # -- trades into bars --------------------------------------------------------------------------
    def bars_from_trades(self, ticker: str, lo: int, hi: int, bucket: str, *, intraday: bool) -> Bars:
        """Bars built directly from trades in [lo, hi) with ``bucket`` = "second" | "minute" | "day"."""
        asset = asset_of(ticker)
        trades = self.store.ticks_between(_ds(asset, "trades"), [ticker], lo, hi)
        if trades.num_rows == 0:
            return Bars.empty()
        ts = trades["sip_timestamp"].to_numpy()
        conds = trades["conditions"].combine_chunks()
        offsets = conds.offsets.to_numpy()
        codes = conds.flatten().to_numpy(zero_copy_only=False)
        hl, oc, vol = conditions.update_masks(asset, codes, offsets - offsets[0], intraday=intraday)
        if bucket == "day":
            starts = np.array([et_midnight_ns(et_date(int(t))) for t in ts], dtype=np.int64)
        else:
            starts = intraday_bucket(ts, bucket, 1)
        return trades_to_bars(
            np.zeros(len(ts), dtype=np.int64),
            ts,
            trades["price"].to_numpy(),
            trades["size"].to_numpy().astype(np.float64),
            hl,
            oc,
            vol,
            starts,
        )

    # -- base bars ---------------------------------------------------------------------------------
    def base_bars(self, ticker: str, base: str, lo: int, hi: int, horizon_ns: int) -> Bars:
        """Stored base bars ("minute"/"day") with lo <= start < hi, complete as of ``horizon_ns``.

        The base bar that contains the horizon is rebuilt from the trades before the horizon.
        """
        asset = asset_of(ticker)
        hi_eff = min(hi, horizon_ns + 1)
        if lo >= hi_eff:
            return Bars.empty()
        stored = _from_table(self.store.bars(_ds(asset, f"{base}_aggs"), ticker, lo, hi_eff))
        width = NS_PER_MIN if base == "minute" else None
        if len(stored):
            if width:
                complete = stored.window_start + width <= horizon_ns + 1
            else:
                # A day bar that starts before the horizon's ET day has ended by its midnight; only the bars of
                # that day and later need their own end (the next ET midnight, whatever its UTC offset).
                complete = stored.window_start < et_midnight_ns(et_date(horizon_ns))
                for i in np.flatnonzero(~complete).tolist():
                    end = et_midnight_ns(et_date(int(stored.window_start[i])) + dt.timedelta(days=1))
                    complete[i] = end <= horizon_ns + 1
            if not complete.all():
                partial_start = int(stored.window_start[~complete][0])
                stored = _select(stored, complete)
                rebuilt = self.bars_from_trades(
                    ticker, partial_start, horizon_ns + 1, base, intraday=(base == "minute")
                )
                stored = _concat([stored, rebuilt])
        return stored

    def _adjust(self, ticker: str, bars: Bars, horizon_ns: int) -> Bars:
        """Split-adjust bars with every split executed by the horizon's day."""
        splits = [Split(d, f, t) for d, f, t in self.reference.splits(ticker, et_date(horizon_ns))]
        if not splits or len(bars) == 0:
            return bars
        factors = price_factors_at(splits, bars.window_start)
        return Bars(
            key=bars.key,
            window_start=bars.window_start,
            open=adjust_prices(bars.open, factors),
            high=adjust_prices(bars.high, factors),
            low=adjust_prices(bars.low, factors),
            close=adjust_prices(bars.close, factors),
            volume=adjust_volumes(bars.volume, factors),
            vwap=adjust_prices(bars.vwap, factors),
            transactions=bars.transactions,
        )

    # -- custom range ------------------------------------------------------------------------------
    def range(
        self,
        ticker: str,
        multiplier: int,
        timespan: str,
        lo: int,
        hi: int,
        *,
        adjusted: bool,
        limit: int,
        descending: bool,
        horizon_ns: int,
        anchor: dt.date,
    ) -> BarSeries:
        """Bars whose window starts in [lo, hi), built from at most ``limit`` base bars.

        When more base bars exist than ``limit``, the page stops at a window boundary (a window is
        never split across pages unless one window alone exceeds the limit) and ``resume`` gives the
        [lo, hi) range that is left.
        """
        if timespan == "second":
            base = self.bars_from_trades(ticker, lo, min(hi, horizon_ns + 1), "second", intraday=True)
        elif timespan in ("minute", "hour"):
            base = self.base_bars(ticker, "minute", lo, hi, horizon_ns)
        else:
            base = self.base_bars(ticker, "day", lo, hi, horizon_ns)

        def buckets(b: Bars) -> np.ndarray:
            if timespan in INTRADAY:
                return intraday_bucket(b.window_start, timespan, multiplier)
            return calendar_bucket(b.window_start, timespan, multiplier, anchor)

        resume: tuple[int, int] | None = None
        if len(base) > limit:
            page = _slice(base, len(base) - limit, len(base)) if descending else _slice(base, 0, limit)
            starts = buckets(page)
            edge = int(starts[0] if descending else starts[-1])
            whole = starts != edge  # the edge window's bars are at the page's end (its start, descending)
            if whole.any():
                kept = int(whole.sum())
                page = _slice(page, limit - kept, limit) if descending else _slice(page, 0, kept)
                if descending:
                    edge = int(page.window_start[0])  # continue below the oldest whole window kept
            else:
                edge = int(page.window_start[0] if descending else page.window_start[-1] + 1)
            resume = (lo, edge) if descending else (edge, hi)
            base = page
        count = len(base)
        native = timespan in ("minute", "day") and multiplier == 1
        bars = base if native else rollup(base, buckets(base))
        if adjusted:
            bars = self._adjust(ticker, bars, horizon_ns)
        return BarSeries(bars, count, resume)

    # -- previous session and open/close ------------------------------------------------------------
    def previous_day(self, ticker: str, *, adjusted: bool, horizon_ns: int) -> tuple[Bars, dt.date | None]:
        """The newest daily bar of a session before the horizon's ET day (however old)."""
        today = et_date(horizon_ns)
        table = self.store.last_bars(_ds(asset_of(ticker), "day_aggs"), [ticker], today, max_partitions=10_000)
        bars = _from_table(table)
        if len(bars) == 0:
            return bars, None
        if adjusted:
            bars = self._adjust(ticker, bars, horizon_ns)
        return bars, et_date(int(bars.window_start[0]))

    def open_close(self, ticker: str, day: dt.date, *, adjusted: bool, horizon_ns: int) -> dict | None:
        """Regular-session OHLCV of ``day`` with pre-market and after-hours prices, or None without trades."""
        if not self.calendar.is_session(day):
            return None
        hours = self.calendar.hours(day)
        asset = asset_of(ticker)
        end = min(hours.after_hours_close_ns if asset == "stocks" else hours.close_ns, horizon_ns + 1)
        start = hours.premarket_open_ns if asset == "stocks" else hours.open_ns
        if start >= end:
            return None
        trades = self.store.ticks_between(_ds(asset, "trades"), [ticker], start, end)
        if trades.num_rows == 0:
            return None
        ts = trades["sip_timestamp"].to_numpy()
        price = trades["price"].to_numpy()
        regular = (ts >= hours.open_ns) & (ts < hours.close_ns)
        conds = trades["conditions"].combine_chunks()
        offsets = conds.offsets.to_numpy()
        codes = conds.flatten().to_numpy(zero_copy_only=False)
        hl, oc, vol = conditions.update_masks(asset, codes, offsets - offsets[0], intraday=False)
        sel = np.flatnonzero(regular)
        bars = trades_to_bars(
            np.zeros(len(sel), dtype=np.int64),
            ts[sel],
            price[sel],
            trades["size"].to_numpy()[sel].astype(float),
            hl[sel],
            oc[sel],
            vol[sel],
            np.zeros(len(sel), dtype=np.int64),
        )
        if len(bars) == 0:
            return None
        factor = 1.0
        if adjusted:
            splits = [Split(d, f, t) for d, f, t in self.reference.splits(ticker, et_date(horizon_ns))]
            factor = float(price_factors_at(splits, np.array([hours.open_ns]))[0]) if splits else 1.0
        out = {
            "open": float(bars.open[0]) * factor,
            "high": float(bars.high[0]) * factor,
            "low": float(bars.low[0]) * factor,
            "close": float(bars.close[0]) * factor,
            "volume": float(bars.volume[0]) / factor,
        }
        if asset == "stocks":
            pre = np.flatnonzero(ts < hours.open_ns)
            post = np.flatnonzero(ts >= hours.close_ns)
            if len(pre):
                out["preMarket"] = float(price[pre[0]]) * factor
            if len(post):
                out["afterHours"] = float(price[post[-1]]) * factor
        else:
            out["preMarket"] = out["open"]
            out["afterHours"] = out["close"]
        return out

    @staticmethod
    def session_stamp_ms(day: dt.date) -> int:
        """16:00 ET of a trading day in ms: the stamp of previous-day and grouped daily bars."""
        return et_ns(day, 16) // 1_000_000
