"""One stock's SIP quotes (NBBO) and trades for one session.

Quotes arrive as a Poisson process (dense in the regular session, thin in pre-market and after-hours)
and straddle the one-second mid path with a spread of a cent or a few cents (wider outside regular
hours). Trades print at the prevailing NBBO - at the touch, at the midpoint (mostly off-exchange TRF
prints) or inside - with odd lots marked ``37``, every extended-hours trade marked Form T ``12`` and
some intermarket sweeps ``14`` at the touch.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..market.calendar import SessionHours
from ..store.schemas import CONDITIONS
from .intraday import SecondPath, poisson_times, stock_rate_profile
from .universe import TickerSpec

EXCHANGE_WEIGHTS: dict[int, float] = {
    1: 1.0,
    2: 2.0,
    3: 1.0,
    8: 4.0,
    9: 1.0,
    10: 5.0,
    11: 5.0,
    12: 8.0,
    15: 3.0,
    17: 1.0,
    18: 2.0,
    19: 4.0,
    21: 4.0,
}
TRF_EXCHANGE = 4
TRF_IDS = np.array([201, 202, 203], dtype=np.int16)
TRF_ID_WEIGHTS = np.array([0.2, 0.55, 0.25])
FORM_T, ISO, ODD_LOT = 12, 14, 37
EXTENDED_SHARE = 0.07  # share of a day's messages outside the regular session
SIZES_IN_SHARES_FROM = dt.date(2025, 11, 3)  # quote sizes were round lots before this date


def mean_trade_size() -> float:
    """Expected size of :func:`trade_sizes` draws (used to size daily volume outside the tick window)."""
    odd, round_, big = 0.45, 0.40, 0.15
    return odd * 50.0 + round_ * 100.0 + big * 100.0 * (1.0 / 0.3) * (1.0 + 0.05 * 9.0)


def trade_sizes(rng: np.random.Generator, n: int) -> np.ndarray:
    u = rng.random(n)
    odd = rng.integers(1, 100, n)
    lots = 100 * rng.geometric(0.3, n) * np.where(rng.random(n) < 0.05, 10, 1)
    return np.where(u < 0.45, odd, np.where(u < 0.85, 100, lots)).astype(np.int64)


def _exchange_choice(rng: np.random.Generator, n: int, listing: int) -> np.ndarray:
    ids = np.array(list(EXCHANGE_WEIGHTS), dtype=np.int16)
    w = np.array([EXCHANGE_WEIGHTS[i] * (2.0 if i == listing else 1.0) for i in ids])
    return rng.choice(ids, n, p=w / w.sum())


def _latency_ns(rng: np.random.Generator, n: int, median_us: float, lo_us: float, hi_us: float) -> np.ndarray:
    us = np.clip(rng.lognormal(np.log(median_us), 0.8, n), lo_us, hi_us)
    return (us * 1000.0).astype(np.int64)


def _sequence(rng: np.random.Generator, n: int) -> np.ndarray:
    return int(rng.integers(1_000, 50_000)) + np.cumsum(rng.integers(1, 4, n))


def _ticker_column(ticker: str, n: int) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int32)), pa.array([ticker])).cast(pa.string())


@dataclass
class StockDay:
    quotes: pa.Table
    trades: pa.Table
    quote_ts: np.ndarray
    quote_mid: np.ndarray


def stock_day(
    quote_rng: np.random.Generator,
    trade_rng: np.random.Generator,
    spec: TickerSpec,
    day: dt.date,
    hours: SessionHours,
    path: SecondPath,
    quotes_per_day: float,
    trades_per_day: float,
) -> StockDay:
    bid_c, ask_c, q_ts, quotes = _quotes(quote_rng, spec, day, hours, path, quotes_per_day)
    trades = _trades(trade_rng, spec, hours, q_ts, bid_c, ask_c, trades_per_day)
    return StockDay(quotes, trades, q_ts, (bid_c + ask_c) / 200.0)


def _quotes(
    rng: np.random.Generator,
    spec: TickerSpec,
    day: dt.date,
    hours: SessionHours,
    path: SecondPath,
    per_day: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, pa.Table]:
    rate = stock_rate_profile(hours, per_day * (1 - EXTENDED_SHARE), per_day * EXTENDED_SHARE)
    ts = poisson_times(rng, hours.premarket_open_ns, rate)
    n = len(ts)
    mid = path.mid_at(ts)
    regular = (ts >= hours.open_ns) & (ts < hours.close_ns)
    spread = spec.micro.spread_cents + rng.geometric(0.7, n) - 1
    spread = np.where(regular, spread, spread * (3 + rng.geometric(0.5, n)))
    bid_c = np.maximum(np.floor(mid * 100.0 - spread / 2.0 + 0.5), 1.0).astype(np.int64)
    ask_c = bid_c + spread.astype(np.int64)
    bid_size = 100 * rng.geometric(0.3, n) + np.where(rng.random(n) < 0.2, rng.integers(1, 100, n), 0)
    ask_size = 100 * rng.geometric(0.3, n) + np.where(rng.random(n) < 0.2, rng.integers(1, 100, n), 0)
    if day < SIZES_IN_SHARES_FROM:
        bid_size, ask_size = np.maximum(bid_size // 100, 1), np.maximum(ask_size // 100, 1)
    table = pa.table(
        {
            "ticker": _ticker_column(spec.ticker, n),
            "sip_timestamp": ts,
            "participant_timestamp": ts - _latency_ns(rng, n, 120.0, 5.0, 4_000.0),
            "bid_price": np.round(bid_c / 100.0, 2),
            "bid_size": bid_size.astype(np.int64),
            "bid_exchange": _exchange_choice(rng, n, spec.micro.listing_exchange),
            "ask_price": np.round(ask_c / 100.0, 2),
            "ask_size": ask_size.astype(np.int64),
            "ask_exchange": _exchange_choice(rng, n, spec.micro.listing_exchange),
            "sequence_number": _sequence(rng, n),
            "tape": np.full(n, spec.micro.tape, dtype=np.int8),
        }
    )
    return bid_c, ask_c, ts, table


def _trades(
    rng: np.random.Generator,
    spec: TickerSpec,
    hours: SessionHours,
    q_ts: np.ndarray,
    bid_c: np.ndarray,
    ask_c: np.ndarray,
    per_day: float,
) -> pa.Table:
    rate = stock_rate_profile(hours, per_day * (1 - EXTENDED_SHARE), per_day * EXTENDED_SHARE)
    ts = poisson_times(rng, hours.premarket_open_ns, rate)
    ts = ts[ts >= q_ts[0]] if len(q_ts) else ts[:0]
    n = len(ts)
    q = np.searchsorted(q_ts, ts, side="right") - 1
    bid, ask = bid_c[q], ask_c[q]
    spread = ask - bid
    buy = rng.random(n) < 0.5
    kind = rng.random(n)
    touch = np.where(buy, ask, bid)
    midpoint = kind >= 0.70
    inside = (kind >= 0.86) & (spread >= 2)
    price_c = np.where(midpoint, (bid + ask) / 2.0, touch)
    price_c = np.where(inside, bid + rng.integers(1, np.maximum(spread, 2)), price_c)
    trf = np.where(midpoint, rng.random(n) < 0.85, rng.random(n) < 0.30)
    exchange = np.where(trf, TRF_EXCHANGE, _exchange_choice(rng, n, spec.micro.listing_exchange)).astype(np.int16)
    size = trade_sizes(rng, n)
    regular = (ts >= hours.open_ns) & (ts < hours.close_ns)
    iso = regular & ~trf & ~midpoint & ~inside & (rng.random(n) < 0.08)
    odd = size < 100

    to_sip = _latency_ns(rng, n, 40.0, 2.0, 2_000.0)
    trf_ts = ts - to_sip
    participant = np.where(trf, trf_ts - _latency_ns(rng, n, 400.0, 10.0, 20_000.0), ts - to_sip)
    codes = np.stack([np.where(~regular, FORM_T, -1), np.where(iso, ISO, -1), np.where(odd, ODD_LOT, -1)], axis=1)
    present = codes >= 0
    offsets = np.concatenate(([0], np.cumsum(present.sum(axis=1)))).astype(np.int32)
    conditions = pa.ListArray.from_arrays(pa.array(offsets), pa.array(codes[present].astype(np.int16)))
    trade_ids = pc.cast(pa.array(int(rng.integers(10_000, 90_000)) + np.arange(n, dtype=np.int64)), pa.string())
    return pa.table(
        {
            "ticker": _ticker_column(spec.ticker, n),
            "sip_timestamp": ts,
            "participant_timestamp": participant,
            "trf_timestamp": pa.array(trf_ts, mask=~trf),
            "price": np.round(price_c / 100.0, 4),
            "size": size,
            "exchange": exchange,
            "conditions": conditions.cast(CONDITIONS),
            "correction": np.zeros(n, dtype=np.int8),
            "id": trade_ids,
            "sequence_number": _sequence(rng, n),
            "tape": np.full(n, spec.micro.tape, dtype=np.int8),
            "trf_id": pa.array(rng.choice(TRF_IDS, n, p=TRF_ID_WEIGHTS), mask=~trf),
        }
    )
