"""The risk-free curve of each session: continuously compounded zero rates by tenor in calendar days.

The short rate follows a slow mean-reverting walk around 3.9 % and the curve is slightly inverted at the
long end, staying within 3.5-4.3 %. Option prices read the curve by linear interpolation in tenor
(:meth:`RateCurve.rate`), flat beyond the first and last tenor.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from .seeds import Stream, rng_for

TENORS_DAYS: tuple[int, ...] = (1, 7, 14, 30, 60, 91, 182, 273, 365, 730)
RATE_FLOOR, RATE_CAP = 0.035, 0.043


@dataclass(frozen=True)
class RateCurve:
    tenors_days: tuple[int, ...]
    rates: tuple[float, ...]

    def rate(self, t_years: np.ndarray | float) -> np.ndarray:
        """Zero rate for a time to maturity in years (365-day years)."""
        return np.interp(np.asarray(t_years, dtype=np.float64) * 365.0, self.tenors_days, self.rates)

    def to_json(self) -> list[list[float]]:
        return [[t, r] for t, r in zip(self.tenors_days, self.rates, strict=True)]

    @classmethod
    def from_json(cls, rows: list[list[float]]) -> RateCurve:
        return cls(tuple(int(t) for t, _ in rows), tuple(float(r) for _, r in rows))


def rate_curves(seed: int, sessions: list[dt.date]) -> dict[dt.date, RateCurve]:
    """One curve per session, generated as one path over ``sessions`` (oldest first)."""
    rng = rng_for(seed, 0, None, Stream.RATES)
    n = len(sessions)
    short = np.empty(n)
    slope = np.empty(n)
    s, k = 0.0395, -0.0025
    for i in range(n):
        s += 0.015 * (0.039 - s) + 0.00012 * rng.standard_normal()
        k += 0.02 * (-0.0025 - k) + 0.00008 * rng.standard_normal()
        short[i], slope[i] = s, k
    tenors = np.asarray(TENORS_DAYS, dtype=np.float64)
    shape = 1.0 - np.exp(-tenors / 365.0)
    out: dict[dt.date, RateCurve] = {}
    for i, day in enumerate(sessions):
        curve = np.clip(short[i] + slope[i] * shape, RATE_FLOOR, RATE_CAP)
        out[day] = RateCurve(TENORS_DAYS, tuple(round(float(r), 6) for r in curve))
    return out
