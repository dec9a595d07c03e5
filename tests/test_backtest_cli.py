"""``cutemarkets backtest …`` through the command line: strategies, run, errors, sweeps and walk-forward on Dask."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from cutemarkets_server.backtest.config import Execution, RunSpec
from cutemarkets_server.backtest.data.lake import LakeSource
from cutemarkets_server.backtest.run import run_backtest
from cutemarkets_server.cli import app

from conftest import RunningServer

runner = CliRunner()
RUN = ["backtest", "run", "--underlying", "SPY"]


def cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_strategies_lists_the_builtins_with_their_parameters() -> None:
    code, out = cli("backtest", "strategies", "--json")
    assert code == 0, out
    listing = json.loads(out)
    names = {s["name"]: s for s in listing["strategies"]}
    assert {"orb", "short_put", "iron_condor"} <= set(names)
    for s in names.values():
        assert s["description"] and s["parameters"]
        assert all({"name", "type", "default", "help"} <= set(p) for p in s["parameters"])
    assert "short_delta" in {p["name"] for p in names["short_put"]["parameters"]}
    assert "stale_quote_ms" in {e["name"] for e in listing["execution"]}
    code, out = cli("backtest", "strategies")
    assert code == 0 and "range_minutes" in out


def test_run_through_the_installed_command_writes_every_artifact(market_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    exe = Path(sys.executable).with_name("cutemarkets")
    proc = subprocess.run(
        [
            *(str(exe), *RUN, "--strategy", "orb", "--from", "2025-11-20", "--to", "2025-11-21", "--out", str(out)),
            *("--data-dir", str(market_dir), "--set", "risk_pct=0.01", "--set", "latency_ms=500"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert proc.returncode == 0, proc.stderr
    assert "2 sessions" in proc.stdout and "decisions/s" in proc.stdout
    for name in (
        "manifest.json",
        "decisions.parquet",
        "fills.parquet",
        "equity.parquet",
        "summary.json",
        "report.html",
    ):
        assert (out / name).stat().st_size > 0, name
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["strategy"]["parameters"]["risk_pct"] == 0.01 and manifest["latency_ms"] == 500
    fills = pq.read_table(out / "fills.parquet").to_pylist()
    assert fills and all(
        f["fill_timestamp"] - f["decision_timestamp"] >= 500_000_000 for f in fills if f["fill_price"] is not None
    )
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) >= {
        "total_return",
        "cagr",
        "sharpe",
        "sortino",
        "max_drawdown",
        "win_rate",
        "profit_factor",
        "trades",
        "rejects",
        "avg_quote_age_ms",
        "avg_spread_paid",
    }
    page = (out / "report.html").read_text()
    assert "<script src" not in page and "<link" not in page, "the report must work offline"
    assert "Plotly" in page and 'id="equity-chart"' in page and 'id="drawdown-chart"' in page
    for f in fills:
        assert f["contract"] in page and f["event_timestamp_et"] in page and f["event_timestamp_utc"] in page


def test_a_strategy_from_a_file(market_dir: Path, tmp_path: Path) -> None:
    code_file = tmp_path / "first_bar_put.py"
    code_file.write_text(
        "from cutemarkets_server.backtest.strategies import Param, Strategy\n"
        "from cutemarkets_server.backtest.selection import Criteria\n\n\n"
        "class FirstBarPut(Strategy):\n"
        "    name = 'first_bar_put'\n"
        "    params = (Param('dte_max', 3, 'max DTE'),)\n\n"
        "    def on_bar(self, ctx):\n"
        "        if ctx.minutes_since_open == 5 and not ctx.busy:\n"
        "            sel = ctx.select(Criteria('put', 0, self.p['dte_max'], delta=-0.4))\n"
        "            ctx.enter('buy_put', [(sel, 1)])\n"
    )
    out = tmp_path / "out"
    code, text = cli(
        *RUN, "--strategy", str(code_file), "--from", "2025-11-20", "--to", "2025-11-20", "--out", str(out),
        "--data-dir", str(market_dir),
    )  # fmt: skip
    assert code == 0, text
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["strategy"]["code_sha256"] == hashlib.sha256(code_file.read_bytes()).hexdigest()
    decisions = pq.read_table(out / "decisions.parquet").to_pylist()
    assert decisions[0]["action"] == "buy_put" and decisions[0]["decision_timestamp"] == decisions[0]["signal_bar_end"]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--strategy", "nope"], 2, "unknown strategy"),
        (["--strategy", "orb", "--set", "range_minutes=abc"], 2, "range_minutes must be int"),
        (["--strategy", "orb", "--set", "bogus=1"], 2, "unknown parameter"),
        (["--strategy", "orb", "--set", "fill_policy=magic"], 2, "unknown fill_policy"),
        (["--strategy", "orb", "--set", "latency_ms=-5"], 2, "latency_ms"),
        (["--strategy", "orb", "--set", "novalue"], 2, "key=value"),
    ],
)
def test_bad_input_is_a_clear_error(market_dir: Path, tmp_path: Path, args: list[str], code: int, message: str) -> None:
    got, out = cli(
        *RUN, *args, "--from", "2025-11-20", "--to", "2025-11-21", "--out", str(tmp_path), "--data-dir", str(market_dir)
    )
    assert got == code, out
    assert message in out and "Traceback" not in out
    assert not (tmp_path / "manifest.json").exists()


def test_ranges_without_data_and_failing_sources_are_errors(
    market_dir: Path, tmp_path: Path, server: RunningServer
) -> None:
    common = ["--strategy", "orb", "--out", str(tmp_path / "o")]
    code, out = cli(*RUN, *common, "--from", "2020-01-06", "--to", "2020-01-08", "--data-dir", str(market_dir))
    assert code == 1 and "no minute bars" in out
    code, out = cli(*RUN, *common, "--from", "2025-11-22", "--to", "2025-11-23", "--data-dir", str(market_dir))
    assert code == 1 and "no trading sessions" in out
    code, out = cli(*RUN, *common, "--from", "2025-11-21", "--to", "2025-11-20", "--data-dir", str(market_dir))
    assert code == 2 and "before --from" in out
    code, out = cli(*RUN, *common, "--from", "2025-11-20", "--to", "2025-11-20", "--data-dir", str(tmp_path / "x"))
    assert code == 1 and "no market data" in out
    dates = ["--from", "2025-11-20", "--to", "2025-11-20"]
    code, out = cli(*RUN, *common, *dates, "--source", "http://127.0.0.1:9", "--api-key", "cm_x")
    assert code == 1 and "request failed" in out
    code, out = cli(*RUN, *common, *dates, "--source", server.base_url, "--api-key", "cm_not_a_key")
    assert code == 1 and "401" in out
    code, out = cli(*RUN, *common, *dates, "--source", server.base_url, "--api-key", server.key("developer"))
    assert code == 1 and "403" in out  # quotes need the Expert plan: never a silent zero-trade run
    code, out = cli(*RUN, *common, *dates, "--source", server.base_url)
    assert code == 2 and "--api-key" in out
    assert not (tmp_path / "o" / "manifest.json").exists()


def test_run_against_a_server_over_http(server: RunningServer, tmp_path: Path, market_dir: Path) -> None:
    dates = ["--from", "2025-11-20", "--to", "2025-11-20"]
    code, out = cli(
        *RUN, "--strategy", "orb", *dates, "--out", str(tmp_path / "h"), "--source", server.base_url,
        "--api-key", server.key("expert"),
    )  # fmt: skip
    assert code == 0, out
    code, out = cli(*RUN, "--strategy", "orb", *dates, "--out", str(tmp_path / "l"), "--data-dir", str(market_dir))
    assert code == 0, out
    for name in ("decisions.parquet", "fills.parquet", "equity.parquet", "summary.json"):
        assert (tmp_path / "h" / name).read_bytes() == (tmp_path / "l" / name).read_bytes()


def test_sweep_runs_every_grid_point_on_dask_and_each_run_writes_its_artifacts(
    market_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "sweep"
    code, text = cli(
        "backtest", "sweep", "--strategy", "orb", "--underlying", "SPY", "--from", "2025-11-20", "--to",
        "2025-11-21", "--out", str(out), "--data-dir", str(market_dir), "--grid", "range_minutes=5,30",
        "--grid", "fill_policy=cross_spread,mid_fraction", "--workers", "2",
    )  # fmt: skip
    assert code == 0, text
    table = json.loads((out / "sweep.json").read_text())
    assert [(r["range_minutes"], r["fill_policy"]) for r in table] == [
        ("5", "cross_spread"),
        ("5", "mid_fraction"),
        ("30", "cross_spread"),
        ("30", "mid_fraction"),
    ]
    assert pq.read_table(out / "sweep.parquet").num_rows == 4
    lake = LakeSource(market_dir)
    for row in table:
        run_dir = out / "runs" / row["run"]
        manifest = json.loads((run_dir / "manifest.json").read_text())
        assert manifest["strategy"]["parameters"]["range_minutes"] == int(row["range_minutes"])
        assert manifest["execution"]["fill_policy"] == row["fill_policy"]
        direct = run_backtest(
            RunSpec(
                "orb",
                "SPY",
                dt.date(2025, 11, 20),
                dt.date(2025, 11, 21),
                params={"range_minutes": int(row["range_minutes"])},
                execution=Execution(fill_policy=row["fill_policy"]),
            ),
            lake,
            None,
        )
        assert json.loads((run_dir / "summary.json").read_text()) == direct.summary
        assert row["total_return"] == direct.summary["total_return"] and row["trades"] == direct.summary["trades"]
    assert len({r["total_return"] for r in table}) > 1, "different parameters should give different results"


def test_walk_forward_chooses_on_train_windows_and_reports_only_test_windows(market_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "wf"
    code, text = cli(
        "backtest", "walkforward", "--strategy", "orb", "--underlying", "SPY", "--from", "2025-11-20", "--to",
        "2025-11-26", "--out", str(out), "--data-dir", str(market_dir), "--grid", "range_minutes=5,30",
        "--train-days", "2", "--test-days", "1", "--step-days", "1", "--metric", "total_return", "--workers", "1",
    )  # fmt: skip
    assert code == 0, text
    result = json.loads((out / "walkforward.json").read_text())
    folds = result["folds"]
    assert [(f["train_from"], f["train_to"], f["test_from"]) for f in folds] == [
        ("2025-11-20", "2025-11-21", "2025-11-24"),
        ("2025-11-21", "2025-11-24", "2025-11-25"),
        ("2025-11-24", "2025-11-25", "2025-11-26"),
    ]
    lake = LakeSource(market_dir)
    compounded = 1.0
    for k, f in enumerate(folds):
        train = [
            run_backtest(
                RunSpec(
                    "orb",
                    "SPY",
                    dt.date.fromisoformat(f["train_from"]),
                    dt.date.fromisoformat(f["train_to"]),
                    params={"range_minutes": m},
                ),
                lake,
                None,
            ).summary["total_return"]
            for m in (5, 30)
        ]
        best = 5 if train[0] >= train[1] else 30
        assert f["chosen"] == {"range_minutes": str(best)}
        test_manifest = json.loads((out / "folds" / f"{k:03d}" / "manifest.json").read_text())
        assert test_manifest["from"] == test_manifest["to"] == f["test_from"]
        assert test_manifest["strategy"]["parameters"]["range_minutes"] == best
        compounded *= 1 + f["test_total_return"]
    assert result["out_of_sample_total_return"] == pytest.approx(compounded - 1)


def test_bad_grids_and_folds_are_errors(market_dir: Path, tmp_path: Path) -> None:
    base = ["--strategy", "orb", "--underlying", "SPY", "--from", "2025-11-20", "--to", "2025-11-21"]
    base += ["--out", str(tmp_path), "--data-dir", str(market_dir)]
    code, out = cli("backtest", "sweep", *base)
    assert code == 2 and "--grid" in out
    code, out = cli("backtest", "sweep", *base, "--grid", "range_minutes=5,abc")
    assert code == 2 and "range_minutes" in out
    code, out = cli("backtest", "walkforward", *base, "--grid", "range_minutes=5", "--train-days", "5")
    assert code != 0
    code, out = cli(
        "backtest", "walkforward", *base, "--grid", "range_minutes=5", "--train-days", "5", "--test-days", "1",
        "--step-days", "1",
    )  # fmt: skip
    assert code == 2 and "cannot hold one fold" in out


def test_the_quick_run_parser_declares_what_the_typer_command_declares() -> None:
    import inspect
    import typing

    import typer

    from cutemarkets_server.backtest import cli as bt_cli
    from cutemarkets_server.backtest import quickrun

    hints = typing.get_type_hints(bt_cli.run, include_extras=True)
    declared: dict[str, tuple[str, str | None]] = {}
    for name, param in inspect.signature(bt_cli.run).parameters.items():
        info = next(m for m in hints[name].__metadata__ if isinstance(m, typer.models.OptionInfo))
        declared[(*info.param_decls, info.default)[0]] = (name, info.envvar)  # typer keeps the flag in default
        if param.default is inspect.Parameter.empty:
            assert name in quickrun.REQUIRED
        elif name == "data_dir":
            assert param.default == quickrun.DEFAULT_DATA_DIR
        else:
            assert param.default is None
    assert declared == quickrun.OPTIONS
    assert list(inspect.signature(bt_cli.run_command).parameters) == [v[0] for v in quickrun.OPTIONS.values()]


def test_the_quick_run_parser_leaves_everything_unusual_to_typer(monkeypatch: pytest.MonkeyPatch) -> None:
    from cutemarkets_server.backtest.quickrun import parse

    for var in ("CUTEMARKETS_DATA_DIR", "CUTEMARKETS_BACKTEST_SOURCE", "CUTEMARKETS_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    plain = ["--strategy", "orb", "--underlying", "SPY", "--out", "o"]
    got = parse([*plain, "--set", "a=1", "--set=b=2", "--from=2025-11-20", "--data-dir", "d"])
    assert got is not None
    assert (got["sets"], got["frm"], got["to"], got["data_dir"]) == (["a=1", "b=2"], "2025-11-20", None, Path("d"))
    for argv in (
        [*plain, "--help"],
        [*plain, "--strategy", "orb"],  # repeated
        [*plain, "--bogus", "1"],
        [*plain, "--from"],  # no value
        [*plain, "--set", "-1"],  # a value that looks like an option: typer decides
        plain[2:],  # --strategy missing
    ):
        assert parse(argv) is None, argv
    monkeypatch.setenv("CUTEMARKETS_API_KEY", "cm_env")
    monkeypatch.setenv("CUTEMARKETS_BACKTEST_SOURCE", "http://h")
    got = parse([*plain, "--api-key", "cm_flag"])
    assert got is not None and (got["api_key"], got["source"]) == ("cm_flag", "http://h")
    monkeypatch.setenv("CUTEMARKETS_DATA_DIR", "")
    assert parse(plain) is None
