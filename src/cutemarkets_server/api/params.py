"""Query and path parameter parsing with 400 ``bad_request`` errors that name the parameter.

Dates are ``YYYY-MM-DD`` (an ISO timestamp is accepted and its date part used, as the TypeScript
client sends ``Date`` values). Timestamp filters take a date, an integer (unit inferred from its
size: ≤10 digits s, 11–13 ms, 14–16 µs, ≥17 ns) or RFC 3339. A bare date D covers
[D 00:00, D+1 00:00) in America/New_York.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass

from ..market.timestamps import NS_PER_S, et_midnight_ns, ns_from_datetime
from .errors import bad_request

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_RE = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[Tt ](?P<h>\d{2}):(?P<m>\d{2})(?::(?P<s>\d{2})(?:\.(?P<frac>\d{1,9}))?)?"
    r"(?P<tz>[Zz]|[+-]\d{2}:?\d{2})?$"
)
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def parse_date(name: str, value: str) -> dt.date:
    """A calendar date from ``YYYY-MM-DD`` or the date part of an ISO timestamp."""
    text = value.strip()
    if _DATE_RE.match(text) or _ISO_RE.match(text):
        try:
            return dt.date.fromisoformat(text[:10])
        except ValueError:
            pass
    raise bad_request(f"Invalid {name} {value!r}: expected a date as YYYY-MM-DD.")


@dataclass(frozen=True, slots=True)
class Instant:
    """A parsed time value: either a whole ET calendar day or an exact instant (ns)."""

    ns: int
    day: dt.date | None = None  # set when the value was a bare date

    def start_ns(self) -> int:
        return et_midnight_ns(self.day) if self.day is not None else self.ns

    def end_ns(self) -> int:
        """Exclusive end: the next ET midnight for a date, the next nanosecond for an instant."""
        return et_midnight_ns(self.day + dt.timedelta(days=1)) if self.day is not None else self.ns + 1


def infer_ns(number: int) -> int:
    """Nanoseconds from an epoch integer in s, ms, µs or ns, judged by its number of digits."""
    digits = len(str(abs(number)))
    if digits <= 10:
        return number * NS_PER_S
    if digits <= 13:
        return number * 1_000_000
    if digits <= 16:
        return number * 1_000
    return number


def parse_instant(name: str, value: str, *, integer_unit: str | None = None) -> Instant:
    """A date, an epoch integer or an RFC 3339 timestamp. ``integer_unit`` forces "ms"/"ns" for integers."""
    text = value.strip()
    if not text:
        raise bad_request(f"Invalid {name}: empty value.")
    if text.lstrip("-").isdigit():
        number = int(text)
        if number < 0:
            raise bad_request(f"Invalid {name} {value!r}: timestamps must not be negative.")
        if integer_unit == "ms" and len(text) <= 13:
            return Instant(number * 1_000_000)
        return Instant(infer_ns(number))
    if _DATE_RE.match(text):
        return Instant(0, parse_date(name, text))
    m = _ISO_RE.match(text)
    if m is None:
        raise bad_request(f"Invalid {name} {value!r}: expected YYYY-MM-DD, an epoch integer or an RFC 3339 timestamp.")
    try:
        day = dt.date.fromisoformat(m["date"])
        frac = (m["frac"] or "").ljust(9, "0")
        tz = m["tz"]
        tzinfo = dt.UTC
        if tz and tz not in ("Z", "z"):
            sign = 1 if tz[0] == "+" else -1
            digits = tz[1:].replace(":", "")
            tzinfo = dt.timezone(sign * dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
        base = dt.datetime(day.year, day.month, day.day, int(m["h"]), int(m["m"]), int(m["s"] or 0), tzinfo=tzinfo)
    except ValueError:
        raise bad_request(f"Invalid {name} {value!r}: not a real date and time.") from None
    return Instant(ns_from_datetime(base) + int(frac))


@dataclass(frozen=True, slots=True)
class TimeRange:
    """A half-open interval [lo, hi) of ns; None means unbounded."""

    lo: int | None = None
    hi: int | None = None

    @property
    def empty(self) -> bool:
        return self.lo is not None and self.hi is not None and self.lo >= self.hi


def time_range(
    name: str, values: dict[str, str | None], *, integer_unit: str | None = None
) -> tuple[TimeRange, list[Instant]]:
    """Combine ``name`` and ``name.gte|gt|lte|lt`` into one interval (and return the parsed instants).

    ``values`` maps "" / "gte" / … to the raw strings (None when absent).
    """
    lo: int | None = None
    hi: int | None = None
    seen: list[Instant] = []

    def tighten_lo(x: int) -> None:
        nonlocal lo
        lo = x if lo is None else max(lo, x)

    def tighten_hi(x: int) -> None:
        nonlocal hi
        hi = x if hi is None else min(hi, x)

    for op, raw in values.items():
        if raw is None:
            continue
        label = f"{name}.{op}" if op else name
        inst = parse_instant(label, raw, integer_unit=integer_unit)
        seen.append(inst)
        if op == "":
            tighten_lo(inst.start_ns())
            tighten_hi(inst.end_ns())
        elif op == "gte":
            tighten_lo(inst.start_ns())
        elif op == "gt":
            tighten_lo(inst.end_ns())
        elif op == "lte":
            tighten_hi(inst.end_ns())
        elif op == "lt":
            tighten_hi(inst.start_ns())
    rng = TimeRange(lo, hi)
    if rng.empty and sum(v is not None for v in values.values()) > 1:
        raise bad_request(f"Invalid {name} range: the lower bound is not before the upper bound.")
    return rng, seen


def parse_limit(value: str | None, *, default: int, maximum: int, name: str = "limit") -> int:
    """A positive integer page size; values above ``maximum`` are clamped silently."""
    if value is None or value == "":
        return default
    text = value.strip()
    try:
        number = int(text)
    except ValueError:
        try:
            f = float(text)
        except ValueError:
            f = math.nan
        if not math.isfinite(f) or f != int(f):
            raise bad_request(f"Invalid {name} {value!r}: expected a positive integer.") from None
        number = int(f)
    if number < 1:
        raise bad_request(f"Invalid {name} {value!r}: must be at least 1.")
    return min(number, maximum)


def parse_bool(name: str, value: str | None, *, default: bool) -> bool:
    if value is None or value == "":
        return default
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise bad_request(f"Invalid {name} {value!r}: expected true or false.")


def parse_float(name: str, value: str) -> float:
    try:
        number = float(value.strip())
    except ValueError:
        raise bad_request(f"Invalid {name} {value!r}: expected a number.") from None
    if not math.isfinite(number):
        raise bad_request(f"Invalid {name} {value!r}: expected a finite number.")
    return number


def parse_int(name: str, value: str, *, minimum: int | None = None) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        raise bad_request(f"Invalid {name} {value!r}: expected an integer.") from None
    if minimum is not None and number < minimum:
        raise bad_request(f"Invalid {name} {value!r}: must be at least {minimum}.")
    return number


def parse_choice(name: str, value: str | None, choices: tuple[str, ...], *, default: str | None = None) -> str | None:
    """One of ``choices`` (case-insensitive), or ``default`` when absent."""
    if value is None or value == "":
        return default
    text = value.strip().lower()
    if text not in choices:
        raise bad_request(f"Invalid {name} {value!r}: expected one of {', '.join(choices)}.")
    return text
