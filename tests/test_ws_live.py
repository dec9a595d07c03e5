"""The live market clock on a copy of the test lake, driven by a controllable clock: catching up from the
session's start when started mid-session, appending to the lake in batches (not per tick) while publishing
every tick, REST answers reflecting the new ticks, the next session continuing from the last, and silence
outside sessions and on days the lake already holds."""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cutemarkets_server.clock import FixedClock
from cutemarkets_server.market.timestamps import et_ns
from cutemarkets_server.ws.config import StreamConfig
from wsserver import StreamServer, bearer, collect, open_authenticated, run, start_stream_server, subscribe, wait_until

from lakeread import query

LIVE_DAY = dt.date(2025, 12, 3)  # the first session after the test market's last one
NEXT_DAY = dt.date(2025, 12, 4)
LAST_STORED = dt.date(2025, 12, 2)
TICKS = ("stock_quotes", "stock_trades", "option_quotes", "option_trades")


def _partitions(lake: Path, day: dt.date) -> dict[str, tuple[int, str, str]]:
    with sqlite3.connect(lake / "manifest.sqlite") as con:
        rows = con.execute("SELECT dataset, rows, sha256, source FROM partitions WHERE day = ?", (day.isoformat(),))
        return {name: (n, sha, source) for name, n, sha, source in rows.fetchall()}


def _lake_copy(market_dir: Path, root: Path) -> Path:
    root.mkdir(parents=True)
    shutil.copytree(market_dir / "lake", root / "lake")
    return root


@pytest.fixture(scope="module")
def live(market_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StreamServer]:
    data_dir = _lake_copy(market_dir, tmp_path_factory.mktemp("ws-live") / "data")
    clock = FixedClock(et_ns(LIVE_DAY, 10, 0, 30))
    server = start_stream_server(data_dir, StreamConfig(mode="live"), clock=clock)
    yield server
    server.stop()


def _key(srv: StreamServer) -> str:
    return srv.new_key(f"user-{uuid.uuid4().hex[:8]}")


def _writes(srv: StreamServer) -> list[tuple[dt.date, int]]:
    mc = srv.service.market_clock
    return list(mc.writes) if mc is not None else []


def test_catches_up_from_the_session_start_when_started_mid_session(live: StreamServer) -> None:
    lake = live.data_dir / "lake"
    wait_until(lambda: bool(_writes(live)), what="the catch-up append")
    parts = _partitions(lake, LIVE_DAY)
    assert all(parts[name][2].startswith("live:sim:test") for name in TICKS)
    assert _writes(live) == [(LIVE_DAY, et_ns(LIVE_DAY, 10, 0))], "one batch for the whole catch-up"
    trades = query(lake, "stock_trades", days=[LIVE_DAY])
    times = [t["sip_timestamp"] for t in trades]
    assert et_ns(LIVE_DAY, 4) <= min(times) and max(times) < et_ns(LIVE_DAY, 10, 0)
    assert min(times) < et_ns(LIVE_DAY, 4, 30), "pre-market included"
    options = [t["sip_timestamp"] for t in query(lake, "option_trades", days=[LIVE_DAY])]
    assert options and min(options) >= et_ns(LIVE_DAY, 9, 30) and max(options) < et_ns(LIVE_DAY, 10, 0)
    assert query(lake, "stock_minute_aggs", days=[LIVE_DAY]), "bars are derived from the appended trades"
    assert query(lake, "option_open_interest", days=[LIVE_DAY]), "the morning open interest is reported"


def test_the_session_continues_from_the_lake_last_state(live: StreamServer) -> None:
    lake = live.data_dir / "lake"
    wait_until(lambda: bool(_writes(live)), what="the catch-up append")
    for ticker in ("SPY", "NVDA"):
        last = query(lake, "stock_quotes", f"ticker = '{ticker}'", days=[LAST_STORED])
        first = query(lake, "stock_quotes", f"ticker = '{ticker}'", days=[LIVE_DAY])
        close = max(last, key=lambda q: q["sip_timestamp"])
        opening = min(first, key=lambda q: q["sip_timestamp"])
        close_mid = (close["bid_price"] + close["ask_price"]) / 2
        open_mid = (opening["bid_price"] + opening["ask_price"]) / 2
        assert abs(open_mid / close_mid - 1) < 0.02, (ticker, close_mid, open_mid)
    listed = {
        r["ticker"] for r in query(lake, "option_contracts", "action = 'list' AND expiration_date >= ?", [LIVE_DAY])
    }
    quoted = {r["ticker"] for r in query(lake, "option_quotes", days=[LIVE_DAY])}
    yesterday = {r["ticker"] for r in query(lake, "option_quotes", days=[LAST_STORED])} & listed
    assert quoted and quoted <= listed, "only contracts listed in the lake are quoted"
    assert len(quoted & yesterday) > len(yesterday) // 2, "the chains carry on"


def test_ticks_are_published_at_once_and_appended_per_batch(live: StreamServer) -> None:
    lake = live.data_dir / "lake"
    clock: FixedClock = live.clock
    key = _key(live)
    before = _partitions(lake, LIVE_DAY)
    writes = len(_writes(live))

    async def within_the_minute() -> list[dict[str, Any]]:
        ws = await open_authenticated(live.ws("/v1/ws/stocks/"), key)
        async with ws:
            await subscribe(ws, "T.*,Q.*")
            clock.set(et_ns(LIVE_DAY, 10, 0, 55))
            return await collect(ws, 1.5)

    events = [e for e in run(within_the_minute()) if e["ev"] in ("T", "Q")]
    assert events, "released ticks are streamed at once"
    assert all(et_ns(LIVE_DAY, 10, 0, 30) <= e["t"] * 1_000_000 < et_ns(LIVE_DAY, 10, 0, 55) for e in events)
    assert _partitions(lake, LIVE_DAY) == before, "no lake write inside a batch window"
    assert len(_writes(live)) == writes

    clock.set(et_ns(LIVE_DAY, 10, 3, 10))
    wait_until(lambda: len(_writes(live)) > writes, what="the next batch")
    assert _writes(live)[writes:] == [(LIVE_DAY, et_ns(LIVE_DAY, 10, 3))], "one append for three minutes of ticks"
    after = _partitions(lake, LIVE_DAY)
    assert after["stock_trades"][0] > before["stock_trades"][0]
    streamed = {(e["sym"], e["q"]) for e in events if e["ev"] == "T"}
    stored = {(t["ticker"], t["sequence_number"]) for t in query(lake, "stock_trades", days=[LIVE_DAY])}
    assert streamed <= stored, "what was streamed is what is stored"


def test_rest_last_trade_reflects_the_new_ticks(live: StreamServer) -> None:
    wait_until(lambda: any(u >= et_ns(LIVE_DAY, 10, 3) for _, u in _writes(live)), what="the 10:03 batch")
    with httpx.Client(base_url=live.http, headers=bearer(_key(live)), timeout=30) as client:
        trade = client.get("/v1/stocks/trades/SPY/last/").json()["results"]
        quote = client.get("/v1/stocks/quotes/SPY/last/").json()["results"]
    assert et_ns(LIVE_DAY, 10, 0) <= trade["t"] < et_ns(LIVE_DAY, 10, 3)
    assert et_ns(LIVE_DAY, 10, 2) <= quote["t"] < et_ns(LIVE_DAY, 10, 3)


def test_the_session_end_is_stored_and_the_next_session_follows(live: StreamServer) -> None:
    lake = live.data_dir / "lake"
    clock: FixedClock = live.clock
    clock.set(et_ns(LIVE_DAY, 20, 0, 5))
    wait_until(lambda: any(u == et_ns(LIVE_DAY, 20) for _, u in _writes(live)), what="the end-of-session append")
    trades = query(lake, "stock_trades", days=[LIVE_DAY])
    assert max(t["sip_timestamp"] for t in trades) > et_ns(LIVE_DAY, 19)
    clock.set(et_ns(NEXT_DAY, 2))
    time.sleep(0.5)
    assert NEXT_DAY not in {d for d, _ in _writes(live)}, "quiet before the pre-market"
    assert _partitions(lake, NEXT_DAY) == {}
    clock.set(et_ns(NEXT_DAY, 9, 31))
    wait_until(lambda: "stock_trades" in _partitions(lake, NEXT_DAY), what="the next session's catch-up")
    close = [t for t in sorted(trades, key=lambda t: t["sip_timestamp"]) if t["ticker"] == "SPY"][-1]["price"]
    first = sorted(query(lake, "stock_trades", "ticker = 'SPY'", days=[NEXT_DAY]), key=lambda t: t["sip_timestamp"])
    assert abs(first[0]["price"] / close - 1) < 0.02


@pytest.mark.parametrize(
    "instant",
    [
        et_ns(dt.date(2025, 12, 6), 12),  # Saturday
        et_ns(dt.date(2025, 11, 27), 11),  # Thanksgiving
        et_ns(LIVE_DAY, 3, 59),  # before the pre-market
        et_ns(LIVE_DAY, 20, 30),  # after the after-hours close
        et_ns(LAST_STORED, 11),  # a session the lake already holds
    ],
)
def test_quiet_outside_sessions_and_on_stored_days(market_dir: Path, tmp_path: Path, instant: int) -> None:
    data_dir = _lake_copy(market_dir, tmp_path / "data")
    before = {d: _partitions(data_dir / "lake", d) for d in (LIVE_DAY, LAST_STORED)}
    server = start_stream_server(data_dir, StreamConfig(mode="live"), clock=FixedClock(instant))
    try:
        key = server.new_key("quiet")

        async def go() -> list[dict[str, Any]]:
            ws = await open_authenticated(server.ws("/v1/ws/stocks/"), key)
            async with ws:
                await subscribe(ws, "T.*,Q.*")
                return await collect(ws, 1.0)

        assert [e for e in run(go()) if e["ev"] != "status"] == []
        assert server.service.events_released == 0
        assert _writes(server) == []
    finally:
        server.stop()
    assert {d: _partitions(data_dir / "lake", d) for d in (LIVE_DAY, LAST_STORED)} == before
