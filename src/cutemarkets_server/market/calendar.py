"""The XNYS trading calendar (holidays, early closes, session bounds) and session labels.

Built on exchange_calendars; times are integer UTC nanoseconds, days are Eastern Time dates.
Stocks trade 04:00-20:00 ET (pre-market, regular, after-hours); on early-close days the regular
session ends at 13:00 and after-hours at 17:00. Options trade in the regular session only.
"""

from __future__ import annotations

import bisect
import datetime as dt
import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from .timestamps import et_date, et_ns

if TYPE_CHECKING:
    import numpy as np

CALENDAR_START = dt.date(2005, 1, 1)
CALENDAR_END = dt.date(2035, 12, 31)

# (session days, regular opens, regular closes): the whole calendar as plain values.
SessionTable = tuple[list[dt.date], list[int], list[int]]


def xnys_table(start: dt.date = CALENDAR_START, end: dt.date = CALENDAR_END) -> SessionTable:
    """The XNYS sessions from exchange_calendars (imported here: it loads pandas, a fraction of a second)."""
    import exchange_calendars as xcals
    import numpy as np

    with warnings.catch_warnings():
        # exchange_calendars uses pandas APIs that newer pandas flags as deprecated.
        warnings.simplefilter("ignore")
        cal = xcals.get_calendar("XNYS", start=start.isoformat(), end=end.isoformat())
        schedule = cal.schedule
    days = [ts.date() for ts in schedule.index]
    opens = schedule["open"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    closes = schedule["close"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    return days, [int(x) for x in opens], [int(x) for x in closes]


@dataclass(frozen=True, slots=True)
class SessionHours:
    day: dt.date
    premarket_open_ns: int
    open_ns: int
    close_ns: int
    after_hours_close_ns: int
    early_close: bool


class MarketCalendar:
    """Sessions of the New York Stock Exchange, used for U.S. stocks and listed options."""

    def __init__(
        self, start: dt.date = CALENDAR_START, end: dt.date = CALENDAR_END, *, table: SessionTable | None = None
    ) -> None:
        """Built from exchange_calendars, or from a ``table`` it produced earlier (``xnys_table``)."""
        days, opens, closes = table if table is not None else xnys_table(start, end)
        self._days: list[dt.date] = list(days)
        self._index = {d: i for i, d in enumerate(self._days)}
        self._open = list(opens)
        self._close = list(closes)
        self.start = start
        self.end = end
        self._bounds: dict[int, np.ndarray] = {}  # session bounds by calendar year

    def table(self) -> SessionTable:
        """The sessions as plain values (what ``table=`` accepts)."""
        return list(self._days), list(self._open), list(self._close)

    # -- sessions -------------------------------------------------------------------------------
    @property
    def sessions(self) -> list[dt.date]:
        return self._days

    def is_session(self, day: dt.date) -> bool:
        return day in self._index

    def is_early_close(self, day: dt.date) -> bool:
        i = self._index.get(day)
        return i is not None and et_date(self._close[i]) == day and self._close[i] < et_ns(day, 16)

    def hours(self, day: dt.date) -> SessionHours:
        """Session bounds of a trading day; raises KeyError for a non-session day."""
        i = self._index[day]
        early = self._close[i] < et_ns(day, 16)
        return SessionHours(
            day=day,
            premarket_open_ns=et_ns(day, 4),
            open_ns=self._open[i],
            close_ns=self._close[i],
            after_hours_close_ns=et_ns(day, 17 if early else 20),
            early_close=early,
        )

    def session_bounds(self, first: dt.date, last: dt.date) -> np.ndarray:
        """Rows of (premarket open, open, close, after-hours close) in UTC ns, one per session in
        [first, last], in time order (worked out once per calendar year asked for)."""
        import numpy as np  # here, not at the top: a backtest command imports the calendar before numpy

        years = []
        for year in range(first.year, last.year + 1):
            if year not in self._bounds:
                days = self.sessions_in_range(dt.date(year, 1, 1), dt.date(year, 12, 31))
                rows = [
                    (h.premarket_open_ns, h.open_ns, h.close_ns, h.after_hours_close_ns) for h in map(self.hours, days)
                ]
                self._bounds[year] = np.array(rows, dtype=np.int64).reshape(-1, 4)
            years.append(self._bounds[year])
        whole = np.concatenate(years) if len(years) > 1 else years[0]
        year_start = bisect.bisect_left(self._days, dt.date(first.year, 1, 1))
        lo = bisect.bisect_left(self._days, first) - year_start
        hi = bisect.bisect_right(self._days, last) - year_start
        return whole[lo:hi]

    def sessions_in_range(self, first: dt.date, last: dt.date) -> list[dt.date]:
        """Trading days d with first <= d <= last."""
        lo = bisect.bisect_left(self._days, first)
        hi = bisect.bisect_right(self._days, last)
        return self._days[lo:hi]

    def previous_session(self, day: dt.date) -> dt.date | None:
        """The last trading day strictly before ``day``."""
        i = bisect.bisect_left(self._days, day) - 1
        return self._days[i] if i >= 0 else None

    def next_session(self, day: dt.date) -> dt.date | None:
        """The first trading day strictly after ``day``."""
        i = bisect.bisect_right(self._days, day)
        return self._days[i] if i < len(self._days) else None

    def session_on_or_before(self, day: dt.date) -> dt.date | None:
        i = bisect.bisect_right(self._days, day) - 1
        return self._days[i] if i >= 0 else None

    def last_sessions(self, last: dt.date, count: int) -> list[dt.date]:
        """The ``count`` trading days ending on or before ``last``, oldest first."""
        hi = bisect.bisect_right(self._days, last)
        return self._days[max(0, hi - count) : hi]

    def last_completed_session(self, now_ns: int) -> dt.date | None:
        """The most recent trading day whose regular session closed at or before ``now_ns``."""
        i = bisect.bisect_right(self._close, now_ns) - 1
        return self._days[i] if i >= 0 else None

    # -- labels ---------------------------------------------------------------------------------
    def session_label(self, ns: int, *, product: str = "stocks") -> str:
        """``premarket``, ``regular``, ``after_hours``, ``closed`` or ``holiday`` for an instant.

        Options have no extended sessions, so their extended hours are ``closed``.
        """
        day = et_date(ns)
        if day not in self._index:
            return "holiday" if day.weekday() < 5 else "closed"
        h = self.hours(day)
        if h.open_ns <= ns < h.close_ns:
            return "regular"
        if product != "stocks":
            return "closed"
        if h.premarket_open_ns <= ns < h.open_ns:
            return "premarket"
        if h.close_ns <= ns < h.after_hours_close_ns:
            return "after_hours"
        return "closed"


@lru_cache(maxsize=1)
def xnys() -> MarketCalendar:
    """The shared calendar instance (construction takes a fraction of a second)."""
    return MarketCalendar()
