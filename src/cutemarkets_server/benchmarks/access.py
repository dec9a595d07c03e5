"""Data access at the speed of the storage: each tick, bar, chain and snapshot answer beside the best
read of the same rows, on the bench market, measured side by side (interleaved) in one run.

- **limit**: the same rows read with pyarrow from one file per dataset sorted by (ticker, time) with
  8,192-row groups, with the row range and the timestamps of every ticker held in memory (built here,
  from the lake, independently of the store; it holds the tickers measured). Nothing reads rows faster.
- **store**: ``MarketStore`` called in process (the data access alone).
- **HTTP**: the route, over a keep-alive connection. Targets: tick and bar pages
  HTTP ≤ trivial + 3 × limit; chain, snapshot and all-tickers snapshot HTTP ≤ 20 × trivial.
- throughput with 8 concurrent keep-alive clients (trades page against ``/v1/status/``), and the first
  chain request of a freshly started server against its warm median.
"""

from __future__ import annotations

import datetime as dt
import itertools
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console

from ..app import create_app
from ..clock import FixedClock
from ..config import Settings
from ..market.occ import parse_option_symbol
from ..market.timestamps import et_midnight_ns, et_ns
from ..store.engine import file_list
from ..store.keys import KeyStore
from ..store.lake import Lake
from ..store.market import MarketStore
from ..store.schemas import dataset
from .harness import Timing, bench_market, interleaved, serve_dir_over, serve_in_thread, server_process, timing_table

ROW_GROUP = 8_192


class LimitFile:
    """One dataset's rows of some tickers in one file sorted by (ticker, time), indexed in memory."""

    def __init__(self, path: Path, time_col: str) -> None:
        self.file = pq.ParquetFile(path)
        md = self.file.metadata
        self.starts = np.concatenate(([0], np.cumsum([md.row_group(i).num_rows for i in range(md.num_row_groups)])))
        keys = pq.read_table(path, columns=["ticker", time_col])
        tickers = keys["ticker"].to_numpy(zero_copy_only=False)
        self.times = keys[time_col].to_numpy()
        edges = np.flatnonzero(tickers[1:] != tickers[:-1]) + 1
        bounds = np.concatenate(([0], edges, [len(tickers)]))
        self.ranges = {str(tickers[a]): (int(a), int(b)) for a, b in itertools.pairwise(bounds)}

    def rows(self, ticker: str, lo: int | None, hi: int | None, *, descending: bool, limit: int | None) -> pa.Table:
        start, stop = self.ranges[ticker]
        ts = self.times[start:stop]
        a = start + (int(np.searchsorted(ts, lo)) if lo is not None else 0)
        b = start + (int(np.searchsorted(ts, hi)) if hi is not None else len(ts))
        if limit is not None:
            a, b = (max(a, b - limit), b) if descending else (a, min(b, a + limit))
        if b <= a:
            return self.file.schema_arrow.empty_table()
        g0 = int(np.searchsorted(self.starts, a, side="right") - 1)
        g1 = int(np.searchsorted(self.starts, b - 1, side="right") - 1)
        table = self.file.read_row_groups(list(range(g0, g1 + 1)), use_threads=False).slice(a - self.starts[g0], b - a)
        return table.take(pa.array(np.arange(b - a - 1, -1, -1))) if descending else table


def build_limit(lake: Lake, name: str, tickers: list[str], out: Path) -> LimitFile:
    """The limit file of ``name`` for ``tickers`` (written once per lake generation)."""
    ds = dataset(name)
    assert ds.time_column is not None
    path = out / f"limit-{name}.parquet"
    if not path.exists():
        files = lake.snapshot().files_between(name, None, None)
        con = duckdb.connect(config={"threads": "2"})
        wanted = ", ".join("'" + t + "'" for t in sorted(set(tickers)))
        con.execute(
            f"COPY (SELECT * FROM read_parquet({file_list(files)}) WHERE ticker IN ({wanted}) "
            f"ORDER BY ticker, {ds.time_column}, {'sequence_number' if 'sequence_number' in ds.columns else 'ticker'}) "
            f"TO '{path}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {ROW_GROUP})"
        )
        con.close()
    return LimitFile(path, ds.time_column)


@dataclass
class Case:
    name: str
    route: str
    params: dict[str, Any]
    store: Callable[[], Any] | None = None
    limit: Callable[[], Any] | None = None


def _t(t: Timing) -> dict[str, float]:
    return {"median_ms": round(t.median_ms, 3), "p99_ms": round(t.p99_ms, 3)}


def run(data_dir: Path, console: Console) -> dict[str, Any]:
    root = bench_market(data_dir, console)
    lake = Lake(root / "lake")
    lake.compact()
    days = lake.snapshot().days("option_quotes")
    last, first = days[-1], days[0]
    middle = days[len(days) // 2]
    clock = FixedClock(et_ns(last + dt.timedelta(days=1), 10))
    serve_dir = serve_dir_over(data_dir / "access-serve", root / "lake")
    app = create_app(Settings(data_dir=serve_dir), clock=clock)

    async def trivial() -> dict[str, str]:
        return {"status": "ok"}

    app.add_api_route("/bench/trivial", trivial, include_in_schema=False)
    key, _ = KeyStore(serve_dir / "keys.sqlite").create("bench", "expert", ("options", "stocks"))
    store: MarketStore = app.state.ctx.services.store
    busiest = [t for t, _ in store.busiest_tickers("option_trades", "O:SPY", 200)]
    contract = busiest[0]
    live = next(t for t in busiest if parse_option_symbol(t).expiration > last)
    limits_dir = data_dir / "access-limits" / str(abs(hash(lake.snapshot().generation)))
    limits_dir.mkdir(parents=True, exist_ok=True)
    lim = {
        "option_trades": build_limit(lake, "option_trades", [contract], limits_dir),
        "option_quotes": build_limit(lake, "option_quotes", [contract], limits_dir),
        "stock_trades": build_limit(lake, "stock_trades", ["SPY"], limits_dir),
        "stock_quotes": build_limit(lake, "stock_quotes", ["SPY"], limits_dir),
        "stock_minute_aggs": build_limit(lake, "stock_minute_aggs", ["SPY"], limits_dir),
        "option_minute_aggs": build_limit(lake, "option_minute_aggs", [contract], limits_dir),
        "stock_day_aggs": build_limit(lake, "stock_day_aggs", ["SPY"], limits_dir),
    }
    window = (et_ns(middle, 10), et_ns(middle, 14))
    cases: list[Case] = []
    for kind, asset, subject in (
        ("trades", "options", contract),
        ("quotes", "options", contract),
        ("trades", "stocks", "SPY"),
        ("quotes", "stocks", "SPY"),
    ):
        name = f"{'option' if asset == 'options' else 'stock'}_{kind}"
        for order, lo, hi in (("desc", None, None), ("asc", None, None), ("desc", *window), ("asc", *window)):
            params: dict[str, Any] = {"limit": 1000, "order": order}
            if lo is not None:
                params |= {"timestamp.gte": lo, "timestamp.lt": hi}
            desc = order == "desc"
            cases.append(
                Case(
                    f"{asset} {kind} page, 1,000 rows, {'newest' if desc else 'oldest'} first"
                    + (", time window" if lo is not None else ""),
                    f"/v1/{asset}/{kind}/{subject}/",
                    params,
                    lambda n=name, s=subject, lo=lo, hi=hi, d=desc: store.tick_page(
                        n, s, lo, hi, descending=d, limit=1001
                    ),
                    lambda n=name, s=subject, lo=lo, hi=hi, d=desc: lim[n].rows(s, lo, hi, descending=d, limit=1001),
                )
            )
    lo_m, hi_m = et_midnight_ns(first), et_midnight_ns(last + dt.timedelta(days=1))
    cases.append(
        Case(
            "a month of minute bars (option contract)",
            f"/v1/options/aggs/{contract}/1/minute/{first}/{last}/",
            {"limit": 50000},
            lambda: store.bars("option_minute_aggs", contract, lo_m, hi_m),
            lambda: lim["option_minute_aggs"].rows(contract, lo_m, hi_m, descending=False, limit=None),
        )
    )
    cases.append(
        Case(
            "a month of minute bars (SPY, extended hours)",
            f"/v1/stocks/aggs/SPY/1/minute/{first}/{last}/",
            {"limit": 50000},
            lambda: store.bars("stock_minute_aggs", "SPY", lo_m, hi_m),
            lambda: lim["stock_minute_aggs"].rows("SPY", lo_m, hi_m, descending=False, limit=None),
        )
    )
    day_days = lake.snapshot().days("stock_day_aggs")
    y0 = max(day_days[0], last - dt.timedelta(days=365))
    lo_y, hi_y = et_midnight_ns(y0), et_midnight_ns(last + dt.timedelta(days=1))
    cases.append(
        Case(
            f"day bars, {y0} to {last} (SPY)",
            f"/v1/stocks/aggs/SPY/1/day/{y0}/{last}/",
            {"limit": 50000},
            lambda: store.bars("stock_day_aggs", "SPY", lo_y, hi_y),
            lambda: lim["stock_day_aggs"].rows("SPY", lo_y, hi_y, descending=False, limit=None),
        )
    )
    as_of = f"{last}T18:00:00Z"
    heavy = [
        Case("chain page, 10 contracts with greeks", "/v1/options/chain/SPY/", {"limit": 10, "as_of": as_of}),
        Case("chain page, 250 contracts with greeks", "/v1/options/chain/SPY/", {"limit": 250, "as_of": as_of}),
        Case("chain page, 250 contracts, as_of a date", "/v1/options/chain/SPY/", {"limit": 250, "as_of": str(last)}),
        Case("one contract snapshot", f"/v1/options/snapshot/SPY/{live}/", {"as_of": as_of}),
        Case("all-tickers stock snapshot", "/v1/stocks/snapshot/", {}),
    ]
    results: dict[str, Any] = {"market": {"sessions": len(days), "contract": contract}}
    server, base = serve_in_thread(app)
    headers = {"Authorization": f"Bearer {key}"}
    try:
        with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
            for case in cases:
                r = client.get(case.route, params=case.params)
                assert r.status_code == 200, r.text
                rows = len(r.json().get("results") or [])

                def http_call(c: Case = case) -> None:
                    client.get(c.route, params=c.params).raise_for_status()

                fns: dict[str, Callable[[], Any]] = {"HTTP": http_call, "trivial": lambda: client.get("/bench/trivial")}
                assert case.store is not None and case.limit is not None
                fns |= {"store": case.store, "limit": case.limit}
                t = interleaved(fns, rounds=60)
                budget = t["trivial"].median_ms + 3 * t["limit"].median_ms
                ok = t["HTTP"].median_ms <= budget
                timing_table(
                    f"{case.name}: {rows} rows; HTTP {t['HTTP'].median_ms:.2f} ms vs budget {budget:.2f} ms "
                    f"(trivial + 3 × limit) {'MET' if ok else 'MISSED'}",
                    t,
                    console,
                )
                results[case.name] = {"rows": rows, "budget_ms": round(budget, 3), "met": ok} | {
                    k: _t(v) for k, v in t.items()
                }
            for case in heavy:
                r = client.get(case.route, params=case.params)
                assert r.status_code == 200, r.text
                rows = len(r.json().get("results") or []) if isinstance(r.json().get("results"), list) else 1

                def heavy_call(c: Case = case) -> None:
                    client.get(c.route, params=c.params).raise_for_status()

                t = interleaved({"HTTP": heavy_call, "trivial": lambda: client.get("/bench/trivial")}, rounds=30)
                ratio = t["HTTP"].median_ms / t["trivial"].median_ms
                timing_table(
                    f"{case.name}: {rows} rows; HTTP / trivial = {ratio:.1f}x (target ≤ 20x) "
                    f"{'MET' if ratio <= 20 else 'MISSED'}",
                    t,
                    console,
                )
                results[case.name] = {"rows": rows, "ratio": round(ratio, 2), "met": ratio <= 20} | {
                    k: _t(v) for k, v in t.items()
                }
            results["throughput"] = _throughput(base, headers, f"/v1/options/trades/{contract}/", console)
    finally:
        server.should_exit = True
    results["cold chain"] = _cold(serve_dir, key, as_of, console)
    return results


def _throughput(base: str, headers: dict[str, str], trades_route: str, console: Console) -> dict[str, Any]:
    """Requests/s from 8 concurrent keep-alive clients, trades page beside /v1/status/."""

    def rate(route: str, params: dict[str, Any], seconds: float = 8.0) -> float:
        counts = [0] * 8
        stop = time.perf_counter() + seconds

        def worker(i: int) -> None:
            with httpx.Client(base_url=base, headers=headers, timeout=120) as c:
                while time.perf_counter() < stop:
                    c.get(route, params=params).raise_for_status()
                    counts[i] += 1

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
        started = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        return sum(counts) / (time.perf_counter() - started)

    status = rate("/v1/status/", {})
    trades = rate(trades_route, {"limit": 1000})
    share = trades / status
    console.print(
        f"8 concurrent clients: trades page {trades:,.0f} req/s, /v1/status/ {status:,.0f} req/s: "
        f"{share:.0%} (target ≥ 25%) {'MET' if share >= 0.25 else 'MISSED'}"
    )
    return {"trades_rps": round(trades, 1), "status_rps": round(status, 1), "share": round(share, 3)}


def _cold(serve_dir: Path, key: str, as_of: str, console: Console) -> dict[str, Any]:
    """The first chain request of a freshly started server process against its warm median."""
    params = {"limit": 250, "as_of": as_of}
    headers = {"Authorization": f"Bearer {key}"}
    with server_process(serve_dir) as (base, _), httpx.Client(base_url=base, headers=headers, timeout=120) as c:
        t0 = time.perf_counter()
        c.get("/v1/options/chain/SPY/", params=params).raise_for_status()
        cold = (time.perf_counter() - t0) * 1e3
        warm = []
        for _ in range(20):
            t0 = time.perf_counter()
            c.get("/v1/options/chain/SPY/", params=params).raise_for_status()
            warm.append((time.perf_counter() - t0) * 1e3)
    median = statistics.median(warm)
    console.print(
        f"cold chain: first request {cold:.1f} ms, warm median {median:.1f} ms: {cold / median:.1f}x "
        f"(target ≤ 5x) {'MET' if cold <= 5 * median else 'MISSED'}"
    )
    return {"cold_ms": round(cold, 1), "warm_median_ms": round(median, 1), "ratio": round(cold / median, 2)}
