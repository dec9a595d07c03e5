"""Daily option bars for the sessions where an underlying's options print no trade rows.

Such a session (before the tick window; for a focus underlying, one whose options are only quoted) still
has listed contracts, open interest and a daily bar for each contract that traded, so that point-in-time
questions about any day of the market's year have answers. The bar follows the tick generator's
statistics without its rows: the number of trades per contract is drawn from the same intensity
(:func:`~.options.trade_weights`, the day's trading activity) and their sizes from the same distribution
(:func:`~.options.summed_trade_sizes`), so volume, open interest built from it and the daily bars join the
tick window without a seam. Prices are the model values (the volatility surface of the day) at the
underlying's open, close, high and low, on the contract's tick grid and a half-spread away from the model
on the side a trade hit.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ..market.calendar import SessionHours
from ..market.timestamps import NS_PER_S, et_midnight_ns
from ..store.schemas import dataset
from .intraday import session_fraction
from .options import NICKEL_FROM, ChainDay, Market, summed_trade_sizes, trade_weights, trading_activity
from .pricing import bsm_price
from .rates import RateCurve
from .skeleton import DayPrices
from .surface import SurfaceParams, implied_vol, year_fraction
from .universe import TickerSpec

MIN_TRADED = 0.02  # contracts whose model value stays below this have no bid all day: no trades
LAST_TRADE_NS = 60 * NS_PER_S  # the close is priced this long before the regular close


def _on_tick_grid(price: np.ndarray, penny: bool) -> np.ndarray:
    tick = np.full(len(price), 0.01) if penny else np.where(price >= NICKEL_FROM, 0.05, 0.01)
    return np.maximum(np.round(np.round(price / tick) * tick, 2), 0.01)


def _model_values(spec: TickerSpec, chain: ChainDay, market: Market, spot: float, t_ns: int) -> np.ndarray:
    """Model value of every contract with the underlying at ``spot`` at the instant ``t_ns``."""
    s = spot * chain.deliverable
    t = year_fraction(t_ns, chain.expiry_ns)
    rate = market.curve.rate(t)
    vol = implied_vol(
        market.params, market.variance, market.slow_variance, s, chain.strike, t, rate, spec.dividend_yield
    )
    return bsm_price(chain.is_call, s, chain.strike, t, rate, spec.dividend_yield, vol)


def option_day_bars(
    rng: np.random.Generator,
    spec: TickerSpec,
    hours: SessionHours,
    chain: ChainDay,
    prices: DayPrices,
    stock_range: tuple[float, float],
    curve: RateCurve,
    trades_per_day: float,
) -> tuple[pa.Table, np.ndarray]:
    """The session's daily bars of ``chain`` (sorted by ticker) and the contracts traded per chain entry.

    ``prices`` are the underlying's raw anchors of the day and ``stock_range`` its (low, high).
    """
    schema = dataset("option_day_aggs").schema
    if not len(chain):
        return schema.empty_table(), np.zeros(0)
    market = Market(
        SurfaceParams.of(spec),
        prices.variance,
        prices.slow_variance,
        spec.dividend_yield,
        curve,
        np.array([hours.open_ns], dtype=np.int64),
        np.array([prices.open]),
    )
    mid_ns = (hours.open_ns + hours.close_ns) // 2
    low, high = stock_range
    at_open = _model_values(spec, chain, market, prices.open, hours.open_ns)
    at_close = _model_values(spec, chain, market, prices.close, hours.close_ns - LAST_TRADE_NS)
    at_high = _model_values(spec, chain, market, high, mid_ns)
    at_low = _model_values(spec, chain, market, low, mid_ns)

    weights = trade_weights(chain, market, hours)
    expected = trades_per_day * session_fraction(hours) * trading_activity(market) * weights / weights.sum()
    counts = rng.poisson(expected)
    counts[np.maximum(at_open, at_close) < MIN_TRADED] = 0
    volume = summed_trade_sizes(rng, counts)

    traded = np.flatnonzero(counts > 0)
    penny = spec.micro.penny_options
    half_spread = (0.002 if penny else 0.006) * (1.0 + 0.5 * rng.random((2, len(traded))))
    side = rng.integers(-1, 2, (2, len(traded)))  # a trade at the bid, inside or at the ask
    o = _on_tick_grid(at_open[traded] * (1.0 + side[0] * half_spread[0]), penny)
    c = _on_tick_grid(at_close[traded] * (1.0 + side[1] * half_spread[1]), penny)
    extremes = np.stack((at_high[traded], at_low[traded]))
    h = np.maximum(_on_tick_grid(extremes.max(axis=0), penny), np.maximum(o, c))
    lo = np.minimum(_on_tick_grid(extremes.min(axis=0), penny), np.minimum(o, c))
    single = counts[traded] == 1
    o, h, lo = np.where(single, c, o), np.where(single, c, h), np.where(single, c, lo)
    vwap = np.round(np.clip((h + lo + 2.0 * c) / 4.0, lo, h), 4)
    table = pa.table(
        {
            "ticker": pa.array(chain.tickers, pa.string()).take(pa.array(traded)),
            "window_start": np.full(len(traded), et_midnight_ns(hours.day), dtype=np.int64),
            "open": o,
            "high": h,
            "low": lo,
            "close": c,
            "volume": volume[traded],
            "vwap": vwap,
            "transactions": counts[traded].astype(np.int64),
        },
        schema=schema,
    )
    return table, volume
