"""cutebacktests (PyPI), unmodified, runs its intraday options backtest against the running server.

The run goes through ``scripts/run_cutebacktests.py`` (cutebacktests' CLI in a subprocess, configured only
by ``CUTEMARKETS_BASE_URL`` and ``CUTEMARKETS_API_KEY``). Every fill is then checked against the raw
quotes of the lake: entries at the ask and exits at the bid of the first quote at or after the signal.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import logging
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import duckdb
import pytest

from cutemarkets_server.market.timestamps import ns_from_datetime

from conftest import RunningServer
from lakeread import query

pytest.importorskip("cutebacktests")

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "run_cutebacktests.py"
# Sessions before the early close of 2025-11-28: cutebacktests takes every session as 09:30-16:00 ET, so on
# a half day it plans exits after the options' 13:00 close, where no option bar exists (a rejected attempt).
START, END = "2025-11-20", "2025-11-26"
ROUTES = (
    re.compile(r"^/v2/aggs/ticker/SPY/range/1/(minute|day)/\d{4}-\d{2}-\d{2}/\d{4}-\d{2}-\d{2}$"),
    re.compile(r"^/v2/aggs/ticker/O:SPY\d{6}[CP]\d{8}/range/1/(minute|day)/\d{4}-\d{2}-\d{2}/\d{4}-\d{2}-\d{2}$"),
    re.compile(r"^/v3/snapshot/options/SPY(/O:SPY\d{6}[CP]\d{8})?$"),
    re.compile(r"^/v3/reference/options/contracts$"),
    re.compile(r"^/v3/quotes/O:SPY\d{6}[CP]\d{8}$"),
)
US = 1_000


class AccessLog(logging.Handler):
    """Collects (path, status) of every request the server answers."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.requests: list[tuple[str, int]] = []

    def emit(self, record: logging.LogRecord) -> None:
        _method, path, status = record.args[:3]  # type: ignore[misc]
        self.requests.append((str(path), int(status)))


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("run_cutebacktests", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def run(server: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One backtest through the script, with the server's access log captured."""
    workdir = tmp_path_factory.mktemp("cutebacktests")
    access = logging.getLogger("cutemarkets.access")
    handler, level = AccessLog(), access.level
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    try:
        done = subprocess.run(
            [sys.executable, str(SCRIPT), "--ticker", "SPY", "--start", START, "--end", END, "--workdir", str(workdir)],
            env={
                "PATH": "/usr/bin:/bin",
                "CUTEMARKETS_BASE_URL": server.base_url,
                "CUTEMARKETS_API_KEY": server.key("expert"),
            },
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    finally:
        access.removeHandler(handler)
        access.setLevel(level)
    yield {
        "returncode": done.returncode,
        "summary": json.loads(done.stdout) if done.stdout.strip() else {},
        "stderr": done.stderr,
        "result": json.loads((workdir / "result.json").read_text()),
        "db": workdir / "data" / "cutebacktests.duckdb",
        "requests": handler.requests,
    }


def trades_of(db: Path) -> list[dict[str, Any]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        cur = con.execute("SELECT option_symbol, side, qty, entry_price, exit_price, metadata FROM backtest_trades")
        cols = [d[0] for d in cur.description]
        rows = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()
    for r in rows:
        r["metadata"] = json.loads(r["metadata"])
    return rows


def utc_ns(text: str) -> int:
    return ns_from_datetime(dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC))


def first_quote_at_or_after(lake: Path, ticker: str, ns: int) -> dict[str, Any]:
    rows = query(
        lake,
        "option_quotes",
        "ticker = ? AND sip_timestamp >= ? AND sip_timestamp < ?",
        [ticker, ns, ns + 86_400_000_000_000],
    )
    return min(rows, key=lambda r: (r["sip_timestamp"], r["sequence_number"]))


def test_script_reports_real_option_trades(run: dict[str, Any]) -> None:
    assert run["returncode"] == 0, run["stderr"][-3000:]
    summary, result = run["summary"], run["result"]
    assert summary["trades"] == result["trades"] > 0
    assert result["historical_option_fills"] == result["trades"]
    assert result["proxy_fills"] == 0
    assert result["option_rejection_counts"] == {}
    funnel = result["option_funnel_counts"]
    assert funnel["quote_fill_available"] == funnel["trades_created"] == result["trades"]
    assert funnel["quote_fill_fallback_used"] == 0


def test_only_dialect_routes_were_called_and_all_succeeded(run: dict[str, Any]) -> None:
    requests = run["requests"]
    assert requests
    assert all(status == 200 for _, status in requests), [r for r in requests if r[1] != 200]
    for path, _ in requests:
        assert any(p.match(path.split("?")[0]) for p in ROUTES), path
    called = {p.pattern for p in ROUTES if any(p.match(path.split("?")[0]) for path, _ in requests)}
    assert {ROUTES[0].pattern, ROUTES[2].pattern, ROUTES[4].pattern} <= called


def test_fills_are_the_served_quotes(run: dict[str, Any], market_dir: Path) -> None:
    """Buys at the ask and sells at the bid of the first lake quote at or after each signal."""
    lake = market_dir / "lake"
    trades = trades_of(run["db"])
    assert len(trades) == run["result"]["trades"]
    for t in trades:
        meta = t["metadata"]
        assert meta["fill_pricing_source"] == "quotes" and not meta["option_quote_fallback_used"]
        entry = first_quote_at_or_after(lake, t["option_symbol"], utc_ns(meta["delayed_entry_signal_ts"]))
        exit_ = first_quote_at_or_after(lake, t["option_symbol"], utc_ns(meta["effective_exit_signal_ts"]))
        assert t["entry_price"] == pytest.approx(entry["ask_price"]) == meta["entry_quote_ask"]
        assert t["exit_price"] == pytest.approx(exit_["bid_price"]) == meta["exit_quote_bid"]
        assert abs(utc_ns(meta["entry_quote_ts"]) - entry["sip_timestamp"]) <= 2 * US
        assert abs(utc_ns(meta["exit_quote_ts"]) - exit_["sip_timestamp"]) <= 2 * US
        expiry = dt.datetime.strptime(t["option_symbol"][5:11], "%y%m%d").date()
        trade_day = dt.datetime.fromisoformat(meta["entry_quote_ts"]).date()
        assert 0 <= (expiry - trade_day).days <= 7


def test_script_fails_without_fills(tmp_path: Path) -> None:
    """The script's verdict: no historical fills (or any proxy fill) is a failure."""
    script = load_script()
    assert script.filled_from_quotes({"historical_option_fills": 3, "proxy_fills": 0, "option_rejection_counts": {}})
    assert not script.filled_from_quotes({"historical_option_fills": 0, "proxy_fills": 0})
    assert not script.filled_from_quotes({"historical_option_fills": 2, "proxy_fills": 1})
    assert not script.filled_from_quotes({"historical_option_fills": 2, "option_rejection_counts": {"x": 1}})
