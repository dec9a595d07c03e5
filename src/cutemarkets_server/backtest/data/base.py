"""The data the engine may ask for, as plain values, and the interface both sources implement.

Every question names the instant it is asked at; a source answers only from rows knowable then
(chains, open interest, listed contracts). Quote series of a session are returned whole, and the
engine's ``QuoteBook`` decides which of their rows a decision or a fill may use.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Protocol


class DataSourceError(RuntimeError):
    """The data source failed (unreachable, refused, malformed): the run stops."""


@dataclass(frozen=True, slots=True)
class Bar:
    """A completed bar: ``start_ns`` inclusive, ``end_ns`` exclusive (the instant it became knowable)."""

    start_ns: int
    end_ns: int
    open: float
    high: float
    low: float
    close: float
    volume: float


@dataclass(frozen=True, slots=True)
class Quote:
    ts_ns: int
    bid: float
    ask: float
    bid_size: int
    ask_size: int

    @property
    def mid(self) -> float:
        return (self.bid + self.ask) / 2.0


@dataclass(frozen=True, slots=True)
class ChainRow:
    """One contract of a point-in-time chain: reference terms, last quote, greeks and open interest."""

    ticker: str
    underlying: str
    contract_type: str
    strike: float
    expiration: dt.date
    shares_per_contract: int
    bid: float | None
    ask: float | None
    quote_ts_ns: int | None
    iv: float | None
    delta: float | None
    gamma: float | None
    theta: float | None
    vega: float | None
    open_interest: int | None
    volume: float
    underlying_price: float | None

    @property
    def mid(self) -> float | None:
        if self.bid is None or self.ask is None:
            return None
        return (self.bid + self.ask) / 2.0

    @property
    def spread(self) -> float | None:
        if self.bid is None or self.ask is None:
            return None
        return self.ask - self.bid


class DataSource(Protocol):
    """What the engine reads. Implemented by ``LakeSource`` (in process) and ``HttpSource`` (any v1 server)."""

    def minute_bars(self, ticker: str, day: dt.date) -> list[Bar]:
        """The unadjusted one-minute bars of a stock on one ET day, oldest first."""
        ...

    def minute_bars_between(self, ticker: str, first: dt.date, last: dt.date) -> list[Bar]:
        """The unadjusted one-minute bars of a stock on the ET days first..last, oldest first (one read for
        many sessions; the engine hands a strategy only the bars completed by its decision instant)."""
        ...

    def day_bars(self, ticker: str, first: dt.date, last: dt.date) -> list[Bar]:
        """The unadjusted daily bars of a stock for sessions first..last (``start_ns`` = ET midnight)."""
        ...

    def chain(
        self,
        underlying: str,
        at_ns: int,
        expiration_lo: dt.date,
        expiration_hi: dt.date,
        contract_type: str | None = None,
    ) -> list[ChainRow]:
        """The contracts listed at ``at_ns`` expiring in [lo, hi] (of one type, when given), as snapshots
        knowable at ``at_ns``, sorted by ticker."""
        ...

    def quotes(self, ticker: str, lo_ns: int, hi_ns: int) -> list[Quote]:
        """Every NBBO quote of one contract with lo <= timestamp < hi, oldest first."""
        ...

    def last_quote(self, ticker: str, at_ns: int) -> Quote | None:
        """The newest quote of a contract with timestamp <= ``at_ns``."""
        ...

    def describe(self, underlying: str, first: dt.date, last: dt.date) -> dict[str, Any]:
        """The manifest's record of this source for a run over [first, last]."""
        ...


def chain_row_from_snapshot(snap: dict[str, Any], underlying: str) -> ChainRow:
    """A chain row from a v1 snapshot object (the same shape in process and over HTTP)."""
    details = snap["details"]
    quote = snap.get("last_quote") or {}
    greeks = snap.get("greeks") or {}
    day = snap.get("day") or {}
    ua = snap.get("underlying_asset") or {}

    def opt(v: Any) -> float | None:
        return None if v is None else float(v)

    return ChainRow(
        ticker=details["ticker"],
        underlying=underlying,
        contract_type=details["contract_type"],
        strike=float(details["strike_price"]),
        expiration=dt.date.fromisoformat(details["expiration_date"]),
        shares_per_contract=int(details["shares_per_contract"]),
        bid=opt(quote.get("bid")),
        ask=opt(quote.get("ask")),
        quote_ts_ns=None if quote.get("last_updated") is None else int(quote["last_updated"]),
        iv=opt(snap.get("implied_volatility")),
        delta=opt(greeks.get("delta")),
        gamma=opt(greeks.get("gamma")),
        theta=opt(greeks.get("theta")),
        vega=opt(greeks.get("vega")),
        open_interest=None if snap.get("open_interest") is None else int(snap["open_interest"]),
        volume=float(day.get("volume") or 0),
        underlying_price=opt(ua.get("price")),
    )


def bar_from_row(row: dict[str, Any], width_ns: int) -> Bar:
    """A bar from a v1 aggregate row (``t`` in ms at the bar's start)."""
    start = int(row["t"]) * 1_000_000
    return Bar(
        start,
        start + width_ns,
        float(row["o"]),
        float(row["h"]),
        float(row["l"]),
        float(row["c"]),
        float(row["v"]),
    )


def quote_from_row(row: dict[str, Any]) -> Quote:
    return Quote(
        int(row["sip_timestamp"]),
        float(row.get("bid_price") or 0.0),
        float(row.get("ask_price") or 0.0),
        int(row.get("bid_size") or 0),
        int(row.get("ask_size") or 0),
    )
