"""Intraday price paths on a one-second grid and the intraday shape of trading activity.

A day's path runs from the pre-market open (04:00 ET) to the after-hours close (20:00, or 17:00 on early
closes) as three Brownian bridges in log price, pinned at the skeleton's anchors: previous after-hours
close -> regular open -> regular close -> after-hours close. Bridges run in variance time, so the
U-shaped intraday volatility is honoured while every anchor is hit exactly; a skeleton jump becomes a
step at its time inside the regular session.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..market.calendar import SessionHours
from ..market.timestamps import NS_PER_S
from .skeleton import AFTER_HOURS_SHARE, PREMARKET_SHARE, REGULAR_SHARE, SESSIONS_PER_YEAR, DayPrices

FULL_REGULAR_SECONDS = 23_400


@dataclass(frozen=True)
class SecondPath:
    """Log-price ``log_mid[i]`` at ``start_ns + i`` seconds (one more point than seconds)."""

    start_ns: int
    log_mid: np.ndarray

    def mid_at(self, ts: np.ndarray) -> np.ndarray:
        """Mid price at nanosecond instants, interpolated linearly within the second."""
        offset = (np.asarray(ts, dtype=np.int64) - self.start_ns) / NS_PER_S
        offset = np.clip(offset, 0.0, len(self.log_mid) - 1.0)
        return np.exp(np.interp(offset, np.arange(len(self.log_mid), dtype=np.float64), self.log_mid))


def regular_shape(u: np.ndarray) -> np.ndarray:
    """Relative intensity over the regular session (``u`` in [0, 1]): busy open, quiet midday, busy close."""
    return 1.0 + 2.2 * np.exp(-u / 0.06) + 1.2 * np.exp(-(1.0 - u) / 0.05)


def session_fraction(hours: SessionHours) -> float:
    """Length of the regular session relative to a full 6.5-hour day."""
    return (hours.close_ns - hours.open_ns) / (FULL_REGULAR_SECONDS * NS_PER_S)


def _bridge(rng: np.random.Generator, start: float, end: float, step_var: np.ndarray) -> np.ndarray:
    """Log values after each step of a Brownian bridge from ``start`` to ``end``."""
    if len(step_var) == 0:
        return np.empty(0)
    w = np.cumsum(rng.standard_normal(len(step_var)) * np.sqrt(step_var))
    tau = np.cumsum(step_var)
    frac = tau / tau[-1]
    return start + (end - start) * frac + (w - frac * w[-1])


def second_path(rng: np.random.Generator, hours: SessionHours, prices: DayPrices) -> SecondPath:
    pre = (hours.open_ns - hours.premarket_open_ns) // NS_PER_S
    reg = (hours.close_ns - hours.open_ns) // NS_PER_S
    post = (hours.after_hours_close_ns - hours.close_ns) // NS_PER_S
    day_var = prices.variance / SESSIONS_PER_YEAR
    pre_var = np.full(pre, day_var * PREMARKET_SHARE / pre)
    shape = regular_shape((np.arange(reg) + 0.5) / FULL_REGULAR_SECONDS)
    reg_var = day_var * REGULAR_SHARE * shape / shape.sum() * (reg / FULL_REGULAR_SECONDS)
    post_var = np.full(post, day_var * AFTER_HOURS_SHARE / max(post, 1))

    log_open, log_close = np.log(prices.open), np.log(prices.close)
    pre_path = _bridge(rng, np.log(prices.prev_after_hours), log_open, pre_var)
    reg_path = _bridge(rng, log_open, log_close - prices.jump, reg_var)
    if prices.jump != 0.0 and reg > 0:
        at = int(prices.jump_at * reg)
        reg_path[at:] += prices.jump
    post_path = _bridge(rng, log_close, np.log(prices.after_hours), post_var)
    log_mid = np.concatenate(([np.log(prices.prev_after_hours)], pre_path, reg_path, post_path))
    return SecondPath(hours.premarket_open_ns, log_mid)


def poisson_times(rng: np.random.Generator, start_ns: int, per_second_rate: np.ndarray) -> np.ndarray:
    """Strictly increasing event times of a Poisson process with a piecewise-constant rate per second."""
    counts = rng.poisson(per_second_rate)
    seconds = np.repeat(np.arange(len(per_second_rate), dtype=np.int64), counts)
    ts = start_ns + seconds * NS_PER_S + rng.integers(0, NS_PER_S, len(seconds))
    return strictly_increasing(np.sort(ts))


def strictly_increasing(sorted_ts: np.ndarray) -> np.ndarray:
    """Nudge equal neighbours of a sorted array forward by a nanosecond each."""
    if len(sorted_ts) < 2:
        return sorted_ts
    steps = np.arange(len(sorted_ts), dtype=np.int64)
    return np.maximum.accumulate(sorted_ts - steps) + steps


def stock_rate_profile(hours: SessionHours, regular_total: float, extended_total: float) -> np.ndarray:
    """Expected events per second from 04:00 ET to the after-hours close.

    ``regular_total`` is spread over a full regular session with the U shape (a shortened session gets its
    share), ``extended_total`` evenly over a full day's 9.5 extended hours.
    """
    pre = (hours.open_ns - hours.premarket_open_ns) // NS_PER_S
    reg = (hours.close_ns - hours.open_ns) // NS_PER_S
    post = (hours.after_hours_close_ns - hours.close_ns) // NS_PER_S
    full_shape = regular_shape((np.arange(FULL_REGULAR_SECONDS) + 0.5) / FULL_REGULAR_SECONDS)
    reg_rate = regular_total * full_shape[:reg] / full_shape.sum()
    ext_rate = extended_total / (9.5 * 3600)
    # Activity in the extended sessions decays away from the regular session.
    pre_rate = ext_rate * (0.4 + 1.6 * np.exp(-(pre - np.arange(pre)) / 1800.0))
    post_rate = ext_rate * (0.4 + 1.6 * np.exp(-np.arange(post) / 1800.0))
    return np.concatenate((pre_rate, reg_rate, post_rate))
