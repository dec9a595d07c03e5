"""Small helpers for benchmarks: an in-process server, timing loops and result tables."""

from __future__ import annotations

import datetime as dt
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table


@dataclass
class Timing:
    median_ms: float
    p99_ms: float
    per_second: float
    n: int

    def row(self) -> list[str]:
        return [f"{self.median_ms:.3f}", f"{self.p99_ms:.3f}", f"{self.per_second:,.0f}", str(self.n)]


def measure(fn: Callable[[], Any], *, n: int, warmup: int = 20) -> Timing:
    """Call ``fn`` sequentially; median and p99 latency and calls per second over ``n`` calls."""
    for _ in range(warmup):
        fn()
    samples = []
    started = time.perf_counter()
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1e3)
    total = time.perf_counter() - started
    samples.sort()
    return Timing(statistics.median(samples), samples[min(len(samples) - 1, int(0.99 * len(samples)))], n / total, n)


def interleaved(fns: dict[str, Callable[[], Any]], *, rounds: int, warmup: int = 10) -> dict[str, Timing]:
    """Time several callables side by side, alternating them so machine noise hits all alike."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            samples[name].append((time.perf_counter() - t0) * 1e3)
    out = {}
    for name, s in samples.items():
        s.sort()
        out[name] = Timing(
            statistics.median(s), s[min(len(s) - 1, int(0.99 * len(s)))], 1e3 / statistics.mean(s), len(s)
        )
    return out


def serve_in_thread(app: Any) -> tuple[Any, str]:
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        time.sleep(0.02)
    return server, f"http://127.0.0.1:{port}"


def timing_table(title: str, timings: dict[str, Timing], console: Console) -> None:
    table = Table(title=title)
    for col in ("case", "median ms", "p99 ms", "per second", "n"):
        table.add_column(col, justify="right" if col != "case" else "left")
    for name, t in timings.items():
        table.add_row(name, *t.row())
    console.print(table)


def ensure_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def bench_market(data_dir: Path, console: Console) -> Path:
    """The bench-profile market under ``data_dir`` (built once; several minutes)."""
    from ..sim.build import build_market
    from ..store.lake import Lake

    root = data_dir / "bench-market"
    manifest = root / "lake" / "manifest.sqlite"
    if not (manifest.exists() and Lake(root / "lake").snapshot().days("option_quotes")):
        console.print("building the bench-profile market (first run only)…")
        build_market(root, seed=7, profile="bench")
    return root


DEFAULT_MARKET_END = dt.date(2025, 12, 2)


def default_market(data_dir: Path, console: Console) -> Path:
    """The default built-in market (seed 7, ending ``DEFAULT_MARKET_END``) under ``data_dir``, as an absolute
    path (built once; about two minutes). The cutebacktests and backtest suites share it."""
    from ..sim.build import build_market
    from ..store.lake import Lake

    root = (data_dir / "default-market").resolve()
    if not ((root / "lake" / "manifest.sqlite").exists() and Lake(root / "lake").snapshot().days("option_quotes")):
        console.print("building the default market (first run only)…")
        build_market(root, seed=7, end=DEFAULT_MARKET_END, profile="default")
    return root


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a benchmark's child process: this checkout's package first on the path, whatever
    the child's working directory (a relative ``PYTHONPATH`` would not follow it into a scratch directory)."""
    package_root = str(Path(__file__).resolve().parents[2])
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH", "")) if p)
    return {**env, **extra}


@contextmanager
def server_process(serve_dir: Path) -> Iterator[tuple[str, int]]:
    """A ``cutemarkets serve --no-live`` process over ``serve_dir``: (base URL, pid) once it answers."""
    import httpx

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    command = [sys.executable, "-m", "cutemarkets_server.cli", "serve", "--data-dir", str(serve_dir)]
    proc = subprocess.Popen(
        [*command, "--port", str(port), "--no-live"],
        env=child_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while True:
            try:
                httpx.get(base + "/v1/status/", timeout=2)
                break
            except httpx.HTTPError:
                if time.time() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.1)
        yield base, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def rss_mb(pid: int) -> float:
    """Resident memory of a process (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def serve_dir_over(serve_dir: Path, lake_dir: Path) -> Path:
    """A data directory for a benchmark's server whose ``lake`` links to ``lake_dir`` (a link left pointing
    at another market by an earlier version of the suite is replaced)."""
    serve_dir.mkdir(parents=True, exist_ok=True)
    link, target = serve_dir / "lake", lake_dir.resolve()
    if link.is_symlink() and link.resolve() != target:
        link.unlink()
    if not link.exists():
        link.symlink_to(target, target_is_directory=True)
    return serve_dir
