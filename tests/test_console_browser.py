"""The web console in a real headless Chromium against a running server over the test market: every page
loads with real values, no console errors and no request leaving the machine; ``as_of`` moves the greeks;
the live tape labels a stale row during a replay; a bad key is refused at sign-in."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest

from browser import ARTIFACTS, Console, chrome_or_skip, new_driver
from cutemarkets_server.backtest.records import rfc3339
from cutemarkets_server.ws.config import StreamConfig
from enginerun import EngineRuns
from wsserver import StreamServer, linked_data_dir, start_stream_server

from conftest import RunningServer, auth

pytestmark = pytest.mark.timeout(600)
DOCS_SHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
SEED_LABELS = {
    "Live quote",
    "Delayed quote",
    "Stale quote",
    "Historical quote",
    "No usable quote",
    "Bar signal",
    "Session closed",
    "Backfilled quote",
}


@pytest.fixture(scope="module")
def chrome() -> Iterator[Any]:
    browser, driver = chrome_or_skip()
    drv = new_driver(browser, driver)
    yield drv
    drv.quit()


@pytest.fixture(scope="module")
def console(chrome: Any, server: RunningServer) -> Console:
    c = Console(chrome, server.base_url)
    c.sign_in(server.key("expert"))
    return c


def keep(path: Path, name: str) -> None:
    """With CUTEMARKETS_UPDATE_SCREENSHOTS=1, copy a screenshot into docs/screenshots/ for the README."""
    assert path.stat().st_size > 10_000, f"{path} looks empty"
    if os.environ.get("CUTEMARKETS_UPDATE_SCREENSHOTS") == "1":
        DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_SHOTS / f"{name}.png")


def test_overview_shows_the_datasets_clock_and_plan(
    console: Console, http: httpx.Client, server: RunningServer
) -> None:
    console.sign_in(server.key("expert"))
    console.open("/console/")
    console.assert_clean()
    datasets = http.get("/v1/datasets/", headers=auth(server.key("expert"))).json()["results"]
    quotes = next(d for d in datasets if d["dataset"] == "option_quotes")
    row = console.js(
        "return [...document.querySelectorAll('#datasets tbody tr')].map(tr => [...tr.cells].map(c => c.innerText))"
    )
    by_name = {r[0]: r for r in row}
    assert by_name["option_quotes"][5] == f"{quotes['rows']:,}"
    assert by_name["option_quotes"][2] == quotes["last_day"]
    assert len(by_name) == len(datasets)
    assert "Expert" in console.text("#account")
    assert "closed" in console.text("#clock") or "regular" in console.text("#clock")
    assert "2025-12-03 10:00:00 ET" in console.text("#clock")
    keep(console.screenshot("overview"), "overview")


def _greeks(console: Console) -> list[str]:
    return console.js("return [...document.querySelectorAll('td[data-field=call-delta]')].map(c => c.innerText)")


def test_chain_paints_and_as_of_changes_the_greeks(console: Console, server: RunningServer) -> None:
    console.open("/console/chain?underlying=SPY&expiration=2025-12-05&as_of=2025-12-01T10:30:00", ready="painted")
    console.assert_clean()
    first = _greeks(console)
    assert len(first) >= 10 and all(v not in ("", "—") for v in first[:3])
    console.wait(lambda: console.js("return document.body.dataset.smile"), what="IV smile")
    assert console.js("return document.querySelectorAll('#smile .scatterlayer .trace').length") == 2
    paint_ms = float(console.js("return document.body.dataset.painted"))
    keep(console.screenshot("chain"), "chain")
    console.js("document.body.dataset.painted = ''; document.body.dataset.smile = ''")
    console.js(
        "const i = document.getElementById('as-of'); i.value = '2025-12-02T15:00:00';"
        "i.dispatchEvent(new Event('change'));"
    )
    console.wait(lambda: console.js("return document.body.dataset.painted") not in ("", None), what="repaint")
    console.wait(lambda: console.js("return document.body.dataset.smile"), what="IV smile")
    console.assert_clean()
    second = _greeks(console)
    assert second and second != first
    assert "2025-12-02 15:00:00 ET" in console.text("#chain-meta")
    assert paint_ms < 5000, f"chain painted after {paint_ms:.0f} ms"  # generous: CI shares two cores
    (ARTIFACTS / "chain-paint-ms.txt").write_text(f"{paint_ms:.0f}\n")


def test_clicking_a_chain_row_opens_the_contract_with_labelled_tapes(console: Console) -> None:
    console.open("/console/chain?underlying=SPY&expiration=2025-12-05&as_of=2025-12-02T11:00:00", ready="painted")
    ticker = console.js("return document.querySelector('tr.atm td[data-field=call-bid]').title")
    assert ticker.startswith("O:SPY251205C")
    console.drain()
    console.js("document.querySelector('tr.atm td[data-field=call-bid]').click()")
    console.wait(lambda: console.js("return location.pathname") == "/console/contract", what="navigation")
    console.wait(lambda: console.js("return document.body.dataset.ready"), what="contract page")
    console.wait(lambda: console.js("return document.querySelectorAll('#quotes tbody tr').length") > 1, what="quotes")
    console.assert_clean()
    assert console.js("return document.getElementById('ticker').value") == ticker
    labels = set(console.js("return [...document.querySelectorAll('#quotes .label')].map(e => e.innerText)"))
    assert labels and labels <= SEED_LABELS
    assert "Historical quote" in labels or "Stale quote" in labels
    bar_labels = set(console.js("return [...document.querySelectorAll('#bars .label')].map(e => e.innerText)"))
    assert bar_labels == {"Bar signal"}
    hover = console.js("return document.querySelector('#quotes time').title")
    assert hover.startswith("UTC ") and hover.endswith("Z")
    assert console.js("return document.querySelectorAll('#candles .trace').length") >= 1
    keep(console.screenshot("contract"), "contract")


def test_stock_page_draws_candles_indicators_and_snapshot(console: Console) -> None:
    console.open("/console/stock?ticker=SPY&day=2025-12-01")
    console.assert_clean()
    assert int(console.js("return document.getElementById('candles').dataset.bars")) > 50
    names = console.js("return document.getElementById('candles').data.map(t => t.name)")
    assert {"SPY", "volume", "SMA 20 (1 min)", "EMA 20 (1 min)", "RSI 14", "MACD"} <= set(names)
    sessions = console.js("return document.getElementById('candles').layout.shapes.length")
    assert sessions >= 2  # pre-market and after-hours shaded
    assert "SPY" in console.text("#snapshot")
    keep(console.screenshot("stock"), "stock")


def test_backtests_page_shows_a_run_of_the_engine(console: Console, engine_runs: EngineRuns) -> None:
    run = engine_runs.rejects
    summary = json.loads((run / "summary.json").read_text())
    equity, trades, fills = (pq.read_table(run / f"{t}.parquet").to_pylist() for t in ("equity", "trades", "fills"))
    console.open(f"/console/backtests?run={run.name}")
    console.wait(lambda: console.js("return document.getElementById('equity').dataset.points"), what="equity chart")
    console.assert_clean()
    assert run.name in console.text("#runs") and engine_runs.loss_first.name in console.text("#runs")
    assert f"Run {run.name}" == console.text("#run-title")
    assert f"{summary['total_return'] * 100:.2f}%" in console.text("#summary")
    # the equity chart: both markings and the drawdown, one point per session
    chart = console.js("return document.getElementById('equity').data.map(t => ({name: t.name, x: t.x, y: t.y}))")
    assert chart[0]["x"] == [e["session"] for e in equity] and chart[0]["y"] == [e["equity"] for e in equity]
    assert "exit side" in chart[1]["name"] and chart[1]["y"] == [e["equity_bid_ask"] for e in equity]
    assert chart[2]["name"].startswith("drawdown") and min(chart[2]["y"]) == pytest.approx(summary["max_drawdown"])
    # rejected decisions by reason, trades and fills as the engine wrote them
    bars = console.js("const t = document.getElementById('rejects').data[0]; return [t.y, t.x]")
    assert dict(zip(*bars, strict=True)) == summary["rejects"] and "stale_quote" in bars[0]
    assert console.js("return document.querySelectorAll('#trades tbody tr').length") == len(trades) > 0
    assert console.js("return document.querySelectorAll('#fills tbody tr').length") == len(fills)
    assert trades[0]["contracts"] in console.text("#trades") and trades[0]["exit_reason"] in console.text("#trades")
    opened = console.js("return document.querySelector('#trades tbody tr td:nth-child(4) time').title")
    assert opened.startswith("UTC " + rfc3339(trades[0]["opened_timestamp"])[:19])  # ns shown as instants
    assert "stale_quote" in console.text("#decisions") and "stale_quote" in console.text("#fills")
    assert "store_utc_display_et" in console.text("#manifest")
    keep(console.screenshot("backtests"), "backtests")


def test_a_bad_key_shows_the_sign_in_error(console: Console, server: RunningServer) -> None:
    console.sign_out()
    console.open("/console/", ready="page")
    console.js("document.getElementById('signin-key').value = 'cm_' + '0'.repeat(32)")
    console.js("document.getElementById('signin-submit').click()")
    console.wait(lambda: console.js("return !document.getElementById('signin-error').hidden"), what="sign-in error")
    assert "Invalid or inactive API key" in console.text("#signin-error")
    assert console.js("return sessionStorage.getItem('cutemarkets.key')") is None
    keep(console.screenshot("signin-error"), "signin-error")
    console.sign_in(server.key("expert"))


def test_a_key_without_the_product_gets_a_clear_message(console: Console, server: RunningServer) -> None:
    console.sign_in(server.key("options_only"))
    console.open("/console/stock?ticker=SPY&day=2025-12-01")
    message = console.page_error()
    assert message and "does not include the stocks product" in message
    console.sign_in(server.key("expert"))


def test_docs_load_offline(console: Console) -> None:
    console.drain()
    console.drv.get(console.base + "/docs")
    console.wait(lambda: console.js("return document.querySelectorAll('.opblock').length") > 10, what="swagger ui")
    console.assert_clean()
    console.drv.get(console.base + "/redoc")
    console.wait(lambda: console.js("return document.querySelectorAll('[data-section-id]').length") > 5, what="redoc")
    console.assert_clean()


# -- the live tape over a replayed session ----------------------------------------------------------


@pytest.fixture(scope="module")
def replay(market_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StreamServer]:
    data_dir = linked_data_dir(tmp_path_factory.mktemp("console-replay"), market_dir)
    config = StreamConfig(
        mode="replay", replay_day=dt.date(2025, 12, 1), replay_speed=20.0, replay_start=dt.time(10, 0)
    )
    srv = start_stream_server(data_dir, config)
    yield srv
    srv.stop()


def test_live_tape_streams_a_replay_and_labels_stale_rows(chrome: Any, replay: StreamServer) -> None:
    c = Console(chrome, replay.http)
    c.sign_in(replay.new_key("console-live"))
    c.open("/console/live?market=stocks&topics=T.*,Q.*&stale=5&connect=1")
    c.wait(lambda: c.js("return document.querySelectorAll('#tape tbody tr').length") >= 4, 60, "tape rows")
    assert "connected" in c.text("#conn-state")
    c.wait(lambda: c.js("return document.querySelectorAll('#tape tr[data-stale=\"1\"]').length") >= 1, 60, "stale row")
    stale = c.js("return document.querySelector('#tape tr[data-stale=\"1\"] .label').innerText")
    assert stale in ("Stale quote", "Stale")
    live = c.js("return [...document.querySelectorAll('#tape tr[data-stale=\"0\"] .label')].map(e => e.innerText)")
    assert set(live) <= {"Live quote", "Live", "Bar signal"}
    assert c.text("#conn-beat").endswith("ago")
    time.sleep(0.5)
    c.assert_clean()
    keep(c.screenshot("live"), "live")
    events = int(c.text("#conn-events").replace(",", ""))
    c.js("ws.close(3000, 'dropped')")  # the connection is lost: the page reconnects and counts it
    c.wait(lambda: c.text("#conn-reconnects") == "1", 30, "a reconnect")
    c.wait(lambda: "connected" in c.text("#conn-state"), 30, "connected again")
    c.wait(lambda: int(c.text("#conn-events").replace(",", "")) > events, 30, "events after the reconnect")
    c.js("document.getElementById('disconnect').click()")
    c.wait(lambda: c.text("#conn-state").startswith("disconnected"), 10, "disconnected")
