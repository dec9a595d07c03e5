"""Backtests: our opening-range strategy beside cutebacktests 0.3.0's default intraday run over the same
sessions against the same server (end to end, each as its own command), and a sweep of 8 parameter sets
on Dask at 1 and 2 workers.

The market is the default built-in market (``cutemarkets demo --end 2025-12-02``, shared with the
``cutebacktests`` suite) and the sessions are its last 10 SPY sessions, the run the ``cutebacktests``
suite measures.

The contenders run interleaved (cutebacktests, ours over HTTP, ours on the lake; ``ROUNDS`` times) so that
the load of a shared machine hits them alike, and the medians are compared. Every cutebacktests run
starts from an empty data directory (it caches what it downloads, and a cached run would not ask the
server at all). Our command keeps two small files between runs (the calendar's session table and the
chart template, ``backtest/cache.py``); its first run, which writes them, is timed and reported apart.
Python may write bytecode for both (``PYTHONDONTWRITEBYTECODE`` is cleared), as on a user's machine.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from ..app import create_app
from ..clock import FixedClock
from ..config import Settings
from ..market.timestamps import et_ns
from ..store.keys import KeyStore
from ..store.lake import Lake
from .harness import DEFAULT_MARKET_END, child_env, default_market, serve_dir_over, serve_in_thread

END = DEFAULT_MARKET_END
SESSIONS = 10
TARGET_SPEEDUP = 50.0
ROUNDS = int(os.environ.get("CUTEMARKETS_BENCH_BACKTEST_ROUNDS", "7"))
SWEEP_GRID = ["--grid", "range_minutes=5,10,15,30", "--grid", "fill_policy=cross_spread,mid_fraction"]


def _sessions(root: Path) -> tuple[str, str]:
    days = Lake(root / "lake").snapshot().days("option_quotes")[-SESSIONS:]
    return days[0].isoformat(), days[-1].isoformat()


def _timed(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    return time.perf_counter() - started, done


def run(data_dir: Path, console: Console) -> dict[str, Any]:
    root = default_market(data_dir, console)  # absolute: the commands run in a scratch directory
    first, last = _sessions(root)
    serve_dir = serve_dir_over(data_dir / "backtest-serve", root / "lake")
    app = create_app(Settings(data_dir=serve_dir), clock=FixedClock(et_ns(END + dt.timedelta(days=1), 10)))
    key, _ = KeyStore(serve_dir / "keys.sqlite").create("bench-backtest", "expert", ("options", "stocks"))
    server, base = serve_in_thread(app)
    exe = str(Path(sys.executable).with_name("cutemarkets"))
    work = Path(tempfile.mkdtemp(prefix="bench-backtest-"))
    env = child_env(LOG_LEVEL="WARNING", CUTEMARKETS_CACHE_DIR=str(work / "cache"))
    results: dict[str, Any] = {}
    try:
        cbt_env = {**env, "CUTEMARKETS_BASE_URL": base, "CUTEMARKETS_API_KEY": key}
        cbt_cmd = [
            sys.executable, "-m", "cutebacktests.cli", "run-intraday-options-backtest", "--ticker", "SPY",
            "--start", first, "--end", last, "--option-mode", "historical", "--require-relative-volume", "false",
        ]  # fmt: skip
        ours = [exe, "backtest", "run", "--strategy", "orb", "--underlying", "SPY", "--from", first, "--to", last]
        cases = {
            "cutebacktests (HTTP)": (cbt_cmd, cbt_env),
            "ours (HTTP)": ([*ours, "--out", str(work / "http"), "--source", base, "--api-key", key], env),
            "ours (lake)": ([*ours, "--out", str(work / "lake"), "--data-dir", str(root)], env),
        }
        # One chain request warms the server's reference data for whichever engine goes first.
        import httpx

        httpx.get(f"{base}/v1/options/chain/SPY/", params={"as_of": first}, headers={"Authorization": f"Bearer {key}"})
        load_before = os.getloadavg()
        first_run, _ = _timed(cases["ours (HTTP)"][0], env, work)  # writes the cache files and the bytecode
        samples: dict[str, list[float]] = {name: [] for name in cases}
        rates: list[float] = []
        for r in range(ROUNDS):
            for name, (cmd, case_env) in cases.items():
                if name.startswith("cute"):  # a fresh data directory: every run asks the server
                    fresh = work / f"cbt-{r}"
                    case_env = {
                        **case_env,
                        "CUTEBACKTESTS_DATA_DIR": str(fresh),
                        "CUTEBACKTESTS_DB_PATH": str(fresh / "cutebacktests.duckdb"),
                    }
                took, done = _timed(cmd, case_env, work)
                if done.returncode != 0:
                    raise RuntimeError(f"{name} failed ({done.returncode}): {done.stderr[-2000:]}")
                samples[name].append(took)
                if name == "ours (HTTP)":
                    found = re.search(r"(\d+)\s+decisions/s", done.stdout)
                    rates.append(float(found.group(1)) if found else 0.0)
        load_after = os.getloadavg()
        seconds = {name: statistics.median(v) for name, v in samples.items()}
        decisions = json.loads((work / "http" / "summary.json").read_text())["decisions"]
        same = all(
            (work / "http" / f).read_bytes() == (work / "lake" / f).read_bytes()
            for f in ("decisions.parquet", "fills.parquet", "equity.parquet", "trades.parquet", "summary.json")
        )
        cbt = seconds["cutebacktests (HTTP)"]
        table = Table(title=f"SPY {first} → {last}, end to end (one command each), median of {ROUNDS} interleaved")
        for col in ("engine", "median s", "min s", "max s", "speed-up vs cutebacktests", "decisions/s end to end"):
            table.add_column(col, justify="right" if col != "engine" else "left")
        for name, s in seconds.items():
            rate = "" if name.startswith("cute") else f"{decisions / s:.1f}"
            v = samples[name]
            table.add_row(name, f"{s:.3f}", f"{min(v):.3f}", f"{max(v):.3f}", f"{cbt / s:.1f}x", rate)
        console.print(table)
        console.print(
            f"our first run (empty cache directory): {first_run:.3f} s; engine decisions/s inside our run "
            f"(median): {statistics.median(rates):.0f}; load average {load_before[0]:.1f} → {load_after[0]:.1f}; "
            f"HTTP and lake artifacts identical: {same}"
        )
        speedup = cbt / seconds["ours (HTTP)"]
        results["side_by_side"] = {
            "rounds": ROUNDS,
            "samples": samples,
            "seconds": seconds,
            "first_run_seconds": first_run,
            "decisions": decisions,
            "decisions_per_second_end_to_end": decisions / seconds["ours (HTTP)"],
            "engine_decisions_per_second": statistics.median(rates),
            "speedup_http": speedup,
            "speedup_lake": cbt / seconds["ours (lake)"],
            "target_speedup": TARGET_SPEEDUP,
            "meets_target": speedup >= TARGET_SPEEDUP,
            "load_average": {"before": load_before, "after": load_after},
            "identical_artifacts": same,
        }
        results["sessions"] = {"from": first, "to": last, "count": SESSIONS}
        results["sweep"] = _sweep_scaling(root, work, exe, env, console, first, last)
    finally:
        server.should_exit = True
    return results


def _sweep_scaling(
    root: Path, work: Path, exe: str, env: dict[str, str], console: Console, first: str, last: str
) -> dict[str, Any]:
    """8 parameter sets at 1 and 2 workers: end to end through the command (cluster start included), and
    the runs alone on a started, warmed local cluster (each worker has opened the lake once)."""
    from ..backtest.sources import SourceConfig
    from ..backtest.sweep import dask_client, grid, make_spec, run_many

    base = {
        "strategy": "orb",
        "underlying": "SPY",
        "start": dt.date.fromisoformat(first),
        "end": dt.date.fromisoformat(last),
    }
    base["set"] = {}
    axes = {"range_minutes": ["5", "10", "15", "30"], "fill_policy": ["cross_spread", "mid_fraction"]}
    specs = [make_spec(base, p) for p in grid(axes)]
    source = SourceConfig(root)
    out: dict[str, Any] = {"end_to_end_runs_per_second": {}, "warm_runs_per_second": {}}
    for workers in (1, 2):
        cmd = [
            exe, "backtest", "sweep", "--strategy", "orb", "--underlying", "SPY", "--from", first, "--to", last,
            "--out", str(work / f"sweep-{workers}"), "--data-dir", str(root), *SWEEP_GRID, "--workers", str(workers),
        ]  # fmt: skip
        took, done = _timed(cmd, env, work)
        if done.returncode != 0:
            raise RuntimeError(f"sweep with {workers} workers failed: {done.stderr[-2000:]}")
        out["end_to_end_runs_per_second"][str(workers)] = len(specs) / took
        with dask_client(workers, None) as client:
            run_many(client, specs[:workers], source, [None] * workers, None)  # warm every worker
            started = time.perf_counter()
            run_many(client, specs, source, [None] * len(specs), None)
            out["warm_runs_per_second"][str(workers)] = len(specs) / (time.perf_counter() - started)
    e2e, warm = out["end_to_end_runs_per_second"], out["warm_runs_per_second"]
    console.print(
        f"sweep of 8 parameter sets, runs/s at 1 and 2 workers: end to end {e2e['1']:.2f} → {e2e['2']:.2f} "
        f"({e2e['2'] / e2e['1']:.2f}x); warm cluster {warm['1']:.2f} → {warm['2']:.2f} ({warm['2'] / warm['1']:.2f}x)"
    )
    return out
