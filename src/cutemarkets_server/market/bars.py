"""Bar (aggregate) construction: trades into minute/day bars, and bars into coarser windows.

Bars exist only for windows with at least one trade that may set the open/close; windows without
qualifying trades are gaps, never zero-filled. Minute and hour windows are clock-aligned (UTC and ET
agree on minute and hour boundaries); day and longer windows start at 00:00 America/New_York.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from .timestamps import NS_PER_DAY, NS_PER_HOUR, NS_PER_MIN, NS_PER_S, et_midnight_ns

TIMESPANS = ("second", "minute", "hour", "day", "week", "month", "quarter", "year")
INTRADAY = {"second": NS_PER_S, "minute": NS_PER_MIN, "hour": NS_PER_HOUR}


@dataclass
class Bars:
    """Column arrays of bars sorted by (key, window_start); ``key`` is an integer group id."""

    key: np.ndarray
    window_start: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    vwap: np.ndarray
    transactions: np.ndarray

    def __len__(self) -> int:
        return len(self.window_start)

    @classmethod
    def empty(cls) -> Bars:
        f = np.empty(0, dtype=np.float64)
        i = np.empty(0, dtype=np.int64)
        return cls(i, i, f, f, f, f, f, f, i)


def trades_to_bars(
    key: np.ndarray,
    ts: np.ndarray,
    price: np.ndarray,
    size: np.ndarray,
    updates_high_low: np.ndarray,
    updates_open_close: np.ndarray,
    updates_volume: np.ndarray,
    bucket: np.ndarray,
) -> Bars:
    """Aggregate trades (sorted by key, then time) into one bar per (key, bucket).

    ``bucket`` is each trade's window start in ns. Open/close come from trades that update them,
    high/low from trades that update high/low (and always include open and close), volume, VWAP and
    the trade count from trades that update volume.
    """
    n = len(ts)
    if n == 0:
        return Bars.empty()
    key = np.asarray(key, dtype=np.int64)
    bucket = np.asarray(bucket, dtype=np.int64)
    price = np.asarray(price, dtype=np.float64)
    size = np.asarray(size, dtype=np.float64)
    updates_high_low = np.asarray(updates_high_low, dtype=bool)
    updates_open_close = np.asarray(updates_open_close, dtype=bool)
    updates_volume = np.asarray(updates_volume, dtype=bool)
    # Only trades that can open or close a bar make it exist; others only add to what exists.
    new_group = np.empty(n, dtype=bool)
    new_group[0] = True
    new_group[1:] = (key[1:] != key[:-1]) | (bucket[1:] != bucket[:-1])
    starts = np.flatnonzero(new_group)
    group = np.cumsum(new_group) - 1
    ngroups = len(starts)

    oc_idx = np.flatnonzero(updates_open_close)
    has_oc = np.zeros(ngroups, dtype=bool)
    has_oc[group[oc_idx]] = True
    first_oc = np.full(ngroups, -1, dtype=np.int64)
    last_oc = np.full(ngroups, -1, dtype=np.int64)
    # oc_idx is increasing and groups are contiguous: take each group's first and last entry
    # explicitly (repeated-index assignment has no guaranteed order in NumPy).
    oc_group = group[oc_idx]
    if len(oc_idx):
        head = np.flatnonzero(np.r_[True, oc_group[1:] != oc_group[:-1]])
        tail = np.r_[head[1:] - 1, len(oc_idx) - 1]
        first_oc[oc_group[head]] = oc_idx[head]
        last_oc[oc_group[tail]] = oc_idx[tail]

    hl_price_hi = np.where(updates_high_low, price, -np.inf)
    hl_price_lo = np.where(updates_high_low, price, np.inf)
    high = np.maximum.reduceat(hl_price_hi, starts)
    low = np.minimum.reduceat(hl_price_lo, starts)
    vol_size = np.where(updates_volume, size, 0.0)
    volume = np.add.reduceat(vol_size, starts)
    notional = np.add.reduceat(vol_size * price, starts)
    count = np.add.reduceat(updates_volume.astype(np.int64), starts)

    keep = has_oc
    o = price[first_oc[keep]]
    c = price[last_oc[keep]]
    h = np.maximum(high[keep], np.maximum(o, c))
    lo = np.minimum(low[keep], np.minimum(o, c))
    v = volume[keep]
    with np.errstate(invalid="ignore", divide="ignore"):
        vw = np.where(v > 0, notional[keep] / np.where(v > 0, v, 1.0), (o + c) / 2.0)
    return Bars(
        key=key[starts][keep],
        window_start=bucket[starts][keep],
        open=o,
        high=h,
        low=lo,
        close=c,
        volume=v,
        vwap=vw,
        transactions=count[keep],
    )


def rollup(bars: Bars, bucket: np.ndarray) -> Bars:
    """Combine bars (sorted by key, window_start) into coarser windows given each bar's new window."""
    if len(bars) == 0:
        return Bars.empty()
    bucket = np.asarray(bucket, dtype=np.int64)
    n = len(bucket)
    new_group = np.empty(n, dtype=bool)
    new_group[0] = True
    new_group[1:] = (bars.key[1:] != bars.key[:-1]) | (bucket[1:] != bucket[:-1])
    starts = np.flatnonzero(new_group)
    ends = np.append(starts[1:], n) - 1
    volume = np.add.reduceat(bars.volume, starts)
    notional = np.add.reduceat(bars.volume * bars.vwap, starts)
    with np.errstate(invalid="ignore", divide="ignore"):
        vwap = np.where(volume > 0, notional / np.where(volume > 0, volume, 1.0), bars.close[ends])
    return Bars(
        key=bars.key[starts],
        window_start=bucket[starts],
        open=bars.open[starts],
        high=np.maximum.reduceat(bars.high, starts),
        low=np.minimum.reduceat(bars.low, starts),
        close=bars.close[ends],
        volume=volume,
        vwap=vwap,
        transactions=np.add.reduceat(bars.transactions, starts),
    )


def intraday_bucket(ts: np.ndarray, timespan: str, multiplier: int) -> np.ndarray:
    """Clock-aligned window start for second/minute/hour windows of ``multiplier`` units."""
    width = INTRADAY[timespan] * multiplier
    ts = np.asarray(ts, dtype=np.int64)
    if timespan == "hour" or (timespan == "minute" and multiplier > 60):
        # Align multi-hour windows to ET midnight so that e.g. 4-hour bars start at 00:00, 04:00 ET.
        day_start = _et_midnights(ts)
        return day_start + ((ts - day_start) // width) * width
    return ts - np.mod(ts, width)


def calendar_bucket(day_start_ns: np.ndarray, timespan: str, multiplier: int, anchor: dt.date) -> np.ndarray:
    """Window start (00:00 ET) for day/week/month/quarter/year windows.

    ``day_start_ns`` are 00:00 ET starts of daily bars. Multi-unit windows are counted from
    ``anchor`` (the first day of the requested range) so that ``2/day`` from a Monday pairs Monday with
    Tuesday. Weeks start on Sunday, months on the 1st, quarters in Jan/Apr/Jul/Oct, years on Jan 1.
    """
    days = [_et_day(int(x)) for x in np.asarray(day_start_ns, dtype=np.int64)]
    out = np.empty(len(days), dtype=np.int64)
    cache: dict[dt.date, int] = {}
    for i, d in enumerate(days):
        start = window_start_day(d, timespan, multiplier, anchor)
        if start not in cache:
            cache[start] = et_midnight_ns(start)
        out[i] = cache[start]
    return out


def window_start_day(d: dt.date, timespan: str, multiplier: int, anchor: dt.date) -> dt.date:
    """First calendar day of the ``multiplier``-unit window containing ``d``."""
    if timespan == "day":
        k = (d - anchor).days // multiplier
        return anchor + dt.timedelta(days=k * multiplier)
    if timespan == "week":
        week0 = anchor - dt.timedelta(days=(anchor.weekday() + 1) % 7)
        wk = d - dt.timedelta(days=(d.weekday() + 1) % 7)
        k = ((wk - week0).days // 7) // multiplier
        return week0 + dt.timedelta(days=7 * k * multiplier)
    months_per = {"month": 1, "quarter": 3, "year": 12}[timespan] * multiplier
    if timespan == "month":
        base = anchor.year * 12 + anchor.month - 1
    elif timespan == "quarter":
        base = anchor.year * 12 + ((anchor.month - 1) // 3) * 3
    else:
        base = anchor.year * 12
    idx = d.year * 12 + d.month - 1
    start = base + ((idx - base) // months_per) * months_per
    return dt.date(start // 12, start % 12 + 1, 1)


def _et_day(ns: int) -> dt.date:
    from .timestamps import et_date

    return et_date(ns)


def _et_midnights(ts: np.ndarray) -> np.ndarray:
    """00:00 ET of each timestamp's ET day (vectorised through the distinct UTC days)."""
    utc_day = ts // NS_PER_DAY
    out = np.empty(len(ts), dtype=np.int64)
    for u in np.unique(utc_day):
        # Every ET day starts at 04:00 or 05:00 UTC; test both candidate days around this UTC day.
        mask = utc_day == u
        d = dt.date(1970, 1, 1) + dt.timedelta(days=int(u))
        m_today = et_midnight_ns(d)
        m_prev = et_midnight_ns(d - dt.timedelta(days=1))
        out[mask] = np.where(ts[mask] >= m_today, m_today, m_prev)
    return out
