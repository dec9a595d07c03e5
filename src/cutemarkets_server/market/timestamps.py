"""Integer UTC nanosecond timestamps and the few places where Eastern Time decides a day."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

ET = ZoneInfo("America/New_York")
UTC = dt.UTC

NS_PER_US = 1_000
NS_PER_MS = 1_000_000
NS_PER_S = 1_000_000_000
NS_PER_MIN = 60 * NS_PER_S
NS_PER_HOUR = 60 * NS_PER_MIN
NS_PER_DAY = 24 * NS_PER_HOUR

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)


def ns_from_datetime(value: dt.datetime) -> int:
    """Exact nanoseconds since the epoch for an aware datetime (naive values are taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * NS_PER_S + delta.microseconds * NS_PER_US


def datetime_from_ns(ns: int, tz: dt.tzinfo = UTC) -> dt.datetime:
    """An aware datetime (microsecond precision) for a nanosecond timestamp."""
    seconds, rem = divmod(int(ns), NS_PER_S)
    return dt.datetime.fromtimestamp(seconds, tz=tz).replace(microsecond=rem // NS_PER_US)


def et_ns(day: dt.date, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    """Nanoseconds for a wall-clock time on an Eastern Time calendar day."""
    return ns_from_datetime(dt.datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=ET))


def et_midnight_ns(day: dt.date) -> int:
    """Start of an Eastern Time calendar day."""
    return et_ns(day)


def et_date(ns: int) -> dt.date:
    """The Eastern Time calendar day an instant falls on."""
    return datetime_from_ns(ns, ET).date()
