"""Option chains: which contracts exist, when they were listed, and the split adjustment.

Expirations per underlying:

* dailies (underlyings with daily expirations): every session, listed ``daily_sessions`` sessions ahead;
* weeklies: every Friday, listed ``weekly_weeks`` weeks ahead;
* monthlies: the third Friday, listed ``monthly_months`` months ahead;

an expiration that falls on a holiday moves to the previous session. Each session from an
expiration's listing day on, strikes are listed on a grid around the previous close covering
``spot * exp(+-k * sigma * sqrt(T))`` (coarser increments for longer tenors), so new strikes appear as
the stock moves and as finer increments become due. Calls and puts are listed in pairs.

On a split's execution day every standard contract of the stock still alive is delisted and relisted
as an adjusted contract (root + "1", same strike and expiration, deliverable of
``100 * split_to / split_from`` shares); standard contracts are then listed afresh around the new raw
price, skipping the strikes the adjusted series already holds so that no ticker is reused.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np

from ..market.calendar import xnys
from ..market.occ import format_option_ticker
from .profiles import ChainShape, SplitPlan
from .skeleton import Skeleton
from .universe import TickerSpec

NICE_STEPS = (0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0)
PRIMARY_EXCHANGE = "BATO"


@dataclass(frozen=True)
class Expiration:
    date: dt.date
    list_date: dt.date
    kind: str  # "daily" | "weekly" | "monthly"


@dataclass
class Contract:
    ticker: str
    underlying: str
    root: str
    contract_type: str  # "call" | "put"
    expiration: dt.date
    strike: float
    shares: int
    list_date: dt.date
    delist_date: dt.date | None = None
    adjusted_from: str | None = None

    @property
    def cfi(self) -> str:
        return "OCASPS" if self.contract_type == "call" else "OPASPS"


@dataclass
class ChainPlan:
    contracts: list[Contract] = field(default_factory=list)
    _index: dict[str, tuple[list[Contract], np.ndarray, np.ndarray, np.ndarray]] = field(
        default_factory=dict, repr=False
    )

    def add(self, contracts: list[Contract]) -> None:
        self.contracts.extend(contracts)
        self._index.clear()

    def listed(self, underlying: str, day: dt.date) -> list[Contract]:
        """Contracts of ``underlying`` listed on ``day``, sorted by ticker."""
        if underlying not in self._index:
            mine = sorted((c for c in self.contracts if c.underlying == underlying), key=lambda c: c.ticker)
            never = dt.date.max.toordinal()
            self._index[underlying] = (
                mine,
                np.array([c.list_date.toordinal() for c in mine], dtype=np.int64),
                np.array([c.expiration.toordinal() for c in mine], dtype=np.int64),
                np.array([c.delist_date.toordinal() if c.delist_date else never for c in mine], dtype=np.int64),
            )
        mine, listed, expires, delisted = self._index[underlying]
        d = day.toordinal()
        return [mine[i] for i in np.flatnonzero((listed <= d) & (d <= expires) & (d < delisted))]

    def events(self) -> dict[dt.date, list[tuple[str, Contract]]]:
        """Reference events per effective day: ("list", contract) and ("delist", contract)."""
        out: dict[dt.date, list[tuple[str, Contract]]] = {}
        for c in self.contracts:
            out.setdefault(c.list_date, []).append(("list", c))
            if c.delist_date is not None:
                out.setdefault(c.delist_date, []).append(("delist", c))
        return out


def _add_months(day: dt.date, months: int) -> dt.date:
    idx = day.year * 12 + day.month - 1 + months
    year, month = divmod(idx, 12)
    return dt.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _third_friday(year: int, month: int) -> dt.date:
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(4 - first.weekday()) % 7 + 14)


def _session_on_or_after(day: dt.date) -> dt.date:
    cal = xnys()
    if cal.is_session(day):
        return day
    nxt = cal.next_session(day)
    assert nxt is not None
    return nxt


def _session_on_or_before(day: dt.date) -> dt.date:
    found = xnys().session_on_or_before(day)
    assert found is not None
    return found


def expirations(spec: TickerSpec, shape: ChainShape, first_day: dt.date, end: dt.date) -> list[Expiration]:
    """Expirations alive on some session of [first_day, end], with their listing days."""
    cal = xnys()
    found: dict[dt.date, Expiration] = {}

    def add(expiry: dt.date, list_date: dt.date, kind: str) -> None:
        if expiry < first_day or list_date > end:
            return
        prev = found.get(expiry)
        if prev is None or list_date < prev.list_date:
            found[expiry] = Expiration(expiry, list_date, kind if prev is None else prev.kind)

    horizon = _add_months(end, shape.monthly_months + 1)
    y, m = first_day.year, first_day.month
    while dt.date(y, m, 1) <= horizon:
        expiry = _session_on_or_before(_third_friday(y, m))
        add(expiry, _session_on_or_after(_add_months(expiry, -shape.monthly_months)), "monthly")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)

    friday = first_day + dt.timedelta(days=(4 - first_day.weekday()) % 7)
    last_friday = end + dt.timedelta(days=7 * shape.weekly_weeks + 7)
    while friday <= last_friday:
        expiry = _session_on_or_before(friday)
        add(expiry, _session_on_or_after(expiry - dt.timedelta(days=7 * shape.weekly_weeks)), "weekly")
        friday += dt.timedelta(days=7)

    if spec.micro.daily_expirations:
        ahead = cal.sessions_in_range(first_day, end + dt.timedelta(days=3 * shape.daily_sessions + 10))
        for expiry in ahead:
            before = cal.last_sessions(expiry, shape.daily_sessions + 1)
            add(expiry, before[0], "daily")
    return [found[d] for d in sorted(found)]


def strike_step(spec: TickerSpec, spot: float, days_to_expiry: int, scale: float) -> float:
    tenor = 1.0 if days_to_expiry <= 45 else 2.5 if days_to_expiry <= 180 else 5.0
    target = spot * spec.micro.strike_step_frac * tenor * scale
    return min(NICE_STEPS, key=lambda s: abs(math.log(s / target)))


def build_chain(
    spec: TickerSpec,
    shape: ChainShape,
    skeleton: Skeleton,
    first_day: dt.date,
    end: dt.date,
    split: tuple[SplitPlan, dt.date] | None = None,
) -> list[Contract]:
    """Every contract of ``spec.ticker`` alive on some session of [first_day, end]."""
    cal = xnys()
    exps = expirations(spec, shape, first_day, end)
    if not exps:
        return []
    sigma = math.sqrt(spec.vol.long_run_var) * 1.1
    standard: dict[dt.date, dict[int, list[Contract]]] = {e.date: {} for e in exps}
    excluded: dict[dt.date, set[int]] = {e.date: set() for e in exps}
    contracts: list[Contract] = []
    root = spec.ticker
    for day in cal.sessions_in_range(min(e.list_date for e in exps), end):
        if split is not None and day == split[1]:
            contracts.extend(_adjust_for_split(split[0], day, standard, excluded))
        spot = skeleton.reference_spot(day)
        for exp in exps:
            if not exp.list_date <= day <= exp.date:
                continue
            days = (exp.date - day).days + 1
            step = strike_step(spec, spot, days, shape.step_scale)
            half = max(shape.strike_sigmas * sigma * math.sqrt(days / 365.0), 3.0 * step / spot)
            lo = math.ceil(spot * math.exp(-half) / step)
            hi = math.floor(spot * math.exp(half) / step)
            have, skip = standard[exp.date], excluded[exp.date]
            for k in range(max(lo, 1), hi + 1):
                milli = round(k * step * 1000)
                if milli in have or milli in skip:
                    continue
                pair = [
                    Contract(
                        ticker=format_option_ticker(root, exp.date, kind, milli / 1000.0),
                        underlying=spec.ticker,
                        root=root,
                        contract_type=kind,
                        expiration=exp.date,
                        strike=milli / 1000.0,
                        shares=100,
                        list_date=day,
                    )
                    for kind in ("call", "put")
                ]
                have[milli] = pair
                contracts.extend(pair)
    return contracts


def _adjust_for_split(
    plan: SplitPlan,
    day: dt.date,
    standard: dict[dt.date, dict[int, list[Contract]]],
    excluded: dict[dt.date, set[int]],
) -> list[Contract]:
    adjusted_root = plan.ticker + "1"
    shares = round(100 * plan.ratio)
    out: list[Contract] = []
    for expiry, by_strike in standard.items():
        if expiry < day:
            continue
        for milli, pair in sorted(by_strike.items()):
            for old in pair:
                if old.list_date >= day:
                    continue
                old.delist_date = day
                out.append(
                    Contract(
                        ticker=format_option_ticker(adjusted_root, expiry, old.contract_type, old.strike),
                        underlying=old.underlying,
                        root=adjusted_root,
                        contract_type=old.contract_type,
                        expiration=expiry,
                        strike=old.strike,
                        shares=shares,
                        list_date=day,
                        adjusted_from=old.ticker,
                    )
                )
            excluded[expiry].add(milli)
        by_strike.clear()
    return out
