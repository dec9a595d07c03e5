"""Shared pieces of the paper-trading tests: a server with its own ledger and clock, the official clients'
requests (mirrored from the TypeScript client's client.ts and the Python client's resources/paper.py), and
checks of the wire types both clients parse."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

STR_FIELDS = {
    "account": ["id", "name", "status", "currency", "initial_cash", "cash", "created_at", "updated_at"],
    "summary": [
        "equity",
        "cash",
        "market_value",
        "initial_cash",
        "realized_pl",
        "unrealized_pl",
        "drawdown",
        "win_rate",
    ],
    "order": [
        "id",
        "client_order_id",
        "symbol",
        "asset_class",
        "qty",
        "filled_qty",
        "side",
        "type",
        "time_in_force",
        "status",
        "position_intent",
        "order_class",
        "rejected_reason",
        "submitted_at",
        "updated_at",
    ],
    "position": [
        "id",
        "symbol",
        "asset_class",
        "qty",
        "avg_entry_price",
        "market_price",
        "market_value",
        "cost_basis",
        "unrealized_pl",
        "unrealized_plpc",
        "realized_pl",
        "updated_at",
    ],
    "fill": [
        "id",
        "symbol",
        "asset_class",
        "side",
        "qty",
        "price",
        "gross_amount",
        "realized_pl",
        "market_timestamp",
        "created_at",
    ],
    "snapshot": ["timestamp", "equity", "cash", "market_value", "realized_pl", "unrealized_pl"],
}
NULLABLE_STR = {
    "account": ["reset_at"],
    "order": [
        "limit_price",
        "average_fill_price",
        "filled_avg_price",
        "filled_at",
        "canceled_at",
        "expired_at",
        "rejected_at",
    ],
    "fill": ["order_id"],
}
INT_FIELDS = {"account": ["generation"], "summary": ["closed_trades", "winning_trades"]}


def check_shape(kind: str, obj: dict[str, Any]) -> None:
    """The types the Python models (Optional[str]/int/bool, no coercion of numbers to str) and the TypeScript
    types declare: a number where a string is declared would fail the Python client."""
    for name in STR_FIELDS[kind]:
        assert isinstance(obj.get(name), str), f"{kind}.{name} = {obj.get(name)!r} is not a string"
    for name in NULLABLE_STR.get(kind, []):
        assert name in obj and (obj[name] is None or isinstance(obj[name], str)), f"{kind}.{name} = {obj.get(name)!r}"
    for name in INT_FIELDS.get(kind, []):
        assert type(obj.get(name)) is int, f"{kind}.{name} = {obj.get(name)!r} is not an integer"
    if kind == "order":
        assert obj["extended_hours"] is False


@dataclass
class TsClient:
    """The paper methods of the TypeScript client 0.2.0, request for request (client.ts): the same paths with
    their trailing slashes, bodies and query strings, parsing every body as JSON."""

    http: httpx.Client

    def _call(self, method: str, path: str, *, params: dict[str, Any] | None = None, body: Any = None) -> Any:
        headers = {"Accept": "application/json"}
        content = None
        if body is not None:
            import json

            headers["Content-Type"] = "application/json"
            content = json.dumps(body)
        r = self.http.request(method, path, params=params, headers=headers, content=content)
        payload = r.json() if r.text else {}
        if not r.is_success:
            raise ApiFailureError(r.status_code, payload)
        return payload

    def accounts_list(self, **params: Any) -> Any:
        return self._call("GET", "/v1/paper/accounts/", params={k: str(v) for k, v in params.items()})

    def accounts_create(self, name: str | None = None, initial_cash: Any = None) -> Any:
        body = {
            "name": name or "Paper Account",
            "initial_cash": str(initial_cash if initial_cash is not None else "100000"),
        }
        return self._call("POST", "/v1/paper/accounts/", body=body)

    def accounts_get(self, account_id: str) -> Any:
        return self._call("GET", f"/v1/paper/accounts/{account_id}/")

    def accounts_update(self, account_id: str, body: dict[str, Any]) -> Any:
        return self._call("PATCH", f"/v1/paper/accounts/{account_id}/", body=body)

    def accounts_delete(self, account_id: str) -> None:
        self._call("DELETE", f"/v1/paper/accounts/{account_id}/")

    def accounts_reset(self, account_id: str, confirm: bool = True, initial_cash: Any = None, reason: str = "") -> Any:
        body: dict[str, Any] = {"confirm": confirm}
        if initial_cash is not None:
            body["initial_cash"] = str(initial_cash)
        if reason:
            body["reason"] = reason
        return self._call("POST", f"/v1/paper/accounts/{account_id}/reset/", body=body)

    def summary(self, account_id: str) -> Any:
        return self._call("GET", f"/v1/paper/accounts/{account_id}/account/")

    def portfolio_history(self, account_id: str) -> Any:
        return self._call("GET", f"/v1/paper/accounts/{account_id}/portfolio/history/")

    def orders_list(self, account_id: str, **params: Any) -> Any:
        return self._call("GET", f"/v1/paper/accounts/{account_id}/orders/", params=params)

    def orders_submit(self, account_id: str, body: dict[str, Any]) -> Any:
        wire = {**body, "qty": str(body["qty"])}
        if body.get("limit_price") is not None:
            wire["limit_price"] = str(body["limit_price"])
        return self._call("POST", f"/v1/paper/accounts/{account_id}/orders/", body=wire)

    def orders_get(self, account_id: str, order_id: str) -> Any:
        return self._call("GET", f"/v1/paper/accounts/{account_id}/orders/{order_id}/")

    def orders_cancel(self, account_id: str, order_id: str) -> Any:
        return self._call("DELETE", f"/v1/paper/accounts/{account_id}/orders/{order_id}/")

    def orders_by_client_order_id(self, account_id: str, client_order_id: str) -> Any:
        return self._call(
            "GET",
            f"/v1/paper/accounts/{account_id}/orders:by_client_order_id",
            params={"client_order_id": client_order_id},
        )

    def positions(self, account_id: str) -> Any:
        return self._call("GET", f"/v1/paper/accounts/{account_id}/positions/")

    def fills(self, account_id: str) -> Any:
        return self._call("GET", f"/v1/paper/accounts/{account_id}/fills/")


class ApiFailureError(Exception):
    def __init__(self, status: int, payload: Any) -> None:
        super().__init__(f"{status}: {payload}")
        self.status = status
        self.payload = payload


def wait_for(check: Callable[[], Any], *, timeout_s: float = 20.0, every_s: float = 0.1) -> Any:
    """Poll ``check`` until it returns something truthy (the fill engine works in the background)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(every_s)


def link_lake(data_dir: Path, market_dir: Path) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "lake").symlink_to(market_dir / "lake", target_is_directory=True)
