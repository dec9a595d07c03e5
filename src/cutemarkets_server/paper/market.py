"""What the paper desk may know about the market: symbols, the NBBO and the underlying's close, read through the
services layer as of an instant (a delayed plan's instant is 15 minutes behind the clock)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from ..market.calendar import MarketCalendar
from ..market.timestamps import et_date
from ..services.container import Services
from .rules import Instrument, PaperInputError, Quote

QUOTE_DATASET = {"us_equity": "stock_quotes", "us_option": "option_quotes"}
TRADE_DATASET = {"us_equity": "stock_trades", "us_option": "option_trades"}


def _decimal(value: object) -> Decimal:
    return Decimal(str(value)) if value is not None else Decimal(0)


class PaperMarket:
    def __init__(self, services: Services, calendar: MarketCalendar) -> None:
        self.services = services
        self.calendar = calendar

    # -- symbols -------------------------------------------------------------------------------------
    def resolve(self, instrument: Instrument, today: dt.date) -> Decimal:
        """Check that the symbol is tradable on ``today``; returns the shares one unit delivers."""
        if instrument.is_option:
            record = self.services.reference.contract(instrument.symbol, None)
            if record is None:
                raise PaperInputError("symbol", f"unknown option contract {instrument.symbol}")
            assert instrument.expiration is not None
            if instrument.expiration < today:
                raise PaperInputError("symbol", f"{instrument.symbol} expired on {instrument.expiration}")
            return _decimal(record.get("shares_per_contract") or 100)
        if not self.services.stocks.known(instrument.symbol):
            raise PaperInputError("symbol", f"unknown stock ticker {instrument.symbol}")
        return Decimal(1)

    def deliverable(self, instrument: Instrument) -> tuple[str, Decimal]:
        """The stock an option delivers and how many shares (an adjusted ``NVDA1`` contract delivers NVDA)."""
        record = self.services.reference.contract(instrument.symbol, None) or {}
        underlying = record.get("underlying_ticker") or instrument.underlying
        return str(underlying), _decimal(record.get("shares_per_contract") or 100)

    def generation(self) -> object:
        """Changes whenever the lake's contents change (a live append, an import)."""
        return self.services.store.snapshot().generation

    # -- prices --------------------------------------------------------------------------------------
    def quote(self, asset_class: str, symbol: str, as_of_ns: int) -> Quote | None:
        """The NBBO in force at ``as_of_ns`` (the newest quote at or before it)."""
        row = self.services.store.last_tick(QUOTE_DATASET[asset_class], symbol, as_of_ns + 1)
        if row is None:
            return None
        return Quote(_decimal(row["bid_price"]), _decimal(row["ask_price"]), int(row["sip_timestamp"]))

    def session_quote(self, asset_class: str, symbol: str, as_of_ns: int) -> Quote | None:
        """The NBBO at ``as_of_ns`` only if it was quoted on that same ET day (never yesterday's book)."""
        quote = self.quote(asset_class, symbol, as_of_ns)
        if quote is None or et_date(quote.timestamp_ns) != et_date(as_of_ns):
            return None
        return quote

    def mark(self, asset_class: str, symbol: str, as_of_ns: int) -> Decimal | None:
        """A position's mark: the quote midpoint, else the last trade, as of ``as_of_ns``."""
        quote = self.quote(asset_class, symbol, as_of_ns)
        if quote is not None and quote.bid > 0 and quote.ask >= quote.bid:
            return quote.mid
        trade = self.services.store.last_tick(TRADE_DATASET[asset_class], symbol, as_of_ns + 1)
        return _decimal(trade["price"]) if trade is not None else None

    def close_price(self, underlying: str, day: dt.date) -> tuple[Decimal, int] | None:
        """The underlying's regular-session close on ``day`` and its instant: the last trade before the closing
        bell, else (a lake with daily bars only) the day bar's close, stamped at the bell."""
        hours = self.calendar.hours(day)
        trade = self.services.store.last_tick("stock_trades", underlying, hours.close_ns)
        if trade is not None and et_date(int(trade["sip_timestamp"])) == day:
            return _decimal(trade["price"]), int(trade["sip_timestamp"])
        bars = self.services.store.day_bars_on("stock_day_aggs", day, [underlying])
        if bars.num_rows:
            return _decimal(bars["close"][0].as_py()), hours.close_ns
        return None
