"""The paper API's request bodies and response objects as OpenAPI schemas (documentation of the wire shapes;
bodies are validated by the paper rules so that every refusal is a 400 naming the field)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class AccountCreateBody(BaseModel):
    name: str = Field("Paper Account", description="display name")
    initial_cash: str = Field("100000", description="starting cash, a decimal string")


class AccountUpdateBody(BaseModel):
    name: str


class AccountResetBody(BaseModel):
    confirm: bool = Field(description="must be true")
    initial_cash: str | None = Field(None, description="new starting cash (default: the current one)")
    reason: str | None = None


class OrderBody(BaseModel):
    model_config = ConfigDict(extra="allow")

    symbol: str = Field(description="stock ticker (AAPL) or OCC option symbol (O:SPY251219C00600000)")
    qty: str = Field(description="decimal string; whole contracts for options, up to 6 decimals for stocks")
    side: str = Field(description="buy or sell (sell closes a long position; no shorting)")
    type: str = Field(description="market or limit")
    time_in_force: str = Field("day", description="day")
    limit_price: str | None = Field(None, description="required for limit orders")
    client_order_id: str | None = Field(None, description="idempotency key within the account's generation")
    position_intent: str | None = Field(None, description="buy_to_open or sell_to_close")


class PaperAccount(BaseModel):
    id: str
    name: str
    status: str = Field(description="active or archived")
    currency: str
    initial_cash: str
    cash: str
    generation: int
    created_at: str
    updated_at: str
    reset_at: str | None
    archived_at: str | None


class PaperAccountSummary(BaseModel):
    equity: str
    cash: str
    market_value: str
    initial_cash: str
    realized_pl: str
    unrealized_pl: str
    drawdown: str = Field(description="largest fall from an equity peak, as a fraction of the peak")
    closed_trades: int
    winning_trades: int
    win_rate: str
    as_of: str


class PaperOrder(BaseModel):
    id: str
    client_order_id: str
    account_id: str
    symbol: str
    asset_class: str = Field(description="us_equity or us_option")
    qty: str
    filled_qty: str
    side: str
    type: str
    time_in_force: str
    limit_price: str | None
    status: str = Field(description="new, accepted, partially_filled, filled, canceled, expired or rejected")
    position_intent: str
    order_class: str
    extended_hours: bool
    average_fill_price: str | None
    filled_avg_price: str | None
    rejected_reason: str
    session_date: str
    submitted_at: str
    updated_at: str
    filled_at: str | None
    canceled_at: str | None
    expired_at: str | None
    rejected_at: str | None


class PaperPosition(BaseModel):
    id: str
    symbol: str
    asset_class: str
    side: str
    qty: str
    avg_entry_price: str
    market_price: str
    market_value: str
    cost_basis: str
    unrealized_pl: str
    unrealized_plpc: str
    realized_pl: str
    updated_at: str


class PaperFill(BaseModel):
    id: str
    order_id: str | None = Field(description="null for an expiration settlement")
    symbol: str
    asset_class: str
    side: str
    qty: str
    price: str
    gross_amount: str
    realized_pl: str
    kind: str = Field(description="trade, or expiration (an option settled at its expiration)")
    note: str
    market_timestamp: str
    created_at: str


class PaperEquitySnapshot(BaseModel):
    timestamp: str
    equity: str
    cash: str
    market_value: str
    realized_pl: str
    unrealized_pl: str


def body_doc(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` declaring a JSON request body of ``model``'s shape."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }


def flat(model: type[BaseModel], description: str) -> dict[str, Any]:
    """A flat JSON object response (``status`` and ``request_id`` next to the object's fields)."""
    schema = model.model_json_schema()
    schema.setdefault("properties", {}).update({"status": {"type": "string"}, "request_id": {"type": "string"}})
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def listing(model: type[BaseModel], description: str) -> dict[str, Any]:
    """The standard list envelope of ``model`` rows."""
    return {
        "description": description,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "status": {"type": "string"},
                        "request_id": {"type": "string"},
                        "results": {"type": "array", "items": model.model_json_schema()},
                        "next_url": {"type": "string", "description": "absolute URL of the next page"},
                    },
                }
            }
        },
    }


def payload(description: str) -> dict[str, Any]:
    """``{status, request_id, account, summary}`` (schemas inlined, so the document needs no shared definitions)."""
    schema = {
        "type": "object",
        "properties": {
            "status": {"type": "string"},
            "request_id": {"type": "string"},
            "account": PaperAccount.model_json_schema(),
            "summary": PaperAccountSummary.model_json_schema(),
        },
    }
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "bad_request: the message names the field"},
    401: {"description": "unauthorized"},
    403: {"description": "forbidden: the key lacks the paper product"},
    404: {"description": "not_found: no such account or order for this key"},
}
