"""The pure rules of paper trading: decimal amounts, order payload validation, when an order is marketable,
what a fill does to cash and a position, and what an expiring option settles at. No I/O, no clock reads."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from ..market.occ import InvalidOptionSymbolError, parse_option_symbol

MONEY = Decimal("0.0001")
QTY = Decimal("0.000001")
MAX_AMOUNT = Decimal("1000000000000")  # amounts must be below it
# Plain decimal notation with ASCII digits: no exponent, no digit separators (what the API documents).
_PLAIN_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
STOCK_QTY_PLACES = 6
OPTION_MULTIPLIER = 100  # premium per contract = price x 100, whatever the deliverable

OPEN_STATUSES = ("new", "accepted", "partially_filled")
STATUSES = ("new", "accepted", "partially_filled", "filled", "canceled", "expired", "rejected")
INTENTS = ("buy_to_open", "buy_to_close", "sell_to_open", "sell_to_close")


class PaperInputError(ValueError):
    """A request value the paper API refuses (answered as 400 naming ``field``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"Invalid {field}: {message}")
        self.field = field


# -- decimals -----------------------------------------------------------------------------------------
def money(value: Decimal) -> str:
    return str(value.quantize(MONEY, rounding=ROUND_HALF_EVEN))


def quantity(value: Decimal) -> str:
    return str(value.quantize(QTY, rounding=ROUND_HALF_EVEN))


def round_money(value: Decimal) -> Decimal:
    return value.quantize(MONEY, rounding=ROUND_HALF_EVEN)


def parse_decimal(field: str, value: Any, *, positive: bool = True) -> Decimal:
    """A decimal sent as a JSON string (``"100000"``, ``"1.5"``); numbers, booleans and junk are refused."""
    if not isinstance(value, str):
        raise PaperInputError(field, f'expected a decimal string such as "10", got {json.dumps(value)}')
    text = value.strip()
    if not _PLAIN_DECIMAL.fullmatch(text):
        raise PaperInputError(field, f"{value!r} is not a decimal number in plain notation (such as 10 or 1.5)")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise PaperInputError(field, f"{value!r} is not a decimal number") from None
    if positive and number <= 0:
        raise PaperInputError(field, f"{value!r} must be greater than zero")
    if abs(number) >= MAX_AMOUNT:
        raise PaperInputError(field, f"{value!r} is too large")
    return number


# -- order payloads -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Instrument:
    """What an order symbol names: a stock or one option contract."""

    symbol: str
    asset_class: str  # "us_equity" | "us_option"
    underlying: str
    expiration: dt.date | None = None
    contract_type: str | None = None
    strike: Decimal | None = None

    @property
    def is_option(self) -> bool:
        return self.asset_class == "us_option"

    @property
    def multiplier(self) -> int:
        return OPTION_MULTIPLIER if self.is_option else 1


def classify_symbol(value: Any) -> Instrument:
    """A stock ticker or an OCC option symbol (with or without ``O:``), spelled canonically."""
    if not isinstance(value, str) or not value.strip():
        raise PaperInputError("symbol", 'expected a ticker string such as "AAPL" or "O:SPY251219C00600000"')
    text = value.strip().upper()
    if text.startswith("O:") or len(text) > 12:
        try:
            occ = parse_option_symbol(text)
        except InvalidOptionSymbolError as exc:
            raise PaperInputError("symbol", str(exc)) from None
        return Instrument(
            symbol=occ.ticker,
            asset_class="us_option",
            underlying=occ.root,
            expiration=occ.expiration,
            contract_type=occ.contract_type,
            strike=Decimal(occ.strike_thousandths) / 1000,
        )
    if not all(ch.isalnum() or ch in ".-" for ch in text) or len(text) > 10:
        raise PaperInputError("symbol", f"{value!r} is not a stock ticker or an OCC option symbol")
    return Instrument(symbol=text, asset_class="us_equity", underlying=text)


@dataclass(frozen=True)
class OrderRequest:
    """A validated order payload, in canonical form (its fingerprint makes retries idempotent)."""

    instrument: Instrument
    qty: Decimal
    side: str
    type: str
    time_in_force: str
    limit_price: Decimal | None
    client_order_id: str | None
    position_intent: str
    extended_hours: bool
    extra: dict[str, Any]

    def fingerprint(self) -> str:
        canonical = {
            "symbol": self.instrument.symbol,
            "qty": str(self.qty.normalize()),
            "side": self.side,
            "type": self.type,
            "time_in_force": self.time_in_force,
            "limit_price": None if self.limit_price is None else str(self.limit_price.normalize()),
            "position_intent": self.position_intent,
            "extended_hours": self.extended_hours,
        }
        return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


_KNOWN_FIELDS = {
    "symbol",
    "qty",
    "side",
    "type",
    "time_in_force",
    "limit_price",
    "client_order_id",
    "position_intent",
    "extended_hours",
    "order_class",
}


def _choice(body: dict[str, Any], field: str, choices: tuple[str, ...], default: str | None = None) -> str:
    value = body.get(field, default)
    if value is None:
        raise PaperInputError(field, f"required; one of {', '.join(choices)}")
    if not isinstance(value, str) or not value.strip().isascii() or value.strip().lower() not in choices:
        raise PaperInputError(field, f"{json.dumps(value)} is not one of {', '.join(choices)}")
    return value.strip().lower()


def parse_order(body: Any) -> OrderRequest:
    """Validate an Alpaca-style order payload (stocks and single-leg options, market/limit, ``day``)."""
    if not isinstance(body, dict):
        raise PaperInputError("body", "expected a JSON object with symbol, qty, side and type")
    instrument = classify_symbol(body.get("symbol"))
    if "notional" in body and body["notional"] is not None:
        raise PaperInputError("notional", "notional orders are not supported; send qty")
    if body.get("qty") is None:
        raise PaperInputError("qty", 'required, a decimal string such as "1"')
    qty = parse_decimal("qty", body.get("qty"))
    if instrument.is_option:
        if qty != qty.to_integral_value():
            raise PaperInputError("qty", f"{body['qty']!r}: option quantities must be whole contracts")
    elif -qty.as_tuple().exponent > STOCK_QTY_PLACES:  # type: ignore[operator]
        raise PaperInputError("qty", f"{body['qty']!r}: at most {STOCK_QTY_PLACES} decimal places")
    side = _choice(body, "side", ("buy", "sell"))
    order_type = _choice(body, "type", ("market", "limit"))
    tif = _choice(body, "time_in_force", ("day",), default="day")
    limit_raw = body.get("limit_price")
    if order_type == "limit":
        if limit_raw is None:
            raise PaperInputError("limit_price", "required for a limit order")
        limit_price: Decimal | None = parse_decimal("limit_price", limit_raw)
    elif limit_raw is not None:
        raise PaperInputError("limit_price", "only limit orders take a limit_price")
    else:
        limit_price = None
    coid = body.get("client_order_id")
    if coid is not None and (not isinstance(coid, str) or len(coid) > 128):
        raise PaperInputError("client_order_id", "expected a string of at most 128 characters")
    coid = coid.strip() if isinstance(coid, str) and coid.strip() else None
    default_intent = "buy_to_open" if side == "buy" else "sell_to_close"
    intent_raw = body.get("position_intent")
    intent = default_intent if intent_raw in (None, "") else _choice(body, "position_intent", INTENTS)
    if intent != default_intent:
        raise PaperInputError(
            "position_intent", f"{intent} is not supported: paper accounts hold long positions only (no shorting)"
        )
    extended = body.get("extended_hours", False)
    if extended is not None and extended is not False:  # 0 is not false in JSON
        raise PaperInputError("extended_hours", "only regular-session orders are supported (false)")
    order_class = body.get("order_class")
    if order_class not in (None, "", "simple"):
        raise PaperInputError("order_class", "only simple (single-leg) orders are supported")
    extra = {k: v for k, v in body.items() if k not in _KNOWN_FIELDS}
    return OrderRequest(instrument, qty, side, order_type, tif, limit_price, coid, intent, False, extra)


def parse_name(value: Any, *, default: str | None = None) -> str:
    if value is None and default is not None:
        return default
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise PaperInputError("name", "expected a non-empty string of at most 200 characters")
    return value.strip()


# -- fills ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Quote:
    bid: Decimal
    ask: Decimal
    timestamp_ns: int

    @property
    def mid(self) -> Decimal:
        return (self.bid + self.ask) / 2


def usable(quote: Quote | None) -> bool:
    """A two-sided, uncrossed quote."""
    return quote is not None and quote.bid > 0 and quote.ask > 0 and quote.ask >= quote.bid


def fill_price(side: str, order_type: str, limit_price: Decimal | None, quote: Quote) -> Decimal | None:
    """The price an order fills at against ``quote`` (buy at the ask, sell at the bid), or None when a limit
    order is not marketable yet."""
    price = quote.ask if side == "buy" else quote.bid
    if order_type == "limit":
        assert limit_price is not None
        if side == "buy" and price > limit_price:
            return None
        if side == "sell" and price < limit_price:
            return None
    return price


@dataclass(frozen=True)
class PositionState:
    qty: Decimal
    avg_entry_price: Decimal
    realized_pl: Decimal

    @property
    def cost_basis(self) -> Decimal:
        return self.qty * self.avg_entry_price


FLAT = PositionState(Decimal(0), Decimal(0), Decimal(0))


@dataclass(frozen=True)
class FillEffect:
    """What one fill does: the cash change, the position after it, and the fill's realized P&L."""

    gross_amount: Decimal
    cash_delta: Decimal
    position: PositionState
    realized_pl: Decimal


def apply_fill(position: PositionState, side: str, qty: Decimal, price: Decimal, multiplier: int) -> FillEffect:
    """Average-cost accounting of a long position; raises ValueError for a sale larger than the position."""
    gross = round_money(price * qty * multiplier)
    if side == "buy":
        total = position.qty + qty
        avg = (position.avg_entry_price * position.qty + price * qty) / total
        return FillEffect(gross, -gross, PositionState(total, avg, position.realized_pl), Decimal(0))
    if qty > position.qty:
        raise ValueError(f"sell of {qty} exceeds the position of {position.qty}")
    realized = round_money((price - position.avg_entry_price) * qty * multiplier)
    remaining = position.qty - qty
    avg = position.avg_entry_price if remaining > 0 else Decimal(0)
    return FillEffect(gross, gross, PositionState(remaining, avg, position.realized_pl + realized), realized)


def settlement_price(instrument: Instrument, underlying_close: Decimal, deliverable_shares: Decimal) -> Decimal:
    """Per-unit settlement of an expiring contract: intrinsic value of the deliverable against the strike,
    divided by the premium multiplier (0 when out of the money)."""
    assert instrument.strike is not None
    per_contract = deliverable_shares * underlying_close - OPTION_MULTIPLIER * instrument.strike
    if instrument.contract_type == "put":
        per_contract = -per_contract
    return max(Decimal(0), per_contract) / OPTION_MULTIPLIER


def drawdown(peak: Decimal, equity: Decimal) -> Decimal:
    """The fall from ``peak`` to ``equity`` as a fraction of the peak (0 at or above the peak)."""
    if peak <= 0 or equity >= peak:
        return Decimal(0)
    return (peak - equity) / peak
