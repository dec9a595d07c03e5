"""Options routes on the bench-profile market: each HTTP answer beside the raw DuckDB queries for the
same rows, measured side by side (interleaved) in one run.

"Raw" means exactly the SQL the store runs to fetch the rows of that answer (recorded from one request),
executed on a separate DuckDB connection and materialised as Arrow — the data access alone, without
services, analytics, JSON or HTTP.
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
from ..market.occ import parse_option_symbol
from ..market.timestamps import et_ns
from ..sim.build import build_market
from ..store.keys import KeyStore
from ..store.lake import Lake
from .harness import Timing, interleaved, serve_in_thread, timing_table

TARGET_RATIO = 2.0


def bench_market(data_dir: Path, console: Console) -> Path:
    """The bench-profile market under ``data_dir`` (built once; several minutes)."""
    root = data_dir / "bench-market"
    manifest = root / "lake" / "manifest.sqlite"
    if not (manifest.exists() and Lake(root / "lake").snapshot().days("option_quotes")):
        console.print("building the bench-profile market (first run only)…")
        build_market(root, seed=7, profile="bench")
    return root


def run(data_dir: Path, console: Console) -> dict[str, Any]:
    root = bench_market(data_dir, console)
    lake = Lake(root / "lake")
    days = lake.snapshot().days("option_quotes")
    last = days[-1]
    clock = FixedClock(et_ns(last + dt.timedelta(days=1), 10))
    serve_dir = data_dir / "bench-serve"
    serve_dir.mkdir(parents=True, exist_ok=True)
    if not (serve_dir / "lake").exists():
        (serve_dir / "lake").symlink_to((root / "lake").resolve(), target_is_directory=True)
    app = create_app(Settings(data_dir=serve_dir), clock=clock)
    key, _ = KeyStore(serve_dir / "keys.sqlite").create("bench", "expert", ("options", "stocks"))
    headers = {"Authorization": f"Bearer {key}"}
    engine = app.state.ctx.runtime.engine
    server, base = serve_in_thread(app)
    raw = duckdb.connect(config={"threads": "2"})
    raw.execute("SET parquet_metadata_cache = true")
    results: dict[str, Any] = {}
    try:
        with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
            busiest = [t for t, _ in app.state.ctx.services.store.busiest_tickers("option_trades", "O:SPY", 200)]
            contract = busiest[0]
            live = next(t for t in busiest if parse_option_symbol(t).expiration > last)
            first_day = days[0]
            cases = {
                "trades page (1,000 rows)": (f"/v1/options/trades/{contract}/", {"limit": 1000}),
                "quotes page (1,000 rows)": (f"/v1/options/quotes/{contract}/", {"limit": 1000}),
                "chain page (250 rows, greeks)": (
                    "/v1/options/chain/SPY/",
                    {"limit": 250, "as_of": f"{last}T18:00:00Z"},
                ),
                "a month of minute bars": (
                    f"/v1/options/aggs/{contract}/1/minute/{first_day}/{last}/",
                    {"limit": 10000},
                ),
                "one snapshot": (f"/v1/options/snapshot/SPY/{live}/", {"as_of": f"{last}T18:00:00Z"}),
            }
            for name, (path, params) in cases.items():
                client.get(path, params=params).raise_for_status()  # warm caches before recording the queries
                engine.recorder = []
                r = client.get(path, params=params)
                assert r.status_code == 200, r.text
                queries, engine.recorder = engine.recorder, None
                rows = len(r.json().get("results") or [])

                def http_call(path: str = path, params: dict = params) -> None:
                    client.get(path, params=params).raise_for_status()

                def raw_call(queries: list = queries) -> None:
                    for sql, p in queries:
                        raw.sql(sql, params=p or None).to_arrow_table()

                timings = interleaved(
                    {"HTTP": http_call, "raw DuckDB": raw_call}, rounds=40 if "chain" in name else 100
                )
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
    worst = max(v["ratio"] for v in results.values())
    console.print(f"worst HTTP/raw ratio: {worst:.2f}x (target ≤ {TARGET_RATIO:.1f}x)")
    return results


def _t(t: Timing) -> dict[str, float]:
    return {"median_ms": t.median_ms, "p99_ms": t.p99_ms}
