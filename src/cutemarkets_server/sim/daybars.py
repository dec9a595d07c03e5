"""Daily stock bars for the sessions before the tick window (no trades exist for them).

Open and close are the skeleton's regular-session anchors (raw prices), high and low extend them by a
draw scaled to the day's volatility, and volume matches what the tick generator would print on such a
day, rising on large moves, so the bar series joins the bars derived from trades without a seam.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa

from ..market.calendar import xnys
from ..market.timestamps import et_midnight_ns
from .intraday import session_fraction
from .seeds import Stream, rng_for
from .skeleton import REGULAR_SHARE, SESSIONS_PER_YEAR, Skeleton
from .stocks import mean_trade_size
from .universe import TickerSpec


def daily_bar(seed: int, spec: TickerSpec, skeleton: Skeleton, day: dt.date, trades_per_day: float) -> dict:
    rng = rng_for(seed, spec.index, day, Stream.DAY_BARS)
    p = skeleton.day(day)
    o, c = round(p.open, 2), round(p.close, 2)
    sd = float(np.sqrt(p.variance * REGULAR_SHARE / SESSIONS_PER_YEAR))
    up, down = np.abs(rng.standard_normal(2)).tolist()
    noise = float(rng.standard_normal())
    h = round(max(o, c) * float(np.exp(0.55 * sd * up)), 2)
    lo = round(min(o, c) * float(np.exp(-0.55 * sd * down)), 2)
    h, lo = max(h, o, c), min(lo, o, c)
    move = abs(np.log(p.close / p.open)) / max(sd, 1e-9)
    trades = trades_per_day * session_fraction(xnys().hours(day)) * float(np.exp(0.25 * noise))
    trades *= (1.0 + 0.6 * move) / 1.48
    volume = float(round(trades * mean_trade_size()))
    vwap = float(np.clip((h + lo + 2.0 * c) / 4.0, lo, h))
    return {
        "ticker": spec.ticker,
        "window_start": et_midnight_ns(day),
        "open": o,
        "high": h,
        "low": lo,
        "close": c,
        "volume": volume,
        "vwap": round(vwap, 4),
        "transactions": max(1, round(trades)),
    }


def daily_bars_table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows)
