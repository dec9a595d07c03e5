"""The JSON objects of the paper API (and its WebSocket updates), as the official clients parse them:
money, prices and quantities as strings, times as RFC 3339 strings, counts as integers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ..market.timestamps import datetime_from_ns
from .rules import money, quantity


def rfc3339(ns: int | None) -> str | None:
    if ns is None:
        return None
    return datetime_from_ns(ns).isoformat(timespec="microseconds").replace("+00:00", "Z")


def price_text(value: str | Decimal | None) -> str | None:
    return None if value is None else money(Decimal(value))


def account(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "status": row["status"],
        "currency": row["currency"],
        "initial_cash": money(Decimal(row["initial_cash"])),
        "cash": money(Decimal(row["cash"])),
        "generation": row["generation"],
        "created_at": rfc3339(row["created_ns"]),
        "updated_at": rfc3339(row["updated_ns"]),
        "reset_at": rfc3339(row["reset_ns"]),
        "archived_at": rfc3339(row["archived_ns"]),
    }


def summary(figures: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        k: money(figures[k]) for k in ("equity", "cash", "market_value", "initial_cash", "realized_pl", "unrealized_pl")
    }
    out["drawdown"] = str(figures["drawdown"].quantize(Decimal("0.000001")))
    out["closed_trades"] = figures["closed_trades"]
    out["winning_trades"] = figures["winning_trades"]
    out["win_rate"] = str(figures["win_rate"].quantize(Decimal("0.0001")))
    out["as_of"] = rfc3339(figures["as_of_ns"])
    return out


def order(row: dict[str, Any]) -> dict[str, Any]:
    avg = price_text(row["fill_price"])
    return {
        "id": row["id"],
        "client_order_id": row["client_order_id"],
        "account_id": row["account_id"],
        "symbol": row["symbol"],
        "asset_class": row["asset_class"],
        "qty": quantity(Decimal(row["qty"])),
        "filled_qty": quantity(Decimal(row["filled_qty"])),
        "side": row["side"],
        "type": row["type"],
        "order_type": row["type"],
        "time_in_force": row["time_in_force"],
        "limit_price": price_text(row["limit_price"]),
        "status": row["status"],
        "position_intent": row["position_intent"],
        "order_class": "simple",
        "extended_hours": False,
        "average_fill_price": avg,
        "filled_avg_price": avg,
        "rejected_reason": row["rejected_reason"],
        "session_date": row["session_day"],
        "submitted_at": rfc3339(row["submitted_ns"]),
        "created_at": rfc3339(row["submitted_ns"]),
        "updated_at": rfc3339(row["updated_ns"]),
        "filled_at": rfc3339(row["filled_ns"]),
        "canceled_at": rfc3339(row["canceled_ns"]),
        "expired_at": rfc3339(row["expired_ns"]),
        "rejected_at": rfc3339(row["rejected_ns"]),
    }


def position(row: dict[str, Any], mark: Decimal | None) -> dict[str, Any]:
    qty = Decimal(row["qty"])
    avg = Decimal(row["avg_entry_price"])
    mult = row["multiplier"]
    price = mark if mark is not None else avg
    cost = qty * avg * mult
    value = qty * price * mult
    unrealized = value - cost
    return {
        "id": row["id"],
        "symbol": row["symbol"],
        "asset_class": row["asset_class"],
        "side": "long",
        "qty": quantity(qty),
        "avg_entry_price": money(avg),
        "market_price": money(price),
        "market_value": money(value),
        "cost_basis": money(cost),
        "unrealized_pl": money(unrealized),
        "unrealized_plpc": str((unrealized / cost if cost else Decimal(0)).quantize(Decimal("0.000001"))),
        "realized_pl": money(Decimal(row["realized_pl"])),
        "updated_at": rfc3339(row["updated_ns"]),
    }


def fill(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "order_id": row["order_id"],
        "symbol": row["symbol"],
        "asset_class": row["asset_class"],
        "side": row["side"],
        "qty": quantity(Decimal(row["qty"])),
        "price": money(Decimal(row["price"])),
        "gross_amount": money(Decimal(row["gross_amount"])),
        "realized_pl": money(Decimal(row["realized_pl"])),
        "kind": row["kind"],
        "note": row["note"],
        "market_timestamp": rfc3339(row["market_ns"]),
        "created_at": rfc3339(row["created_ns"]),
    }


def snapshot(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "timestamp": rfc3339(row["ts_ns"]),
        "equity": row["equity"],
        "cash": row["cash"],
        "market_value": row["market_value"],
        "realized_pl": row["realized_pl"],
        "unrealized_pl": row["unrealized_pl"],
    }
