"""The routes the console reads (datasets, account, clock, backtests) and the console's own pages and assets,
over HTTP against the running test server."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest

from cutemarkets_server.backtest.artifacts import SCHEMAS
from cutemarkets_server.services.backtest_runs import LIST_SUMMARY_FIELDS
from cutemarkets_server.store.backtest_runs import ARTIFACTS
from enginerun import EngineRuns, cli_run

from conftest import RunningServer, auth


def test_datasets_report_rows_bytes_and_missing_sessions(http: httpx.Client, server: RunningServer) -> None:
    body = http.get("/v1/datasets/", headers=auth(server.key("free"))).json()
    assert body["status"] == "OK"
    by_name = {d["dataset"]: d for d in body["results"]}
    quotes = by_name["option_quotes"]
    assert quotes["daily"] is True
    assert quotes["rows"] == sum(c["rows"] for c in quotes["coverage"]) > 0
    assert quotes["bytes"] == sum(c["bytes"] for c in quotes["coverage"]) > 0
    assert quotes["days"] == len(quotes["coverage"])
    days = [c["day"] for c in quotes["coverage"]]
    assert "2025-11-27" not in days and "2025-11-27" not in quotes["missing_sessions"]  # Thanksgiving: no session
    assert quotes["missing_sessions"] == []
    assert by_name["stock_tickers"]["daily"] is False and by_name["stock_tickers"]["missing_sessions"] == []


def test_account_reports_the_plan_and_the_limits_left(http: httpx.Client, server: RunningServer) -> None:
    free = server.new_key("free", ("stocks",), name="console-account")
    first = http.get("/v1/account/", headers=auth(free))
    second = http.get("/v1/account/", headers=auth(free))
    acct = second.json()["results"]
    assert acct["plan"] == "Free" and acct["products"] == ["stocks"] and acct["requests_per_minute"] == 10
    assert acct["timeframe"] == "DELAYED" and acct["quotes"] is False and acct["websocket"] is False
    left = int(first.headers["X-RateLimit-Remaining-Minute"]) - int(second.headers["X-RateLimit-Remaining-Minute"])
    assert left == 1


def test_clock_reports_mode_instant_and_session_labels(http: httpx.Client, server: RunningServer) -> None:
    from cutemarkets_server.market.timestamps import et_ns

    c = http.get("/v1/clock/", headers=auth(server.key("expert"))).json()["results"]
    assert c["mode"] == "off" and c["now_et"].startswith("2025-12-03T10:00:00")
    assert c["session_label"] == "regular" and c["options_session_label"] == "regular"
    with server.at(et_ns(dt.date(2025, 11, 28), 12, 0)):  # the early close after Thanksgiving
        c = http.get("/v1/clock/", headers=auth(server.key("expert"))).json()["results"]
        assert c["session_label"] == "half_day" and c["half_day"] is True
    with server.at(et_ns(dt.date(2025, 11, 27), 12, 0)):
        assert (
            http.get("/v1/clock/", headers=auth(server.key("expert"))).json()["results"]["session_label"] == "holiday"
        )
    with server.at(et_ns(dt.date(2025, 12, 1), 8, 0)):
        c = http.get("/v1/clock/", headers=auth(server.key("expert"))).json()["results"]
        assert (c["session_label"], c["options_session_label"]) == ("premarket", "closed")
    at = http.get("/v1/clock/?at=2025-11-28T13:30:00-05:00", headers=auth(server.key("expert"))).json()["results"]
    assert at["at"]["session_label"] == "after_hours" and at["at"]["options_session_label"] == "closed"
    at = http.get("/v1/clock/?at=2025-12-01", headers=auth(server.key("expert"))).json()["results"]["at"]
    assert at["session_label"] == "premarket" and at["et"].startswith("2025-12-01T09:29:59")
    bad = http.get("/v1/clock/?at=yesterday", headers=auth(server.key("expert")))
    assert bad.status_code == 400 and "at" in bad.json()["error"]["message"]
    free = http.get("/v1/clock/", headers=auth(server.key("free"))).json()["results"]
    assert free["now_ns"] - free["horizon_ns"] == 15 * 60 * 10**9


def test_engine_runs_are_listed_and_read_as_written(
    http: httpx.Client, server: RunningServer, engine_runs: EngineRuns
) -> None:
    run = engine_runs.rejects
    assert run.parent == server.data_dir / "backtests"  # `backtest run` without --out: where the server looks
    assert re.fullmatch(r"orb-SPY-2025-11-20-2025-11-26-\d{8}T\d{6}Z", run.name)
    manifest = json.loads((run / "manifest.json").read_text())
    summary = json.loads((run / "summary.json").read_text())
    (engine_runs.root / "not-a-run").mkdir(exist_ok=True)
    listed = http.get("/v1/backtests/", headers=auth(server.key("expert"))).json()["results"]
    assert "not-a-run" not in {r["run"] for r in listed}
    assert {engine_runs.rejects.name, engine_runs.loss_first.name} <= {r["run"] for r in listed}
    row = next(r for r in listed if r["run"] == run.name)
    assert row["strategy"] == manifest["strategy"]["name"] == "orb"
    assert (row["underlying"], row["from"], row["to"]) == ("SPY", "2025-11-20", "2025-11-26")
    assert (row["created_at"], row["engine_version"]) == (manifest["created_at"], manifest["engine_version"])
    assert {k: row[k] for k in LIST_SUMMARY_FIELDS} == {k: summary[k] for k in LIST_SUMMARY_FIELDS}
    assert row["files"] == list(ARTIFACTS)

    d = http.get(f"/v1/backtests/{run.name}/", headers=auth(server.key("expert"))).json()["results"]
    assert d["manifest"] == manifest and d["summary"] == summary
    for table in ("decisions", "fills", "equity", "trades"):
        written = pq.read_table(run / f"{table}.parquet")
        assert d[table]["columns"] == written.column_names == SCHEMAS[table].names, table
        assert d[table]["rows"] == written.to_pylist(), table  # ns timestamps, nulls and floats unchanged
        assert d[table]["total_rows"] == written.num_rows > 0, table
    # rejects: one per rejected decision, as the engine's summary counts them (fills repeat them per leg)
    assert d["rejects_by_reason"] == summary["rejects"] and summary["rejects"].get("stale_quote", 0) >= 1
    rejected = [r for r in d["decisions"]["rows"] if r["reject_reason"]]
    assert sum(d["rejects_by_reason"].values()) == len(rejected)
    # drawdown: one value per session, its worst is the summary's max_drawdown
    assert len(d["drawdown"]) == len(d["equity"]["rows"]) == summary["sessions"]
    assert summary["max_drawdown"] < 0 and min(d["drawdown"]) == pytest.approx(summary["max_drawdown"], abs=1e-9)


def test_drawdown_starts_from_the_initial_cash(
    http: httpx.Client, server: RunningServer, engine_runs: EngineRuns
) -> None:
    run = engine_runs.loss_first
    summary = json.loads((run / "summary.json").read_text())
    d = http.get(f"/v1/backtests/{run.name}/", headers=auth(server.key("expert"))).json()["results"]
    first = d["equity"]["rows"][0]["equity"]
    assert first < summary["initial_cash"]  # the first session closed below the starting cash
    assert d["drawdown"][0] == pytest.approx(first / summary["initial_cash"] - 1.0)
    assert min(d["drawdown"]) == pytest.approx(summary["max_drawdown"], abs=1e-9)
    assert d["rejects_by_reason"] == summary["rejects"]


def test_backtest_routes_refuse_bad_names_unknown_runs_and_missing_keys(
    http: httpx.Client, server: RunningServer
) -> None:
    bad = http.get("/v1/backtests/..hidden/", headers=auth(server.key("expert")))
    assert (
        bad.status_code == 400
        and bad.json()["error"]["code"] == "bad_request"
        and "run" in bad.json()["error"]["message"]
    )
    missing = http.get("/v1/backtests/nope/", headers=auth(server.key("expert")))
    assert missing.status_code == 404 and missing.json()["status"] == "ERROR"
    assert http.get("/v1/backtests/").status_code == 401


def test_backtests_dir_setting_moves_the_results_folder(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cutemarkets_server.cli import app
    from cutemarkets_server.config import Settings

    assert Settings(data_dir=tmp_path).backtests_root == tmp_path / "backtests"
    assert Settings(data_dir=tmp_path, backtests_dir=tmp_path / "elsewhere").backtests_root == tmp_path / "elsewhere"
    for command in ("serve", "backtest run"):
        help_text = CliRunner().invoke(app, [*command.split(), "--help"], env={"COLUMNS": "200"}).output
        assert "--backtests-dir" in help_text and "CUTEMARKETS_BACKTESTS_DIR" in help_text, command


def test_backtest_run_without_out_writes_where_the_server_reads(market_dir: Path, tmp_path: Path) -> None:
    """The same CUTEMARKETS_BACKTESTS_DIR moves both the runs `backtest run` writes and the folder served."""
    from cutemarkets_server.config import Settings

    data_dir, elsewhere = tmp_path / "data", tmp_path / "elsewhere"
    data_dir.mkdir()
    (data_dir / "lake").symlink_to(market_dir / "lake", target_is_directory=True)
    one_day = ("--strategy", "orb", "--underlying", "SPY", "--from", "2025-11-20", "--to", "2025-11-20")
    run = cli_run(data_dir, *one_day, env={"CUTEMARKETS_BACKTESTS_DIR": str(elsewhere)})
    assert run.parent == elsewhere == Settings(data_dir=data_dir, backtests_dir=elsewhere).backtests_root
    assert not (data_dir / "backtests").exists()
    assert (run / "manifest.json").is_file() and (run / "trades.parquet").is_file()


def test_console_pages_and_assets_are_served_without_a_key(http: httpx.Client) -> None:
    for path in (
        "/console",
        "/console/",
        "/console/chain",
        "/console/contract/",
        "/console/stock",
        "/console/live",
        "/console/backtests",
    ):
        r = http.get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), path
        assert "/console/static/common.js" in r.text
    assert http.get("/console/nope").status_code == 404
    script = re.search(r'data-plotly="([^"]+)"', http.get("/console/chain").text).group(1)
    plotly = http.get(script, headers={"Accept-Encoding": "gzip"})
    assert plotly.status_code == 200 and plotly.headers["content-encoding"] == "gzip"
    assert len(plotly.content) > 1_000_000 and b"plotly" in plotly.content[:2000].lower()
    assert "immutable" in plotly.headers["cache-control"]
    assert http.get("/console/vendor/plotly-0.0.0.min.js").status_code == 404
    assert http.get("/console/static/chain.js").status_code == 200
    docs = http.get("/docs").text
    assert "cdn.jsdelivr" not in docs and "/docs/assets/swagger-ui-bundle.js" in docs
    assert http.get("/docs/assets/swagger-ui-bundle.js").status_code == 200
    redoc = http.get("/redoc").text
    assert "cdn" not in redoc and "fonts.googleapis" not in redoc
    assert b"cdn.redoc.ly" not in http.get("/docs/redoc.standalone.js").content
