"""WebSocket fan-out: one replay of the bench market at full speed to 100 subscribers.

The server runs in this process; the 100 clients run in a child process (one asyncio loop), each on its own
user key, subscribed to option trades, second and minute aggregates (``T.*,A.*,AM.*``) and the quotes of
the 1,000 busiest contracts. The replay (unpaced: as fast as the subscribers read) covers a window of the
last bench session. Reported: events delivered per second to all subscribers together, delivery latency
(from the instant a frame is queued for a subscriber to the instant the client has read it, p50/p99) and the
server's memory per connected, subscribed, idle connection (Python heap allocated while the connections
opened, traced with tracemalloc; the resident set is too noisy here, as the allocator returns freed pages).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import multiprocessing
import socket
import statistics
import threading
import time
import tracemalloc
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from ..app import create_app
from ..config import Settings
from ..market.timestamps import et_ns
from ..sim.replay import load_session
from ..store.keys import KeyStore
from ..store.lake import Lake
from ..store.market import MarketStore
from ..ws.config import StreamConfig
from ..ws.serving import StreamingServer, server_config
from .harness import bench_market, serve_dir_over

SUBSCRIBERS = 100
QUOTE_CONTRACTS = 1000
WINDOW = (dt.time(10, 0), dt.time(10, 20))


async def _clients(url: str, keys: list[str], topics: str, pipe: Connection) -> None:
    import websockets

    sockets = []
    for key in keys:
        ws = await websockets.connect(url, additional_headers={"Authorization": f"Bearer {key}"}, max_size=None)
        await ws.recv()
        await ws.recv()
        await ws.send(orjson.dumps({"action": "subscribe", "params": topics}).decode())
        await ws.recv()  # the acknowledgements of one message come in one frame
        sockets.append(ws)
    pipe.send("ready")
    recv_times: list[list[int]] = [[] for _ in sockets]
    counts = [0] * len(sockets)
    stop = asyncio.Event()

    async def read(i: int, ws: Any) -> None:
        times, n = recv_times[i], 0
        try:
            while True:
                data = await ws.recv()
                times.append(time.time_ns())
                n += data.count('"ev":')
                counts[i] = n
        except Exception:
            return

    async def wait_stop() -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, pipe.recv)
        stop.set()

    readers = [asyncio.create_task(read(i, ws)) for i, ws in enumerate(sockets)]
    await wait_stop()
    for r in readers:
        r.cancel()
    for ws in sockets:
        await ws.close()
    pipe.send((counts, recv_times))


def _client_process(url: str, keys: list[str], topics: str, pipe: Connection) -> None:
    asyncio.run(_clients(url, keys, topics, pipe))


def _busiest_contracts(store: MarketStore, day: dt.date, n: int) -> list[str]:
    quotes = store.partition_table("option_quotes", day)
    lo, hi = et_ns(day, WINDOW[0].hour, WINDOW[0].minute), et_ns(day, WINDOW[1].hour, WINDOW[1].minute)
    counts: dict[str, int] = {}
    ts = quotes["sip_timestamp"].to_numpy()
    for ticker, t in zip(quotes["ticker"].to_pylist(), ts.tolist(), strict=True):
        if lo <= t < hi:
            counts[ticker] = counts.get(ticker, 0) + 1
    return sorted(counts, key=lambda k: -counts[k])[:n]


def run(data_dir: Path, console: Console) -> dict[str, Any]:
    root = bench_market(data_dir, console)
    serve_dir = serve_dir_over(data_dir / "bench-ws", root / "lake")
    day = Lake(serve_dir / "lake").snapshot().days("option_quotes")[-1]
    start = WINDOW[0]
    config = StreamConfig(mode="off", replay_day=day, replay_speed=None, replay_start=start, queue_frames=4096)
    clock = config.replay_clock()
    app = create_app(Settings(data_dir=serve_dir, secret="bench"), clock=clock, streaming=config)
    service = app.state.stream
    store = MarketStore(app.state.ctx.runtime.lake, app.state.ctx.runtime.engine)
    contracts = _busiest_contracts(store, day, QUOTE_CONTRACTS)
    topics = ",".join(["T.*", "A.*", "AM.*"] + ["Q." + c for c in contracts])
    keystore = KeyStore(serve_dir / "keys.sqlite")
    stamp = int(time.time())
    keys = [keystore.create(f"bench-ws-{stamp}-{i}", "expert", ("options",))[0] for i in range(SUBSCRIBERS)]

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = StreamingServer(server_config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    gc.collect()
    tracemalloc.start()
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_client_process, args=(f"ws://127.0.0.1:{port}/v1/ws/options/", keys, topics, child))
    proc.start()
    try:
        assert parent.recv() == "ready"
        time.sleep(0.5)
        gc.collect()
        heap_after, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        tape = load_session(store, day)
        tape.end_ns = et_ns(day, WINDOW[1].hour, WINDOW[1].minute)
        subscribers = list(service.hub.subscribers)
        for sub in subscribers:
            sub.trace = []
        started = time.perf_counter()
        service.loop.call_soon_threadsafe(service.start_replay, tape)
        while service.producer is None or not service.producer.done():
            time.sleep(0.05)
        while any(s.queue for s in list(service.hub.subscribers)):
            time.sleep(0.01)
        time.sleep(0.5)
        producer_seconds = time.perf_counter() - started
        parent.send("stop")
        counts, recv_times = parent.recv()
    finally:
        proc.join(timeout=60)
        server.should_exit = True
        thread.join(timeout=30)

    firsts = [t[0] for t in recv_times if t]
    lasts = [t[-1] for t in recv_times if t]
    seconds = (max(lasts) - min(firsts)) / 1e9 if firsts else float("nan")
    delivered = sum(counts)
    by_user = {s.user: s for s in subscribers}
    latencies: list[float] = []
    for i, key_times in enumerate(recv_times):
        sub = by_user.get(f"bench-ws-{stamp}-{i}")
        if sub is None or sub.trace is None:
            continue
        for stamps, received in zip(sub.trace, key_times, strict=False):
            latencies.extend((received - s) / 1e6 for s in stamps)
    latencies.sort()
    p50 = statistics.median(latencies) if latencies else float("nan")
    p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] if latencies else float("nan")
    per_conn = heap_after / SUBSCRIBERS
    result = {
        "subscribers": SUBSCRIBERS,
        "market_window": f"{day} {WINDOW[0]:%H:%M}-{WINDOW[1]:%H:%M} ET",
        "replayed_events": int(tape.index_at(tape.end_ns) - tape.index_at(clock.start_ns)),
        "events_delivered": delivered,
        "seconds": seconds,
        "events_per_second": delivered / seconds if seconds else float("nan"),
        "producer_seconds": producer_seconds,
        "latency_ms_p50": p50,
        "latency_ms_p99": p99,
        "memory_per_connection_kib": per_conn / 1024,
        "slow_consumers_dropped": sum(1 for s in subscribers if s.closing),
    }
    table = Table(title=f"WebSocket fan-out: one full-speed replay to {SUBSCRIBERS} subscribers")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("market window", result["market_window"])
    table.add_row("events replayed", f"{result['replayed_events']:,}")
    table.add_row("events delivered (all subscribers)", f"{delivered:,}")
    table.add_row("delivered events / s", f"{result['events_per_second']:,.0f}")
    table.add_row("delivery latency p50 / p99 (ms)", f"{p50:.1f} / {p99:.1f}")
    table.add_row("server memory per connection (KiB, Python heap)", f"{result['memory_per_connection_kib']:.1f}")
    table.add_row("slow consumers dropped", str(result["slow_consumers_dropped"]))
    console.print(table)
    return result
