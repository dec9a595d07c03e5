"""The daily skeleton of a ticker's price: one sequential path over all sessions of a build.

Each session has four anchor prices - the previous session's after-hours close (where the pre-market
starts), the regular open, the regular close and its own after-hours close - plus the variance state
of the day, its slow average (the market's memory of recent variance, which sets the long end of the
implied-volatility term structure) and the jump (if any) that happens during its regular session. The intraday paths of
different days are bridges between these anchors, so days can be generated independently once the
skeleton exists.

The skeleton is in economic (split-adjusted to the oldest share count) units. :meth:`Skeleton.day`
converts to the raw, unadjusted prices that trade: after a ``split_to``-for-``split_from`` split every
price is divided by the ratio. The path is scaled so that the close before the tick window sits at the
ticker's reference price level.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from .seeds import Stream, rng_for
from .universe import TickerSpec

SESSIONS_PER_YEAR = 252.0
PREMARKET_SHARE = 0.17  # share of a day's variance from the previous after-hours close to the open
AFTER_HOURS_SHARE = 0.03
REGULAR_SHARE = 1.0 - PREMARKET_SHARE - AFTER_HOURS_SHARE


@dataclass(frozen=True)
class DayPrices:
    """Raw anchor prices of one session, its variance state and its regular-session jump."""

    day: dt.date
    prev_after_hours: float
    open: float
    close: float
    after_hours: float
    variance: float
    slow_variance: float  # exponential average of the variance state (see :func:`slow_step`)
    jump: float  # log size, 0.0 when none
    jump_at: float  # fraction of the regular session when the jump happens


@dataclass
class Skeleton:
    ticker: str
    sessions: list[dt.date]
    prev_after_hours: np.ndarray  # economic units
    open: np.ndarray
    close: np.ndarray
    after_hours: np.ndarray
    variance: np.ndarray
    slow_variance: np.ndarray
    jump: np.ndarray
    jump_at: np.ndarray
    split_day: dt.date | None = None
    split_ratio: float = 1.0

    def __post_init__(self) -> None:
        self._index = {d: i for i, d in enumerate(self.sessions)}

    def factor(self, day: dt.date) -> float:
        """Divisor from economic to raw prices on ``day``."""
        return self.split_ratio if self.split_day is not None and day >= self.split_day else 1.0

    def index(self, day: dt.date) -> int:
        return self._index[day]

    def day(self, day: dt.date) -> DayPrices:
        i = self._index[day]
        f = self.factor(day)
        return DayPrices(
            day=day,
            prev_after_hours=float(self.prev_after_hours[i]) / f,
            open=float(self.open[i]) / f,
            close=float(self.close[i]) / f,
            after_hours=float(self.after_hours[i]) / f,
            variance=float(self.variance[i]),
            slow_variance=float(self.slow_variance[i]),
            jump=float(self.jump[i]),
            jump_at=float(self.jump_at[i]),
        )

    def reference_spot(self, day: dt.date) -> float:
        """Raw price that option listings on ``day`` are centred on: the previous close, split-adjusted."""
        i = self._index[day]
        prev = self.close[i - 1] if i > 0 else self.prev_after_hours[i]
        return float(prev) / self.factor(day)


def slow_step(spec: TickerSpec, previous: float, variance: float) -> float:
    """The slow average of the variance state after a session with ``variance``: an exponential average
    with a half-life of ``spec.surface.level_half_life`` sessions."""
    alpha = 1.0 - 0.5 ** (1.0 / spec.surface.level_half_life)
    return previous + alpha * (variance - previous)


def build_skeleton(
    seed: int,
    spec: TickerSpec,
    sessions: list[dt.date],
    anchor_day: dt.date,
    split_day: dt.date | None = None,
    split_ratio: float = 1.0,
) -> Skeleton:
    """Generate the skeleton over ``sessions``; the close of ``anchor_day`` equals ``spec.price``."""
    rng = rng_for(seed, spec.index, None, Stream.SKELETON)
    vm = spec.vol
    n = len(sessions)
    dt_y = 1.0 / SESSIONS_PER_YEAR
    z = rng.standard_normal((n, 4))
    jump_counts = rng.poisson(vm.jumps_per_year * dt_y, n)
    jump_draws = rng.normal(vm.jump_mean, vm.jump_sd, n)
    jump_at = rng.uniform(0.05, 0.95, n)
    v = vm.long_run_var * float(np.exp(0.25 * rng.standard_normal()))
    rho = vm.correlation
    variance = np.empty(n)
    ret_pre = np.empty(n)
    ret_reg = np.empty(n)
    ret_ah = np.empty(n)
    jump = np.where(jump_counts > 0, jump_draws * np.sqrt(np.maximum(jump_counts, 1)), 0.0)
    for i in range(n):
        zv, z_pre, z_reg, z_ah = z[i]
        z_reg = rho * zv + np.sqrt(1.0 - rho * rho) * z_reg
        variance[i] = v
        ret_pre[i] = -0.5 * v * PREMARKET_SHARE * dt_y + np.sqrt(v * PREMARKET_SHARE * dt_y) * z_pre
        ret_reg[i] = (
            (vm.drift - spec.dividend_yield - 0.5 * v * REGULAR_SHARE) * dt_y
            + np.sqrt(v * REGULAR_SHARE * dt_y) * z_reg
            + jump[i]
        )
        ret_ah[i] = -0.5 * v * AFTER_HOURS_SHARE * dt_y + np.sqrt(v * AFTER_HOURS_SHARE * dt_y) * z_ah
        v_next = v + vm.mean_reversion * (vm.long_run_var - v) * dt_y + vm.vol_of_var * np.sqrt(v * dt_y) * zv
        v = max(abs(v_next), 0.05 * vm.long_run_var)
    slow = np.empty(n)
    level = vm.long_run_var
    for i in range(n):
        level = slow_step(spec, level, float(variance[i]))
        slow[i] = level
    log_open = np.cumsum(ret_pre + np.concatenate(([0.0], (ret_reg + ret_ah)[:-1])))
    log_close = log_open + ret_reg
    log_ah = log_close + ret_ah
    log_prev_ah = log_open - ret_pre
    shift = np.log(spec.price) - log_close[sessions.index(anchor_day)]
    return Skeleton(
        ticker=spec.ticker,
        sessions=list(sessions),
        prev_after_hours=np.exp(log_prev_ah + shift),
        open=np.exp(log_open + shift),
        close=np.exp(log_close + shift),
        after_hours=np.exp(log_ah + shift),
        variance=variance,
        slow_variance=slow,
        jump=jump,
        jump_at=jump_at,
        split_day=split_day,
        split_ratio=split_ratio,
    )
