"""Parameter helpers shared by the options routes."""

from __future__ import annotations

import re

from ...market.occ import InvalidOptionSymbolError, normalize_option_ticker, parse_option_symbol
from ...services.container import Services
from ...services.pointintime import PointInTime, at_date, at_instant, now_view
from ..auth import Caller
from ..errors import bad_request, not_found
from ..params import Instant, parse_date, parse_instant

MIDNIGHT_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T00:00(:00(\.0+)?)?Z$")

AS_OF_DOC = (
    "Point in time: YYYY-MM-DD (just before that day's 09:30 ET open), an RFC 3339 timestamp or an epoch integer. "
    "Every field is taken from data knowable at that instant."
)


def option_ticker(raw: str, name: str = "options_ticker") -> str:
    """The canonical ``O:`` ticker (the prefix is optional on input); 400 when malformed."""
    if not raw.isascii():
        raise bad_request(f"Invalid {name} {raw!r}: expected an OCC option ticker such as O:SPY251219C00650000.")
    try:
        return normalize_option_ticker(raw)
    except InvalidOptionSymbolError as exc:
        raise bad_request(f"Invalid {name}: {exc}.") from None


def is_option_ticker(raw: str) -> bool:
    """True for ``O:`` tickers and bare OCC symbols (the product a dialect-neutral path ticker belongs to)."""
    text = raw.strip().upper()
    if text.startswith("O:"):
        return True
    try:
        parse_option_symbol(text)
    except InvalidOptionSymbolError:
        return False
    return True


def known_contract(services: Services, ticker: str) -> None:
    if not services.reference.contract_known(ticker):
        raise not_found(f"Unknown option contract {ticker}.")


def point_in_time(caller: Caller, as_of: str | None) -> PointInTime:
    """Resolve ``as_of`` (or now) against the caller's horizon and check the plan's lookback."""
    if as_of is None or as_of == "":
        return now_view(caller.horizon_ns)
    inst = parse_instant("as_of", as_of)
    if inst.day is None and MIDNIGHT_UTC.match(as_of.strip()):
        # A JavaScript Date built from "YYYY-MM-DD" arrives as that day's midnight UTC: treat it as the date.
        inst = Instant(0, parse_date("as_of", as_of))
    pit = at_date(inst.day, caller.horizon_ns) if inst.day is not None else at_instant(inst.ns, caller.horizon_ns)
    caller.check_lookback(pit.day)
    return pit


def pit_state(pit: PointInTime) -> dict:
    return {"b": pit.before_ns, "d": pit.day.isoformat(), "x": pit.explicit}


def pit_from_state(state: dict, caller: Caller) -> PointInTime:
    import datetime as dt

    pit = PointInTime(min(int(state["b"]), caller.horizon_ns + 1), dt.date.fromisoformat(state["d"]), bool(state["x"]))
    caller.check_lookback(pit.day)
    return pit
