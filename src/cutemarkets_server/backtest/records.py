"""The rows a run produces (the columns of the artifacts) and the timestamp renderings they carry."""

from __future__ import annotations

from dataclasses import dataclass

from ..market.timestamps import ET, NS_PER_S, UTC, datetime_from_ns


def rfc3339(ns: int, *, et: bool = False) -> str:
    """Nanosecond-precise RFC 3339: ``…Z`` in UTC, or with the Eastern Time offset."""
    seconds, frac = divmod(int(ns), NS_PER_S)
    moment = datetime_from_ns(seconds * NS_PER_S, ET if et else UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:09d}"
    if not et:
        return text + "Z"
    offset = moment.strftime("%z")
    return f"{text}{offset[:3]}:{offset[3:]}"


@dataclass
class Decision:
    decision_id: int
    signal_bar_start: int | None
    signal_bar_end: int | None
    decision_timestamp: int
    session_label: str
    underlying: str
    action: str
    contract: str | None
    reject_reason: str | None
    position_id: int | None
    detail: str | None


@dataclass
class Fill:
    order_id: int
    decision_id: int
    position_id: int | None
    contract: str
    side: str
    quantity: int
    order_type: str
    limit_price: float | None
    decision_timestamp: int
    next_quote_timestamp: int | None
    quote_age_ms: float | None
    bid: float | None
    ask: float | None
    fill_timestamp: int | None
    fill_price: float | None
    commission: float
    fill_policy: str
    reject_reason: str | None
    event_timestamp_utc: str
    event_timestamp_et: str
    session_label: str
    market: str
    source: str


@dataclass
class EquityPoint:
    session: str
    timestamp: int
    cash: float
    positions_value: float
    positions_value_bid_ask: float
    equity: float
    equity_bid_ask: float
    open_positions: int


@dataclass
class Trade:
    position_id: int
    action: str
    contracts: str
    opened_timestamp: int
    closed_timestamp: int | None
    entry_value: float
    exit_value: float | None
    commissions: float
    pnl: float | None
    exit_reason: str | None
