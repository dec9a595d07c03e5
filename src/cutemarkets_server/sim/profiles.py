"""Build profiles: which tickers, how many sessions, how dense the ticks and the option chains are.

* ``default`` - seven underlyings with 20 tick sessions, in which SPY and QQQ (the focus underlyings) trade
  options at real volume (about 7 million SPY contracts a session); SPY and QQQ quotes and stock ticks over
  126 sessions, option quotes re-priced at least once a minute near the money and thousands of times a
  session at the money on the same day (before the tick window their options print no trade rows: daily
  bars are drawn from the same trade statistics); a year (252 sessions) of daily bars, contracts and open
  interest.
* ``full`` - the default with a 63-session tick window: a quarter of real-volume option trades, and every
  ticker's ticks over it.
* ``test`` - a few tickers, 8 tick sessions, 80 daily sessions and a few hundred contracts (seconds).
* ``history`` - SPY alone over 300 tick sessions, lighter per day (benchmarks of growth with history).
* ``tiny`` - the smallest market that still holds every feature, the longer focus window included (for
  build-determinism checks).
* ``bench`` - SPY with thousands of contracts and over 20 million option quotes over a month, for benchmarks.

Message rates are per full regular session for a ticker of unit activity (see ``universe.Microstructure``);
shortened sessions scale them down.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class ChainShape:
    daily_sessions: int  # dailies listed this many sessions ahead (underlyings with daily expirations)
    weekly_weeks: int  # Friday weeklies listed this many weeks ahead
    monthly_months: int  # third-Friday monthlies listed this many months ahead
    strike_sigmas: float  # strikes cover spot * exp(+-k * sigma * sqrt(T))
    step_scale: float  # multiplies the strike increment


@dataclass(frozen=True)
class SplitPlan:
    ticker: str
    offset: int  # sessions after the first tick session
    split_from: int = 2
    split_to: int = 3

    @property
    def ratio(self) -> float:
        return self.split_to / self.split_from


@dataclass(frozen=True)
class NameChange:
    ticker: str
    offset: int  # sessions after the first tick session
    new_name: str


@dataclass(frozen=True)
class Profile:
    name: str
    stocks: tuple[str, ...]
    option_underlyings: tuple[str, ...]
    tick_sessions: int
    daily_sessions: int
    split: SplitPlan
    name_change: NameChange
    stock_quotes_per_day: int
    stock_trades_per_day: int
    option_quotes_per_day: int
    option_trades_per_day: int
    chain: ChainShape
    workers: int = 2
    focus: tuple[str, ...] = ()  # option underlyings with the longer quote window and the fine quote sweeps
    quote_sessions: int = 0  # sessions with stock ticks and option quotes of the focus underlyings; their
    # option trades cover the ``tick_sessions`` window only
    fast_sweeps: float = 0.0  # near-money sweeps per session of a focus expiration one day out (0: none)
    focus_trades: float = 1.0  # multiplies ``option_trades_per_day`` for the focus underlyings
    option_history: bool = True  # focus underlyings: contracts, daily bars and open interest on every daily session

    @property
    def window(self) -> int:
        """Sessions with any tick: the focus window, or the tick window when it is longer."""
        return max(self.tick_sessions, self.quote_sessions)


_DEFAULT = Profile(
    name="default",
    stocks=("SPY", "QQQ", "AAPL", "MSFT", "NFLX", "TSLA", "NVDA"),
    option_underlyings=("SPY", "QQQ", "AAPL", "MSFT", "NFLX", "TSLA", "NVDA"),
    tick_sessions=20,
    daily_sessions=126,
    split=SplitPlan("NVDA", offset=8),
    name_change=NameChange("QQQ", offset=12, new_name="Invesco QQQ ETF"),
    stock_quotes_per_day=22_000,
    stock_trades_per_day=14_000,
    option_quotes_per_day=30_000,
    option_trades_per_day=36_000,
    chain=ChainShape(daily_sessions=10, weekly_weeks=6, monthly_months=12, strike_sigmas=2.2, step_scale=1.0),
    focus=("SPY", "QQQ"),
    quote_sessions=126,
    fast_sweeps=600.0,
    focus_trades=12.0,
)


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        _DEFAULT,
        replace(
            _DEFAULT,
            name="full",
            tick_sessions=63,
            name_change=NameChange("QQQ", offset=40, new_name="Invesco QQQ ETF"),
        ),
        Profile(
            name="test",
            stocks=("SPY", "QQQ", "AAPL", "NVDA"),
            option_underlyings=("SPY", "AAPL", "NVDA"),
            tick_sessions=8,
            daily_sessions=80,
            split=SplitPlan("NVDA", offset=3),
            name_change=NameChange("QQQ", offset=4, new_name="Invesco QQQ ETF"),
            stock_quotes_per_day=6_000,
            stock_trades_per_day=4_000,
            option_quotes_per_day=25_000,
            option_trades_per_day=3_000,
            chain=ChainShape(daily_sessions=2, weekly_weeks=3, monthly_months=2, strike_sigmas=1.2, step_scale=3.0),
            workers=1,
            focus=("SPY",),
            fast_sweeps=250.0,
        ),
        Profile(
            name="tiny",
            stocks=("SPY", "NVDA"),
            option_underlyings=("SPY", "NVDA"),
            tick_sessions=3,
            daily_sessions=10,
            split=SplitPlan("NVDA", offset=1),
            name_change=NameChange("SPY", offset=2, new_name="SPDR S&P 500 ETF"),
            stock_quotes_per_day=1_500,
            stock_trades_per_day=1_000,
            option_quotes_per_day=4_000,
            option_trades_per_day=1_000,
            chain=ChainShape(daily_sessions=2, weekly_weeks=2, monthly_months=1, strike_sigmas=1.0, step_scale=1.0),
            workers=1,
            focus=("SPY",),
            quote_sessions=5,
            fast_sweeps=100.0,
        ),
        Profile(
            name="bench",
            stocks=("SPY", "NVDA"),
            option_underlyings=("SPY",),
            tick_sessions=21,
            daily_sessions=60,
            split=SplitPlan("NVDA", offset=3),
            name_change=NameChange("SPY", offset=5, new_name="SPDR S&P 500 ETF"),
            stock_quotes_per_day=20_000,
            stock_trades_per_day=20_000,
            option_quotes_per_day=1_050_000,
            option_trades_per_day=93_750,  # SPY trades 1.6 times this (``option_volume``): 150,000 at unit activity
            chain=ChainShape(daily_sessions=10, weekly_weeks=6, monthly_months=12, strike_sigmas=3.0, step_scale=1.0),
            option_history=False,
        ),
        Profile(
            name="history",
            stocks=("SPY",),
            option_underlyings=("SPY",),
            tick_sessions=300,
            daily_sessions=320,
            split=SplitPlan("NVDA", offset=3),  # NVDA is not in this market: no split
            name_change=NameChange("SPY", offset=5, new_name="SPDR S&P 500 ETF"),
            stock_quotes_per_day=8_000,
            stock_trades_per_day=8_000,
            option_quotes_per_day=60_000,
            option_trades_per_day=3_750,  # SPY trades 1.6 times this (``option_volume``): 6,000 at unit activity
            chain=ChainShape(daily_sessions=5, weekly_weeks=4, monthly_months=6, strike_sigmas=2.0, step_scale=2.0),
            option_history=False,
        ),
    )
}


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown market profile {name!r}; known: {', '.join(PROFILES)}") from None
