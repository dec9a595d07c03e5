"""``cutemarkets serve --workers 2``: two real worker processes behind one port, driven by real HTTP and WebSocket
clients (each new connection lands on either worker; ``X-Cutemarkets-Worker`` tells which). Rate limits stay
exact across the workers, a connection lease taken on one worker holds on the other, a page token signed by one
is accepted by the other, both replay clocks tell the same time, paper orders sent through both are filled once
each and their updates reach the subscribers of both, only one worker leads (and a survivor takes over when it
is killed), and SIGTERM drains both (WebSockets closed with 1001) and ends the server."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import datetime as dt
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import websockets

from cutemarkets_server.store.keys import KeyStore
from wsserver import bearer, close_code, linked_data_dir, recv_json, statuses_until, wait_until

SRC = Path(__file__).resolve().parents[1] / "src"
DAY = dt.date(2025, 12, 2)
SPEED = 10.0
WORKER = "x-cutemarkets-worker"
LEADER = re.compile(r"worker (\d+) is the leader")


@dataclass
class Cluster:
    proc: subprocess.Popen[bytes]
    base: str
    data_dir: Path
    log: Path

    @property
    def ws(self) -> str:
        return self.base.replace("http://", "ws://")

    def key(self, name: str, plan: str = "expert", products: tuple[str, ...] = ("options", "stocks", "paper")) -> str:
        return KeyStore(self.data_dir / "keys.sqlite").create(name, plan, products)[0]

    def leaders(self) -> list[int]:
        return [int(m) for m in LEADER.findall(self.log.read_text(errors="replace"))]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fresh_get(url: str, **kwargs: Any) -> httpx.Response:
    """One request on its own connection (so either worker may answer it)."""
    return httpx.get(url, timeout=30, **kwargs)


def on_each_worker(call: Callable[[], httpx.Response], tries: int = 60) -> dict[str, httpx.Response]:
    """Repeat ``call`` (each on a new connection) until both workers have answered; one answer per worker."""
    seen: dict[str, httpx.Response] = {}
    for _ in range(tries):
        r = call()
        seen.setdefault(r.headers[WORKER], r)
        if len(seen) == 2:
            return seen
    raise AssertionError(f"only workers {sorted(seen)} answered {tries} connections")


@pytest.fixture(scope="module")
def cluster(market_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("workers")
    data_dir = linked_data_dir(root / "data", market_dir)  # a replay writes nothing to the lake
    log = root / "server.log"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "CUTEMARKETS_SECRET"}  # the secret file is shared
    env["PYTHONPATH"] = str(SRC) + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, "-m", "cutemarkets_server.cli", "serve", "--data-dir", str(data_dir)]
    cmd += ["--port", str(port), "--workers", "2", "--replay", DAY.isoformat(), "--speed", str(SPEED)]
    cmd += ["--start", "10:00"]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    running = Cluster(proc, f"http://127.0.0.1:{port}", data_dir, log)
    try:
        wait_until(lambda: log.read_text().count("Application startup complete") >= 2 or proc.poll() is not None, 90)
        assert proc.poll() is None, log.read_text()
        yield running
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
        for pid in _worker_pids(running):  # workers the killed parent left behind
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _worker_pids(c: Cluster) -> set[int]:
    return {int(p) for p in re.findall(r"Started server process \[(\d+)\]", c.log.read_text())}


def test_rate_limits_are_exact_across_workers(cluster: Cluster) -> None:
    key = cluster.key("limited", "free", ("options",))  # 10 requests a minute

    def call(_: int) -> tuple[int, str]:
        r = fresh_get(cluster.base + "/v1/tickers/search/", headers=bearer(key))
        return r.status_code, r.headers[WORKER]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(call, range(40)))
    statuses = [s for s, _ in answers]
    assert statuses.count(200) == 10 and statuses.count(429) == 30
    assert len({w for _, w in answers}) == 2, "both workers answered"


def test_a_connection_lease_holds_across_workers(cluster: Cluster) -> None:
    key = cluster.key("one-connection")

    async def connect() -> tuple[Any, str]:
        ws = await websockets.connect(cluster.ws + "/v1/ws/stocks/", additional_headers=bearer(key))
        return ws, ws.response.headers[WORKER]

    async def go() -> None:
        first, home = await connect()
        assert (await statuses_until(first, "auth_success"))[0]["status"] == "connected"
        for _ in range(60):  # a second connection of the same user, until one lands on the other worker
            other, worker = await connect()
            statuses = await statuses_until(other, "max_connections")
            code, _ = await close_code(other)
            assert code == 4409, statuses
            if worker != home:
                break
        else:
            raise AssertionError("no connection reached the other worker")
        await first.close()
        for _ in range(60):  # released: the other worker now lets the user in
            again, worker = await connect()
            async with again:
                events = await recv_json(again)
                events += await recv_json(again)
                if worker != home:
                    assert events[-1]["status"] == "auth_success", events
                    return
        raise AssertionError("no connection reached the other worker")

    asyncio.run(go())


def test_a_page_token_of_one_worker_is_accepted_by_the_other(cluster: Cluster) -> None:
    headers = bearer(cluster.key("pager"))
    first = fresh_get(cluster.base + "/v1/stocks/aggs/AAPL/1/minute/2025-11-28/2025-12-01/?limit=5", headers=headers)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["next_url"]
    answers = on_each_worker(lambda: fresh_get(body["next_url"], headers=headers))
    signer = first.headers[WORKER]
    other = next(w for w in answers if w != signer)
    assert answers[other].status_code == 200, answers[other].text
    assert answers[other].json()["results"] == answers[signer].json()["results"]
    assert answers[other].json()["results"][0]["t"] > body["results"][-1]["t"]


def test_both_replay_clocks_tell_the_same_time(cluster: Cluster) -> None:
    headers = bearer(cluster.key("clocks"))
    offsets: dict[str, list[tuple[float, float]]] = {}
    # The kernel gives each new connection to whichever worker accepts first: sample until both have answered.
    for _ in range(400):
        if len(offsets) == 2 and min(len(v) for v in offsets.values()) >= 8:
            break
        before = time.time()
        r = fresh_get(cluster.base + "/v1/clock/", headers=headers)
        after = time.time()
        assert r.status_code == 200, r.text
        assert r.json()["results"]["mode"] == "replay", r.text
        # replayed seconds = SPEED x wall seconds + offset; the offset is the same for clocks that agree
        offset = r.json()["results"]["now_ns"] / 1e9 - SPEED * (before + after) / 2
        offsets.setdefault(r.headers[WORKER], []).append((after - before, offset))
    assert len(offsets) == 2, "both workers answered"
    (w1, s1), (w2, s2) = (min(s) for s in offsets.values())  # the tightest sample of each worker
    assert abs(s1 - s2) <= SPEED * ((w1 + w2) / 2 + 0.02), offsets


def test_paper_orders_are_filled_once_and_updates_reach_both_workers(cluster: Cluster) -> None:
    key = cluster.key("trader")
    headers = bearer(key)

    def post(path: str, body: dict[str, Any]) -> httpx.Response:
        return httpx.post(cluster.base + path, json=body, headers=headers, timeout=30)

    r = post("/v1/paper/accounts/", {"name": "workers", "initial_cash": "1000000"})
    assert r.status_code in (200, 201), r.text
    account = r.json()["account"]["id"]

    async def go() -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
        subscribers: dict[str, Any] = {}
        for _ in range(60):  # one order-update subscriber on each worker
            ws = await websockets.connect(cluster.ws + "/v1/ws/paper/", additional_headers=bearer(key))
            worker = ws.response.headers[WORKER]
            if worker in subscribers:
                await ws.close()
                continue
            await statuses_until(ws, "auth_success")
            subscribers[worker] = ws
            if len(subscribers) == 2:
                break
        assert len(subscribers) == 2, "both workers took a subscriber"

        def submit(i: int) -> dict[str, Any]:
            body = {"symbol": "AAPL", "qty": "1", "side": "buy", "type": "market", "client_order_id": f"o{i}"}
            r = post(f"/v1/paper/accounts/{account}/orders/", body)
            assert r.status_code in (200, 201), r.text
            return {**r.json(), "worker": r.headers[WORKER]}

        orders: list[dict[str, Any]] = []
        with concurrent.futures.ThreadPoolExecutor(4) as pool:  # batches of 4 until both workers took some
            while len(orders) < 12 or (len({o["worker"] for o in orders}) < 2 and len(orders) < 40):
                batch = range(len(orders), len(orders) + 4)
                orders += await asyncio.to_thread(lambda b=batch: list(pool.map(submit, b)))
        wanted = {o["id"] for o in orders}
        seen: dict[str, list[dict[str, Any]]] = {}
        for worker, ws in subscribers.items():
            events: list[dict[str, Any]] = []
            while {e["order"]["id"] for e in events if e.get("event") == "fill"} != wanted:
                events += [e for e in await recv_json(ws) if e.get("ev") == "paper.order"]
            seen[worker] = events
            await ws.close()
        return orders, seen

    orders, seen = asyncio.run(go())
    assert len({o["worker"] for o in orders}) == 2, "orders went through both workers"
    # filled at once by the worker that took the order, or (no usable quote at that instant) by the leader's fill
    # engine a moment later: either way exactly once, and announced once on each worker
    assert {o["status"] for o in orders} <= {"filled", "new"}, orders
    for events in seen.values():
        fills = [e["order"]["id"] for e in events if e["event"] == "fill"]
        assert sorted(fills) == sorted(o["id"] for o in orders), "each fill announced once on each worker"
    fills = fresh_get(cluster.base + f"/v1/paper/accounts/{account}/fills/?limit=100", headers=headers).json()
    assert sorted(f["order_id"] for f in fills["results"]) == sorted(o["id"] for o in orders), "one fill per order"
    positions = fresh_get(cluster.base + f"/v1/paper/accounts/{account}/positions/", headers=headers).json()
    assert [(p["symbol"], float(p["qty"])) for p in positions["results"]] == [("AAPL", float(len(orders)))]


def test_one_leader_and_a_survivor_takes_over(cluster: Cluster) -> None:
    leaders = cluster.leaders()
    assert len(leaders) == 1, "exactly one worker leads"
    # Stopped first, so the supervisor's health ping is pending when the worker dies: it must still be
    # replaced at once, not after the ping's timeout.
    os.kill(leaders[0], signal.SIGSTOP)
    time.sleep(1.5)
    os.kill(leaders[0], signal.SIGKILL)
    wait_until(lambda: len(cluster.leaders()) == 2, 20, "a new leader")
    assert cluster.leaders()[1] != leaders[0]
    wait_until(lambda: f"Child process [{leaders[0]}] died" in cluster.log.read_text(), 10, "the dead worker seen")
    assert cluster.proc.poll() is None


def test_sigterm_drains_every_worker_and_ends_the_server(cluster: Cluster) -> None:
    key_names = [f"drain-{i}" for i in range(8)]
    keys = [cluster.key(n) for n in key_names]

    async def go() -> list[tuple[int | None, str]]:
        sockets: dict[str, list[Any]] = {}
        deadline = time.time() + 60  # the worker replacing the killed leader may still be starting
        for key in keys:
            ws = await websockets.connect(cluster.ws + "/v1/ws/stocks/", additional_headers=bearer(key))
            await statuses_until(ws, "auth_success")
            sockets.setdefault(ws.response.headers[WORKER], []).append(ws)
        while len(sockets) < 2 and time.time() < deadline:
            ws = await websockets.connect(cluster.ws + "/v1/ws/stocks/", additional_headers=bearer(keys[0]))
            worker = ws.response.headers[WORKER]
            await ws.close()
            if worker not in sockets:  # this worker has none yet: move one of the first worker's there
                moved = next(iter(sockets.values())).pop()
                await moved.close()
                await asyncio.sleep(0.2)
                for _ in range(60):
                    ws = await websockets.connect(cluster.ws + "/v1/ws/stocks/", additional_headers=bearer(keys[-1]))
                    if ws.response.headers[WORKER] == worker:
                        await statuses_until(ws, "auth_success")
                        sockets[worker] = [ws]
                        break
                    await ws.close()
                    await asyncio.sleep(0.05)
        assert len(sockets) == 2, "sockets open on both workers"
        cluster.proc.send_signal(signal.SIGTERM)
        everyone = [ws for group in sockets.values() for ws in group]
        return list(await asyncio.gather(*(close_code(ws) for ws in everyone)))

    codes = asyncio.run(go())
    assert codes == [(1001, "server shutting down")] * len(codes)
    assert cluster.proc.wait(30) == 0
    text = cluster.log.read_text()
    for pid in _worker_pids(cluster):
        assert f"Finished server process [{pid}]" in text or _gone(pid), pid


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_worker_config_round_trips() -> None:
    from cutemarkets_server.config import Settings
    from cutemarkets_server.workers import decode_config, encode_config
    from cutemarkets_server.ws.config import StreamConfig

    settings = Settings(data_dir=Path("/x"), port=9, cors_origins=("https://a.example",), backtests_dir=Path("/b"))
    streaming = StreamConfig(mode="replay", replay_day=DAY, replay_start=dt.time(9, 45), replay_anchor=12.5)
    assert decode_config(encode_config(settings, streaming)) == (settings, streaming)
    assert orjson.loads(encode_config(settings, StreamConfig()))["streaming"]["mode"] == "off"


# -- the live market clock under a leader and a follower (two servers in this process, one lock) -------------
LIVE_DAY = dt.date(2025, 12, 3)  # the first session after the test market's last one


def _live_server(data_dir: Path, clock: Any) -> Any:
    import threading

    from cutemarkets_server.app import create_app
    from cutemarkets_server.config import Settings
    from cutemarkets_server.workers import LOCK_FILE, Leadership
    from cutemarkets_server.ws.config import StreamConfig
    from cutemarkets_server.ws.serving import StreamingServer, server_config
    from wsserver import StreamServer

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    leadership = Leadership(data_dir / LOCK_FILE, retry_s=0.1)
    settings = Settings(data_dir=data_dir, secret="test-secret")
    app = create_app(settings, clock=clock, streaming=StreamConfig(mode="live"), leadership=leadership)
    server = StreamingServer(server_config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_until(lambda: server.started, 60, "the server")
    return StreamServer(data_dir, app, server, thread, sock.getsockname()[1])


def test_live_clock_followers_publish_the_same_ticks_and_a_survivor_stores_them(
    market_dir: Path, tmp_path: Path
) -> None:
    import shutil

    from cutemarkets_server.clock import FixedClock
    from cutemarkets_server.market.timestamps import et_ns
    from wsserver import collect, open_authenticated, subscribe

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    shutil.copytree(market_dir / "lake", data_dir / "lake")
    clock = FixedClock(et_ns(LIVE_DAY, 10, 0, 30))
    leader = _live_server(data_dir, clock)
    follower = _live_server(data_dir, clock)
    stopped = False

    def writes(srv: Any) -> list[tuple[dt.date, int]]:
        mc = srv.service.market_clock
        return list(mc.writes) if mc is not None else []

    try:
        assert leader.app.state.leadership.is_leader() and not follower.app.state.leadership.is_leader()
        wait_until(lambda: bool(writes(leader)), 60, "the leader's catch-up append")
        wait_until(lambda: follower.service.market_clock is not None and follower.service.market_clock.player, 60)
        keys = [leader.new_key("live-a"), follower.new_key("live-b")]

        async def both() -> list[list[dict[str, Any]]]:
            sockets = [
                await open_authenticated(srv.ws("/v1/ws/stocks/"), key)
                for srv, key in zip((leader, follower), keys, strict=True)
            ]
            for ws in sockets:
                await subscribe(ws, "T.*,Q.AAPL")
            clock.set(et_ns(LIVE_DAY, 10, 1, 0))
            got = await asyncio.gather(*(collect(ws, 2.0) for ws in sockets))
            for ws in sockets:
                await ws.close()
            return [[e for e in events if e["ev"] in ("T", "Q")] for events in got]

        on_leader, on_follower = asyncio.run(both())
        assert on_leader and on_follower == on_leader, "the same ticks on both"
        assert writes(follower) == [], "the follower stores nothing"

        leader.stop()  # its last append, then the lock is free
        stopped = True
        wait_until(follower.app.state.leadership.is_leader, 10, "the follower's election")
        # the new leader stores from where its own tape has got to, then carries on batch by batch
        wait_until(lambda: bool(writes(follower)), 30, "the new leader's append")
        assert writes(follower) == [(LIVE_DAY, et_ns(LIVE_DAY, 10, 1))]
        clock.set(et_ns(LIVE_DAY, 10, 2, 0))
        wait_until(lambda: len(writes(follower)) == 2, 30, "the next batch")
        assert writes(follower)[1] == (LIVE_DAY, et_ns(LIVE_DAY, 10, 2))
    finally:
        follower.stop()
        if not stopped:
            leader.stop()


def test_workers_flag_refusals(market_dir: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cutemarkets_server.cli import app

    data_dir = linked_data_dir(tmp_path / "data", market_dir)
    runner = CliRunner()
    base = ["serve", "--data-dir", str(data_dir), "--port", str(_free_port())]
    unpaced = runner.invoke(app, [*base, "--workers", "2", "--replay", DAY.isoformat(), "--speed", "max"])
    assert unpaced.exit_code == 2 and "--workers" in unpaced.output and "Traceback" not in unpaced.output
    none = runner.invoke(app, [*base, "--no-live"], env={"CUTEMARKETS_WORKERS": "0"})
    assert none.exit_code == 2 and "--workers" in none.output
