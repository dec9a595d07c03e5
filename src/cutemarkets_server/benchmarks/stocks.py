"""Stocks routes on the default-profile market: grouped daily and the all-tickers snapshot over HTTP,
each beside the raw DuckDB queries for the same rows, measured side by side (interleaved) in one run.

"Raw" means exactly the SQL the store runs for that answer (recorded from one request), executed on a
separate DuckDB connection and materialised as Arrow: the data access alone, without services, JSON
or HTTP.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb
import httpx
from rich.console import Console

from ..app import create_app
from ..clock import FixedClock
from ..config import Settings
from ..market.timestamps import et_ns
from ..sim.build import build_market
from ..store.keys import KeyStore
from ..store.lake import Lake
from .harness import Timing, interleaved, serve_in_thread, timing_table


def default_market(data_dir: Path, console: Console) -> Path:
    """The default-profile market under ``data_dir`` (built once; about a minute)."""
    root = data_dir / "default-market"
    manifest = root / "lake" / "manifest.sqlite"
    if not (manifest.exists() and Lake(root / "lake").snapshot().days("stock_trades")):
        console.print("building the default-profile market (first run only)…")
        build_market(root, seed=7, profile="default")
    return root


def _serve_dir(data_dir: Path, root: Path) -> Path:
    serve_dir = data_dir / "stocks-serve"
    serve_dir.mkdir(parents=True, exist_ok=True)
    if not (serve_dir / "lake").exists():
        (serve_dir / "lake").symlink_to((root / "lake").resolve(), target_is_directory=True)
    return serve_dir


def run(data_dir: Path, console: Console) -> dict[str, Any]:
    root = default_market(data_dir, console)
    days = Lake(root / "lake").snapshot().days("stock_trades")
    last = days[-1]
    after_close = et_ns(last + dt.timedelta(days=1), 10)
    mid_session = et_ns(last, 14)
    clock = FixedClock(after_close)
    serve_dir = _serve_dir(data_dir, root)
    app = create_app(Settings(data_dir=serve_dir), clock=clock)
    key, _ = KeyStore(serve_dir / "keys.sqlite").create("bench-stocks", "expert", ("stocks",))
    engine = app.state.ctx.runtime.engine
    server, base = serve_in_thread(app)
    raw = duckdb.connect(config={"threads": "2"})
    raw.execute("SET parquet_metadata_cache = true")
    cases: dict[str, tuple[str, int]] = {
        "grouped daily (one session)": (f"/v1/stocks/aggs/grouped/{last}/", after_close),
        "grouped daily (session in progress)": (f"/v1/stocks/aggs/grouped/{last}/", mid_session),
        "snapshot all (after the close)": ("/v1/stocks/snapshot/", after_close),
        "snapshot all (mid-session)": ("/v1/stocks/snapshot/", mid_session),
    }
    results: dict[str, Any] = {}
    try:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=120) as client:
            for name, (path, now) in cases.items():
                clock.set(now)
                # Warm the reference caches first, so that only the queries of every request are recorded.
                client.get(path).raise_for_status()
                engine.recorder = []
                r = client.get(path)
                assert r.status_code == 200, r.text
                queries, engine.recorder = engine.recorder, None
                body = r.json()
                rows = len(body.get("results") or body.get("tickers") or [])

                def http_call(path: str = path) -> None:
                    client.get(path).raise_for_status()

                def raw_call(queries: list = queries) -> None:
                    for sql, params in queries:
                        raw.sql(sql, params=params or None).to_arrow_table()

                timings = interleaved({"HTTP": http_call, "raw DuckDB": raw_call}, rounds=100)
                ratio = timings["HTTP"].median_ms / timings["raw DuckDB"].median_ms
                timing_table(f"{name}: {rows} rows, {len(queries)} queries; HTTP/raw = {ratio:.2f}x", timings, console)
                results[name] = {
                    "rows": rows,
                    "queries": len(queries),
                    "ratio": ratio,
                    **{k: _t(v) for k, v in timings.items()},
                }
    finally:
        server.should_exit = True
        raw.close()
    for name, res in results.items():
        console.print(
            f"{name}: HTTP {res['HTTP']['median_ms']:.2f} ms vs raw {res['raw DuckDB']['median_ms']:.2f} ms "
            f"= {res['ratio']:.2f}x"
        )
    return results


def _t(t: Timing) -> dict[str, float]:
    return {"median_ms": t.median_ms, "p99_ms": t.p99_ms}
