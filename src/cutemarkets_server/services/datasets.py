"""Dataset coverage from the lake manifest: per dataset its days, rows and bytes, and (for datasets stored
every session) the XNYS sessions between its first and last day that hold no partition (gaps)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..market.calendar import MarketCalendar
from ..store.lake import ManifestSnapshot

# Reference datasets hold a partition only on the days something changed: a day without one is no gap.
AS_OF_CHANGE = frozenset({"option_contracts", "stock_tickers", "corporate_actions"})


def coverage(snapshot: ManifestSnapshot, calendar: MarketCalendar) -> list[dict[str, Any]]:
    out = []
    for name in sorted(snapshot.by_dataset):
        parts = snapshot.by_dataset[name]
        if not parts:
            continue
        days = sorted(parts)
        daily = name not in AS_OF_CHANGE
        sessions = sessions_between(calendar, days[0], days[-1]) if daily else []
        missing = [d.isoformat() for d in sessions if d not in parts]
        out.append(
            {
                "dataset": name,
                "daily": daily,
                "first_day": days[0].isoformat(),
                "last_day": days[-1].isoformat(),
                "days": len(days),
                "rows": sum(p.rows for p in parts.values()),
                "bytes": sum(p.bytes for p in parts.values()),
                "missing_sessions": missing,
                "coverage": [{"day": d.isoformat(), "rows": parts[d].rows, "bytes": parts[d].bytes} for d in days],
            }
        )
    return out


def sessions_between(calendar: MarketCalendar, first: dt.date, last: dt.date) -> list[dt.date]:
    out = []
    day = first
    while day <= last:
        if calendar.is_session(day):
            out.append(day)
        day += dt.timedelta(days=1)
    return out
