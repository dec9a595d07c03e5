"""What instant a request describes, and which data it may therefore use.

Without ``as_of`` an answer describes the caller's horizon (now, or 15 minutes ago on delayed
plans). ``as_of`` as an RFC 3339 or integer timestamp means that instant (rows at or before it);
a bare date D means just before D's 09:30 ET open, so a morning decision cannot see D's session.
An ``as_of`` is never allowed past the caller's horizon: a later one, in any spelling, describes the horizon.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ..market.timestamps import et_date, et_ns


@dataclass(frozen=True, slots=True)
class PointInTime:
    before_ns: int  # rows with timestamp < before_ns are knowable
    day: dt.date  # the calendar day reference data is taken from
    explicit: bool  # an ``as_of`` was given

    @property
    def at_ns(self) -> int:
        """The last knowable nanosecond."""
        return self.before_ns - 1


def now_view(horizon_ns: int) -> PointInTime:
    return PointInTime(horizon_ns + 1, et_date(horizon_ns), False)


def at_date(day: dt.date, horizon_ns: int) -> PointInTime:
    opens = et_ns(day, 9, 30)
    if opens > horizon_ns + 1:
        return PointInTime(horizon_ns + 1, et_date(horizon_ns), True)
    return PointInTime(opens, day, True)


def at_instant(ns: int, horizon_ns: int) -> PointInTime:
    capped = min(ns, horizon_ns)
    return PointInTime(capped + 1, et_date(capped), True)
