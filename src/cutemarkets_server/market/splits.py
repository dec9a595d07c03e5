"""Split adjustment: factors that make pre-split prices and volumes comparable with post-split ones.

A split is ``(execution_date, split_from, split_to)`` as in Polygon/Massive's splits reference: a 4-for-1
split has ``split_from=1, split_to=4`` and a 1-for-10 reverse split ``split_from=10, split_to=1``.

Convention: a split executed on day E affects everything that happened on an Eastern Time day before E
(the first post-split session is E itself). Bars and trades of days d < E are adjusted by
``split_from / split_to`` for price (and VWAP), and by the inverse for volume; days d >= E are left as
they are. The factor of a day is the product over all splits executed after it, so adjusted history is
always expressed in the share terms of the latest split. Trade counts never change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from .timestamps import et_midnight_ns


@dataclass(frozen=True, slots=True)
class Split:
    """One split event for a ticker."""

    execution_date: dt.date
    split_from: float
    split_to: float

    def __post_init__(self) -> None:
        if not (self.split_from > 0 and self.split_to > 0):
            raise ValueError("split_from and split_to must be positive")

    @property
    def price_ratio(self) -> float:
        """Multiplier for prices of days before the execution date."""
        return self.split_from / self.split_to


def _schedule(splits: Iterable[Split]) -> tuple[list[dt.date], np.ndarray]:
    """Execution dates (sorted) and suffix products: ``factors[k]`` covers splits ``k..``."""
    ordered = sorted(splits, key=lambda s: s.execution_date)
    ratios = np.array([s.price_ratio for s in ordered], dtype=np.float64)
    factors = np.ones(len(ordered) + 1, dtype=np.float64)
    if len(ordered):
        factors[:-1] = np.cumprod(ratios[::-1])[::-1]
    return [s.execution_date for s in ordered], factors


def price_factor(splits: Iterable[Split], day: dt.date) -> float:
    """Cumulative price factor for a bar or trade on ET day ``day``."""
    factor = 1.0
    for s in splits:
        if s.execution_date > day:
            factor *= s.price_ratio
    return factor


def volume_factor(splits: Iterable[Split], day: dt.date) -> float:
    """Cumulative volume factor for ET day ``day`` (the inverse of the price factor)."""
    return 1.0 / price_factor(splits, day)


def _as_day_numbers(days: Sequence[dt.date] | np.ndarray) -> np.ndarray:
    arr = np.asarray(days)
    if arr.dtype.kind == "M":
        return arr.astype("datetime64[D]").astype(np.int64)
    return np.array([(d - dt.date(1970, 1, 1)).days for d in arr.ravel()], dtype=np.int64)


def price_factors(splits: Iterable[Split], days: Sequence[dt.date] | np.ndarray) -> np.ndarray:
    """Price factor for each ET day in ``days`` (``datetime.date`` objects or ``datetime64``)."""
    dates, factors = _schedule(splits)
    keys = np.array([(d - dt.date(1970, 1, 1)).days for d in dates], dtype=np.int64)
    # Splits with execution day <= d leave d alone; the rest (indices idx..) apply.
    idx = np.searchsorted(keys, _as_day_numbers(days), side="right")
    return factors[idx]


def price_factors_at(splits: Iterable[Split], ts_ns: np.ndarray) -> np.ndarray:
    """Price factor for each UTC-nanosecond instant (a bar start or trade time).

    An instant before 00:00 ET of a split's execution date is adjusted by that split.
    """
    dates, factors = _schedule(splits)
    keys = np.array([et_midnight_ns(d) for d in dates], dtype=np.int64)
    idx = np.searchsorted(keys, np.asarray(ts_ns, dtype=np.int64), side="right")
    return factors[idx]


def adjust_prices(prices: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Split-adjusted prices (also for VWAP, open, high, low, close)."""
    return np.asarray(prices, dtype=np.float64) * factors


def adjust_volumes(volumes: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Split-adjusted volumes (share counts scale inversely to prices)."""
    return np.asarray(volumes, dtype=np.float64) / factors
