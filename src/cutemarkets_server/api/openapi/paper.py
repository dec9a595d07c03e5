"""JSON Schemas of the paper API (``/v1/paper/``): the request bodies, written against what ``paper/rules.py``
and ``paper/service.py`` accept, and the closed response bodies, written against ``paper/wire.py``.

Order bodies have rules no JSON Schema states without the market: the symbol must be listed (and an option
not expired), options trade whole contracts and stocks at most 6 decimal places, ``limit_price`` goes with
``type: limit`` only, ``position_intent`` must match ``side``, and the cash and the position must cover the
order. Each is refused with a 400 naming the field, as is an order or a rename on an archived account and a
21st active account; ``scripts/schemathesis.toml`` says so for the paper routes that take a body.
"""

from __future__ import annotations

from typing import Any

from ...paper.rules import INTENTS, STATUSES
from .schemas import DATE, INT, STR, array, envelope, listing, nullable, obj, ref

# A positive decimal string below 1,000,000,000,000, in plain notation ("100000", "1.5", ".25"); surrounding
# whitespace is ignored (``rules.parse_decimal``).
AMOUNT_PATTERN = r"^\s*\+?(?:0*[1-9][0-9]{0,11}(?:\.[0-9]*)?|0*\.[0-9]*[1-9][0-9]*)\s*$"
AMOUNT: dict[str, Any] = {
    "type": "string",
    "pattern": AMOUNT_PATTERN,
    "description": "A positive decimal string below 1,000,000,000,000 (plain notation)",
    "examples": ["100000", "1.5"],
}
# A name: at most 200 characters, not blank.
NAME: dict[str, Any] = {"type": "string", "maxLength": 200, "pattern": r"\S"}


def _words(*words: str) -> dict[str, Any]:
    """One of ``words``, in any letter case, surrounding whitespace ignored."""
    spelled = "|".join("".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in w) for w in words)
    return {"type": "string", "pattern": rf"^\s*(?:{spelled})\s*$", "examples": [words[0]]}


_STOCK_SYMBOL = r"[A-Za-z0-9.\-]{1,10}"
_OCC_SYMBOL = r"(?:[Oo]:)?[A-Za-z0-9]{1,6}[0-9]{6}[CcPp][0-9]{8}"

REQUESTS: dict[str, dict[str, Any]] = {
    "PaperAccountCreate": {
        "type": ["object", "null"],
        "description": "Optional: an empty body opens an account named 'Paper Account' with 100000 in cash",
        "properties": {
            "name": {**nullable(NAME), "default": "Paper Account"},
            "initial_cash": {**AMOUNT, "default": "100000"},
        },
    },
    "PaperAccountUpdate": {"type": "object", "required": ["name"], "properties": {"name": NAME}},
    "PaperAccountReset": {
        "type": "object",
        "required": ["confirm"],
        "properties": {
            "confirm": {"const": True, "description": "A reset discards positions and open orders: must be true"},
            "initial_cash": {**nullable(AMOUNT), "description": "New starting cash (default: the current one)"},
            "reason": nullable(STR),
        },
    },
    "PaperOrderRequest": {
        "type": "object",
        "required": ["symbol", "qty", "side", "type"],
        "description": "Other fields are kept with the order and ignored",
        "properties": {
            "symbol": {
                "type": "string",
                "pattern": rf"^\s*(?:{_STOCK_SYMBOL}|{_OCC_SYMBOL})\s*$",
                "description": "A stock ticker (AAPL) or an OCC option symbol (O:SPY251219C00600000)",
                "examples": ["SPY", "O:SPY251219C00600000"],
            },
            "qty": {**AMOUNT, "description": "Whole contracts for options; at most 6 decimal places for stocks"},
            "side": {**_words("buy", "sell"), "description": "buy, or sell (closes a long position; no shorting)"},
            "type": _words("market", "limit"),
            "time_in_force": {**_words("day"), "default": "day"},
            "limit_price": {**nullable(AMOUNT), "description": "Required for limit orders, refused for market"},
            "client_order_id": {
                **nullable({"type": "string", "maxLength": 128}),
                "description": "Idempotency key within the account's generation (blank means none)",
            },
            "position_intent": {
                "anyOf": [_words("buy_to_open", "sell_to_close"), {"const": ""}, {"type": "null"}],
                "description": "buy_to_open with buy, sell_to_close with sell (the default for each side)",
            },
            "extended_hours": {"enum": [False, None], "description": "Regular-session orders only"},
            "order_class": {"enum": ["simple", "", None]},
            "notional": {"type": "null", "description": "Notional orders are not supported: send qty"},
        },
    },
}

# RFC 3339 UTC instants with microseconds (``wire.rfc3339``), money with 4 decimals, quantities with 6.
TIME: dict[str, Any] = {"type": "string", "format": "date-time"}
MONEY: dict[str, Any] = {"type": "string", "pattern": r"^-?[0-9]+\.[0-9]{4}$"}
QTY: dict[str, Any] = {"type": "string", "pattern": r"^[0-9]+\.[0-9]{6}$"}
FRACTION: dict[str, Any] = {"type": "string", "pattern": r"^-?[0-9]+\.[0-9]{6}$"}
ASSET_CLASS: dict[str, Any] = {"type": "string", "enum": ["us_equity", "us_option"]}
SIDE: dict[str, Any] = {"type": "string", "enum": ["buy", "sell"]}

ACCOUNT = obj(
    {
        "id": STR,
        "name": STR,
        "status": {"type": "string", "enum": ["active", "archived"]},
        "currency": STR,
        "initial_cash": MONEY,
        "cash": MONEY,
        "generation": {"type": "integer", "minimum": 1},
        "created_at": TIME,
        "updated_at": TIME,
        "reset_at": nullable(TIME),
        "archived_at": nullable(TIME),
    }
)
SUMMARY_FIELDS: dict[str, Any] = {
    **{k: MONEY for k in ("equity", "cash", "market_value", "initial_cash", "realized_pl", "unrealized_pl")},
    "drawdown": {**FRACTION, "description": "Largest fall from an equity peak, as a fraction of the peak"},
    "closed_trades": INT,
    "winning_trades": INT,
    "win_rate": {"type": "string", "pattern": r"^[0-9]+\.[0-9]{4}$"},
    "as_of": TIME,
}
ORDER = obj(
    {
        "id": STR,
        "client_order_id": STR,
        "account_id": STR,
        "symbol": STR,
        "asset_class": ASSET_CLASS,
        "qty": QTY,
        "filled_qty": QTY,
        "side": SIDE,
        "type": {"type": "string", "enum": ["market", "limit"]},
        "order_type": {"type": "string", "enum": ["market", "limit"]},
        "time_in_force": {"const": "day"},
        "limit_price": nullable(MONEY),
        "status": {"type": "string", "enum": list(STATUSES)},
        "position_intent": {"type": "string", "enum": list(INTENTS)},
        "order_class": {"const": "simple"},
        "extended_hours": {"const": False},
        "average_fill_price": nullable(MONEY),
        "filled_avg_price": nullable(MONEY),
        "rejected_reason": STR,
        "session_date": DATE,
        "submitted_at": TIME,
        "created_at": TIME,
        "updated_at": TIME,
        "filled_at": nullable(TIME),
        "canceled_at": nullable(TIME),
        "expired_at": nullable(TIME),
        "rejected_at": nullable(TIME),
    }
)
POSITION = obj(
    {
        "id": STR,
        "symbol": STR,
        "asset_class": ASSET_CLASS,
        "side": {"const": "long"},
        "qty": QTY,
        "avg_entry_price": MONEY,
        "market_price": MONEY,
        "market_value": MONEY,
        "cost_basis": MONEY,
        "unrealized_pl": MONEY,
        "unrealized_plpc": FRACTION,
        "realized_pl": MONEY,
        "updated_at": TIME,
    }
)
FILL = obj(
    {
        "id": STR,
        "order_id": {**nullable(STR), "description": "null for an expiration settlement"},
        "symbol": STR,
        "asset_class": ASSET_CLASS,
        "side": SIDE,
        "qty": QTY,
        "price": MONEY,
        "gross_amount": MONEY,
        "realized_pl": MONEY,
        "kind": {"type": "string", "enum": ["trade", "expiration"]},
        "note": STR,
        "market_timestamp": TIME,
        "created_at": TIME,
    }
)
SNAPSHOT = obj(
    {
        "timestamp": TIME,
        **{k: MONEY for k in ("equity", "cash", "market_value", "realized_pl", "unrealized_pl")},
    }
)

RESPONSES: dict[str, dict[str, Any]] = {
    "PaperAccount": ACCOUNT,
    "PaperOrder": ORDER,
    "PaperAccountPayload": envelope({"account": ref("PaperAccount"), "summary": obj(SUMMARY_FIELDS)}),
    "PaperAccounts": listing(ref("PaperAccount")),
    "PaperAccountSummary": envelope(SUMMARY_FIELDS),
    "PaperEquityHistory": listing(SNAPSHOT),
    "PaperOrders": listing(ref("PaperOrder")),
    "PaperOrderResult": envelope(ORDER["properties"]),
    "PaperPositions": envelope({"results": array(POSITION)}),
    "PaperFills": listing(FILL),
}
