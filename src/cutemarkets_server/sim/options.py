"""One underlying's OPRA option quotes (NBBO) and trades for one session.

A quote's mid is the Black-Scholes-Merton value at the underlying's prevailing NBBO mid with the
volatility of :mod:`.surface`; bid and ask sit on the tick grid around it (mid within half a tick of the
model) with spreads that widen away from the money and with tenor. Contracts worth less than a tick
show no bid. Whole expirations are re-priced together in Poisson sweeps (more often near expiry) and a
contract is re-quoted only when its model value leaves the bid-ask it shows, so quotes update most
near the money and near expiry and the chain on display is coherent across strikes. Trades are rarer,
concentrated near the money and near expiry, and print at or inside the prevailing NBBO, never against
a quote without a bid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import pyarrow as pa

from ..market.calendar import SessionHours
from ..market.timestamps import NS_PER_DAY, NS_PER_MS, NS_PER_S
from ..store.schemas import CONDITIONS, dataset
from .intraday import regular_shape, session_fraction, strictly_increasing
from .pricing import bsm_price
from .rates import RateCurve
from .surface import SurfaceParams, atm_vol, implied_vol, year_fraction
from .universe import TickerSpec

OPRA_EXCHANGE_WEIGHTS: dict[int, float] = {
    300: 2.0,
    301: 3.0,
    302: 8.0,
    303: 3.0,
    304: 3.0,
    307: 2.0,
    308: 5.0,
    309: 2.0,
    312: 5.0,
    313: 5.0,
    315: 3.0,
    316: 4.0,
    319: 1.0,
    322: 3.0,
    323: 5.0,
    325: 3.0,
}
TRADE_CONDITION_WEIGHTS: dict[int, float] = {
    209: 0.72,
    219: 0.05,
    227: 0.05,
    228: 0.02,
    229: 0.04,
    230: 0.01,
    232: 0.08,
    233: 0.03,
}
NICKEL_FROM = 3.0
OPENING_ROTATION_NS = 3 * NS_PER_S
SWEEP_SENT = 0.3  # typical share of re-pricings that move a contract's quote (sets the sweep rate)
SWEEP_SPREAD_NS = 20 * NS_PER_MS
TENOR_DECAY = 1.1  # an expiration's volume share ~ (TENOR_DECAY_DAYS + days to expiry) ** -TENOR_DECAY
TENOR_DECAY_DAYS = 0.3
MINUTE_FLOOR_DAYS = 60.0  # in expirations this close to expiry (with fine sweeps), re-price at least once a
MINUTE_FLOOR_Z = 1.0  # minute the contracts within this many standard deviations of the day's price range
MINUTE_FLOOR_MONEYNESS = 0.04  # (and within 4% of it: a 0.2-delta put a month out, as backtests sell),
FAST_Z = 0.35  # and those within this many also in the fast sweeps


@dataclass
class ChainDay:
    """Contracts of one underlying listed on a session, sorted by ticker."""

    underlying: str
    tickers: list[str]
    is_call: np.ndarray
    strike: np.ndarray
    expiry_ns: np.ndarray
    deliverable: np.ndarray  # shares per contract / 100: the spot multiplier of adjusted contracts

    def __len__(self) -> int:
        return len(self.tickers)


@dataclass
class OptionDay:
    quotes: pa.Table
    trades: pa.Table
    volume: np.ndarray  # contracts traded per chain entry


@dataclass(frozen=True)
class Market:
    """What an option quote depends on besides the contract: the day's state of the underlying."""

    params: SurfaceParams
    variance: float
    slow_variance: float
    dividend_yield: float
    curve: RateCurve
    under_ts: np.ndarray
    under_mid: np.ndarray

    def spot(self, ts: np.ndarray) -> np.ndarray:
        """Prevailing underlying NBBO mid at each instant."""
        i = np.searchsorted(self.under_ts, ts, side="right") - 1
        return self.under_mid[np.maximum(i, 0)]


def _weighted(rng: np.random.Generator, weights: dict[int, float], n: int) -> np.ndarray:
    ids = np.array(list(weights), dtype=np.int16)
    w = np.array(list(weights.values()))
    return rng.choice(ids, n, p=w / w.sum())


def _session_times(rng: np.random.Generator, n: int, hours: SessionHours, start_ns: int = 0) -> np.ndarray:
    """Offsets from the open in [start_ns, close - 50 ms), distributed with the intraday U shape."""
    grid = np.linspace(0.0, 1.0, 2001)
    density = regular_shape(grid)
    cdf = np.concatenate(([0.0], np.cumsum((density[1:] + density[:-1]) / 2.0)))
    cdf /= cdf[-1]
    u = np.interp(rng.random(n), cdf, grid)
    usable = hours.close_ns - hours.open_ns - 50 * NS_PER_MS - start_ns
    return start_ns + (u * usable).astype(np.int64)


def _open_z(chain: ChainDay, market: Market, hours: SessionHours) -> np.ndarray:
    """Standardised moneyness ``ln(K / S) / (atm * sqrt(T))`` of each contract at the open."""
    t = year_fraction(hours.open_ns, chain.expiry_ns)
    spot = market.spot(np.array([hours.open_ns]))[0] * chain.deliverable
    atm = atm_vol(market.params, market.variance, market.slow_variance, t)
    return np.log(chain.strike / spot) / (atm * np.sqrt(t))


def _range_distance(chain: ChainDay, market: Market, hours: SessionHours) -> tuple[np.ndarray, np.ndarray]:
    """How far each strike lies from the underlying's regular-session range: in log moneyness and in
    standard deviations (0 for strikes the underlying crossed during the session)."""
    regular = (market.under_ts >= hours.open_ns) & (market.under_ts < hours.close_ns)
    mids = market.under_mid[regular] if regular.any() else market.spot(np.array([hours.open_ns]))
    lo, hi = float(mids.min()) * chain.deliverable, float(mids.max()) * chain.deliverable
    dist = np.maximum(0.0, np.maximum(np.log(chain.strike / hi), np.log(lo / chain.strike)))
    t = year_fraction(hours.open_ns, chain.expiry_ns)
    return dist, dist / (atm_vol(market.params, market.variance, market.slow_variance, t) * np.sqrt(t))


def trade_weights(chain: ChainDay, market: Market, hours: SessionHours) -> np.ndarray:
    """Relative trade intensity per contract: an expiration's share of the volume falls with its time to
    expiry (same-day expirations carry about half of an index ETF's volume), and within an expiration
    volume concentrates near the money in standardised moneyness."""
    t = year_fraction(hours.open_ns, chain.expiry_ns)
    z = _open_z(chain, market, hours)
    kernel = np.exp(-0.5 * (z / 0.9) ** 2) + 0.004
    _, group_of = np.unique(chain.expiry_ns, return_inverse=True)
    per_expiry = np.bincount(group_of, weights=kernel)
    tenor = (TENOR_DECAY_DAYS + t * 365.0) ** -TENOR_DECAY
    return tenor * kernel / per_expiry[group_of]


def trading_activity(market: Market) -> float:
    """Option trading rises with the day's variance relative to its long-run level, less than in proportion to
    the volatility: ten times the variance about doubles the volume, as in a market sell-off."""
    return float(np.clip((market.variance / market.params.long_run_var) ** 0.3, 0.6, 2.5))


def _sorted_events(cidx: np.ndarray, offsets: np.ndarray, span: int) -> tuple[np.ndarray, np.ndarray]:
    """Sort events by (contract, time), making times strictly increasing within each contract."""
    key = strictly_increasing(np.sort(cidx.astype(np.int64) * span + offsets))
    return key // span, key % span


def _minute_sweeps(rng: np.random.Generator, hours: SessionHours) -> np.ndarray:
    """One re-pricing in each minute of the session after the opening rotation (offsets from the open)."""
    starts = np.arange(0, hours.close_ns - hours.open_ns, 60 * NS_PER_S, dtype=np.int64)
    jitter = rng.integers(0, 2 * NS_PER_S, len(starts))
    at = np.maximum(starts + jitter, OPENING_ROTATION_NS)
    return at[at < hours.close_ns - hours.open_ns - 50 * NS_PER_MS - SWEEP_SPREAD_NS]


def _expiration_quotes(
    rng: np.random.Generator,
    spec: TickerSpec,
    chain: ChainDay,
    market: Market,
    hours: SessionHours,
    members: np.ndarray,
    sweep_rate: float,
    spread_factor: np.ndarray,
    fine: tuple[np.ndarray, np.ndarray, float] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Quotes sent for one expiration (contract index, time, bid, ask), sorted by contract and time.

    The expiration is re-priced as a whole once in the opening rotation, then in Poisson sweeps, each a
    burst over a few milliseconds. ``fine`` = (minute members, fast members, fast rate) adds a re-pricing
    of the first in every minute and of the second in Poisson sweeps at the fast rate. A contract's new
    quote is sent only when its model value has left the bid-ask it shows.
    """
    span = hours.close_ns - hours.open_ns + 1
    sweeps = 1 + rng.poisson(sweep_rate)
    sweep_at = _session_times(rng, sweeps, hours, OPENING_ROTATION_NS)
    sweep_at[0] = rng.integers(0, OPENING_ROTATION_NS - SWEEP_SPREAD_NS)
    cidx_parts, offset_parts = [np.tile(members, sweeps)], [np.repeat(sweep_at, len(members))]
    if fine is not None:
        minute, fast, fast_rate = fine
        minute_at = _minute_sweeps(rng, hours)
        fast_at = _session_times(rng, rng.poisson(fast_rate), hours, OPENING_ROTATION_NS)
        cidx_parts += [np.tile(minute, len(minute_at)), np.tile(fast, len(fast_at))]
        offset_parts += [np.repeat(minute_at, len(minute)), np.repeat(fast_at, len(fast))]
    cidx = np.concatenate(cidx_parts)
    offsets = np.concatenate(offset_parts) + rng.integers(0, SWEEP_SPREAD_NS, len(cidx))
    cidx, offsets = _sorted_events(cidx, offsets, span)
    ts = hours.open_ns + offsets
    model, bid, ask = _nbbo(spec, chain, market, cidx, ts, spread_factor)
    sent = _requotes(cidx, model, bid, ask)
    return cidx[sent], ts[sent], bid[sent], ask[sent]


@numba.njit(cache=True)
def _requotes(cidx: np.ndarray, model: np.ndarray, bid: np.ndarray, ask: np.ndarray) -> np.ndarray:
    """Re-pricings (sorted by contract, time) that are sent: a contract's first, then each one whose
    model value has left the bid-ask last sent."""
    sent = np.zeros(len(cidx), dtype=np.bool_)
    shown_bid, shown_ask = 0.0, 0.0
    for i in range(len(cidx)):
        if i == 0 or cidx[i] != cidx[i - 1] or model[i] < shown_bid or model[i] > shown_ask:
            sent[i] = True
            shown_bid, shown_ask = bid[i], ask[i]
    return sent


def option_day(
    quote_rng: np.random.Generator,
    trade_rng: np.random.Generator,
    spec: TickerSpec,
    hours: SessionHours,
    chain: ChainDay,
    market: Market,
    quotes_per_day: float,
    trades_per_day: float,
    fast_sweeps: float = 0.0,
) -> OptionDay:
    """Quotes and trades of one underlying's chain for one session.

    Market makers re-price whole expirations at once (sweeps, more often near expiry) and send a new
    quote for a contract only when its model value has left the bid-ask it is showing. So every quote
    sent is priced at its own instant, and the quotes on display at any time all bracket the model
    values of one instant - the chain is coherent across strikes. Tight, fast-moving contracts near the
    money and near expiry re-quote most; cheap far wings rarely. Expirations are generated one at a
    time to bound memory.

    With ``fast_sweeps`` (fast sweeps per session of an expiration one day out), every expiration within
    :data:`MINUTE_FLOOR_DAYS` is also re-priced once a minute, and its contracts near the money in extra
    sweeps whose rate grows as expiry nears (thousands a session on the same day). Trading activity
    rises with the day's variance.
    """
    n_contracts = len(chain)
    if n_contracts == 0:
        return OptionDay(
            dataset("option_quotes").schema.empty_table(), dataset("option_trades").schema.empty_table(), np.zeros(0)
        )
    scale = session_fraction(hours)
    span = hours.close_ns - hours.open_ns + 1
    spread_factor = 1.0 + 0.5 * quote_rng.random(n_contracts)

    groups, group_of, group_size = np.unique(chain.expiry_ns, return_inverse=True, return_counts=True)
    days = np.maximum((groups - hours.open_ns) / NS_PER_DAY, 0.0)
    tenor_weight = 1.0 / np.sqrt(1.0 + days / 2.0)
    sweep_rate = quotes_per_day * scale / SWEEP_SENT * tenor_weight / np.sum(tenor_weight * group_size)
    moneyness, z = _range_distance(chain, market, hours)
    parts = []
    for g in range(len(groups)):
        members = np.flatnonzero(group_of == g)
        fine = None
        if fast_sweeps > 0 and days[g] <= MINUTE_FLOOR_DAYS:
            rate = fast_sweeps * scale / (0.05 + days[g])
            floor = (z[members] <= MINUTE_FLOOR_Z) & (moneyness[members] <= MINUTE_FLOOR_MONEYNESS)
            fine = (members[floor], members[z[members] <= FAST_Z], rate)
        parts.append(
            _expiration_quotes(quote_rng, spec, chain, market, hours, members, sweep_rate[g], spread_factor, fine)
        )
    q_cidx, q_ts, bid, ask = (np.concatenate(col) for col in zip(*parts, strict=True))
    order = np.argsort(q_cidx * span + (q_ts - hours.open_ns), kind="stable")
    q_cidx, q_ts, bid, ask = q_cidx[order], q_ts[order], bid[order], ask[order]
    n = len(q_ts)
    quotes = pa.table(
        {
            "ticker": pa.array(chain.tickers).take(pa.array(q_cidx)),
            "sip_timestamp": q_ts,
            "bid_price": bid,
            "bid_size": np.where(bid > 0, _quote_sizes(quote_rng, n), 0),
            "bid_exchange": _weighted(quote_rng, OPRA_EXCHANGE_WEIGHTS, n),
            "ask_price": ask,
            "ask_size": _quote_sizes(quote_rng, n),
            "ask_exchange": _weighted(quote_rng, OPRA_EXCHANGE_WEIGHTS, n),
            "sequence_number": _feed_sequence(quote_rng, q_ts),
        }
    )
    if trades_per_day <= 0:
        return OptionDay(quotes, dataset("option_trades").schema.empty_table(), np.zeros(n_contracts))
    weights = trade_weights(chain, market, hours)
    scale *= trading_activity(market)
    trades, volume = _trades(trade_rng, chain, hours, scale, weights, trades_per_day, span, q_cidx, q_ts, bid, ask)
    return OptionDay(quotes, trades, volume)


def _nbbo(
    spec: TickerSpec,
    chain: ChainDay,
    market: Market,
    cidx: np.ndarray,
    ts: np.ndarray,
    spread_factor: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Model value, bid and ask of each re-pricing."""
    strike = chain.strike[cidx]
    spot = market.spot(ts) * chain.deliverable[cidx]
    t = year_fraction(ts, chain.expiry_ns[cidx])
    rate = market.curve.rate(t)
    q = market.dividend_yield
    vol = implied_vol(market.params, market.variance, market.slow_variance, spot, strike, t, rate, q)
    model = bsm_price(chain.is_call[cidx], spot, strike, t, rate, market.dividend_yield, vol)

    atm = atm_vol(market.params, market.variance, market.slow_variance, t)
    away = np.minimum(np.abs(np.log(strike / spot)) / (atm * np.sqrt(t)) / 2.5, 1.0)
    rel = (0.004 if spec.micro.penny_options else 0.012) * (1.0 + 1.5 * away) * (1.0 + 1.5 * np.minimum(t, 1.0))
    rel = rel * spread_factor[cidx]
    penny = spec.micro.penny_options
    tick = np.full(len(ts), 0.01) if penny else np.where(model >= NICKEL_FROM, 0.05, 0.01)
    bid_k, n_ticks = _on_grid(model, rel, tick)
    if not penny:
        # A penny quote whose ask reaches $3.00 must use the nickel grid.
        redo = (tick < 0.05) & ((bid_k + n_ticks) * 0.01 > NICKEL_FROM + 1e-9)
        tick = np.where(redo, 0.05, tick)
        bid_k2, n2 = _on_grid(model, rel, tick)
        bid_k, n_ticks = np.where(redo, bid_k2, bid_k), np.where(redo, n2, n_ticks)
    ask_k = bid_k + n_ticks
    no_bid = bid_k <= 0
    ask_k = np.where(no_bid, np.clip(ask_k, 1, np.where(tick < 0.05, 5, 1)), ask_k)
    bid_k = np.where(no_bid, 0, bid_k)
    return model, np.round(bid_k * tick, 2), np.round(ask_k * tick, 2)


def _on_grid(model: np.ndarray, rel: np.ndarray, tick: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bid in ticks and spread in ticks so that the mid is within half a tick of ``model``."""
    n_ticks = np.maximum(1, np.round(model * rel / tick)).astype(np.int64)
    bid_k = np.round(model / tick - n_ticks / 2.0).astype(np.int64)
    return bid_k, n_ticks


def _quote_sizes(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.clip(rng.lognormal(np.log(35.0), 1.1, n), 1, 5_000).astype(np.int64)


SMALL_SHARE = 0.7  # prints that are small orders: geometric sizes (p = SMALL_P), at most SMALL_MAX contracts
SMALL_P = 0.4
SMALL_MAX = 10


def _large_sizes(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.minimum(np.floor(5.0 * (1.0 - rng.random(n)) ** (-1.0 / 1.12)), 5_000)


def trade_sizes(rng: np.random.Generator, n: int) -> np.ndarray:
    """Contracts per print: mostly small orders (median 3), a Pareto tail of larger and block trades
    (mean about 10, rare prints of thousands)."""
    small = np.minimum(rng.geometric(SMALL_P, n), SMALL_MAX)
    large = _large_sizes(rng, n)
    return np.where(rng.random(n) < SMALL_SHARE, small, large).astype(np.int64)


def summed_trade_sizes(rng: np.random.Generator, counts: np.ndarray) -> np.ndarray:
    """Contracts traded by ``counts[i]`` prints of :func:`trade_sizes` each, without a draw per small print:
    their sum is drawn whole (a negative binomial; the cap at ``SMALL_MAX``, which one small print in 165
    would pass, is left out), the large ones one by one."""
    counts = np.asarray(counts, dtype=np.int64)
    n_large = rng.binomial(counts, 1.0 - SMALL_SHARE)
    n_small = counts - n_large
    small = n_small + rng.negative_binomial(np.maximum(n_small, 1), SMALL_P) * (n_small > 0)
    large = np.bincount(np.repeat(np.arange(len(counts)), n_large), weights=_large_sizes(rng, int(n_large.sum())))
    return small + np.concatenate((large, np.zeros(len(counts) - len(large))))


def _feed_sequence(rng: np.random.Generator, ts: np.ndarray) -> np.ndarray:
    """Sequence numbers in time order across the underlying's feed (increasing per contract)."""
    order = np.argsort(ts, kind="stable")
    seq = np.empty(len(ts), dtype=np.int64)
    seq[order] = int(rng.integers(1, 1_000_000)) + np.arange(len(ts), dtype=np.int64)
    return seq


def _trades(
    rng: np.random.Generator,
    chain: ChainDay,
    hours: SessionHours,
    scale: float,
    weights: np.ndarray,
    per_day: float,
    span: int,
    q_cidx: np.ndarray,
    q_ts: np.ndarray,
    bid: np.ndarray,
    ask: np.ndarray,
) -> tuple[pa.Table, np.ndarray]:
    counts = rng.poisson(per_day * scale * weights / weights.sum())
    cidx = np.repeat(np.arange(len(chain)), counts)
    t_cidx, t_off = _sorted_events(cidx, _session_times(rng, len(cidx), hours, OPENING_ROTATION_NS), span)
    t_ts = hours.open_ns + t_off
    q_key = q_cidx * span + (q_ts - hours.open_ns)
    j = np.searchsorted(q_key, t_cidx * span + t_off, side="right") - 1
    ok = (j >= 0) & (q_cidx[np.maximum(j, 0)] == t_cidx)
    ok &= bid[np.maximum(j, 0)] > 0
    t_cidx, t_ts, j = t_cidx[ok], t_ts[ok], j[ok]
    n = len(t_ts)
    b_c = np.round(bid[j] * 100).astype(np.int64)
    a_c = np.round(ask[j] * 100).astype(np.int64)
    side = rng.random(n)
    inside_c = b_c + rng.integers(0, a_c - b_c + 1)
    price_c = np.where(side < 0.38, b_c, np.where(side < 0.76, a_c, inside_c))
    size = trade_sizes(rng, n)
    conditions = pa.ListArray.from_arrays(
        pa.array(np.arange(n + 1, dtype=np.int32)), pa.array(_weighted(rng, TRADE_CONDITION_WEIGHTS, n))
    )
    latency = (np.clip(rng.lognormal(np.log(400.0), 0.9, n), 20.0, 20_000.0) * 1000).astype(np.int64)
    trades = pa.table(
        {
            "ticker": pa.array(chain.tickers).take(pa.array(t_cidx)),
            "sip_timestamp": t_ts,
            "participant_timestamp": t_ts - latency,
            "price": np.round(price_c / 100.0, 2),
            "size": size,
            "exchange": _weighted(rng, OPRA_EXCHANGE_WEIGHTS, n),
            "conditions": conditions.cast(CONDITIONS),
            "correction": np.zeros(n, dtype=np.int8),
            "sequence_number": _feed_sequence(rng, t_ts),
        }
    )
    volume = np.bincount(t_cidx, weights=size, minlength=len(chain))
    return trades, volume
