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

from ..market.timestamps import NS_PER_S, et_midnight_ns
from .errors import bad_request

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_RE = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[Tt ](?P<h>\d{2}):(?P<m>\d{2})(?::(?P<s>\d{2})(?:\.(?P<frac>\d+))?)?"
    r"(?P<tz>[Zz]|[+-]\d{2}:?\d{2})?$"
)
_INTEGER_RE = re.compile(r"^[+-]?[0-9]+$")
_MAX_DIGITS = 40
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}

# Instants are int64 nanoseconds inside the system. A value outside [0, 2**63 - 1] (year 1, year 9999, an
# epoch integer beyond 64 bits) is a valid spelling of a time before or after every stored row: it is
# clamped to the nearest end, which selects exactly the same rows as the unclamped value would.
MIN_NS = 0
MAX_NS = 2**63 - 1
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


def clamp_ns(ns: int) -> int:
    return MIN_NS if ns < MIN_NS else MAX_NS if ns > MAX_NS else ns


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
    """A parsed time value: either a whole ET calendar day or an exact instant (ns, clamped to int64)."""

    ns: int
    day: dt.date | None = None  # set when the value was a bare date

    def start_ns(self) -> int:
        return day_start_ns(self.day) if self.day is not None else self.ns

    def end_ns(self) -> int:
        """Exclusive end: the next ET midnight for a date, the next nanosecond for an instant."""
        if self.day is None:
            return min(self.ns + 1, MAX_NS)
        if self.day == dt.date.max:
            return MAX_NS
        return day_start_ns(self.day + dt.timedelta(days=1))


def day_start_ns(day: dt.date) -> int:
    """The ET midnight starting ``day``, clamped to the int64 range (any year from 1 to 9999)."""
    if day.year < 1970:
        return MIN_NS
    if day.year > 2261:
        return MAX_NS
    return et_midnight_ns(day)


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


def _rfc3339_ns(name: str, value: str, m: re.Match[str]) -> int:
    """Exact nanoseconds of an ISO/RFC 3339 match by integer arithmetic (no datetime range limits)."""
    try:
        day = dt.date.fromisoformat(m["date"])
    except ValueError:
        raise bad_request(f"Invalid {name} {value!r}: not a real date.") from None
    hour, minute, second = int(m["h"]), int(m["m"]), int(m["s"] or 0)
    if hour > 23 or minute > 59 or second > 60:  # 60: a leap second, as RFC 3339 allows
        raise bad_request(f"Invalid {name} {value!r}: not a real time of day.")
    offset_s = 0
    tz = m["tz"]
    if tz and tz not in ("Z", "z"):
        digits = tz[1:].replace(":", "")
        oh, om = int(digits[:2]), int(digits[2:])
        if oh > 23 or om > 59:
            raise bad_request(f"Invalid {name} {value!r}: not a real UTC offset.")
        offset_s = (1 if tz[0] == "+" else -1) * (oh * 3600 + om * 60)
    seconds = (day.toordinal() - _EPOCH_ORDINAL) * 86_400 + hour * 3600 + minute * 60 + second - offset_s
    return seconds * NS_PER_S + int((m["frac"] or "")[:9].ljust(9, "0"))


def parse_instant(name: str, value: str, *, integer_unit: str | None = None) -> Instant:
    """A date, an epoch integer or an RFC 3339 timestamp. ``integer_unit`` forces "ms"/"ns" for integers.

    Every spelling of the same instant gives the same ``Instant``; values beyond int64 are clamped.
    """
    text = value.strip()
    if not text:
        raise bad_request(f"Invalid {name}: empty value.")
    if text.lstrip("-").isdigit() and text.isascii():
        if text.startswith("-"):
            raise bad_request(f"Invalid {name} {value!r}: timestamps must not be negative.")
        if len(text) > _MAX_DIGITS:  # far beyond 64 bits (and beyond what int() parses)
            return Instant(MAX_NS)
        number = int(text)
        if number < 0:
            raise bad_request(f"Invalid {name} {value!r}: timestamps must not be negative.")
        if integer_unit == "ms" and len(text) <= 13:
            return Instant(clamp_ns(number * 1_000_000))
        return Instant(clamp_ns(infer_ns(number)))
    if _DATE_RE.match(text) and text.isascii():
        return Instant(0, parse_date(name, text))
    m = _ISO_RE.match(text) if text.isascii() else None
    if m is None:
        raise bad_request(f"Invalid {name} {value!r}: expected YYYY-MM-DD, an epoch integer or an RFC 3339 timestamp.")
    return Instant(clamp_ns(_rfc3339_ns(name, value, m)))


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
    """Combine ``name`` and ``name.gte|gt|lte|lt`` into one interval (and return the parsed instants);
    bounds that exclude each other give an empty interval (no rows), not an error.

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
        if raw is None or raw == "":
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
    return TimeRange(lo, hi), seen


def parse_limit(value: str | None, *, default: int, maximum: int, name: str = "limit") -> int:
    """A positive integer page size; values above ``maximum`` (of any size) are clamped silently."""
    if value is None or value == "":
        return default
    text = value.strip()
    if not _INTEGER_RE.match(text):
        raise bad_request(f"Invalid {name} {value!r}: expected a positive integer.")
    digits = text.lstrip("+-")
    number = int(digits) if len(digits) <= _MAX_DIGITS else maximum + 1
    if text.startswith("-") and number:
        number = -number
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


def parse_int(name: str, value: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    text = value.strip()
    if not _INTEGER_RE.match(text):
        raise bad_request(f"Invalid {name} {value!r}: expected an integer.")
    if len(text.lstrip("+-")) > _MAX_DIGITS:
        raise bad_request(f"Invalid {name} {value!r}: out of range.")
    number = int(text)
    if minimum is not None and number < minimum:
        raise bad_request(f"Invalid {name} {value!r}: must be at least {minimum}.")
    if maximum is not None and number > maximum:
        raise bad_request(f"Invalid {name} {value!r}: must be at most {maximum}.")
    return number


def parse_choice(name: str, value: str | None, choices: tuple[str, ...], *, default: str | None = None) -> str | None:
    """One of ``choices`` (case-insensitive), or ``default`` when absent."""
    if value is None or value == "":
        return default
    text = value.strip().lower()
    if text not in choices:
        raise bad_request(f"Invalid {name} {value!r}: expected one of {', '.join(choices)}.")
    return text
