"""Worker processes (issue 11): requests/s of the options trades page (1,000 trades of the busiest SPY contract,
the access suite's throughput case) and of ``/v1/status/`` with 8 concurrent keep-alive clients, against
``cutemarkets serve --workers 1`` and ``--workers 2`` over the bench market, alternated in one run (three
rounds; the median round of each is reported beside every round, and the load average, since the clients
share the machine's cores with the server).

Each server is a real ``cutemarkets serve`` process (``python -m cutemarkets_server.cli``, this package) with
the live clock off; the clients run in this process. The keys live in ``DATA_DIR/workers-serve``, whose lake is a
link to the bench market's (nothing is written to it).
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from ..store.engine import DuckEngine
from ..store.keys import KeyStore
from ..store.lake import Lake
from ..store.market import MarketStore
from .harness import bench_market, child_env, serve_dir_over

CLIENTS = 8
SECONDS = 8.0
ROUNDS = 3


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(serve_dir: Path, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = child_env()
    cmd = [sys.executable, "-m", "cutemarkets_server.cli", "serve", "--data-dir", str(serve_dir)]
    cmd += ["--port", str(port), "--no-live", "--workers", str(workers)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, f"http://127.0.0.1:{port}"


def _ready(proc: subprocess.Popen[bytes], base: str, headers: dict[str, str], route: str, workers: int) -> None:
    """Wait until every worker has answered (and served the measured page once)."""
    seen: set[str] = set()
    deadline = time.time() + 180
    while len(seen) < workers or not seen:
        if proc.poll() is not None or time.time() > deadline:
            raise RuntimeError("the server did not start")
        try:
            r = httpx.get(base + route, params={"limit": 1000}, headers=headers, timeout=30)
        except httpx.TransportError:
            time.sleep(0.3)
            continue
        r.raise_for_status()
        seen.add(r.headers.get("x-cutemarkets-worker", "single"))


def _rate(base: str, headers: dict[str, str], route: str, params: dict[str, Any]) -> float:
    counts = [0] * CLIENTS
    stop = time.perf_counter() + SECONDS

    def client(i: int) -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=120) as c:
            while time.perf_counter() < stop:
                c.get(route, params=params).raise_for_status()
                counts[i] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    started = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return sum(counts) / (time.perf_counter() - started)


def run(data_dir: Path, console: Console) -> dict[str, Any]:
    root = bench_market(data_dir, console)
    lake = Lake(root / "lake")
    contract = MarketStore(lake, DuckEngine()).busiest_tickers("option_trades", "O:SPY", 1)[0][0]
    serve_dir = serve_dir_over(data_dir / "workers-serve", root / "lake")
    key, _ = KeyStore(serve_dir / "keys.sqlite").create("bench-workers", "expert", ("options", "stocks"))
    headers = {"Authorization": f"Bearer {key}"}
    route = f"/v1/options/trades/{contract}/"
    load_before = os.getloadavg()
    figures: dict[int, dict[str, list[float]]] = {1: {"trades": [], "status": []}, 2: {"trades": [], "status": []}}
    for _ in range(ROUNDS):
        for workers in (1, 2):
            proc, base = _start(serve_dir, workers)
            try:
                _ready(proc, base, headers, route, workers)
                figures[workers]["trades"].append(_rate(base, headers, route, {"limit": 1000}))
                figures[workers]["status"].append(_rate(base, headers, "/v1/status/", {}))
            finally:
                proc.terminate()
                proc.wait(60)
    best = {w: {k: statistics.median(v) for k, v in f.items()} for w, f in figures.items()}
    table = Table(title=f"{CLIENTS} concurrent keep-alive clients, {SECONDS:.0f} s each, median of {ROUNDS} rounds")
    table.add_column("route")
    table.add_column("1 worker req/s", justify="right")
    table.add_column("2 workers req/s", justify="right")
    table.add_column("2 / 1", justify="right")
    for name, label in (("trades", f"trades page ({contract}, limit 1000)"), ("status", "/v1/status/")):
        one, two = best[1][name], best[2][name]
        table.add_row(label, f"{one:,.0f}", f"{two:,.0f}", f"{two / one:.2f}x")
    console.print(table)
    rounds = {w: {k: [round(x) for x in v] for k, v in f.items()} for w, f in figures.items()}
    load = (load_before, os.getloadavg())
    console.print(f"cores: {os.cpu_count()}; load average before/after: {load}; every round (req/s): {rounds}")
    return {
        "contract": contract,
        "cores": os.cpu_count(),
        "rounds": {str(w): {k: [round(x, 1) for x in v] for k, v in f.items()} for w, f in figures.items()},
        "load_average": [list(x) for x in load],
        "median": {str(w): {k: round(x, 1) for k, x in f.items()} for w, f in best.items()},
        "trades_speedup": round(best[2]["trades"] / best[1]["trades"], 2),
    }
