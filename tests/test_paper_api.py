"""Paper trading through HTTP, with the requests and wire types of the official clients: the whole lifecycle,
fills against the lake's NBBO (checked against the quote routes), sessions and day orders, idempotent retries,
bad bodies, key isolation, parallel submissions, option expiration and the WebSocket order updates."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import websockets

from cutemarkets_server.clock import FixedClock
from cutemarkets_server.market.calendar import xnys
from cutemarkets_server.market.timestamps import et_ns
from cutemarkets_server.ws.config import StreamConfig
from paperkit import ApiFailureError, TsClient, check_shape, wait_for
from wsserver import StreamServer, linked_data_dir, start_stream_server

DAY = dt.date(2025, 12, 2)
MIDDAY = et_ns(DAY, 11, 0)


@pytest.fixture(scope="module")
def desk(market_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StreamServer]:
    data_dir = linked_data_dir(tmp_path_factory.mktemp("paper") / "data", market_dir)
    srv = start_stream_server(data_dir, StreamConfig(mode="off"), clock=FixedClock(MIDDAY))
    products = ("options", "stocks", "paper")
    srv.keys = {
        "expert": srv.new_key("alice", "expert", products),
        "other": srv.new_key("bob", "expert", products),
        "developer": srv.new_key("carol", "developer", products),
        "stocks_only": srv.new_key("dave", "expert", ("stocks",)),
        "limits": srv.new_key("erin", "expert", products),
    }
    yield srv
    srv.stop()


@pytest.fixture(autouse=True)
def midday(desk: StreamServer) -> Iterator[None]:
    desk.clock.set(MIDDAY)
    yield
    desk.clock.set(MIDDAY)


def client(desk: StreamServer, key: str = "expert") -> TsClient:
    return TsClient(httpx.Client(base_url=desk.http, headers={"Authorization": f"Bearer {desk.keys[key]}"}, timeout=60))


def raw(desk: StreamServer, key: str = "expert") -> httpx.Client:
    return httpx.Client(base_url=desk.http, headers={"Authorization": f"Bearer {desk.keys[key]}"}, timeout=60)


def new_account(ts: TsClient, cash: str = "100000") -> str:
    return ts.accounts_create(f"acct-{uuid.uuid4().hex[:6]}", cash)["account"]["id"]


def nbbo(desk: StreamServer, symbol: str) -> tuple[Decimal, Decimal]:
    """(bid, ask) now, from the public last-quote routes."""
    with raw(desk) as http:
        if symbol.startswith("O:"):
            r = http.get(f"/v1/options/quotes/{symbol}/last/").json()["results"]
            return Decimal(str(r["bid_price"])), Decimal(str(r["ask_price"]))
        r = http.get(f"/v1/stocks/quotes/{symbol}/last/").json()["results"]
        return Decimal(str(r["p"])), Decimal(str(r["P"]))


def bad(call: Any, field: str) -> dict[str, Any]:
    with pytest.raises(ApiFailureError) as info:
        call()
    assert info.value.status == 400, info.value.payload
    err = info.value.payload
    assert err["status"] == "ERROR" and err["request_id"].startswith("cm_")
    assert err["error"]["code"] == "bad_request"
    assert field in err["error"]["message"], err["error"]["message"]
    return err


# -- the lifecycle -------------------------------------------------------------------------------------
def test_full_lifecycle_with_the_typescript_client_requests(desk: StreamServer) -> None:
    ts = client(desk)
    created = ts.accounts_create("lifecycle", 100000)
    check_shape("account", created["account"])
    check_shape("summary", created["summary"])
    account = created["account"]
    assert account["generation"] == 1 and account["reset_at"] is None
    assert account["cash"] == "100000.0000" and created["summary"]["equity"] == "100000.0000"
    aid = account["id"]
    assert any(a["id"] == aid for a in ts.accounts_list(limit=100)["results"])

    bid, ask = nbbo(desk, "AAPL")
    order = ts.orders_submit(
        aid,
        {
            "symbol": "AAPL",
            "qty": 2.5,
            "side": "buy",
            "type": "market",
            "time_in_force": "day",
            "client_order_id": "life-1",
        },
    )
    check_shape("order", order)
    assert order["status"] == "filled" and order["asset_class"] == "us_equity"
    assert Decimal(order["filled_avg_price"]) == ask, "a market buy fills at the ask"
    assert order["qty"] == order["filled_qty"] == "2.500000"

    positions = ts.positions(aid)["results"]
    assert len(positions) == 1
    check_shape("position", positions[0])
    assert positions[0]["qty"] == "2.500000" and Decimal(positions[0]["avg_entry_price"]) == ask
    assert Decimal(positions[0]["market_price"]) == (bid + ask) / 2

    fills = ts.fills(aid)["results"]
    assert len(fills) == 1
    check_shape("fill", fills[0])
    assert fills[0]["order_id"] == order["id"] and Decimal(fills[0]["gross_amount"]) == (ask * Decimal("2.5"))

    summary = ts.summary(aid)
    check_shape("summary", summary)
    assert Decimal(summary["cash"]) == Decimal("100000") - ask * Decimal("2.5")

    # Later the same day: close the position at the bid of that instant.
    desk.clock.set(et_ns(DAY, 14, 30))
    bid2, _ = nbbo(desk, "AAPL")
    sell = ts.orders_submit(aid, {"symbol": "AAPL", "qty": "2.5", "side": "sell", "type": "market"})
    assert sell["status"] == "filled" and Decimal(sell["filled_avg_price"]) == bid2
    assert sell["position_intent"] == "sell_to_close"
    assert ts.positions(aid)["results"] == []
    summary = ts.summary(aid)
    realized = ((bid2 - ask) * Decimal("2.5")).quantize(Decimal("0.0001"))
    assert Decimal(summary["realized_pl"]) == realized
    assert summary["closed_trades"] == 1 and summary["winning_trades"] == (1 if realized > 0 else 0)
    assert Decimal(summary["equity"]) == Decimal(summary["cash"]) == Decimal("100000") + realized
    assert Decimal(ts.fills(aid)["results"][0]["realized_pl"]) == realized

    history = ts.portfolio_history(aid)["results"]
    assert len(history) >= 3
    for snap in history:
        check_shape("snapshot", snap)
    assert [s["timestamp"] for s in history] == sorted(s["timestamp"] for s in history)

    orders = ts.orders_list(aid)["results"]
    assert [o["id"] for o in orders] == [sell["id"], order["id"]], "newest first"

    renamed = ts.accounts_update(aid, {"name": "renamed"})
    assert renamed["account"]["name"] == "renamed"

    reset = ts.accounts_reset(aid, initial_cash=50000, reason="new experiment")
    assert reset["account"]["generation"] == 2 and reset["account"]["reset_at"] is not None
    assert reset["summary"]["cash"] == "50000.0000" and reset["summary"]["realized_pl"] == "0.0000"
    assert ts.orders_list(aid)["results"] == [] and ts.fills(aid)["results"] == []
    # A client_order_id may be used again in the new generation.
    again = ts.orders_submit(
        aid, {"symbol": "AAPL", "qty": "1", "side": "buy", "type": "market", "client_order_id": "life-1"}
    )
    assert again["id"] != order["id"]

    ts.accounts_delete(aid)
    assert all(a["id"] != aid for a in ts.accounts_list()["results"])
    archived = [a for a in ts.accounts_list(include_archived="true")["results"] if a["id"] == aid]
    assert archived and archived[0]["status"] == "archived"
    assert ts.accounts_get(aid)["account"]["status"] == "archived"
    bad(lambda: ts.orders_submit(aid, {"symbol": "AAPL", "qty": "1", "side": "buy", "type": "market"}), "account")


def test_delete_account_is_204_and_cancel_has_a_json_body(desk: StreamServer) -> None:
    ts = client(desk)
    aid = new_account(ts)
    with raw(desk) as http:
        order = http.post(
            f"/v1/paper/accounts/{aid}/orders/",
            json={"symbol": "SPY", "qty": "1", "side": "buy", "type": "limit", "limit_price": "1.00"},
        ).json()
        assert order["status"] == "new", "a limit far below the market rests"
        r = http.delete(f"/v1/paper/accounts/{aid}/orders/{order['id']}/")
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
        assert r.json()["status"] == "canceled" and r.json()["canceled_at"]
        again = http.delete(f"/v1/paper/accounts/{aid}/orders/{order['id']}/")
        assert again.status_code == 400 and "canceled" in again.json()["error"]["message"]
        r = http.delete(f"/v1/paper/accounts/{aid}")
        assert r.status_code == 204 and r.content == b""


def test_limit_orders_fill_when_marketable_at_the_quote(desk: StreamServer) -> None:
    ts = client(desk)
    aid = new_account(ts)
    bid, ask = nbbo(desk, "SPY")
    through = ts.orders_submit(
        aid, {"symbol": "SPY", "qty": "1", "side": "buy", "type": "limit", "limit_price": str(ask + 5)}
    )
    assert through["status"] == "filled" and Decimal(through["filled_avg_price"]) == ask
    resting = ts.orders_submit(
        aid, {"symbol": "SPY", "qty": "1", "side": "sell", "type": "limit", "limit_price": str(bid + 50)}
    )
    assert resting["status"] == "new" and resting["filled_at"] is None
    assert ts.orders_list(aid, status="open")["results"][0]["id"] == resting["id"]
    assert [o["id"] for o in ts.orders_list(aid, status="closed")["results"]] == [through["id"]]


def test_option_orders_fill_at_the_option_nbbo(desk: StreamServer) -> None:
    ts = client(desk)
    aid = new_account(ts)
    symbol = "O:AAPL251205C00250000"
    _, ask = nbbo(desk, symbol)
    order = ts.orders_submit(aid, {"symbol": "AAPL251205C00250000", "qty": "3", "side": "buy", "type": "market"})
    assert order["symbol"] == symbol and order["asset_class"] == "us_option" and order["status"] == "filled"
    fill = ts.fills(aid)["results"][0]
    assert Decimal(fill["gross_amount"]) == ask * 3 * 100, "premium = price x 100 per contract"
    assert ts.positions(aid)["results"][0]["cost_basis"] == str((ask * 300).quantize(Decimal("0.0001")))


# -- sessions -------------------------------------------------------------------------------------------
def test_orders_sent_while_closed_wait_for_the_open_and_can_be_canceled(desk: StreamServer) -> None:
    ts = client(desk)
    aid = new_account(ts)
    desk.clock.set(et_ns(DAY, 8, 0))  # pre-market
    waiting = ts.orders_submit(aid, {"symbol": "QQQ", "qty": "1", "side": "buy", "type": "market"})
    dropped = ts.orders_submit(aid, {"symbol": "QQQ", "qty": "2", "side": "buy", "type": "market"})
    assert waiting["status"] == dropped["status"] == "accepted"
    assert waiting["session_date"] == DAY.isoformat()
    assert ts.orders_cancel(aid, dropped["id"])["status"] == "canceled"
    desk.clock.set(et_ns(DAY, 9, 45))
    filled = wait_for(lambda: (o := ts.orders_get(aid, waiting["id"]))["status"] == "filled" and o)
    _, ask = nbbo(desk, "QQQ")
    assert Decimal(filled["filled_avg_price"]) == ask
    assert ts.orders_get(aid, dropped["id"])["status"] == "canceled"


def test_after_the_close_orders_wait_for_the_next_session(desk: StreamServer) -> None:
    ts = client(desk)
    aid = new_account(ts)
    desk.clock.set(et_ns(dt.date(2025, 11, 27), 12, 0))  # Thanksgiving: no session
    order = ts.orders_submit(aid, {"symbol": "NVDA", "qty": "1", "side": "buy", "type": "market"})
    assert order["status"] == "accepted" and order["session_date"] == "2025-11-28"


def test_day_orders_expire_at_the_close(desk: StreamServer) -> None:
    ts = client(desk)
    aid = new_account(ts)
    desk.clock.set(et_ns(DAY, 15, 0))
    order = ts.orders_submit(aid, {"symbol": "SPY", "qty": "1", "side": "buy", "type": "limit", "limit_price": "1"})
    assert order["status"] == "new"
    desk.clock.set(xnys().hours(DAY).close_ns)
    expired = wait_for(lambda: (o := ts.orders_get(aid, order["id"]))["status"] == "expired" and o)
    assert expired["expired_at"] is not None and expired["filled_qty"] == "0.000000"


def test_a_delayed_plan_fills_on_the_market_of_fifteen_minutes_ago(desk: StreamServer) -> None:
    ts = client(desk, "developer")
    aid = new_account(ts)
    order = ts.orders_submit(aid, {"symbol": "NVDA", "qty": "1", "side": "buy", "type": "market"})
    desk.clock.set(MIDDAY - 15 * 60 * 10**9)
    _, ask_then = nbbo(desk, "NVDA")
    desk.clock.set(MIDDAY)
    _, ask_now = nbbo(desk, "NVDA")
    assert ask_then != ask_now, "the two instants must quote differently for this test to tell them apart"
    assert Decimal(order["filled_avg_price"]) == ask_then
    fill = ts.fills(aid)["results"][0]
    assert fill["market_timestamp"] <= "2025-12-02T15:45:00", "no quote newer than the plan's delay"


# -- idempotency and bad input ---------------------------------------------------------------------------
def test_a_retried_post_returns_the_same_order(desk: StreamServer) -> None:
    ts = client(desk)
    aid = new_account(ts)
    body = {"symbol": "AAPL", "qty": "1", "side": "buy", "type": "market", "client_order_id": "retry-me"}
    first = ts.orders_submit(aid, body)
    with raw(desk) as http:
        r = http.post(f"/v1/paper/accounts/{aid}/orders/", json={**body, "qty": "1.0"})
        assert r.status_code == 200 and r.json()["id"] == first["id"], "same payload: the existing order"
    assert len(ts.orders_list(aid)["results"]) == 1 and len(ts.fills(aid)["results"]) == 1
    bad(lambda: ts.orders_submit(aid, {**body, "qty": "2"}), "client_order_id")
    found = ts.orders_by_client_order_id(aid, "retry-me")
    assert found["id"] == first["id"]
    with raw(desk) as http:
        assert (
            http.get(
                f"/v1/paper/accounts/{aid}/orders:by_client_order_id/", params={"client_order_id": "retry-me"}
            ).json()["id"]
            == first["id"]
        )
        assert (
            http.get(
                f"/v1/paper/accounts/{aid}/orders:by_client_order_id", params={"client_order_id": "nope"}
            ).status_code
            == 404
        )


@pytest.fixture(scope="module")
def refusing(desk: StreamServer) -> str:
    """One account that every bad body is sent to (it must stay without orders)."""
    return new_account(client(desk, "other"))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"symbol": "AAPL", "qty": 1, "side": "buy", "type": "market"}, "qty"),
        ({"symbol": "AAPL", "qty": "-1", "side": "buy", "type": "market"}, "qty"),
        ({"symbol": "AAPL", "qty": "0", "side": "buy", "type": "market"}, "qty"),
        ({"symbol": "AAPL", "qty": "abc", "side": "buy", "type": "market"}, "qty"),
        ({"symbol": "AAPL", "qty": "NaN", "side": "buy", "type": "market"}, "qty"),
        ({"symbol": "AAPL", "qty": "0.0000001", "side": "buy", "type": "market"}, "qty"),
        ({"symbol": "AAPL", "side": "buy", "type": "market"}, "qty"),
        ({"symbol": "ZZZZ", "qty": "1", "side": "buy", "type": "market"}, "symbol"),
        ({"symbol": "O:AAPL251205C09990000", "qty": "1", "side": "buy", "type": "market"}, "symbol"),
        ({"symbol": "O:AAPL251205C00250000", "qty": "1.5", "side": "buy", "type": "market"}, "qty"),
        ({"symbol": 42, "qty": "1", "side": "buy", "type": "market"}, "symbol"),
        ({"symbol": "AAPL", "qty": "1", "side": "hold", "type": "market"}, "side"),
        ({"symbol": "AAPL", "qty": "1", "side": "buy", "type": "stop"}, "type"),
        ({"symbol": "AAPL", "qty": "1", "side": "buy", "type": "limit"}, "limit_price"),
        ({"symbol": "AAPL", "qty": "1", "side": "buy", "type": "limit", "limit_price": 10}, "limit_price"),
        ({"symbol": "AAPL", "qty": "1", "side": "buy", "type": "market", "time_in_force": "gtc"}, "time_in_force"),
        ({"symbol": "AAPL", "qty": "1", "side": "sell", "type": "market"}, "qty"),
        (
            {"symbol": "AAPL", "qty": "1", "side": "sell", "type": "market", "position_intent": "sell_to_open"},
            "position_intent",
        ),
        ({"symbol": "AAPL", "qty": "1", "side": "buy", "type": "market", "client_order_id": 7}, "client_order_id"),
        (["not", "an", "object"], "body"),
    ],
)
def test_bad_order_bodies_are_400_naming_the_field(desk: StreamServer, refusing: str, body: Any, field: str) -> None:
    ts = client(desk, "other")
    aid = refusing
    bad(lambda: ts._call("POST", f"/v1/paper/accounts/{aid}/orders/", body=body), field)
    assert ts.orders_list(aid)["results"] == []


def test_malformed_json_and_bad_account_bodies_are_400(desk: StreamServer) -> None:
    ts = client(desk)
    aid = new_account(ts)
    with raw(desk) as http:
        for path, method in (
            (f"/v1/paper/accounts/{aid}/orders/", "POST"),
            ("/v1/paper/accounts/", "POST"),
            (f"/v1/paper/accounts/{aid}/", "PATCH"),
            (f"/v1/paper/accounts/{aid}/reset/", "POST"),
        ):
            r = http.request(method, path, content=b'{"symbol": "AAPL", ', headers={"Content-Type": "application/json"})
            assert r.status_code == 400 and "body" in r.json()["error"]["message"]
    bad(lambda: ts._call("POST", "/v1/paper/accounts/", body={"name": "x", "initial_cash": 1000}), "initial_cash")
    bad(lambda: ts._call("POST", "/v1/paper/accounts/", body={"name": "x", "initial_cash": "-5"}), "initial_cash")
    bad(lambda: ts._call("POST", "/v1/paper/accounts/", body={"name": 5, "initial_cash": "5"}), "name")
    bad(lambda: ts.accounts_update(aid, {"name": ""}), "name")
    bad(lambda: ts.accounts_reset(aid, confirm=False), "confirm")
    bad(lambda: ts.orders_list(aid, status="sideways"), "status")
    bad(lambda: ts.accounts_list(limit="x"), "limit")


def test_at_most_twenty_active_accounts_per_user(desk: StreamServer) -> None:
    ts = client(desk, "limits")
    ids = [new_account(ts) for _ in range(20)]
    bad(lambda: ts.accounts_create("twenty-first"), "20")
    ts.accounts_delete(ids[0])
    ts.accounts_create("room again")
    page = ts.accounts_list(limit=7)
    assert len(page["results"]) == 7 and page["next_url"].startswith("http://")
    seen = [a["id"] for a in page["results"]]
    with raw(desk, "limits") as http:
        while "next_url" in page:
            page = http.get(page["next_url"]).json()
            seen += [a["id"] for a in page["results"]]
    assert len(seen) == len(set(seen)) == 20


def test_another_key_gets_404_and_a_key_without_paper_403(desk: StreamServer) -> None:
    mine = client(desk)
    aid = new_account(mine)
    order = mine.orders_submit(aid, {"symbol": "SPY", "qty": "1", "side": "buy", "type": "limit", "limit_price": "1"})
    theirs = client(desk, "other")
    for call in (
        lambda: theirs.accounts_get(aid),
        lambda: theirs.summary(aid),
        lambda: theirs.positions(aid),
        lambda: theirs.orders_get(aid, order["id"]),
        lambda: theirs.orders_cancel(aid, order["id"]),
        lambda: theirs.accounts_delete(aid),
        lambda: theirs.accounts_reset(aid),
        lambda: theirs.orders_submit(aid, {"symbol": "SPY", "qty": "1", "side": "buy", "type": "market"}),
    ):
        with pytest.raises(ApiFailureError) as info:
            call()
        assert info.value.status == 404 and info.value.payload["error"]["code"] == "not_found"
    assert all(a["id"] != aid for a in theirs.accounts_list()["results"])
    assert mine.orders_get(aid, order["id"])["status"] == "new"
    with pytest.raises(ApiFailureError) as info:
        client(desk, "stocks_only").accounts_list()
    assert info.value.status == 403


# -- concurrency -----------------------------------------------------------------------------------------
def test_parallel_buys_never_spend_more_than_the_cash(desk: StreamServer) -> None:
    ts = client(desk)
    _, ask = nbbo(desk, "SPY")
    cash = (ask * 4 + ask / 2).quantize(Decimal("0.01"))  # room for exactly four shares
    aid = new_account(ts, str(cash))

    def buy(i: int) -> dict[str, Any]:
        with raw(desk) as http:
            r = http.post(
                f"/v1/paper/accounts/{aid}/orders/",
                json={"symbol": "SPY", "qty": "1", "side": "buy", "type": "market", "client_order_id": f"b{i}"},
            )
            assert r.status_code == 201, r.text
            return r.json()

    with ThreadPoolExecutor(12) as pool:
        orders = list(pool.map(buy, range(12)))
    statuses = sorted(o["status"] for o in orders)
    assert statuses.count("filled") == 4 and statuses.count("rejected") == 8
    assert all("buying power" in o["rejected_reason"] for o in orders if o["status"] == "rejected")
    summary = ts.summary(aid)
    assert Decimal(summary["cash"]) == cash - 4 * ask >= 0
    assert ts.positions(aid)["results"][0]["qty"] == "4.000000"


def test_parallel_sells_never_sell_more_than_the_position(desk: StreamServer) -> None:
    ts = client(desk)
    aid = new_account(ts)
    ts.orders_submit(aid, {"symbol": "QQQ", "qty": "5", "side": "buy", "type": "market"})

    def sell(i: int) -> int:
        with raw(desk) as http:
            return http.post(
                f"/v1/paper/accounts/{aid}/orders/",
                json={"symbol": "QQQ", "qty": "2", "side": "sell", "type": "market"},
            ).status_code

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(sell, range(8)))
    assert codes.count(201) == 2 and codes.count(400) == 6
    assert ts.positions(aid)["results"][0]["qty"] == "1.000000"
    assert len([f for f in ts.fills(aid)["results"] if f["side"] == "sell"]) == 2


# -- expiration -----------------------------------------------------------------------------------------
def test_expiring_options_settle_at_intrinsic_value_or_expire_worthless(desk: StreamServer) -> None:
    ts = client(desk)
    aid = new_account(ts)
    expiry = dt.date(2025, 11, 28)
    close_ns = xnys().hours(expiry).close_ns
    desk.clock.set(close_ns - 1)
    with raw(desk) as http:
        close = Decimal(str(http.get("/v1/stocks/trades/AAPL/last/").json()["results"]["p"]))
    desk.clock.set(et_ns(dt.date(2025, 11, 26), 11, 0))
    with raw(desk) as http:
        listed = http.get(
            "/v1/options/contracts/",
            params={
                "underlying_ticker": "AAPL",
                "expiration_date": "2025-11-28",
                "contract_type": "call",
                "limit": 100,
            },
        ).json()["results"]
    strikes = sorted(Decimal(str(c["strike_price"])) for c in listed)
    itm = max(k for k in strikes if k < close)
    otm = min(k for k in strikes if k > close)
    symbols = {k: f"O:AAPL251128C{int(k * 1000):08d}" for k in (itm, otm)}
    for symbol in symbols.values():
        assert (
            ts.orders_submit(aid, {"symbol": symbol, "qty": "2", "side": "buy", "type": "market"})["status"] == "filled"
        )
    cash_before = Decimal(ts.summary(aid)["cash"])

    desk.clock.set(close_ns + 60 * 10**9)
    wait_for(lambda: ts.positions(aid)["results"] == [])
    settlements = {f["symbol"]: f for f in ts.fills(aid)["results"] if f["kind"] == "expiration"}
    assert set(settlements) == set(symbols.values())
    itm_fill, otm_fill = settlements[symbols[itm]], settlements[symbols[otm]]
    assert itm_fill["order_id"] is None and itm_fill["side"] == "sell"
    assert Decimal(itm_fill["price"]) == (close - itm).quantize(Decimal("0.0001"))
    assert Decimal(itm_fill["gross_amount"]) == (close - itm) * 200
    assert "in the money" in itm_fill["note"] and "worthless" in otm_fill["note"]
    assert otm_fill["price"] == "0.0000" and otm_fill["gross_amount"] == "0.0000"
    assert Decimal(ts.summary(aid)["cash"]) == cash_before + (close - itm) * 200
    assert ts.summary(aid)["closed_trades"] == 2


# -- WebSocket updates ------------------------------------------------------------------------------------
def test_order_updates_reach_the_websocket_of_the_same_key_only(desk: StreamServer) -> None:
    ts = client(desk)
    aid = new_account(ts)

    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        url = desk.ws("/v1/ws/paper/")
        headers = {"Authorization": f"Bearer {desk.keys['expert']}"}
        async with websockets.connect(url, additional_headers=headers) as mine, websockets.connect(url) as other:
            assert orjson.loads(await mine.recv())[0]["status"] == "connected"
            assert orjson.loads(await mine.recv())[0]["status"] == "auth_success"
            assert orjson.loads(await other.recv())[0]["status"] == "connected"
            await other.send(orjson.dumps({"action": "auth", "params": desk.keys["other"]}).decode())
            assert orjson.loads(await other.recv())[0]["status"] == "auth_success"
            await asyncio.to_thread(
                ts.orders_submit,
                aid,
                {"symbol": "AAPL", "qty": "1", "side": "buy", "type": "market", "client_order_id": "ws-1"},
            )
            got: list[dict[str, Any]] = []
            while not any(e.get("event") == "fill" for e in got):
                got += orjson.loads(await asyncio.wait_for(mine.recv(), 10))
            leaked: list[dict[str, Any]] = []
            with contextlib.suppress(TimeoutError):
                leaked += orjson.loads(await asyncio.wait_for(other.recv(), 0.5))
            return got, leaked

    got, leaked = asyncio.run(scenario())
    assert leaked == []
    assert [e["event"] for e in got] == ["new", "fill"]
    fill = got[-1]
    assert fill["ev"] == "paper.order" and fill["account_id"] == aid
    check_shape("order", fill["order"])
    check_shape("fill", fill["fill"])
    assert fill["order"]["client_order_id"] == "ws-1" and fill["order"]["status"] == "filled"


def test_websocket_refuses_a_bad_key(desk: StreamServer) -> None:
    async def scenario() -> list[dict[str, Any]]:
        async with websockets.connect(desk.ws("/v1/ws/paper/?api_key=cm_nope")) as ws:
            events = orjson.loads(await ws.recv()) + orjson.loads(await ws.recv())
            with pytest.raises(websockets.ConnectionClosed) as info:
                await asyncio.wait_for(ws.recv(), 5)
            assert info.value.rcvd is not None and info.value.rcvd.code == 4401
            return events

    events = asyncio.run(scenario())
    assert [e["status"] for e in events] == ["connected", "auth_failed"]


def test_openapi_documents_the_paper_routes(desk: StreamServer) -> None:
    doc = httpx.get(desk.http + "/openapi.json").json()
    paths = doc["paths"]
    assert "/v1/paper/accounts/{account_id}/orders:by_client_order_id" in paths
    submit = paths["/v1/paper/accounts/{account_id}/orders/"]["post"]
    body = submit["requestBody"]["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
    assert "qty" in doc["components"]["schemas"][body]["properties"]
    assert {"200", "201", "400", "404"} <= set(submit["responses"])
    assert "204" in paths["/v1/paper/accounts/{account_id}/"]["delete"]["responses"]


def test_the_python_client_requests(desk: StreamServer) -> None:
    """The main-branch Python client's paper requests (resources/paper.py): booleans as "true"/"false", no
    client_order_id unless given, reset with only {"confirm": true}, its user agent; models parse strings."""
    headers = {
        "Authorization": f"Bearer {desk.keys['expert']}",
        "Accept": "application/json",
        "User-Agent": "cutemarkets-python/0.4.0",
    }
    with httpx.Client(base_url=desk.http, headers=headers, timeout=60) as http:
        created = http.post("/v1/paper/accounts/", json={"name": "Paper Account", "initial_cash": str(100000)})
        assert created.status_code == 201
        aid = created.json()["account"]["id"]
        listed = http.get("/v1/paper/accounts/", params={"include_archived": "false"}).json()
        assert aid in [a["id"] for a in listed["results"]]
        body = {"symbol": "NVDA", "qty": str(Decimal("0.25")), "side": "buy", "type": "market", "time_in_force": "day"}
        first = http.post(f"/v1/paper/accounts/{aid}/orders/", json=body).json()
        second = http.post(f"/v1/paper/accounts/{aid}/orders/", json=body).json()
        assert first["id"] != second["id"], "without a client_order_id every POST is a new order"
        assert first["client_order_id"] and first["client_order_id"] != second["client_order_id"]
        check_shape("order", first)
        assert http.get(f"/v1/paper/accounts/{aid}/orders/", params={"status": "filled"}).json()["results"]
        reset = http.post(f"/v1/paper/accounts/{aid}/reset/", json={"confirm": True}).json()
        check_shape("account", reset["account"])
        assert reset["account"]["cash"] == "100000.0000" and reset["account"]["generation"] == 2
        assert http.delete(f"/v1/paper/accounts/{aid}/").status_code == 204

