"""Parameter helpers shared by the stocks routes."""

from __future__ import annotations

import re

from ...services.container import Services
from ..errors import bad_request, not_found

_SYMBOL = re.compile(r"^[A-Z0-9][A-Z0-9.\-]{0,19}$")


def stock_ticker(raw: str, name: str = "stocksTicker") -> str:
    """The canonical (upper-case) stock symbol; 400 when it cannot be one (e.g. an ``O:`` option ticker)."""
    symbol = raw.strip().upper()
    if not raw.isascii() or not _SYMBOL.match(symbol):
        raise bad_request(f"Invalid {name} {raw!r}: expected a stock symbol such as AAPL or BRK.B.")
    return symbol


def known_stock(services: Services, ticker: str) -> None:
    if not services.stocks.known(ticker):
        raise not_found(f"Unknown stock ticker {ticker}.")


def ticker_list(raw: str | None, name: str) -> list[str]:
    """A comma-separated symbol list (order kept, duplicates dropped)."""
    out: list[str] = []
    for part in (raw or "").split(","):
        if part.strip():
            symbol = stock_ticker(part, name)
            if symbol not in out:
                out.append(symbol)
    return out
