"""OCC/OSI option symbols and their Polygon/CuteMarkets ``O:`` spelling."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

_BODY = re.compile(r"^(?P<root>[A-Z0-9]{1,6})(?P<yy>\d{2})(?P<mm>\d{2})(?P<dd>\d{2})(?P<cp>[CP])(?P<strike>\d{8})$")


class InvalidOptionSymbolError(ValueError):
    """The text is not an OCC option symbol."""


@dataclass(frozen=True, slots=True)
class OptionSymbol:
    root: str
    expiration: dt.date
    contract_type: str  # "call" | "put"
    strike_thousandths: int

    @property
    def strike(self) -> float:
        return self.strike_thousandths / 1000.0

    @property
    def ticker(self) -> str:
        """The ``O:``-prefixed ticker, e.g. ``O:SPY250117C00590000``."""
        return "O:" + self.body

    @property
    def body(self) -> str:
        cp = "C" if self.contract_type == "call" else "P"
        return f"{self.root}{self.expiration:%y%m%d}{cp}{self.strike_thousandths:08d}"

    @property
    def osi(self) -> str:
        """The 21-character OSI form with the root padded to six characters."""
        return f"{self.root:<6}" + self.body[len(self.root) :]

    @property
    def is_nonstandard(self) -> bool:
        """A digit in the root marks an adjusted (non-standard) contract, e.g. ``NVDA1``."""
        return any(ch.isdigit() for ch in self.root)


def parse_option_symbol(text: str) -> OptionSymbol:
    """Parse ``O:SPY250117C00590000``, ``SPY250117C00590000`` or the padded OSI form."""
    body = text.strip().upper().replace(" ", "")
    if body.startswith("O:"):
        body = body[2:]
    m = _BODY.match(body)
    if m is None:
        raise InvalidOptionSymbolError(f"{text!r} is not an OCC option symbol (expected e.g. O:SPY250117C00590000)")
    try:
        expiration = dt.date(2000 + int(m["yy"]), int(m["mm"]), int(m["dd"]))
    except ValueError as exc:
        raise InvalidOptionSymbolError(f"{text!r} has an impossible expiration date") from exc
    return OptionSymbol(
        root=m["root"],
        expiration=expiration,
        contract_type="call" if m["cp"] == "C" else "put",
        strike_thousandths=int(m["strike"]),
    )


def format_option_ticker(root: str, expiration: dt.date, contract_type: str, strike: float) -> str:
    """``O:`` ticker for the given contract terms; the strike is rounded to a tenth of a cent."""
    return OptionSymbol(root, expiration, contract_type, round(strike * 1000)).ticker


def normalize_option_ticker(text: str) -> str:
    """Canonical ``O:`` spelling; raises :class:`InvalidOptionSymbolError` when malformed."""
    return parse_option_symbol(text).ticker
