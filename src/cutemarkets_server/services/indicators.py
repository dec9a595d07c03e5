"""Indicator series (SMA, EMA, MACD, RSI) over completed bars of the requested timespan."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from ..market import indicators as ind
from ..market.bars import INTRADAY, Bars, window_start_day
from ..market.calendar import MarketCalendar
from ..market.timestamps import NS_PER_DAY, et_date, et_midnight_ns
from .bars import BarService

KINDS = ("sma", "ema", "macd", "rsi")
SERIES = ("open", "high", "low", "close")
# Calendar days one bar of each timespan spans at most (to size the look-back of a fetch).
_SPAN_DAYS = {"day": 1.6, "week": 7, "month": 31, "quarter": 92, "year": 366}


@dataclass(frozen=True)
class IndicatorSpec:
    kind: str
    timespan: str
    window: int = 50
    short_window: int = 12
    long_window: int = 26
    signal_window: int = 9
    series_type: str = "close"
    adjusted: bool = True

    @property
    def warmup_bars(self) -> int:
        """Bars needed before the first reported value (three times the memory for the EMA family)."""
        if self.kind == "macd":
            return 3 * (max(self.short_window, self.long_window) + self.signal_window)
        if self.kind in ("ema", "rsi"):
            return 3 * self.window + 1
        return self.window


@dataclass
class IndicatorResult:
    timestamps_ms: np.ndarray
    value: np.ndarray
    signal: np.ndarray | None
    histogram: np.ndarray | None
    bars: Bars
    fetch_lo: int
    fetch_hi: int


def compute(spec: IndicatorSpec, values: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    if spec.kind == "sma":
        return ind.sma(values, spec.window), None, None
    if spec.kind == "ema":
        return ind.ema(values, spec.window), None, None
    if spec.kind == "rsi":
        return ind.rsi(values, spec.window), None, None
    line, signal, hist = ind.macd(values, spec.short_window, spec.long_window, spec.signal_window)
    return line, signal, hist


class IndicatorService:
    def __init__(self, bars: BarService, calendar: MarketCalendar) -> None:
        self.bars = bars
        self.calendar = calendar

    def _bar_width_ns(self, timespan: str) -> int:
        if timespan in INTRADAY:
            return INTRADAY[timespan]
        return int(_SPAN_DAYS[timespan] * NS_PER_DAY)

    def completed(self, bars: Bars, timespan: str, horizon_ns: int) -> np.ndarray:
        """Mask of bars whose window had ended by the horizon."""
        if len(bars) == 0:
            return np.zeros(0, dtype=bool)
        if timespan in INTRADAY:
            return bars.window_start + INTRADAY[timespan] <= horizon_ns + 1
        ends = []
        for s in bars.window_start:
            day = et_date(int(s))
            if timespan == "day":
                ends.append(self.calendar.hours(day).close_ns if self.calendar.is_session(day) else et_midnight_ns(day))
            else:
                probe = day + dt.timedelta(days=int(_SPAN_DAYS[timespan]) + 1)
                ends.append(et_midnight_ns(window_start_day(probe, timespan, 1, day)))
        return np.asarray(ends, dtype=np.int64) <= horizon_ns + 1

    def series(
        self, ticker: str, spec: IndicatorSpec, lo: int | None, hi: int | None, *, limit: int, horizon_ns: int
    ) -> IndicatorResult:
        """Indicator values for bars starting in [lo, hi), computed with enough earlier bars to warm up."""
        hi_eff = min(hi if hi is not None else horizon_ns + 1, horizon_ns + 1)
        width = self._bar_width_ns(spec.timespan)
        span_bars = spec.warmup_bars + (limit if lo is None else 0)
        start = lo if lo is not None else hi_eff
        if spec.timespan in INTRADAY:
            # Intraday bars exist only in sessions: reach back across nights, weekends and holidays.
            fetch_lo = start - span_bars * width * 4 - 4 * NS_PER_DAY
        else:
            fetch_lo = start - int(span_bars * width)
        anchor = et_date(fetch_lo)
        series = self.bars.range(
            ticker,
            1,
            spec.timespan,
            fetch_lo,
            hi_eff,
            adjusted=spec.adjusted,
            limit=10**7,
            descending=False,
            horizon_ns=horizon_ns,
            anchor=anchor,
        )
        bars = series.bars
        done = self.completed(bars, spec.timespan, horizon_ns)
        bars = Bars(*(getattr(bars, f)[done] for f in Bars.__dataclass_fields__))
        values = getattr(bars, spec.series_type)
        value, signal, hist = compute(spec, values)
        in_range = np.ones(len(bars), dtype=bool) if lo is None else bars.window_start >= lo
        keep = in_range & np.isfinite(value)
        return IndicatorResult(
            timestamps_ms=bars.window_start[keep] // 1_000_000,
            value=value[keep],
            signal=None if signal is None else signal[keep],
            histogram=None if hist is None else hist[keep],
            bars=bars,
            fetch_lo=fetch_lo,
            fetch_hi=hi_eff,
        )
