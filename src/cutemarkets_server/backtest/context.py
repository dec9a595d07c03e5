"""What a strategy sees at a decision instant, and the only way it acts.

The context answers as of ``now_ns`` (the close of the bar that just completed): today's completed
bars, the chain listed and quoted at that instant, the latest quote of a contract with its age, and
the strategy's own filled positions and cash. Orders go through the engine, which fills them later.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..market.timestamps import NS_PER_MIN, et_date, et_midnight_ns
from .data.base import Bar, ChainRow, Quote
from .orders import ExitRules, Position
from .selection import Criteria, Rejected, Selected, pair_leg, select

if TYPE_CHECKING:
    from .engine import Engine


class Context:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.session: dt.date = dt.date.min
        self.now_ns: int = 0
        self.open_ns: int = 0
        self.close_ns: int = 0
        self.signal_bar: Bar | None = None
        self._bars: list[Bar] = []
        self._chains: dict[tuple[int, dt.date, dt.date, str | None], list[ChainRow]] = {}
        self.daily: list[Bar] = []  # the run's daily bars; only those closed by now are handed out
        self.state: dict = {}  # the strategy's own memory for the session

    # -- time --------------------------------------------------------------------------------------
    @property
    def minute_et(self) -> int:
        """Minutes after midnight ET of ``now_ns``."""
        return (self.now_ns - et_midnight_ns(self.session)) // NS_PER_MIN

    @property
    def minutes_since_open(self) -> int:
        return (self.now_ns - self.open_ns) // NS_PER_MIN

    # -- bars --------------------------------------------------------------------------------------
    def bars(self, minutes: int = 1) -> list[Bar]:
        """Today's regular-session bars of ``minutes`` width that have completed by now, oldest first."""
        done = [b for b in self._bars if b.end_ns <= self.now_ns]
        if minutes == 1:
            return done
        width = minutes * NS_PER_MIN
        groups: dict[int, list[Bar]] = {}
        for b in done:
            groups.setdefault(self.open_ns + (b.start_ns - self.open_ns) // width * width, []).append(b)
        out = []
        for start, members in sorted(groups.items()):
            end = min(start + width, self.close_ns)
            if end > self.now_ns:
                continue
            out.append(
                Bar(
                    start,
                    end,
                    members[0].open,
                    max(m.high for m in members),
                    min(m.low for m in members),
                    members[-1].close,
                    sum(m.volume for m in members),
                )
            )
        return out

    def daily_bars(self, count: int | None = None) -> list[Bar]:
        """Completed daily bars (unadjusted) of sessions that closed by now, oldest first; the last ``count``."""
        done = [b for b in self.daily if b.end_ns <= self.now_ns]
        return done[-count:] if count else done

    @property
    def spot(self) -> float:
        """The underlying's last completed one-minute close (unadjusted, like strikes)."""
        assert self.signal_bar is not None
        return self.signal_bar.close

    # -- options -----------------------------------------------------------------------------------
    def chain(self, dte_min: int, dte_max: int, contract_type: str | None = None) -> list[ChainRow]:
        """The contracts listed now with days to expiration in [dte_min, dte_max], as known now."""
        lo = self.session + dt.timedelta(days=dte_min)
        hi = self.session + dt.timedelta(days=dte_max)
        key = (self.now_ns, lo, hi, contract_type)
        if key not in self._chains:
            if any(k[0] != self.now_ns for k in self._chains):
                self._chains = {}
            source = self._engine.source
            self._chains[key] = source.chain(self._engine.underlying, self.now_ns, lo, hi, contract_type)
            self._engine.chain_queries += 1
        return self._chains[key]

    def select(self, criteria: Criteria) -> Selected | Rejected:
        """One contract by ``criteria`` from the chain listed now, or the reason none qualifies.

        Contracts rank by distance to the target DTE first, so the chain is asked for the expirations
        nearest the target first, widening a day at a time: the first widening that yields a contract
        yields the one the whole window would. A rejection is always decided on the whole window."""
        if criteria.target_dte is not None:
            target = min(max(criteria.target_dte, criteria.dte_min), criteria.dte_max)
            reach = max(target - criteria.dte_min, criteria.dte_max - target)
            for k in range(reach):  # the last widening is the whole window, asked below
                lo, hi = max(target - k, criteria.dte_min), min(target + k, criteria.dte_max)
                found = select(self.chain(lo, hi, criteria.contract_type), criteria, self.session, self.spot)
                if found.ok:
                    return found
        rows = self.chain(criteria.dte_min, criteria.dte_max, criteria.contract_type)
        return select(rows, criteria, self.session, self.spot)

    def pair(self, primary: Selected, width: float, *, further_otm: bool = True) -> Selected | Rejected:
        c = primary.contract
        dte = (c.expiration - self.session).days
        return pair_leg(self.chain(dte, dte, c.contract_type), c, width, further_otm=further_otm)

    def quote(self, ticker: str) -> tuple[Quote | None, float | None]:
        """The latest quote of a contract at or before now, and its age in milliseconds."""
        q = self._engine.quotes.latest(ticker, self.now_ns)
        if q is None:
            return None, None
        return q, (self.now_ns - q.ts_ns) / 1e6

    # -- the book ----------------------------------------------------------------------------------
    @property
    def cash(self) -> float:
        return self._engine.book.cash

    @property
    def positions(self) -> list[Position]:
        """Open positions whose entry has filled by now."""
        return [p for p in self._engine.book.open_positions() if p.opened_ns <= self.now_ns]

    @property
    def busy(self) -> bool:
        """True while a position is open or an order of this strategy waits for its fill."""
        return bool(self._engine.book.open_positions()) or self._engine.has_pending()

    # -- acting ------------------------------------------------------------------------------------
    def enter(
        self,
        action: str,
        legs: Sequence[tuple[Selected | Rejected, int]],
        exits: ExitRules | None = None,
        *,
        limit: float | None = None,
        valid_minutes: int | None = None,
    ) -> int:
        """Open a package (all legs or none): ``legs`` pairs a selection with a signed quantity.

        A market order by default; with ``limit`` (the most the package may cost per share, negative for
        the least credit) it rests for ``valid_minutes`` (default: until the close). A rejected selection
        makes the decision a reject with the selection's reason. Returns the decision id.
        """
        from .engine import OrderTerms

        order = OrderTerms(limit, valid_minutes * 60_000 if valid_minutes is not None else None)
        return self._engine.enter(self, action, list(legs), exits or ExitRules(), order)

    def close(
        self, position: Position, reason: str, *, limit: float | None = None, valid_minutes: int | None = None
    ) -> int:
        """Close a position (all its legs); market, or limit as in ``enter``."""
        from .engine import OrderTerms

        order = OrderTerms(limit, valid_minutes * 60_000 if valid_minutes is not None else None)
        return self._engine.close(self, position, reason, order)

    def skip(self, action: str, reason: str) -> int:
        """Record a decision not to trade (or that could not be expressed) with its reason."""
        return self._engine.record_decision(self, action, None, reason, None, None)

    def session_of(self, ns: int) -> dt.date:
        return et_date(ns)
