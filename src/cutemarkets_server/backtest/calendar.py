"""The trading calendar a backtest uses: the shared XNYS calendar, its session table kept between runs.

Building the calendar imports exchange_calendars (and pandas with it), which costs a command more time
than a short backtest takes. Its session table (days, regular opens and closes) is written once to the
cache (``cache.py``) under the installed exchange_calendars version and read back by later commands.
"""

from __future__ import annotations

import datetime as dt
import json
from functools import lru_cache

from ..market.calendar import CALENDAR_END, CALENDAR_START, MarketCalendar, SessionTable, xnys
from .cache import package_version, read_text, write_text

FORMAT = 1


def _name(version: str) -> str:
    return f"xnys-{version}-{CALENDAR_START}-{CALENDAR_END}-v{FORMAT}.json"


def _parse(text: str | None) -> SessionTable | None:
    if text is None:
        return None
    try:
        raw = json.loads(text)
        days = [dt.date.fromordinal(d) for d in raw["days"]]
        opens, closes = [int(x) for x in raw["open"]], [int(x) for x in raw["close"]]
    except (ValueError, KeyError, TypeError):
        return None
    if not days or not len(days) == len(opens) == len(closes):
        return None
    return days, opens, closes


@lru_cache(maxsize=1)
def calendar() -> MarketCalendar:
    """The XNYS calendar (the same sessions as ``market.calendar.xnys()``), from the cache when present."""
    version = package_version("exchange_calendars", "exchange_calendars")
    if version is None:
        return xnys()
    table = _parse(read_text(_name(version)))
    if table is not None:
        return MarketCalendar(CALENDAR_START, CALENDAR_END, table=table)
    built = xnys()
    days, opens, closes = built.table()
    write_text(_name(version), json.dumps({"days": [d.toordinal() for d in days], "open": opens, "close": closes}))
    return built
