"""Benchmarks run by ``cutemarkets bench`` / ``make bench``: medians and side-by-side ratios in one run."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

# name -> (module, one-line description)
SUITES: dict[str, tuple[str, str]] = {
    "status": ("status", "median latency and requests/s of /v1/status/ beside a trivial endpoint of the same app"),
    "build": ("build", "built-in market build time (default profile) with rows and bytes per dataset"),
    "greeks": ("greeks", "IV + greeks throughput beside py_vollib_vectorized on the same inputs"),
    "websocket": ("websocket", "events/s, delivery latency and memory per connection: one replay to 100 subscribers"),
    "access": ("access", "tick, bar, chain and snapshot answers beside the best read of the same rows; throughput"),
    "growth": ("growth", "the same requests on a 30-session and a 300-session lake; appending a day to each"),
    "cutebacktests": ("cutebacktests", "cutebacktests 0.3.0's intraday options backtest over 10 sessions, end to end"),
    "ingest": ("ingest", "importing a 10M-row options quotes .csv.gz beside DuckDB's read_csv -> Parquet copy"),
    "backtest": ("backtest", "opening-range backtest beside cutebacktests' intraday run; 8-point sweep at 1/2 workers"),
    "workers": ("workers", "requests/s of the options trades page, 8 keep-alive clients, at 1 and 2 worker processes"),
}


def suites() -> dict[str, str]:
    return {name: doc for name, (_, doc) in SUITES.items()}


def run_suites(data_dir: Path, names: list[str] | None, console: Console) -> dict[str, Any]:
    chosen = names or list(SUITES)
    unknown = [n for n in chosen if n not in SUITES]
    if unknown:
        raise SystemExit(f"unknown benchmark suite(s): {', '.join(unknown)}; see `cutemarkets bench --list`")
    results: dict[str, Any] = {}
    for name in chosen:
        module = importlib.import_module(f"{__name__}.{SUITES[name][0]}")
        run: Callable[[Path, Console], dict[str, Any]] = module.run
        console.rule(f"[bold]{name}[/bold]: {SUITES[name][1]}")
        results[name] = run(data_dir, console)
    return results
