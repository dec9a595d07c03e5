"""The WebSocket protocol against a running server replaying a stored session: handshakes and refusals,
subscriptions, wildcards, the option-quote cap, bad messages, and the shapes of status and data events."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import websockets

from cutemarkets_server.market.timestamps import et_ns
from cutemarkets_server.ws.config import StreamConfig
from wsserver import (
    StreamServer,
    bearer,
    close_code,
    collect,
    linked_data_dir,
    open_authenticated,
    recv_json,
    run,
    send,
    start_stream_server,
    statuses_until,
    subscribe,
    unsubscribe,
)

from lakeread import query

REPLAY_DAY = dt.date(2025, 12, 1)
DAY_LO_MS = et_ns(REPLAY_DAY, 4) // 1_000_000
DAY_HI_MS = et_ns(REPLAY_DAY, 20) // 1_000_000


@pytest.fixture(scope="module")
def srv(market_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StreamServer]:
    data_dir = linked_data_dir(tmp_path_factory.mktemp("ws-protocol"), market_dir)
    config = StreamConfig(
        mode="replay", replay_day=REPLAY_DAY, replay_speed=60.0, replay_start=dt.time(10, 0), auth_timeout_s=1.0
    )
    server = start_stream_server(data_dir, config)
    yield server
    server.stop()


def _key(srv: StreamServer, plan: str = "expert", products: tuple[str, ...] = ("options", "stocks")) -> str:
    return srv.new_key(f"user-{uuid.uuid4().hex[:8]}", plan, products)


@pytest.fixture(scope="module")
def busy_contracts(market_dir: Path) -> list[str]:
    rows = query(
        market_dir / "lake",
        "option_quotes",
        "sip_timestamp >= ? AND sip_timestamp < ?",
        [et_ns(REPLAY_DAY, 10), et_ns(REPLAY_DAY, 11)],
        days=[REPLAY_DAY],
    )
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["ticker"]] = counts.get(r["ticker"], 0) + 1
    return sorted(counts, key=lambda t: -counts[t])[:40]


# -- handshakes ----------------------------------------------------------------------------------------


def test_key_in_the_authorization_header(srv: StreamServer) -> None:
    async def go() -> list[dict[str, Any]]:
        async with websockets.connect(srv.ws("/v1/ws/stocks/"), additional_headers=bearer(_key(srv))) as ws:
            return await statuses_until(ws, "auth_success")

    statuses = run(go())
    assert statuses[0] == {"ev": "status", "status": "connected", "message": "Connected Successfully"}
    assert statuses[-1] == {"ev": "status", "status": "auth_success", "message": "authenticated"}


@pytest.mark.parametrize("param", ["api_key", "apiKey"])
def test_key_in_the_query_string(srv: StreamServer, param: str) -> None:
    async def go() -> list[dict[str, Any]]:
        async with websockets.connect(srv.ws(f"/v1/ws/options?{param}={_key(srv)}")) as ws:
            return await statuses_until(ws, "auth_success")

    assert [s["status"] for s in run(go())] == ["connected", "auth_success"]


@pytest.mark.parametrize("path", ["/stocks", "/options", "/v1/ws/stocks"])
def test_auth_message_answers_with_exactly_one_frame(srv: StreamServer, path: str) -> None:
    async def go() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        async with websockets.connect(srv.ws(path)) as ws:
            first = await recv_json(ws)
            await send(ws, "auth", _key(srv))
            return first, await recv_json(ws)

    first, reply = run(go())
    assert first == [{"ev": "status", "status": "connected", "message": "Connected Successfully"}]
    assert reply == [{"ev": "status", "status": "auth_success", "message": "authenticated"}]


def test_unknown_key_gets_auth_failed_and_4401(srv: StreamServer) -> None:
    async def go() -> tuple[list[dict[str, Any]], tuple[int | None, str]]:
        async with websockets.connect(srv.ws("/v1/ws/stocks/"), additional_headers=bearer("cm_" + "0" * 32)) as ws:
            statuses = await statuses_until(ws, "auth_failed")
            return statuses, await close_code(ws)

    statuses, (code, _) = run(go())
    assert statuses[-1] == {"ev": "status", "status": "auth_failed", "message": "authentication failed"}
    assert code == 4401


def test_unknown_key_in_an_auth_message_gets_4401(srv: StreamServer) -> None:
    async def go() -> tuple[list[dict[str, Any]], tuple[int | None, str]]:
        async with websockets.connect(srv.ws("/options")) as ws:
            await recv_json(ws)
            await send(ws, "auth", "not-a-key")
            return await recv_json(ws), await close_code(ws)

    reply, (code, _) = run(go())
    assert reply[0]["status"] == "auth_failed"
    assert code == 4401


@pytest.mark.parametrize("plan", ["free", "developer"])
def test_plans_without_websocket_get_4403(srv: StreamServer, plan: str) -> None:
    async def go() -> tuple[list[dict[str, Any]], tuple[int | None, str]]:
        async with websockets.connect(srv.ws("/v1/ws/options/"), additional_headers=bearer(_key(srv, plan))) as ws:
            return await statuses_until(ws, "auth_failed"), await close_code(ws)

    statuses, (code, reason) = run(go())
    assert code == 4403
    assert "Expert or Commercial" in statuses[-1]["message"]
    assert "Expert or Commercial" in reason


def test_key_of_the_other_product_gets_4403(srv: StreamServer) -> None:
    async def go() -> tuple[list[dict[str, Any]], tuple[int | None, str]]:
        key = _key(srv, "expert", ("options",))
        async with websockets.connect(srv.ws("/v1/ws/stocks/"), additional_headers=bearer(key)) as ws:
            return await statuses_until(ws, "auth_failed"), await close_code(ws)

    statuses, (code, _) = run(go())
    assert code == 4403
    assert "stocks product" in statuses[-1]["message"]


def test_no_auth_within_the_timeout_gets_4401(srv: StreamServer) -> None:
    async def go() -> tuple[int | None, str]:
        async with websockets.connect(srv.ws("/stocks")) as ws:
            await recv_json(ws)
            return await close_code(ws, timeout_s=10)

    code, reason = run(go())
    assert code == 4401
    assert "timed out" in reason


def test_unknown_market_is_refused_with_404(srv: StreamServer) -> None:
    async def go() -> None:
        async with websockets.connect(srv.ws("/v1/ws/crypto/"), additional_headers=bearer(_key(srv))):
            pass

    with pytest.raises(websockets.InvalidStatus) as info:
        run(go())
    assert info.value.response.status_code == 404


# -- subscriptions -------------------------------------------------------------------------------------


def test_subscribe_and_unsubscribe(srv: StreamServer) -> None:
    async def go() -> tuple[list[Any], list[Any], list[Any], list[Any], list[Any]]:
        ws = await open_authenticated(srv.ws("/v1/ws/stocks/"), _key(srv))
        async with ws:
            one = await subscribe(ws, "T.SPY")
            several = await subscribe(ws, "Q.SPY, Q.AAPL")
            both = await collect(ws, 2.0)
            gone = await unsubscribe(ws, "T.SPY,Q.AAPL")
            after = await collect(ws, 2.0)
            return one, several, both, gone, after

    one, several, both, gone, after = run(go())
    assert one == [{"ev": "status", "status": "success", "message": "subscribed to: T.SPY"}]
    assert [a["message"] for a in several] == ["subscribed to: Q.SPY", "subscribed to: Q.AAPL"]
    data = [(e["ev"], e["sym"]) for e in both if e["ev"] != "status"]
    assert set(data) == {("T", "SPY"), ("Q", "SPY"), ("Q", "AAPL")}
    assert [a["message"] for a in gone] == ["unsubscribed to: T.SPY", "unsubscribed to: Q.AAPL"]
    left = {(e["ev"], e["sym"]) for e in after if e["ev"] != "status"}
    assert left == {("Q", "SPY")}


def test_wildcard_subscribes_every_ticker(srv: StreamServer) -> None:
    async def go() -> list[dict[str, Any]]:
        ws = await open_authenticated(srv.ws("/v1/ws/stocks/"), _key(srv))
        async with ws:
            assert (await subscribe(ws, "T.*"))[0]["message"] == "subscribed to: T.*"
            return await collect(ws, 3.0)

    trades = [e for e in run(go()) if e["ev"] == "T"]
    assert {e["sym"] for e in trades} == {"SPY", "QQQ", "AAPL", "NVDA"}


def test_option_quotes_are_capped_at_1000_contracts(srv: StreamServer) -> None:
    contracts = [f"O:SPY260116C{strike:05d}000" for strike in range(1, 1002)]

    async def go() -> tuple[list[Any], list[Any], list[Any], list[Any], list[Any]]:
        ws = await open_authenticated(srv.ws("/v1/ws/options/"), _key(srv))
        async with ws:
            first = await subscribe(ws, ",".join("Q." + c for c in contracts[:1000]))
            over = await subscribe(ws, "Q." + contracts[1000])
            star = await subscribe(ws, "Q.*")
            again = await subscribe(ws, "Q." + contracts[0])  # already held: not counted twice
            room = await unsubscribe(ws, "Q." + contracts[1])
            return first, over, star, again + room, await subscribe(ws, "Q." + contracts[1000] + ",T.*")

    first, over, star, again, last = run(go())
    assert len(first) == 1000 and all(a["status"] == "success" for a in first)
    assert over[0]["status"] == "error" and "1,000" in over[0]["message"]
    assert star[0]["status"] == "error" and "Q.*" in star[0]["message"]
    assert [a["status"] for a in again] == ["success", "success"]
    assert [a["message"] for a in last] == [f"subscribed to: Q.{contracts[1000]}", "subscribed to: T.*"]


@pytest.mark.parametrize(
    ("message", "fragment"),
    [
        (b"{not json", "invalid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"action": "dance", "params": "T.AAPL"}', "unknown action"),
        (b'{"action": "subscribe", "params": ["T.AAPL"]}', "must be a string"),
        (b'{"action": "subscribe", "params": "X.AAPL"}', "unknown channel"),
        (b'{"action": "subscribe", "params": "TAAPL"}', "invalid topic"),
        (b'{"action": "subscribe", "params": "T.O:SPY260116C00500000"}', "option topic"),
        (b'{"action": "subscribe", "params": ""}', "at least one topic"),
    ],
)
def test_bad_messages_get_an_error_and_the_connection_stays(srv: StreamServer, message: bytes, fragment: str) -> None:
    async def go() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        ws = await open_authenticated(srv.ws("/v1/ws/stocks/"), _key(srv))
        async with ws:
            await ws.send(message.decode())
            errors = await statuses_until(ws, "error")
            return errors, await subscribe(ws, "T.SPY")

    errors, ack = run(go())
    assert errors[-1]["ev"] == "status" and fragment in errors[-1]["message"]
    assert ack[0]["status"] == "success"


def test_subscribing_before_authenticating_is_an_error(srv: StreamServer) -> None:
    async def go() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        async with websockets.connect(srv.ws("/stocks")) as ws:
            await recv_json(ws)
            await send(ws, "subscribe", "T.SPY")
            refused = await recv_json(ws)
            await send(ws, "auth", _key(srv))
            return refused, await recv_json(ws)

    refused, reply = run(go())
    assert refused[0]["status"] == "error" and "not authenticated" in refused[0]["message"]
    assert reply[0]["status"] == "auth_success"


# -- event shapes --------------------------------------------------------------------------------------

STOCK_FIELDS = {
    "T": ({"ev", "sym", "x", "i", "z", "p", "s", "t", "q"}, {"c", "trfi", "trft", "pt"}),
    "Q": ({"ev", "sym", "bx", "bp", "bs", "ax", "ap", "as", "t", "q", "z"}, {"c", "i"}),
}
OPTION_FIELDS = {
    "T": ({"ev", "sym", "x", "p", "s", "t", "q"}, {"c"}),
    "Q": ({"ev", "sym", "bx", "ax", "bp", "ap", "bs", "as", "t", "q"}, set()),
}
AGG_FIELDS = ({"ev", "sym", "v", "av", "vw", "o", "h", "l", "c", "z", "s", "e"}, {"op", "a"})
INTS = {"x", "z", "s", "t", "q", "bx", "ax", "bs", "as", "trfi", "trft", "pt", "v", "av", "e"}
FLOATS = {"p", "bp", "ap", "vw", "o", "h", "l", "a", "op"}


def _check_shape(ev: dict[str, Any], required: set[str], optional: set[str]) -> None:
    keys = set(ev)
    assert required <= keys, (required - keys, ev)
    assert keys <= required | optional, (keys - required - optional, ev)
    for k, v in ev.items():
        if k in INTS and not (ev["ev"] in ("A", "AM") and k == "c"):
            assert isinstance(v, int) and not isinstance(v, bool), (k, ev)
        if k in FLOATS or (ev["ev"] in ("A", "AM") and k == "c"):
            assert isinstance(v, int | float), (k, ev)
    for k in ("t", "trft", "pt", "s", "e"):
        if k in ev and not (ev["ev"] in ("T", "Q") and k == "s"):
            assert DAY_LO_MS <= ev[k] <= DAY_HI_MS, f"{k}={ev[k]} is not a millisecond time on {REPLAY_DAY}"


def test_stock_events_have_the_documented_shapes_and_ms_timestamps(srv: StreamServer) -> None:
    async def go() -> list[dict[str, Any]]:
        ws = await open_authenticated(srv.ws("/v1/ws/stocks/"), _key(srv))
        async with ws:
            await subscribe(ws, "T.*,Q.*,A.*,AM.*")
            return await collect(ws, 3.5)

    events = [e for e in run(go()) if e["ev"] != "status"]
    kinds = {e["ev"] for e in events}
    assert kinds == {"T", "Q", "A", "AM"}
    for ev in events:
        required, optional = STOCK_FIELDS.get(ev["ev"], AGG_FIELDS)
        _check_shape(ev, required, optional)
        if ev["ev"] in ("A", "AM"):
            assert ev["e"] - ev["s"] == (1_000 if ev["ev"] == "A" else 60_000)
            assert ev["l"] <= min(ev["o"], ev["c"]) <= max(ev["o"], ev["c"]) <= ev["h"]
            assert ev["av"] >= ev["v"] > 0
    assert any("trfi" in e for e in events if e["ev"] == "T"), "TRF prints carry trfi/trft"


def test_option_events_have_the_documented_shapes(srv: StreamServer, busy_contracts: list[str]) -> None:
    async def go() -> list[dict[str, Any]]:
        ws = await open_authenticated(srv.ws("/v1/ws/options/"), _key(srv))
        async with ws:
            await subscribe(ws, ",".join(["T.*", "A.*", "AM.*"] + ["Q." + c for c in busy_contracts]))
            return await collect(ws, 3.5)

    events = [e for e in run(go()) if e["ev"] != "status"]
    assert {e["ev"] for e in events} == {"T", "Q", "A", "AM"}
    for ev in events:
        assert ev["sym"].startswith("O:")
        required, optional = OPTION_FIELDS.get(ev["ev"], AGG_FIELDS)
        _check_shape(ev, required, optional)
    assert {e["sym"] for e in events if e["ev"] == "Q"} <= set(busy_contracts)


def test_every_frame_is_an_array_of_events_with_ev(srv: StreamServer) -> None:
    async def go() -> list[Any]:
        ws = await open_authenticated(srv.ws("/v1/ws/stocks/"), _key(srv))
        frames: list[Any] = []
        async with ws:
            await send(ws, "subscribe", "T.*,AM.*")
            for _ in range(20):
                frames.append(orjson.loads(await ws.recv()))
        return frames

    for f in run(go()):
        assert isinstance(f, list) and f
        assert all(isinstance(e, dict) and "ev" in e for e in f)
