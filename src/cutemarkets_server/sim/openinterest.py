"""Open interest: reported each morning (06:30 ET) for the previous session's close.

An underlying's first session with listed contracts (for the focus underlyings the market's first daily
session, so that every session of the year has open interest) starts from a model level (larger near
the money, in front months and for contracts listed long ago); afterwards each contract's open interest
moves with the volume it traded: part of the volume opens positions, part closes them - mostly opening
while expiry is far, mostly closing in the last days - so the change never exceeds the volume. Newly
listed contracts start at zero, and an adjusted contract carries the open interest of the contract it replaced.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa

from ..market.occ import parse_option_symbol
from ..market.timestamps import et_ns
from .chain import Contract
from .seeds import Stream, rng_for
from .skeleton import Skeleton
from .universe import TickerSpec

BASE_OPEN_INTEREST = 30_000.0


def initial_open_interest(
    seed: int, spec: TickerSpec, skeleton: Skeleton, day: dt.date, contracts: list[Contract]
) -> dict[str, int]:
    """Open interest at the close before ``day`` for the contracts listed on ``day``."""
    if not contracts:
        return {}
    rng = rng_for(seed, spec.index, day, Stream.OPEN_INTEREST)
    spot = skeleton.reference_spot(day)
    vol = float(np.sqrt(spec.vol.long_run_var))
    strike = np.array([c.strike for c in contracts])
    mult = np.array([c.shares / 100.0 for c in contracts])
    days = np.array([(c.expiration - day).days + 1 for c in contracts], dtype=np.float64)
    age = np.array([(day - c.list_date).days for c in contracts], dtype=np.float64)
    z = np.log(strike / (spot * mult)) / (vol * np.sqrt(days / 365.0))
    level = BASE_OPEN_INTEREST * spec.micro.open_interest_scale
    oi = (
        level
        * (0.03 + np.exp(-0.5 * (z / 1.6) ** 2))
        / np.sqrt(1.0 + days / 45.0)
        * np.minimum(1.0, age / 30.0)
        * rng.lognormal(0.0, 0.6, len(contracts))
    )
    return {c.ticker: int(v) for c, v in zip(contracts, np.round(oi), strict=True)}


def _opening_beta(days_left: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Beta parameters of the opening share (``2 * beta - 1`` of the volume opens positions, net) by the
    calendar days left to expiry: net opening (+0.5) far out, less (+0.43) within ten days, net closing
    (-0.1) in the last two days. Real index options hold about two sessions of their volume open."""
    a = np.where(days_left >= 10, 3.0, np.where(days_left >= 3, 2.5, 1.8))
    b = np.where(days_left >= 10, 1.0, np.where(days_left >= 3, 1.0, 2.2))
    return a, b


def roll_open_interest(
    seed: int, spec: TickerSpec, day: dt.date, start: dict[str, int], volumes: dict[str, float]
) -> dict[str, int]:
    """Open interest at the close of ``day`` from the morning's figures and the day's volume."""
    tickers = sorted(start)
    rng = rng_for(seed, spec.index, day, Stream.OPEN_INTEREST)
    days_left = np.array([(parse_option_symbol(t).expiration - day).days for t in tickers], dtype=np.float64)
    a, b = _opening_beta(days_left)
    share = 2.0 * rng.beta(a, b) - 1.0 if tickers else np.zeros(0)
    return {t: max(0, start[t] + round(volumes.get(t, 0.0) * s)) for t, s in zip(tickers, share.tolist(), strict=True)}


def carried_open_interest(contracts: list[Contract], closing: dict[str, int]) -> dict[str, int]:
    """Morning figures for today's listed contracts from yesterday's closing open interest."""
    out: dict[str, int] = {}
    for c in contracts:
        if c.ticker in closing:
            out[c.ticker] = closing[c.ticker]
        elif c.adjusted_from is not None and c.adjusted_from in closing:
            out[c.ticker] = closing[c.adjusted_from]
        else:
            out[c.ticker] = 0
    return out


def open_interest_table(report_day: dt.date, trading_date: dt.date, figures: dict[str, int]) -> pa.Table:
    tickers = sorted(figures)
    n = len(tickers)
    return pa.table(
        {
            "ticker": pa.array(tickers, pa.string()),
            "open_interest": pa.array([figures[t] for t in tickers], pa.int64()),
            "trading_date": pa.array([trading_date] * n, pa.date32()),
            "reported_timestamp": pa.array([et_ns(report_day, 6, 30)] * n, pa.int64()),
        }
    )
