"""The paper API's request bodies and response objects as OpenAPI schemas (documentation of the wire shapes;
bodies are validated by the paper rules so that every refusal is a 400 naming the field)."""

from __future__ import annotations

from typing import Any, Literal

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
    side: Literal["buy", "sell"] = Field(description="buy or sell (sell closes a long position; no shorting)")
    type: Literal["market", "limit"] = Field(description="market or limit")
    time_in_force: Literal["day"] = Field("day", description="day")
    limit_price: str | None = Field(None, description="required for limit orders")
    client_order_id: str | None = Field(None, description="idempotency key within the account's generation")
    position_intent: Literal["buy_to_open", "sell_to_close"] | None = Field(
        None, description="buy_to_open or sell_to_close"
    )


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


def body_doc(model: type[BaseModel], *, required: bool = True) -> dict[str, Any]:
    """``openapi_extra`` declaring a JSON request body of ``model``'s shape (optional when every field has a
    default: no body means all of them)."""
    return {
        "requestBody": {
            "required": required,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }


def _closed(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema()
    schema.pop("title", None)
    schema["additionalProperties"] = False
    return schema


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


_REQUEST_ID = {"type": "string", "pattern": "^cm_[0-9a-f]{32}$"}
_MODELS = (PaperAccount, PaperAccountSummary, PaperOrder, PaperPosition, PaperFill, PaperEquitySnapshot)


def _flat(model: type[BaseModel], *, ok_status: bool) -> dict[str, Any]:
    """The object's own fields next to ``request_id`` (and ``status: OK`` unless the object has a status)."""
    schema = _closed(model)
    schema["properties"]["request_id"] = _REQUEST_ID
    schema["required"] = [*schema.get("required", []), "request_id"]
    if ok_status:
        schema["properties"]["status"] = {"const": "OK"}
        schema["required"].append("status")
    return schema


def _list(name: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "status": {"const": "OK"},
            "request_id": _REQUEST_ID,
            "results": {"type": "array", "items": _ref(name)},
            "next_url": {"type": "string", "format": "uri", "description": "absolute URL of the next page"},
        },
        "required": ["status", "request_id", "results"],
        "additionalProperties": False,
    }


# Components the OpenAPI document adds (api/openapi/document.py): the objects and the bodies made of them.
COMPONENTS: dict[str, dict[str, Any]] = {
    **{m.__name__: _closed(m) for m in _MODELS},
    "PaperAccountPayload": {
        "type": "object",
        "properties": {
            "status": {"const": "OK"},
            "request_id": _REQUEST_ID,
            "account": _ref("PaperAccount"),
            "summary": _ref("PaperAccountSummary"),
        },
        "required": ["status", "request_id", "account", "summary"],
        "additionalProperties": False,
    },
    "PaperOrderResult": _flat(PaperOrder, ok_status=False),
    "PaperSummaryResult": _flat(PaperAccountSummary, ok_status=True),
    "PaperAccounts": _list("PaperAccount"),
    "PaperOrders": _list("PaperOrder"),
    "PaperPositions": _list("PaperPosition"),
    "PaperFills": _list("PaperFill"),
    "PaperEquity": _list("PaperEquitySnapshot"),
}


def body(name: str, description: str) -> dict[str, Any]:
    """A response whose body is the named component."""
    return {"description": description, "content": {"application/json": {"schema": _ref(name)}}}
