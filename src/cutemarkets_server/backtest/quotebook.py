"""A session's NBBO quotes per contract, loaded once per contract and day, and the two causal lookups.

``latest(t, at)`` is what a decision at ``at`` may know; ``first_after(t, at)`` is the first quote an
order arriving at ``at`` can meet. Nothing else reads the series.
"""

from __future__ import annotations

import bisect
import datetime as dt

from ..market.timestamps import et_midnight_ns
from .data.base import DataSource, Quote


class QuoteBook:
    def __init__(self, source: DataSource) -> None:
        self.source = source
        self.day: dt.date | None = None
        self._series: dict[str, tuple[list[int], list[Quote]]] = {}
        self._before: dict[tuple[str, dt.date], Quote | None] = {}
        self.loads = 0

    def start_session(self, day: dt.date) -> None:
        self.day = day
        self._series = {}

    def series(self, ticker: str) -> tuple[list[int], list[Quote]]:
        found = self._series.get(ticker)
        if found is None:
            assert self.day is not None
            lo = et_midnight_ns(self.day)
            hi = et_midnight_ns(self.day + dt.timedelta(days=1))
            quotes = self.source.quotes(ticker, lo, hi)
            self.loads += 1
            found = ([q.ts_ns for q in quotes], quotes)
            self._series[ticker] = found
        return found

    def first_after(self, ticker: str, at_ns: int, before_ns: int) -> Quote | None:
        """The first quote with at_ns <= timestamp < before_ns."""
        ts, quotes = self.series(ticker)
        i = bisect.bisect_left(ts, at_ns)
        if i < len(ts) and ts[i] < before_ns:
            return quotes[i]
        return None

    def latest(self, ticker: str, at_ns: int) -> Quote | None:
        """The newest quote with timestamp <= at_ns (earlier sessions when today has none yet)."""
        ts, quotes = self.series(ticker)
        i = bisect.bisect_right(ts, at_ns) - 1
        if i >= 0:
            return quotes[i]
        assert self.day is not None
        key = (ticker, self.day)
        if key not in self._before:
            self._before[key] = self.source.last_quote(ticker, et_midnight_ns(self.day) - 1)
            self.loads += 1
        return self._before[key]
