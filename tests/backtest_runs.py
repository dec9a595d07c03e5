"""Backtest run directories written with the engine's artifact contract (file names and columns), for the
routes and the console page that serve them."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from cutemarkets_server.market.timestamps import et_ns


def _iso(ns: int, tz: str) -> str:
    from zoneinfo import ZoneInfo

    return dt.datetime.fromtimestamp(ns / 1e9, ZoneInfo(tz)).isoformat(timespec="milliseconds")


def write_run(root: Path, name: str, *, days: list[dt.date], equity: list[float], underlying: str = "SPY") -> Path:
    """A run with one entry and one rejected decision per day; ``equity`` has one value per day."""
    run = root / name
    run.mkdir(parents=True, exist_ok=True)
    manifest = {
        "engine_version": "0.1.0",
        "strategy": {"name": "orb_calls", "parameters": {"range_minutes": 15}, "code_sha256": "ab" * 32},
        "fill_policy": "next_quote_cross@1",
        "stale_quote_ms": 5000,
        "latency_ms": 250,
        "commissions": {"per_contract": 0.65},
        "underlying": underlying,
        "from": days[0].isoformat(),
        "to": days[-1].isoformat(),
        "data_source": "lake",
        "timezone_policy": "store_utc_display_et",
        "created_at": "2025-12-03T14:00:00Z",
    }
    (run / "manifest.json").write_text(json.dumps(manifest))
    decisions, fills = [], []
    for i, day in enumerate(days):
        start, end = et_ns(day, 9, 30), et_ns(day, 9, 45)
        contract = f"O:{underlying}{day:%y%m%d}C00650000"
        decisions.append((f"d{i}a", start, end, end, "regular", underlying, "buy_call", contract, None))
        decisions.append(
            (f"d{i}b", start, end, end + 60_000_000_000, "regular", underlying, "buy_call", contract, "stale_quote")
        )
        fill_ns = end + 250_000_000
        fills.append(
            (
                f"o{i}",
                f"d{i}a",
                contract,
                "buy",
                1,
                end,
                fill_ns - 1_000_000,
                1200.0 + i,
                2.0,
                2.1,
                fill_ns,
                2.1,
                "next_quote_cross@1",
                None,
                _iso(fill_ns, "UTC"),
                _iso(fill_ns, "America/New_York"),
                "regular",
                "US_OPTIONS",
                "quotes",
            )
        )
    d_cols = [
        "decision_id",
        "signal_bar_start",
        "signal_bar_end",
        "decision_timestamp",
        "session_label",
        "underlying",
        "action",
        "contract",
        "reject_reason",
    ]
    f_cols = [
        "order_id",
        "decision_id",
        "contract",
        "side",
        "quantity",
        "decision_timestamp",
        "next_quote_timestamp",
        "quote_age_ms",
        "bid",
        "ask",
        "fill_timestamp",
        "fill_price",
        "fill_policy",
        "reject_reason",
        "event_timestamp_utc",
        "event_timestamp_et",
        "session_label",
        "market",
        "source",
    ]
    pq.write_table(
        pa.Table.from_pylist([dict(zip(d_cols, r, strict=True)) for r in decisions]), run / "decisions.parquet"
    )
    pq.write_table(pa.Table.from_pylist([dict(zip(f_cols, r, strict=True)) for r in fills]), run / "fills.parquet")
    cash = [e * 0.6 for e in equity]
    pq.write_table(
        pa.table(
            {
                "session": [d.isoformat() for d in days],
                "equity": equity,
                "cash": cash,
                "positions_value": [e - c for e, c in zip(equity, cash, strict=True)],
                "equity_bid": [e - 5 for e in equity],
                "equity_ask": [e + 5 for e in equity],
            }
        ),
        run / "equity.parquet",
    )
    summary = {
        "total_return": equity[-1] / equity[0] - 1,
        "cagr": 0.12,
        "sharpe": 1.3,
        "sortino": 1.9,
        "max_drawdown": min(e / max(equity[: i + 1]) - 1 for i, e in enumerate(equity)),
        "win_rate": 0.5,
        "profit_factor": 1.4,
        "trades": len(fills),
        "rejects": {"stale_quote": len(days)},
        "avg_quote_age_ms": 1.0,
        "avg_spread_paid": 0.1,
    }
    (run / "summary.json").write_text(json.dumps(summary))
    (run / "report.html").write_text("<!doctype html><title>report</title>")
    return run
