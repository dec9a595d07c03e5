"""The plan of a market: sessions, tickers, price skeletons, rate curves and option chains.

Everything that is sequential in time (the daily skeleton, the rate path, strike listings as the stock
moves, the split adjustment) is decided here, once, so that tick sessions can then be generated
independently of each other.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

from ..market.calendar import xnys
from .chain import ChainPlan, build_chain, expirations
from .profiles import Profile
from .rates import RateCurve, rate_curves
from .skeleton import Skeleton, build_skeleton
from .universe import TickerSpec, spec


def resolve_end(end: dt.date | None, now_ns: int | None = None) -> dt.date:
    """The last tick session: ``end`` (or the session before it when it is not one), else the last
    session whose regular close is at or before ``now_ns`` (default: the wall clock)."""
    cal = xnys()
    found = (
        cal.last_completed_session(time.time_ns() if now_ns is None else now_ns)
        if end is None
        else cal.session_on_or_before(end)
    )
    if found is None:
        raise ValueError(f"no XNYS session on or before {end}")
    return found


@dataclass
class MarketPlan:
    profile: Profile
    seed: int
    end: dt.date
    tick_days: list[dt.date]  # sessions with any tick (the focus window when it is longer)
    full_days: list[dt.date]  # the last sessions, with ticks of every ticker and option trades
    daily_days: list[dt.date]  # sessions before the tick days (daily bars only)
    first_day: dt.date  # first day with any record (ticker reference, listings, bars)
    split_day: dt.date
    name_change_day: dt.date
    stocks: list[TickerSpec]
    underlyings: list[TickerSpec]
    skeletons: dict[str, Skeleton]
    curves: dict[dt.date, RateCurve]
    chain: ChainPlan

    @property
    def source(self) -> str:
        return f"sim:{self.profile.name}:seed={self.seed}"

    def is_full(self, day: dt.date) -> bool:
        return day >= self.full_days[0]

    def first_tick_day(self, ticker: str) -> dt.date:
        """First session with ticks of ``ticker`` (and its options)."""
        return self.tick_days[0] if ticker in self.profile.focus else self.full_days[0]

    def prints_option_trades(self, day: dt.date) -> bool:
        """Whether option trades are generated tick by tick on ``day``: the full tick window only. Before it the
        focus underlyings' options are quoted, and their daily bars are drawn from the trade statistics."""
        return self.is_full(day)

    def ticking(self, specs: list[TickerSpec], day: dt.date) -> list[TickerSpec]:
        """The tickers of ``specs`` with ticks on ``day``."""
        return [s for s in specs if day >= self.first_tick_day(s.ticker)]

    @property
    def option_days(self) -> list[dt.date]:
        """Sessions with listed contracts, daily option bars and open interest (of some underlying)."""
        first = min((self.first_option_day(u.ticker) for u in self.underlyings), default=self.tick_days[0])
        return [d for d in [*self.daily_days, *self.tick_days] if d >= first]

    def first_option_day(self, ticker: str) -> dt.date:
        """First session with listed contracts of ``ticker``: the first daily session for a focus underlying
        of a profile with option history, else its first tick session."""
        if self.profile.option_history and self.daily_days and ticker in self.profile.focus:
            return self.daily_days[0]
        return self.first_tick_day(ticker)

    def with_options(self, day: dt.date) -> list[TickerSpec]:
        """The option underlyings with listed contracts on ``day``."""
        return [u for u in self.underlyings if day >= self.first_option_day(u.ticker)]


def plan_market(seed: int, end: dt.date, profile: Profile) -> MarketPlan:
    cal = xnys()
    tick_days = cal.last_sessions(end, profile.window)
    full_days = tick_days[-profile.tick_sessions :]
    before = cal.previous_session(tick_days[0])
    assert before is not None
    daily_days = cal.last_sessions(before, profile.daily_sessions) if profile.daily_sessions else []
    split_day = full_days[min(profile.split.offset, len(full_days) - 1)]
    name_change_day = full_days[min(profile.name_change.offset, len(full_days) - 1)]
    stocks = [spec(t) for t in profile.stocks]
    underlyings = [spec(t) for t in profile.option_underlyings]

    def first_listed(ticker: str) -> dt.date:
        if profile.option_history and daily_days and ticker in profile.focus:
            return daily_days[0]
        return tick_days[0] if ticker in profile.focus else full_days[0]

    listings = [e.list_date for s in underlyings for e in expirations(s, profile.chain, first_listed(s.ticker), end)]
    first_day = min([tick_days[0], *daily_days[:1], *listings])
    start = cal.previous_session(first_day)
    assert start is not None
    skeleton_days = cal.sessions_in_range(start, end)
    skeletons = {
        s.ticker: build_skeleton(
            seed,
            s,
            skeleton_days,
            before,
            split_day if s.ticker == profile.split.ticker else None,
            profile.split.ratio,
        )
        for s in stocks
    }
    chain = ChainPlan()
    for s in underlyings:
        split = (profile.split, split_day) if s.ticker == profile.split.ticker else None
        chain.add(build_chain(s, profile.chain, skeletons[s.ticker], first_listed(s.ticker), end, split))
    return MarketPlan(
        profile=profile,
        seed=seed,
        end=end,
        tick_days=tick_days,
        full_days=full_days,
        daily_days=daily_days,
        first_day=first_day,
        split_day=split_day,
        name_change_day=name_change_day,
        stocks=stocks,
        underlyings=underlyings,
        skeletons=skeletons,
        curves=rate_curves(seed, skeleton_days),
        chain=chain,
    )
