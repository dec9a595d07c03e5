"""Paper trading while the market clock runs: a replayed session at high speed fills resting orders on the
replayed quotes and expires day orders at the close; and a server killed with SIGKILL during parallel
submissions restarts with every acknowledged order, fill and cash movement consistent."""

from __future__ import annotations

import datetime as dt
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from cutemarkets_server.clock import FixedClock
from cutemarkets_server.market.timestamps import et_ns
from cutemarkets_server.store.keys import KeyStore
from cutemarkets_server.ws.config import StreamConfig
from paperkit import TsClient, check_shape, wait_for
from wsserver import linked_data_dir, start_stream_server

from lakeread import query

DAY = dt.date(2025, 12, 2)


def rfc3339_ns(text: str) -> int:
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(moment.timestamp()) * 10**9 + moment.microsecond * 1000


def test_a_replayed_session_fills_resting_orders_and_expires_day_orders(market_dir: Path, tmp_path: Path) -> None:
    streaming = StreamConfig(mode="replay", replay_day=DAY, replay_speed=120.0, replay_start=dt.time(15, 30))
    srv = start_stream_server(linked_data_dir(tmp_path / "data", market_dir), streaming)
    try:
        key = srv.new_key("replayer", "expert", ("options", "stocks", "paper"))
        http = httpx.Client(base_url=srv.http, headers={"Authorization": f"Bearer {key}"}, timeout=60)
        ts = TsClient(http)
        aid = ts.accounts_create("replay", "100000")["account"]["id"]

        market = ts.orders_submit(aid, {"symbol": "AAPL", "qty": "1", "side": "buy", "type": "market"})
        assert market["status"] == "filled"
        fill = ts.fills(aid)["results"][0]
        fill_ns = rfc3339_ns(fill["market_timestamp"])
        assert et_ns(DAY, 15, 0) <= fill_ns <= srv.clock.now_ns(), "the NBBO in force at the replayed instant"
        # market_timestamp is RFC 3339 to the microsecond: the quote is the newest before the next microsecond.
        quoted = http.get("/v1/stocks/quotes/AAPL/", params={"timestamp.lt": fill_ns + 1000, "limit": 1}).json()
        quoted = quoted["results"][0]
        assert Decimal(fill["price"]) == Decimal(str(quoted["ask_price"])), "filled at the replayed ask"

        # A buy limit the replayed ask only reaches later in the session rests, then fills on that later quote.
        now_ns = srv.clock.now_ns()
        later = query(  # the rest of the session, read from the lake (the API only answers up to "now")
            market_dir / "lake",
            "stock_quotes",
            "ticker = 'AAPL' AND sip_timestamp >= ? AND sip_timestamp < ?",
            [now_ns + 120 * 10**9, et_ns(DAY, 15, 58)],
            days=[DAY],
        )
        current_ask = Decimal(str(quoted["ask_price"]))
        lowest = min(Decimal(str(q["ask_price"])) for q in later)
        if lowest >= current_ask:
            pytest.skip("the replayed ask never falls below the first fill; no resting limit to test")
        limit = lowest
        resting = ts.orders_submit(
            aid, {"symbol": "AAPL", "qty": "1", "side": "buy", "type": "limit", "limit_price": str(limit)}
        )
        far = ts.orders_submit(aid, {"symbol": "AAPL", "qty": "1", "side": "buy", "type": "limit", "limit_price": "1"})
        assert far["status"] == "new"
        if resting["status"] == "new":
            resting = wait_for(
                lambda: (o := ts.orders_get(aid, resting["id"]))["status"] == "filled" and o, timeout_s=60
            )
        assert resting["status"] == "filled"
        assert Decimal(resting["filled_avg_price"]) <= limit
        resting_fill = next(f for f in ts.fills(aid)["results"] if f["order_id"] == resting["id"])
        assert rfc3339_ns(resting_fill["market_timestamp"]) > fill_ns, "filled on a later replayed quote"
        assert rfc3339_ns(resting_fill["market_timestamp"]) <= srv.clock.now_ns()

        expired = wait_for(lambda: (o := ts.orders_get(aid, far["id"]))["status"] == "expired" and o, timeout_s=60)
        assert expired["expired_at"] >= "2025-12-02T21:00:00"
        history = ts.portfolio_history(aid)["results"]
        minutes = {h["timestamp"][:16] for h in history}
        assert len(minutes) >= 10, "a snapshot per replayed minute of the session"
        assert "2025-12-02T21:00" in minutes, "and one at the close"
        for snap in history:
            check_shape("snapshot", snap)
    finally:
        srv.stop()


# -- kill -9 ---------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    cmd = [
        sys.executable,
        "-c",
        "from cutemarkets_server.cli import main; main()",
        "serve",
        "--data-dir",
        str(data_dir),
        "--port",
        str(port),
        "--replay",
        DAY.isoformat(),
        "--speed",
        "30",
        "--start",
        "11:00",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            if httpx.get(base + "/v1/status/", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        if time.time() > deadline or proc.poll() is not None:
            proc.kill()
            raise RuntimeError("server did not start")
        time.sleep(0.1)


def hammer(base: str, key: str, aid: str, stop: threading.Event, acked: list[dict[str, Any]], worker: int) -> None:
    """Submit buys and sells until the server dies, recording every acknowledged order."""
    rng = random.Random(worker)
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=10) as http:
        i = 0
        while not stop.is_set():
            symbol = rng.choice(["SPY", "QQQ"])
            side = "buy" if rng.random() < 0.6 else "sell"
            body = {
                "symbol": symbol,
                "qty": str(rng.choice([1, 2, 3])),
                "side": side,
                "type": "market",
                "client_order_id": f"w{worker}-{i}",
            }
            i += 1
            try:
                r = http.post(f"/v1/paper/accounts/{aid}/orders/", json=body)
            except httpx.HTTPError:
                return
            if r.status_code in (200, 201):
                acked.append({"body": body, "order": r.json()})
            elif r.status_code != 400:  # 400: a sell beyond the position; anything else is a failure
                acked.append({"body": body, "unexpected": f"{r.status_code} {r.text}"})
                return


def check_consistent(http: httpx.Client, aid: str, initial: Decimal, acked: list[dict[str, Any]]) -> None:
    assert not [a["unexpected"] for a in acked if "unexpected" in a]
    ts = TsClient(http)
    for item in acked:
        found = ts.orders_by_client_order_id(aid, item["body"]["client_order_id"])
        assert found["id"] == item["order"]["id"], "an acknowledged order survives the crash"
    orders: list[dict[str, Any]] = []
    page = ts.orders_list(aid, limit=1000)
    orders += page["results"]
    while "next_url" in page:
        page = http.get(page["next_url"]).json()
        orders += page["results"]
    fills: list[dict[str, Any]] = []
    page = http.get(f"/v1/paper/accounts/{aid}/fills/", params={"limit": 1000}).json()
    fills += page["results"]
    while "next_url" in page:
        page = http.get(page["next_url"]).json()
        fills += page["results"]
    filled = {o["id"] for o in orders if o["status"] == "filled"}
    by_order = defaultdict(list)
    for f in fills:
        by_order[f["order_id"]].append(f)
    assert set(by_order) == filled and all(len(v) == 1 for v in by_order.values()), "one fill per filled order"
    cash = initial
    held: dict[str, Decimal] = defaultdict(Decimal)
    for f in fills:
        gross = Decimal(f["gross_amount"])
        cash += gross if f["side"] == "sell" else -gross
        held[f["symbol"]] += Decimal(f["qty"]) if f["side"] == "buy" else -Decimal(f["qty"])
    summary = ts.summary(aid)
    assert Decimal(summary["cash"]) == cash >= 0
    positions = {p["symbol"]: Decimal(p["qty"]) for p in ts.positions(aid)["results"]}
    assert positions == {s: q for s, q in held.items() if q != 0}
    assert all(q > 0 for q in positions.values())


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_kill_9_during_parallel_orders_leaves_the_ledger_consistent(market_dir: Path, tmp_path: Path) -> None:
    data_dir = linked_data_dir(tmp_path / "data", market_dir)
    key, _ = KeyStore(data_dir / "keys.sqlite").create("crash", "expert", ("options", "stocks", "paper"))
    initial = Decimal("25000")
    proc, base = serve(data_dir)
    acked: list[dict[str, Any]] = []
    try:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30) as http:
            aid = TsClient(http).accounts_create("crash", str(initial))["account"]["id"]
        for round_no in range(2):
            stop = threading.Event()
            workers = [
                threading.Thread(target=hammer, args=(base, key, aid, stop, acked, round_no * 10 + w)) for w in range(6)
            ]
            for w in workers:
                w.start()
            before = len(acked)
            wait_for(lambda n=before: len(acked) >= n + 8, timeout_s=120, every_s=0.02)
            time.sleep(random.uniform(0.0, 0.5))  # then die at an arbitrary moment of the submissions
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            stop.set()
            for w in workers:
                w.join(timeout=30)
            proc, base = serve(data_dir)
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30) as http:
                check_consistent(http, aid, initial, acked)
                # A client retrying after the crash gets the order it already has, not a second one.
                if acked:
                    retry = acked[-1]
                    r = http.post(f"/v1/paper/accounts/{aid}/orders/", json=retry["body"])
                    assert r.status_code == 200 and r.json()["id"] == retry["order"]["id"]
    finally:
        proc.kill()
        proc.wait(timeout=30)


# -- the live market clock -------------------------------------------------------------------------------
def test_the_live_market_clock_fills_orders_on_the_session_it_generates(market_dir: Path, tmp_path: Path) -> None:
    live_day = dt.date(2025, 12, 3)  # the first session after the test market's last one
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    shutil.copytree(market_dir / "lake", data_dir / "lake")
    clock = FixedClock(et_ns(live_day, 9, 0))
    srv = start_stream_server(data_dir, StreamConfig(mode="live"), clock=clock)
    try:
        key = srv.new_key("live", "expert", ("options", "stocks", "paper"))
        http = httpx.Client(base_url=srv.http, headers={"Authorization": f"Bearer {key}"}, timeout=60)
        ts = TsClient(http)
        aid = ts.accounts_create("live", "100000")["account"]["id"]
        waiting = ts.orders_submit(aid, {"symbol": "SPY", "qty": "1", "side": "buy", "type": "market"})
        assert waiting["status"] == "accepted", "before the open"

        clock.set(et_ns(live_day, 10, 0, 30))  # the market clock generates the session and appends it
        filled = wait_for(lambda: (o := ts.orders_get(aid, waiting["id"]))["status"] == "filled" and o, timeout_s=120)
        fill = ts.fills(aid)["results"][0]
        fill_ns = rfc3339_ns(fill["market_timestamp"])
        assert et_ns(live_day, 9, 30) <= fill_ns <= et_ns(live_day, 10, 0, 30), "a quote the clock generated"
        generated = query(
            data_dir / "lake", "stock_quotes", "ticker = 'SPY' AND sip_timestamp < ?", [fill_ns + 1000], days=[live_day]
        )
        used = max(generated, key=lambda q: q["sip_timestamp"])
        assert Decimal(filled["filled_avg_price"]) == Decimal(str(used["ask_price"]))
    finally:
        srv.stop()
