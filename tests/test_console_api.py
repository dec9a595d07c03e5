"""The routes the console reads (datasets, account, clock, backtests) and the console's own pages and assets,
over HTTP against the running test server."""

from __future__ import annotations

import datetime as dt
import re

import httpx
import pyarrow.parquet as pq

from backtest_runs import write_run

from conftest import RunningServer, auth

DAYS = [dt.date(2025, 11, 24), dt.date(2025, 11, 25), dt.date(2025, 11, 26)]


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


def test_backtest_runs_are_listed_and_read(http: httpx.Client, server: RunningServer) -> None:
    root = server.data_dir / "backtests"
    run = write_run(root, "api-run", days=DAYS, equity=[100.0, 110.0, 99.0])
    (root / "not-a-run").mkdir(exist_ok=True)
    listed = http.get("/v1/backtests/", headers=auth(server.key("expert"))).json()["results"]
    row = next(r for r in listed if r["run"] == "api-run")
    assert "not-a-run" not in {r["run"] for r in listed}
    assert row["strategy"] == "orb_calls" and row["underlying"] == "SPY" and row["trades"] == 3
    d = http.get("/v1/backtests/api-run", headers=auth(server.key("expert"))).json()["results"]
    assert d["manifest"]["timezone_policy"] == "store_utc_display_et"
    assert d["fills"]["columns"] == pq.read_schema(run / "fills.parquet").names
    assert d["fills"]["total_rows"] == 3 and d["decisions"]["total_rows"] == 6
    assert d["rejects_by_reason"] == {"stale_quote": 3}
    assert d["drawdown"] == [0.0, 0.0, 99.0 / 110.0 - 1.0]
    assert set(d["files"]) == {
        "manifest.json",
        "summary.json",
        "decisions.parquet",
        "fills.parquet",
        "equity.parquet",
        "report.html",
    }


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


def test_backtests_dir_setting_moves_the_results_folder(tmp_path) -> None:
    from typer.testing import CliRunner

    from cutemarkets_server.cli import app
    from cutemarkets_server.config import Settings

    assert Settings(data_dir=tmp_path).backtests_root == tmp_path / "backtests"
    assert Settings(data_dir=tmp_path, backtests_dir=tmp_path / "elsewhere").backtests_root == tmp_path / "elsewhere"
    help_text = CliRunner().invoke(app, ["serve", "--help"], env={"COLUMNS": "200"}).output
    assert "--backtests-dir" in help_text and "CUTEMARKETS_BACKTESTS_DIR" in help_text


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
