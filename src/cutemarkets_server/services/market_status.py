"""Market status from the exchange calendar: whether U.S. equities are open at an instant, and the
upcoming holidays and early closes with their names."""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass
from functools import lru_cache

import exchange_calendars as xcals

from ..market.calendar import MarketCalendar
from ..market.timestamps import ET, datetime_from_ns, et_date

UPCOMING_DAYS = 366
EXCHANGES = ("NYSE", "NASDAQ", "OTC")
_MARKET_BY_LABEL = {"regular": "open", "premarket": "extended-hours", "after_hours": "extended-hours"}


@dataclass(frozen=True, slots=True)
class MarketStatus:
    """The state of the U.S. equity market at one instant."""

    market: str  # "open" | "extended-hours" | "closed"
    early_hours: bool
    after_hours: bool
    server_time: str  # RFC 3339 with the America/New_York offset


@dataclass(frozen=True, slots=True)
class MarketDay:
    """A weekday without a full regular session: a holiday (closed) or an early close."""

    day: dt.date
    name: str
    status: str  # "closed" | "early-close"
    open_ns: int | None = None
    close_ns: int | None = None


def status_at(calendar: MarketCalendar, now_ns: int) -> MarketStatus:
    label = calendar.session_label(now_ns)
    return MarketStatus(
        market=_MARKET_BY_LABEL.get(label, "closed"),
        early_hours=label == "premarket",
        after_hours=label == "after_hours",
        server_time=datetime_from_ns(now_ns, ET).replace(microsecond=0).isoformat(),
    )


@lru_cache(maxsize=1)
def _named_calendar() -> xcals.ExchangeCalendar:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return xcals.get_calendar("XNYS")


def day_names(first: dt.date, last: dt.date) -> dict[dt.date, str]:
    """Names of the XNYS holidays and special closes between ``first`` and ``last`` (inclusive)."""
    cal = _named_calendar()
    names: dict[dt.date, str] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        calendars = [cal.regular_holidays] + [c for _, c in cal.special_closes if hasattr(c, "holidays")]
        for holidays in calendars:
            if holidays is None:
                continue
            for stamp, name in holidays.holidays(first.isoformat(), last.isoformat(), return_name=True).items():
                names.setdefault(stamp.date(), str(name))
    return names


def upcoming(calendar: MarketCalendar, now_ns: int, days: int = UPCOMING_DAYS) -> list[MarketDay]:
    """Holidays and early closes from today (ET) through the next ``days`` days, oldest first."""
    first = et_date(now_ns)
    last = first + dt.timedelta(days=days)
    names = day_names(first, last)
    out: list[MarketDay] = []
    day = first
    while day <= last:
        if day.weekday() < 5:
            if not calendar.is_session(day):
                out.append(MarketDay(day, names.get(day, "Market closed"), "closed"))
            elif calendar.is_early_close(day):
                hours = calendar.hours(day)
                out.append(MarketDay(day, names.get(day, "Early close"), "early-close", hours.open_ns, hours.close_ns))
        day += dt.timedelta(days=1)
    return out
