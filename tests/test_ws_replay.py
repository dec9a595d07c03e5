"""Replaying a stored session through the stream: events in timestamp order and identical to the lake's
ticks (read independently with DuckDB), aggregates equal to the stored minute bars, REST answering at the
replay clock, an unpaced replay to the end of the day, the slow-consumer policy, and the official Massive
client on the Polygon protocol."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import websockets
from massive import WebSocketClient
from massive.websocket.models import EquityAgg, EquityQuote, EquityTrade

from cutemarkets_server.market.timestamps import et_ns
from cutemarkets_server.ws.config import StreamConfig
from wsserver import (
    StreamServer,
    bearer,
    collect,
    linked_data_dir,
    open_authenticated,
    recv_json,
    run,
    start_stream_server,
    subscribe,
    wait_until,
)

from lakeread import query

REPLAY_DAY = dt.date(2025, 12, 1)
START = dt.time(10, 0)
SPEED = 300.0
TIGHT_SPEED = 400.0
DAY = [REPLAY_DAY]


@pytest.fixture(scope="module")
def srv(market_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StreamServer]:
    data_dir = linked_data_dir(tmp_path_factory.mktemp("ws-replay"), market_dir)
    config = StreamConfig(mode="replay", replay_day=REPLAY_DAY, replay_speed=SPEED, replay_start=START)
    server = start_stream_server(data_dir, config)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def lake(market_dir: Path) -> Path:
    return market_dir / "lake"


def _key(srv: StreamServer) -> str:
    return srv.new_key(f"user-{uuid.uuid4().hex[:8]}")


def _identity(ev: dict[str, Any]) -> tuple[str, str, int, int]:
    return ev["ev"], ev["sym"], ev["q"], ev["t"]


def _lake_stream(lake: Path, datasets: list[tuple[str, str]], where: str = "TRUE") -> list[tuple[str, str, int, int]]:
    """The lake's ticks of the replay day as (ev, sym, sequence, ms) in stream order: time, then quotes before
    trades at the same instant, then sequence number."""
    rows = []
    for rank, (name, ev) in enumerate(datasets):
        for r in query(lake, name, where, days=DAY):
            rows.append((r["sip_timestamp"], rank, r["sequence_number"], ev, r["ticker"]))
    rows.sort()
    return [(ev, sym, seq, ts // 1_000_000) for ts, _, seq, ev, sym in rows]


def _assert_same_stream(received: list[tuple[str, str, int, int]], expected: list[tuple[str, str, int, int]]) -> None:
    assert received, "nothing was received"
    times = [r[3] for r in received]
    assert times == sorted(times), "events arrive in timestamp order"
    first = expected.index(received[0])
    assert received == expected[first : first + len(received)]


def test_stock_ticks_arrive_in_order_and_match_the_lake(srv: StreamServer, lake: Path) -> None:
    async def go() -> list[dict[str, Any]]:
        ws = await open_authenticated(srv.ws("/v1/ws/stocks/"), _key(srv))
        async with ws:
            await subscribe(ws, "T.*,Q.*")
            return await collect(ws, 3.0)

    received = [_identity(e) for e in run(go()) if e["ev"] in ("T", "Q")]
    expected = _lake_stream(lake, [("stock_quotes", "Q"), ("stock_trades", "T")])
    assert len(received) > 500
    _assert_same_stream(received, expected)


def test_option_ticks_arrive_in_order_and_match_the_lake(srv: StreamServer, lake: Path) -> None:
    busy = query(
        lake,
        "option_quotes",
        "sip_timestamp >= ? AND sip_timestamp < ?",
        [et_ns(REPLAY_DAY, 10), et_ns(REPLAY_DAY, 12)],
        days=DAY,
    )
    counts: dict[str, int] = {}
    for r in busy:
        counts[r["ticker"]] = counts.get(r["ticker"], 0) + 1
    contracts = sorted(counts, key=lambda t: -counts[t])[:200]

    async def go() -> list[dict[str, Any]]:
        ws = await open_authenticated(srv.ws("/v1/ws/options/"), _key(srv))
        async with ws:
            await subscribe(ws, ",".join(["T.*"] + ["Q." + c for c in contracts]))
            return await collect(ws, 3.0)

    received = [_identity(e) for e in run(go()) if e["ev"] in ("T", "Q")]
    wanted = set(contracts)
    expected = [
        e for e in _lake_stream(lake, [("option_quotes", "Q"), ("option_trades", "T")]) if e[0] == "T" or e[1] in wanted
    ]
    assert len(received) > 300
    _assert_same_stream(received, expected)


def test_minute_aggregates_equal_the_stored_minute_bars(srv: StreamServer, lake: Path) -> None:
    async def go() -> list[dict[str, Any]]:
        ws = await open_authenticated(srv.ws("/v1/ws/stocks/"), _key(srv))
        async with ws:
            await subscribe(ws, "AM.*,A.SPY")
            return await collect(ws, 3.0)

    events = run(go())
    minutes = [e for e in events if e["ev"] == "AM"]
    seconds = [e for e in events if e["ev"] == "A"]
    assert len(minutes) >= 20 and seconds
    stored = {(r["ticker"], r["window_start"] // 1_000_000): r for r in query(lake, "stock_minute_aggs", days=DAY)}
    opens = {r["ticker"]: r["open"] for r in query(lake, "stock_day_aggs", days=DAY)}
    for bar in minutes:
        row = stored[(bar["sym"], bar["s"])]
        assert (bar["o"], bar["h"], bar["l"], bar["c"]) == (row["open"], row["high"], row["low"], row["close"])
        assert bar["v"] == int(row["volume"])
        assert bar["vw"] == pytest.approx(row["vwap"], abs=1e-4)
        assert bar["op"] == opens[bar["sym"]]
    by_sym: dict[str, list[int]] = {}
    for bar in minutes:
        by_sym.setdefault(bar["sym"], []).append(bar["av"])
    assert all(v == sorted(v) for v in by_sym.values()), "accumulated volume never decreases"
    for bar in seconds:
        trades = query(
            lake,
            "stock_trades",
            "ticker = 'SPY' AND sip_timestamp >= ? AND sip_timestamp < ?",
            [bar["s"] * 1_000_000, bar["e"] * 1_000_000],
            days=DAY,
        )
        prices = [t["price"] for t in trades]
        assert bar["h"] <= max(prices) and bar["l"] >= min(prices)


def test_rest_answers_at_the_replay_clock(srv: StreamServer, lake: Path) -> None:
    key = _key(srv)
    contract = query(lake, "option_quotes", "sip_timestamp >= ?", [et_ns(REPLAY_DAY, 10)], days=DAY)[0]["ticker"]
    with httpx.Client(base_url=srv.http, headers=bearer(key), timeout=30) as client:
        before = srv.clock.now_ns()
        trade = client.get("/v1/stocks/trades/SPY/last/").json()["results"]
        snap = client.get(f"/v1/options/snapshot/{contract}/").json()["results"]
        after = srv.clock.now_ns()
    start_ns = et_ns(REPLAY_DAY, START.hour, START.minute)
    day_last = max(r["sip_timestamp"] for r in query(lake, "stock_trades", "ticker = 'SPY'", days=DAY))
    assert start_ns <= before <= after < day_last
    assert trade["t"] <= after
    assert after - trade["t"] < 5 * 60 * 1_000_000_000, "the last trade is the replay's, not the day's"
    assert snap["last_quote"]["last_updated"] <= after


def test_an_unpaced_replay_streams_the_rest_of_the_day(market_dir: Path, tmp_path: Path, lake: Path) -> None:
    config = StreamConfig(mode="replay", replay_day=REPLAY_DAY, replay_speed=None, replay_start=dt.time(15, 30))
    server = start_stream_server(linked_data_dir(tmp_path / "data", market_dir), config)
    try:
        key = server.new_key("max-speed")

        end_ns = et_ns(REPLAY_DAY, 20)

        async def go() -> list[dict[str, Any]]:
            ws = await open_authenticated(server.ws("/v1/ws/stocks/"), key)
            events: list[dict[str, Any]] = []
            async with ws:
                await subscribe(ws, "T.*")
                while True:
                    more = await collect(ws, 0.5)
                    events.extend(more)
                    if not more and server.clock.now_ns() == end_ns:
                        return events

        received = [_identity(e) for e in run(go()) if e["ev"] == "T"]
        wait_until(lambda: server.clock.now_ns() == end_ns, what="the replay clock to reach the end of the day")
    finally:
        server.stop()
    expected = _lake_stream(lake, [("stock_trades", "T")])
    _assert_same_stream(received, expected)
    assert received[-1] == expected[-1], "the replay reaches the last trade of the day"


@pytest.fixture(scope="module")
def tight(market_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StreamServer]:
    """A fast replay with small per-connection queues."""
    data_dir = linked_data_dir(tmp_path_factory.mktemp("ws-tight"), market_dir)
    config = StreamConfig(
        mode="replay", replay_day=REPLAY_DAY, replay_speed=TIGHT_SPEED, replay_start=dt.time(9, 30), queue_frames=64
    )
    server = start_stream_server(data_dir, config)
    yield server
    server.stop()


def _subscriber_closing(server: StreamServer, user: str) -> bool:
    for _ in range(10):
        try:
            return any(s.closing for s in list(server.service.hub.subscribers) if s.user == user)
        except RuntimeError:  # the set changed while it was copied
            continue
    return False


def test_a_slow_consumer_is_warned_then_disconnected_without_slowing_others(tight: StreamServer, lake: Path) -> None:
    slow_key, fast_key = tight.new_key("slow"), tight.new_key("fast")
    rows = query(lake, "option_quotes", days=DAY)
    contracts = sorted({r["ticker"] for r in rows})[:1000]
    topics = ",".join(["T.*", "A.*", "AM.*"] + ["Q." + c for c in contracts])

    async def go() -> tuple[list[dict[str, Any]], tuple[int | None, str], list[dict[str, Any]], float]:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
        sock.connect(("127.0.0.1", tight.port))
        slow = await websockets.connect(
            tight.ws("/v1/ws/options/"), sock=sock, additional_headers=bearer(slow_key), max_queue=1, max_size=None
        )
        fast = await open_authenticated(tight.ws("/v1/ws/options/"), fast_key)
        await subscribe(fast, topics)
        await slow.send(orjson.dumps({"action": "subscribe", "params": topics}).decode())
        fast_events: list[dict[str, Any]] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while not _subscriber_closing(tight, "slow") and loop.time() < deadline:  # the slow one reads nothing
            fast_events.extend(await collect(fast, 0.1))
        last = [e for e in fast_events if e["ev"] == "T"][-1]
        lag_wall_s = (tight.clock.now_ns() - last["t"] * 1_000_000) / 1e9 / TIGHT_SPEED
        fast_events.extend(await collect(fast, 1.0))
        slow_events: list[dict[str, Any]] = []
        closed: tuple[int | None, str] = (None, "")
        try:
            while True:
                slow_events.extend(await recv_json(slow, 10))
        except websockets.ConnectionClosed as exc:
            closed = (exc.rcvd.code, exc.rcvd.reason) if exc.rcvd else (None, "")
        await fast.close()
        return slow_events, closed, fast_events, lag_wall_s

    slow_events, (code, reason), fast_events, lag_wall_s = run(go())
    warnings = [e for e in slow_events if e["ev"] == "status" and e["status"] == "slow_consumer"]
    assert warnings, "the slow consumer is warned before it is disconnected"
    assert code == 4413 and reason.startswith("slow consumer")
    assert not [e for e in fast_events if e["ev"] == "status" and e["status"] != "success"]
    assert lag_wall_s < 1.0, "the fast consumer kept up with the replay clock"


def _massive_run(srv: StreamServer, key: str, feed: str, market: str, topics: list[str]) -> list[Any]:
    client = WebSocketClient(api_key=key, feed=feed, market=market, secure=False, subscriptions=topics)
    got: list[Any] = []

    async def handle(msgs: list[Any]) -> None:
        got.extend(msgs)
        if len(got) >= 30:
            await client.close()

    async def go() -> None:
        await asyncio.wait_for(client.connect(handle), 30)

    run(go())
    return got


@pytest.mark.parametrize("feed_path", ["", "/v1/ws"])
def test_the_massive_client_streams_typed_models(srv: StreamServer, feed_path: str) -> None:
    key = _key(srv)
    got = _massive_run(srv, key, f"127.0.0.1:{srv.port}{feed_path}", "stocks", ["T.*", "Q.SPY", "AM.*"])
    assert {type(m) for m in got} <= {EquityTrade, EquityQuote, EquityAgg}
    trades = [m for m in got if isinstance(m, EquityTrade)]
    assert trades and all(isinstance(m.timestamp, int) and m.price > 0 and m.symbol for m in trades)
    assert all(m.symbol == "SPY" for m in got if isinstance(m, EquityQuote))


def test_the_massive_client_gets_options_models(srv: StreamServer) -> None:
    got = _massive_run(srv, _key(srv), f"127.0.0.1:{srv.port}", "options", ["T.*", "A.*"])
    assert got and all(m.symbol.startswith("O:") for m in got)
    assert {type(m) for m in got} <= {EquityTrade, EquityAgg}


def test_the_massive_client_is_told_its_key_failed(srv: StreamServer) -> None:
    from massive.exceptions import AuthError

    with pytest.raises(AuthError):
        _massive_run(srv, "cm_wrong", f"127.0.0.1:{srv.port}", "stocks", ["T.*"])
