"""Answers do not slow down as history grows: the same requests on a lake with 300 tick sessions and
on the same lake cut to its last 30 (same daily history and reference data, same last days), side by
side; then appending one more day of ticks to the 300-session lake beside appending it to an empty one.

The 300-session lake is the ``history`` profile (SPY stock and options), built once. The 30-session lake
is a second manifest over the same files (symbolic links), with its own packs.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sqlite3
import statistics
import time
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq
from rich.console import Console

from ..app import create_app
from ..clock import FixedClock
from ..config import Settings
from ..market.occ import parse_option_symbol
from ..market.timestamps import et_ns
from ..sim.build import build_market
from ..store.keys import KeyStore
from ..store.lake import Lake, sidecar_path
from .harness import interleaved, rss_mb, serve_dir_over, serve_in_thread, server_process, timing_table

TICK_DATASETS = (
    "option_trades",
    "option_quotes",
    "stock_trades",
    "stock_quotes",
    "option_minute_aggs",
    "stock_minute_aggs",
)
SMALL_SESSIONS = 30
TARGET = 1.3


def history_market(data_dir: Path, console: Console) -> Path:
    root = data_dir / "history-market"
    if not (root / "lake" / "manifest.sqlite").exists() or not Lake(root / "lake").snapshot().days("option_quotes"):
        console.print("building the history-profile market (300 tick sessions; first run only)…")
        build_market(root, seed=7, profile="history")
    return root


def cut_lake(big: Path, small: Path, keep: int, datasets: tuple[str, ...] = TICK_DATASETS) -> Lake:
    """A lake at ``small`` over ``big``'s files, holding only the last ``keep`` days of ``datasets``."""
    shutil.rmtree(small, ignore_errors=True)
    small.mkdir(parents=True)
    shutil.copy(big / "manifest.sqlite", small / "manifest.sqlite")
    con = sqlite3.connect(small / "manifest.sqlite", isolation_level=None)
    for name in datasets:
        days = [d for (d,) in con.execute("SELECT day FROM partitions WHERE dataset = ? ORDER BY day", (name,))]
        for d in days[:-keep]:
            con.execute("DELETE FROM partitions WHERE dataset = ? AND day = ?", (name, d))
    con.execute("DELETE FROM packs")
    con.execute("DELETE FROM superseded")
    live = {f for (files,) in con.execute("SELECT files FROM partitions") for f in json.loads(files)}
    con.execute("CREATE TEMP TABLE live(file TEXT PRIMARY KEY)")
    con.executemany("INSERT INTO live VALUES (?)", [(f,) for f in live])
    con.execute("DELETE FROM runs WHERE file_id IN (SELECT file_id FROM files WHERE path NOT IN live)")
    con.execute("DELETE FROM files WHERE path NOT IN live")
    con.execute("VACUUM")
    con.close()
    for rel in live:
        for target in (big / rel, sidecar_path(big / rel)):
            if target.exists():
                link = small / target.relative_to(big)
                link.parent.mkdir(parents=True, exist_ok=True)
                link.symlink_to(target.resolve())
    lake = Lake(small)
    lake.compact()
    return lake


def run(data_dir: Path, console: Console) -> dict[str, Any]:
    root = history_market(data_dir, console)
    big_lake = Lake(root / "lake")
    big_lake.compact()
    days = big_lake.snapshot().days("option_quotes")
    last = days[-1]
    small_root = data_dir / "history-small"
    cut_lake(root / "lake", small_root / "lake", SMALL_SESSIONS)
    clock = FixedClock(et_ns(last + dt.timedelta(days=1), 10))
    servers, bases, keys = [], {}, {}
    for label, lake_dir in (("300 sessions", root / "lake"), ("30 sessions", small_root / "lake")):
        serve_dir = serve_dir_over(data_dir / f"history-serve-{label.split()[0]}", lake_dir)
        app = create_app(Settings(data_dir=serve_dir), clock=clock)
        keys[label], _ = KeyStore(serve_dir / "keys.sqlite").create("bench", "expert", ("options", "stocks"))
        server, bases[label] = serve_in_thread(app)
        servers.append(server)
        if label.startswith("300"):
            store = app.state.ctx.services.store
            # Busiest over the whole history; the subject is the busiest one that still trades in the last days.
            last_day_busiest = store.busiest_tickers("option_trades", "O:SPY", 100_000)
    first_month = days[-21]
    snap = store.snapshot()

    def recent_trades(ticker: str) -> int:
        return sum(r.rows for r in store.lake.runs(snap, "option_trades", [ticker], first_month, last))

    # The contract still listed at the end with the most trades in the last 20 sessions; its newest-first page
    # asks for no more rows than those, so both lakes answer with the same rows (the small lake holds the last
    # 30 sessions).
    listed = [t for t, _ in last_day_busiest if parse_option_symbol(t).expiration > last][:300]
    recent, contract = max((recent_trades(t), t) for t in listed)
    trades_limit = min(1000, recent)
    as_of = f"{last}T18:00:00Z"
    cases = {
        f"options trades page, newest first ({trades_limit} rows)": (
            f"/v1/options/trades/{contract}/",
            {"limit": trades_limit},
        ),
        "options quotes page, oldest first": (
            f"/v1/options/quotes/{contract}/",
            {"limit": 1000, "order": "asc", "timestamp.gte": str(first_month)},
        ),
        "stock trades page, newest first": ("/v1/stocks/trades/SPY/", {"limit": 1000}),
        "stock quotes page, oldest first": (
            "/v1/stocks/quotes/SPY/",
            {"limit": 1000, "order": "asc", "timestamp.gte": str(first_month)},
        ),
        "a month of minute bars (SPY)": (f"/v1/stocks/aggs/SPY/1/minute/{first_month}/{last}/", {"limit": 50000}),
        "a year of day bars (SPY)": (f"/v1/stocks/aggs/SPY/1/day/{last - dt.timedelta(days=365)}/{last}/", {}),
        "chain page, 250 contracts": ("/v1/options/chain/SPY/", {"limit": 250, "as_of": as_of}),
        "one contract snapshot": (f"/v1/options/snapshot/SPY/{contract}/", {"as_of": as_of}),
        "all-tickers stock snapshot": ("/v1/stocks/snapshot/", {}),
    }
    results: dict[str, Any] = {"sessions": {"big": len(days), "small": SMALL_SESSIONS}, "contract": contract}
    clients = {
        label: httpx.Client(base_url=bases[label], headers={"Authorization": f"Bearer {keys[label]}"}, timeout=120)
        for label in bases
    }
    try:
        for name, (route, params) in cases.items():
            bodies = {}
            for label, c in clients.items():
                r = c.get(route, params=params)
                assert r.status_code == 200, r.text
                body = r.json()
                body.pop("request_id", None)
                body.pop("next_url", None)
                bodies[label] = body
            assert bodies["300 sessions"] == bodies["30 sessions"], f"{name}: the two lakes answer differently"
            fns = {
                label: (lambda c=c, route=route, params=params: c.get(route, params=params).raise_for_status())
                for label, c in clients.items()
            }
            t = interleaved(fns, rounds=40)
            ratio = t["300 sessions"].median_ms / t["30 sessions"].median_ms
            timing_table(
                f"{name}: 300/30 sessions = {ratio:.2f}x (target ≤ {TARGET}x) {'MET' if ratio <= TARGET else 'MISSED'}",
                t,
                console,
            )
            results[name] = {"ratio": round(ratio, 3), "met": ratio <= TARGET} | {
                k: {"median_ms": round(v.median_ms, 3)} for k, v in t.items()
            }
    finally:
        for c in clients.values():
            c.close()
        for s in servers:
            s.should_exit = True
    results["memory"] = _memory(data_dir, keys, cases, console)
    results["append one day"] = _append(root / "lake", data_dir, last, console)
    return results


def _memory(
    data_dir: Path, keys: dict[str, str], cases: dict[str, tuple[str, dict[str, Any]]], console: Console
) -> dict[str, float]:
    """Resident memory of a server process over each lake after every case was asked 20 times."""
    out: dict[str, float] = {}
    for label in keys:
        serve_dir = data_dir / f"history-serve-{label.split()[0]}"
        headers = {"Authorization": f"Bearer {keys[label]}"}
        with server_process(serve_dir) as (base, pid), httpx.Client(base_url=base, headers=headers, timeout=120) as c:
            for _ in range(20):
                for route, params in cases.values():
                    c.get(route, params=params).raise_for_status()
            out[label] = round(rss_mb(pid), 1)
    ratio = out["300 sessions"] / out["30 sessions"]
    console.print(
        f"server memory after the cases: 300 sessions {out['300 sessions']:.0f} MB, "
        f"30 sessions {out['30 sessions']:.0f} MB ({ratio:.2f}x)"
    )
    return out | {"ratio": round(ratio, 3)}


def _append(big: Path, data_dir: Path, last: dt.date, console: Console) -> dict[str, Any]:
    """Writing one more day of every tick dataset into a copy of the 300-session lake beside an empty lake."""
    source = Lake(big).snapshot()
    tables = {name: pq.read_table(source.partition(name, last).files[0]) for name in TICK_DATASETS}
    scratch = data_dir / "history-append"
    full = cut_lake(big, scratch / "full", 10_000)
    empty_dir = scratch / "empty"
    shutil.rmtree(empty_dir, ignore_errors=True)
    empty = Lake(empty_dir)
    samples: dict[str, list[float]] = {"300-session lake": [], "empty lake": []}
    for k in range(1, 6):
        day = last + dt.timedelta(days=k)
        for label, lake in (("empty lake", empty), ("300-session lake", full)):
            t0 = time.perf_counter()
            for name, table in tables.items():
                lake.write_partition(name, day, table, source="bench", presorted=True)
            samples[label].append((time.perf_counter() - t0) * 1e3)
    medians = {k: statistics.median(v) for k, v in samples.items()}
    ratio = medians["300-session lake"] / medians["empty lake"]
    rows = sum(t.num_rows for t in tables.values())
    console.print(
        f"append one day ({rows:,} rows over {len(tables)} datasets): 300-session lake "
        f"{medians['300-session lake']:.0f} ms, empty lake {medians['empty lake']:.0f} ms: {ratio:.2f}x "
        f"(target ≤ 1.5x) {'MET' if ratio <= 1.5 else 'MISSED'}"
    )
    shutil.rmtree(scratch, ignore_errors=True)
    return {"rows": rows, "ratio": round(ratio, 3)} | {k: round(v, 1) for k, v in medians.items()}
