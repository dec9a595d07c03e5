"""The backtesting engine through its library interface, on the built-in test market.

Every check compares the engine's records with independent reads of the stored data (plain DuckDB over
the lake's files, or the running API), so a wrong fill, a look-ahead or a wrong settlement fails.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import ClassVar

import duckdb
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cutemarkets_server.backtest.config import Execution, RunSpec
from cutemarkets_server.backtest.context import Context
from cutemarkets_server.backtest.data.base import Bar, ChainRow
from cutemarkets_server.backtest.data.http import HttpSource
from cutemarkets_server.backtest.data.lake import LakeSource
from cutemarkets_server.backtest.engine import NoDataError
from cutemarkets_server.backtest.run import run_backtest
from cutemarkets_server.backtest.selection import Criteria, select
from cutemarkets_server.backtest.strategies import Strategy
from cutemarkets_server.market.calendar import xnys
from cutemarkets_server.market.timestamps import et_date
from cutemarkets_server.store.lake import Lake

from conftest import RunningServer, auth
from lakeread import files

D1, D2, D3 = dt.date(2025, 11, 20), dt.date(2025, 11, 21), dt.date(2025, 11, 24)
ARTIFACTS = ("decisions.parquet", "fills.parquet", "equity.parquet", "trades.parquet", "summary.json")
FIXED_CREATED = "2026-01-01T00:00:00Z"


@pytest.fixture(scope="module")
def lake(market_dir: Path) -> LakeSource:
    return LakeSource(market_dir)


def rows(path: Path, name: str) -> list[dict]:
    return pq.read_table(path / name).to_pylist()


def first_quote_at_or_after(market_dir: Path, ticker: str, at_ns: int) -> dict | None:
    fs = files(market_dir / "lake", "option_quotes", [et_date(at_ns)])
    found = (
        duckdb.connect()
        .execute(
            f"SELECT sip_timestamp, bid_price, ask_price FROM read_parquet({fs!r}) WHERE ticker = ? "
            "AND sip_timestamp >= ? ORDER BY sip_timestamp, sequence_number LIMIT 1",
            [ticker, at_ns],
        )
        .fetchall()
    )
    return {"ts": found[0][0], "bid": found[0][1], "ask": found[0][2]} if found else None


@pytest.fixture(scope="module")
def orb_run(lake: LakeSource, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("orb")
    run_backtest(RunSpec("orb", "SPY", D1, D3), lake, out, created_at=FIXED_CREATED)
    return out


def test_orb_trades_and_every_fill_is_the_first_stored_quote_after_decision_plus_latency(
    orb_run: Path, market_dir: Path
) -> None:
    latency_ns = Execution().latency_ms * 1_000_000
    fills = [f for f in rows(orb_run, "fills.parquet") if f["side"] in ("buy", "sell")]
    filled = [f for f in fills if f["fill_price"] is not None]
    assert len(filled) >= 4, "the opening-range strategy should trade on the test market"
    for f in fills:
        q = first_quote_at_or_after(market_dir, f["contract"], f["decision_timestamp"] + latency_ns)
        assert q is not None
        # Single-leg orders: the quote used is exactly the first stored one at or after arrival.
        assert f["next_quote_timestamp"] == q["ts"]
        assert (f["bid"], f["ask"]) == (q["bid"], q["ask"])
        assert f["quote_age_ms"] == pytest.approx((q["ts"] - f["decision_timestamp"]) / 1e6)
        if f["fill_price"] is not None:
            assert f["fill_timestamp"] == q["ts"] >= f["decision_timestamp"] + latency_ns
            assert f["fill_price"] == (q["ask"] if f["side"] == "buy" else q["bid"])
            assert f["quote_age_ms"] <= Execution().stale_quote_ms
            assert f["fill_policy"] == "cross_spread@1"
        assert f["event_timestamp_utc"].endswith("Z") and f["event_timestamp_et"][-6:] in ("-05:00", "-04:00")


def test_decisions_come_after_their_signal_bar_closed_and_pick_listed_contracts(
    orb_run: Path, server: RunningServer, http
) -> None:
    decisions = rows(orb_run, "decisions.parquet")
    assert decisions
    for d in decisions:
        assert d["signal_bar_end"] - d["signal_bar_start"] == 60_000_000_000
        assert d["decision_timestamp"] >= d["signal_bar_end"]
        assert d["session_label"] in ("regular", "half_day")
    for d in [d for d in decisions if d["action"].startswith("buy") and d["contract"]]:
        day = et_date(d["decision_timestamp"])
        r = http.get(
            f"/v1/options/contracts/{d['contract']}/",
            params={"as_of": day.isoformat()},
            headers=auth(server.key("expert")),
        )
        assert r.status_code == 200, r.text
        listed = r.json()["results"]
        assert dt.date.fromisoformat(listed["expiration_date"]) >= day


def test_positions_open_only_after_their_fill_and_pnl_adds_up(orb_run: Path) -> None:
    fills = {f["order_id"]: f for f in rows(orb_run, "fills.parquet")}
    decisions = {d["decision_id"]: d for d in rows(orb_run, "decisions.parquet")}
    trades = rows(orb_run, "trades.parquet")
    equity = rows(orb_run, "equity.parquet")
    for t in trades:
        legs = [f for f in fills.values() if f["position_id"] == t["position_id"] and f["fill_price"] is not None]
        entry = [f for f in legs if decisions[f["decision_id"]]["action"] != "close" and f["side"] != "settle"]
        exits = [f for f in legs if f not in entry]
        assert t["opened_timestamp"] == entry[0]["fill_timestamp"]
        if t["closed_timestamp"] is not None:
            assert t["closed_timestamp"] >= t["opened_timestamp"]
            sign = {"buy": 1, "sell": -1}
            paid = sum(sign[f["side"]] * f["fill_price"] * f["quantity"] * 100 for f in entry)
            got = sum(-sign.get(f["side"], -1) * f["fill_price"] * f["quantity"] * 100 for f in exits)
            fees = sum(f["commission"] for f in legs)
            assert t["pnl"] == pytest.approx(got - paid - fees)
    closed_pnl = sum(t["pnl"] for t in trades if t["pnl"] is not None)
    assert all(e["open_positions"] == 0 for e in equity)
    assert equity[-1]["equity"] == pytest.approx(Execution().initial_cash + closed_pnl)
    summary = json.loads((orb_run / "summary.json").read_text())
    assert summary["total_return"] == pytest.approx(closed_pnl / Execution().initial_cash)
    assert summary["trades"] == len(trades)


def test_same_inputs_same_bytes_and_the_manifest_records_the_run(
    orb_run: Path, lake: LakeSource, tmp_path: Path, market_dir: Path
) -> None:
    again = tmp_path / "again"
    run_backtest(RunSpec("orb", "SPY", D1, D3), lake, again, created_at=FIXED_CREATED)
    for name in (*ARTIFACTS, "manifest.json", "report.html"):
        assert (again / name).read_bytes() == (orb_run / name).read_bytes(), name
    manifest = json.loads((orb_run / "manifest.json").read_text())
    assert manifest["timezone_policy"] == "store_utc_display_et"
    assert manifest["fill_policy"] == "cross_spread@1"
    assert manifest["strategy"]["name"] == "orb" and manifest["strategy"]["parameters"]["range_minutes"] == 15
    src = Path(__import__("cutemarkets_server.backtest.strategies.orb", fromlist=["x"]).__file__).read_bytes()
    assert manifest["strategy"]["code_sha256"] == hashlib.sha256(src).hexdigest()
    assert (manifest["from"], manifest["to"], manifest["underlying"]) == ("2025-11-20", "2025-11-24", "SPY")
    assert manifest["created_at"] == FIXED_CREATED
    parts = manifest["data_source"]["partitions"]
    assert manifest["data_source"]["kind"] == "lake"
    quotes = [p for p in parts if p["dataset"] == "option_quotes"]
    assert [p["day"] for p in quotes] == ["2025-11-20", "2025-11-21", "2025-11-24"]
    stored = Lake(market_dir / "lake").snapshot().partition("option_quotes", D1)
    assert quotes[0]["sha256"] == stored.sha256
    assert all(p["day"] <= "2025-11-24" for p in parts)


def test_the_lake_and_our_server_give_identical_results(orb_run: Path, server: RunningServer, tmp_path: Path) -> None:
    source = HttpSource(server.base_url, server.key("expert"))
    try:
        run_backtest(RunSpec("orb", "SPY", D1, D3), source, tmp_path, created_at=FIXED_CREATED)
    finally:
        source.close()
    for name in ARTIFACTS:
        assert (tmp_path / name).read_bytes() == (orb_run / name).read_bytes(), name
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["data_source"] == {"kind": "http", "url": server.base_url}


def test_multi_leg_packages_fill_all_legs_at_one_instant_or_none(lake: LakeSource, tmp_path: Path) -> None:
    # The wings are far out of the money and quoted seldom: allow a long wait for their first quote.
    patient = Execution(stale_quote_ms=600_000)
    ok = run_backtest(
        RunSpec("iron_condor", "SPY", D1, D2, execution=patient), lake, tmp_path / "ok", created_at=FIXED_CREATED
    )
    legs = [f for f in ok.result.fills if f.decision_id == 1]
    assert len(legs) == 4 and all(f.fill_price is not None for f in legs)
    assert len({f.fill_timestamp for f in legs}) == 1
    assert max(f.next_quote_timestamp for f in legs) == legs[0].fill_timestamp
    assert sorted(f.side for f in legs) == ["buy", "buy", "sell", "sell"]
    strikes = sorted(float(f.contract[-8:]) / 1000 for f in legs)
    # Each wing is the quoted strike nearest 10 dollars away: within one strike step (2.5 out there) of it.
    assert abs(strikes[1] - strikes[0] - 10) <= 2.5 and abs(strikes[3] - strikes[2] - 10) <= 2.5

    tight = Execution(max_spread=0.001, stale_quote_ms=600_000)
    bad = run_backtest(RunSpec("iron_condor", "SPY", D1, D2, execution=tight), lake, None)
    assert bad.result.trades == []
    legs = [f for f in bad.result.fills if f.decision_id == 1]
    assert len(legs) == 4 and all(f.fill_price is None and f.fill_timestamp is None for f in legs)
    assert {f.reject_reason for f in legs} <= {"spread_too_wide", "package_leg_rejected"}
    assert "spread_too_wide" in {f.reject_reason for f in legs}
    assert bad.result.decisions[0].reject_reason == "spread_too_wide"
    assert bad.summary["rejects"]["spread_too_wide"] >= 1
    assert sum(bad.summary["rejects"].values()) == len(bad.result.decisions)
    assert bad.result.equity[-1].equity == Execution().initial_cash


def test_quote_age_limit_rejects_instead_of_waiting(lake: LakeSource) -> None:
    strict = Execution(stale_quote_ms=1_500, latency_ms=1_000)
    out = run_backtest(RunSpec("orb", "SPY", D1, D2, execution=strict), lake, None)
    entries = [f for f in out.result.fills if f.side in ("buy", "sell")]
    assert entries
    for f in entries:
        if f.fill_price is not None:
            assert f.quote_age_ms <= 1_500
        else:
            assert f.reject_reason == "stale_quote" and f.quote_age_ms > 1_500
    assert out.summary["rejects"].get("stale_quote", 0) >= 1


def test_mid_fraction_policy_prices_inside_the_spread(lake: LakeSource) -> None:
    ex = Execution(fill_policy="mid_fraction", spread_fraction=0.25)
    out = run_backtest(RunSpec("orb", "SPY", D1, D1, execution=ex), lake, None)
    filled = [f for f in out.result.fills if f.fill_price is not None]
    assert filled
    for f in filled:
        mid, half = (f.bid + f.ask) / 2, 0.25 * (f.ask - f.bid)
        assert f.fill_price == pytest.approx(mid + half if f.side == "buy" else mid - half)
        assert f.fill_policy == "mid_fraction@1(fraction=0.25)"


def test_expiring_positions_settle_at_the_unadjusted_close(lake: LakeSource, server: RunningServer, http) -> None:
    params = {"dte_max": 0, "exit_time": "16:00", "profit_target_pct": 100.0, "stop_loss_pct": 50.0}
    out = run_backtest(RunSpec("orb", "SPY", D1, D3, params=params), lake, None)
    settles = [f for f in out.result.fills if f.side == "settle"]
    assert settles, "0DTE positions held to the close must settle"
    late = [d for d in out.result.decisions if d.action == "close"]
    assert all(d.reject_reason == "session_closed" for d in late)
    for f in settles:
        day = et_date(f.fill_timestamp)
        bars = http.get(
            f"/v1/stocks/aggs/SPY/1/minute/{day}/{day}/",
            params={"adjusted": "false", "limit": 5000},
            headers=auth(server.key("expert")),
        ).json()["results"]
        close_ns = xnys().hours(day).close_ns
        last = [b for b in bars if b["t"] * 1_000_000 < close_ns][-1]["c"]
        strike = int(f.contract[-8:]) / 1000
        kind = f.contract[-9]
        assert f.fill_price == pytest.approx(max(last - strike, 0) if kind == "C" else max(strike - last, 0))
        assert f.fill_timestamp == close_ns
    reasons = {t.exit_reason for t in out.result.trades}
    assert reasons <= {"expired_itm", "expired_otm"}


def test_split_days_compare_unadjusted_strikes_with_unadjusted_prices(
    lake: LakeSource, server: RunningServer, http
) -> None:
    # NVDA splits 3-for-2 inside the test market's tick sessions; the days before it must not be scaled.
    out = run_backtest(RunSpec("orb", "NVDA", D1, dt.date(2025, 11, 26)), lake, None)
    entries = [d for d in out.result.decisions if d.action.startswith("buy") and d.contract]
    assert len({et_date(d.decision_timestamp) for d in entries}) >= 3
    split_seen = False
    for d in entries:
        day = et_date(d.decision_timestamp)
        spot = next(b.close for b in lake.minute_bars("NVDA", day) if b.end_ns == d.signal_bar_end)
        strike = int(d.contract[-8:]) / 1000
        assert abs(strike / spot - 1) < 0.1, (d.contract, spot)
        assert d.contract.startswith("O:NVDA2"), "adjusted (NVDA1) contracts are never selected"
        adjusted = http.get(
            f"/v1/stocks/aggs/NVDA/1/minute/{day}/{day}/",
            params={"adjusted": "true", "limit": 5000},
            headers=auth(server.key("expert")),
        ).json()["results"]
        adj_close = next(b["c"] for b in adjusted if b["t"] * 1_000_000 == d.signal_bar_start)
        split_seen = split_seen or abs(adj_close / spot - 1) > 0.2
    assert split_seen, "the window must include days whose adjusted prices differ from the traded ones"


def test_appending_later_days_never_changes_a_result(market_dir: Path, tmp_path: Path) -> None:
    short = tmp_path / "short"
    shutil.copytree(market_dir / "lake", short / "lake")
    lake = Lake(short / "lake")
    snap = lake.snapshot()
    for name, parts in snap.by_dataset.items():
        for day in parts:
            if day > D2:
                lake.delete_partition(name, day)
    assert max(Lake(short / "lake").snapshot().days("option_quotes")) == D2
    spec = RunSpec("short_put", "SPY", D1, D2, params={"dte_min": 0, "dte_max": 10, "target_dte": 3})
    a = run_backtest(spec, LakeSource(short), tmp_path / "a", created_at=FIXED_CREATED)
    run_backtest(spec, LakeSource(market_dir), tmp_path / "b", created_at=FIXED_CREATED)
    assert a.result.decisions and a.result.fills
    for name in (*ARTIFACTS, "manifest.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_selection_rejects_are_recorded_not_substituted(lake: LakeSource) -> None:
    out = run_backtest(RunSpec("orb", "SPY", D1, D1, params={"dte_min": 200, "dte_max": 210}), lake, None)
    assert out.result.fills == [] and out.result.trades == []
    (d,) = out.result.decisions
    assert d.contract is None and d.reject_reason in ("no_contract", "no_contract_in_dte_window")
    assert out.summary["rejects"] == {d.reject_reason: 1}


def test_bad_parameters_and_empty_ranges_are_errors(lake: LakeSource) -> None:
    with pytest.raises(ValueError, match="unknown parameter"):
        run_backtest(RunSpec("orb", "SPY", D1, D1, params={"nope": 1}), lake, None)
    with pytest.raises(ValueError, match="range_minutes"):
        run_backtest(RunSpec("orb", "SPY", D1, D1, params={"range_minutes": "abc"}), lake, None)
    with pytest.raises(ValueError, match="fill_policy"):
        Execution(fill_policy="magic")
    with pytest.raises(NoDataError):
        run_backtest(RunSpec("orb", "SPY", dt.date(2020, 1, 6), dt.date(2020, 1, 8)), lake, None)


def latest_quote_at_or_before(market_dir: Path, ticker: str, at_ns: int) -> dict | None:
    fs = files(market_dir / "lake", "option_quotes", [et_date(at_ns)])
    found = (
        duckdb.connect()
        .execute(
            f"SELECT sip_timestamp, bid_price, ask_price FROM read_parquet({fs!r}) WHERE ticker = ? "
            "AND sip_timestamp <= ? ORDER BY sip_timestamp DESC, sequence_number DESC LIMIT 1",
            [ticker, at_ns],
        )
        .fetchall()
    )
    return {"ts": found[0][0], "bid": found[0][1], "ask": found[0][2]} if found else None


def test_premium_exits_are_proven_by_a_quote_after_entry(orb_run: Path, market_dir: Path) -> None:
    decisions = rows(orb_run, "decisions.parquet")
    trades = {t["position_id"]: t for t in rows(orb_run, "trades.parquet")}
    fills = rows(orb_run, "fills.parquet")
    checked = 0
    for d in decisions:
        if d["action"] != "close" or d["reject_reason"] is not None:
            continue
        t = trades[d["position_id"]]
        reason = json.loads(d["detail"])["exit_reason"]
        assert reason == t["exit_reason"]
        assert d["decision_timestamp"] > t["opened_timestamp"]
        if reason not in ("profit_target", "stop_loss"):
            continue
        q = latest_quote_at_or_before(market_dir, d["contract"], d["decision_timestamp"])
        assert q is not None and q["ts"] >= t["opened_timestamp"]
        qty = next(f["quantity"] for f in fills if f["decision_id"] == d["decision_id"])
        pnl = q["bid"] * qty * 100 - t["entry_value"]
        if reason == "profit_target":
            assert pnl >= 0.5 * t["entry_value"] - 1e-6
        else:
            assert pnl <= -0.5 * t["entry_value"] + 1e-6
        checked += 1
    assert checked >= 2


def test_short_positions_need_the_cash_to_cover_their_settlement(lake: LakeSource) -> None:
    poor = Execution(initial_cash=5_000.0, stale_quote_ms=600_000)  # a quote comes; the cash does not
    naked = run_backtest(RunSpec("short_put", "SPY", D1, D1, execution=poor), lake, None)
    (d,) = naked.result.decisions
    assert d.reject_reason == "insufficient_cash" and naked.result.trades == []
    assert all(f.reject_reason == "insufficient_cash" and f.fill_price is None for f in naked.result.fills)
    assert all(f.position_id is None and f.commission == 0 for f in naked.result.fills)
    spread = run_backtest(RunSpec("short_put", "SPY", D1, D1, params={"width": 10.0}, execution=poor), lake, None)
    assert spread.result.decisions[0].reject_reason is None and len(spread.result.trades) == 1


class DailyProbe(Strategy):
    """Records what ``daily_bars`` hands out at the first bar of each session."""

    name = "daily_probe"
    seen: ClassVar[list[tuple[dt.date, int, list]]] = []

    def on_bar(self, ctx: Context) -> None:
        if ctx.minutes_since_open == 1:
            bars = ctx.daily_bars()
            DailyProbe.seen.append((ctx.session, ctx.now_ns, [(b.start_ns, b.end_ns, b.close) for b in bars]))


def test_daily_bars_are_unadjusted_complete_and_the_same_from_both_sources(
    lake: LakeSource, server: RunningServer, http, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cutemarkets_server.backtest import strategies

    monkeypatch.setitem(strategies.BUILTINS, "daily_probe", DailyProbe)
    spec = RunSpec("daily_probe", "NVDA", D1, dt.date(2025, 11, 26))
    DailyProbe.seen = []
    run_backtest(spec, lake, None)
    from_lake = list(DailyProbe.seen)
    DailyProbe.seen = []
    source = HttpSource(server.base_url, server.key("expert"))
    run_backtest(spec, source, None)
    source.close()
    assert from_lake == DailyProbe.seen and len(from_lake) == 5
    for session, now, bars in from_lake:
        assert len(bars) > 20
        assert all(end <= now for _, end, _ in bars)
        assert et_date(bars[-1][0]) == xnys().previous_session(session)
    session, _, bars = from_lake[-1]
    first, last = et_date(bars[0][0]), et_date(bars[-1][0])
    served = http.get(
        f"/v1/stocks/aggs/NVDA/1/day/{first}/{last}/",
        params={"adjusted": "false", "limit": 5000},
        headers=auth(server.key("expert")),
    ).json()["results"]
    assert [b["c"] for b in served] == [c for _, _, c in bars]
    adjusted = http.get(
        f"/v1/stocks/aggs/NVDA/1/day/{first}/{last}/",
        params={"adjusted": "true", "limit": 5000},
        headers=auth(server.key("expert")),
    ).json()["results"]
    assert [b["c"] for b in adjusted] != [c for _, _, c in bars], "the window spans the split"


def test_limit_orders_fill_only_when_a_quote_meets_the_limit(lake: LakeSource, market_dir: Path) -> None:
    # A limit at the bid, good for one minute: on the test market some reach it in time and some do not.
    minutes = 1
    params = {"order_type": "limit", "limit_offset": -0.5, "limit_minutes": minutes}
    out = run_backtest(RunSpec("orb", "SPY", D1, dt.date(2025, 12, 2), params=params), lake, None)
    latency_ns = Execution().latency_ms * 1_000_000
    limits = [f for f in out.result.fills if f.order_type == "limit"]
    assert {f.fill_price is None for f in limits} == {True, False}, "some limits fill, some lapse"
    for f in limits:
        arrival = f.decision_timestamp + latency_ns
        fs = files(market_dir / "lake", "option_quotes", [et_date(arrival)])
        window = (
            duckdb.connect()
            .execute(
                f"SELECT sip_timestamp, bid_price, ask_price FROM read_parquet({fs!r}) WHERE ticker = ? "
                "AND sip_timestamp >= ? AND sip_timestamp < ? ORDER BY sip_timestamp, sequence_number",
                [f.contract, arrival, arrival + minutes * 60_000_000_000],
            )
            .fetchall()
        )
        usable = [(t, b, a) for t, b, a in window if a <= f.limit_price + 1e-9 and a - b <= 0.5 * (a + b) / 2 + 1e-9]
        if f.fill_price is None:
            assert f.reject_reason == "limit_not_reached" and not usable
        else:
            assert usable and f.fill_timestamp == usable[0][0] and f.fill_price == usable[0][2]
            assert f.quote_age_ms == 0.0 and f.fill_price <= f.limit_price


# -- the pieces that keep a run's command quick, each against what it replaces ------------------------


@pytest.mark.parametrize("with_rejects", [False, True])
def test_report_charts_are_the_bytes_plotly_writes(with_rejects: bool) -> None:
    import plotly.graph_objects as go
    import plotly.io as pio
    from plotly.offline import get_plotlyjs

    from cutemarkets_server.backtest.report.charts import bar, chart, plotly_js, scatter

    def plotly_chart(fig: go.Figure, div_id: str) -> str:  # what the report wrote before charts.py
        fig.update_layout(margin={"l": 50, "r": 20, "t": 40, "b": 40}, height=320, template="plotly_white")
        return pio.to_html(fig, include_plotlyjs=False, full_html=False, div_id=div_id, config={"displaylogo": False})

    days = ["2025-11-20", "2025-11-21", "2025-11-24"]
    equity = [100_000.0, 101_234.5678, 99_000.125]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=days, y=equity, name="equity (mid)", mode="lines+markers"))
    fig.add_trace(go.Scatter(x=days, y=[1e-7, 0.0, -3.5], name="cash </script>", mode="lines"))
    fig.update_layout(title="Equity per session (marked at the close)")
    fig.update_xaxes(type="category")
    ours = chart(
        "equity-chart",
        [
            scatter(days, equity, "equity (mid)", mode="lines+markers"),
            scatter(days, [1e-7, 0.0, -3.5], "cash </script>", mode="lines"),
        ],
        "Equity per session (marked at the close)",
        category_x=True,
    )
    assert ours == plotly_chart(fig, "equity-chart")
    dd = go.Figure(go.Scatter(x=days, y=[0.0, -1.5, -0.25], fill="tozeroy", name="drawdown %"))
    dd.update_layout(title="Drawdown (%)")
    dd.update_xaxes(type="category")
    mine = [scatter(days, [0.0, -1.5, -0.25], "drawdown %", fill="tozeroy")]
    assert chart("dd", mine, "Drawdown (%)", category_x=True) == plotly_chart(dd, "dd")
    reasons = ["no_quote", "spread_too_wide"] if with_rejects else []
    counts = [3, 1] if with_rejects else []
    rej = go.Figure(go.Bar(x=reasons, y=counts, name="rejects"))
    rej.update_layout(title="Rejected decisions by reason")
    assert chart("r", [bar(reasons, counts, "rejects")], "Rejected decisions by reason") == plotly_chart(rej, "r")
    assert plotly_js() == get_plotlyjs()


def test_artifact_columns_are_the_arrays_pyarrow_builds() -> None:
    import pyarrow as pa

    from cutemarkets_server.backtest.columns import column

    cases = [
        (pa.int64(), [1, None, -(2**63), 2**63 - 1, 0]),
        (pa.int64(), []),
        (pa.float64(), [1.5, None, 3, -0.0, 1e300, None, None, None, None]),
        (pa.string(), ["a", None, "", "é — ET", "x" * 1000]),
        (pa.string(), [None, None]),
        (pa.float64(), [0.25] * 17),
    ]
    for type_, values in cases:
        got = column(values, type_)
        assert got.equals(pa.array(values, type=type_)), (type_, values)
        got.validate(full=True)
    with pytest.raises(TypeError):
        column([1.5], pa.int64())
    with pytest.raises(TypeError):
        column([1], pa.string())


def test_the_cached_calendar_is_the_exchange_calendar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cutemarkets_server.backtest import calendar as bt_calendar

    monkeypatch.setenv("CUTEMARKETS_CACHE_DIR", str(tmp_path))
    bt_calendar.calendar.cache_clear()
    try:
        built = bt_calendar.calendar()  # builds the calendar and writes the cache
        files_written = list(tmp_path.glob("xnys-*.json"))
        assert len(files_written) == 1
        bt_calendar.calendar.cache_clear()
        cached = bt_calendar.calendar()  # reads it back
        assert cached is not built and cached.table() == xnys().table() == built.table()
        day = dt.date(2025, 11, 28)  # an early close
        assert cached.hours(day) == xnys().hours(day) and cached.is_early_close(day)
        files_written[0].write_text("{not json")
        bt_calendar.calendar.cache_clear()
        assert bt_calendar.calendar().table() == xnys().table()  # a damaged file is rebuilt
        assert json.loads(files_written[0].read_text())["days"]
    finally:
        bt_calendar.calendar.cache_clear()


class _ListedChain:
    """A source whose chain is a fixed list, cut to the expirations and type asked for."""

    def __init__(self, listed: list[ChainRow]) -> None:
        self.listed = listed
        self.asked: list[tuple[dt.date, dt.date]] = []

    def chain(self, underlying: str, at_ns: int, lo: dt.date, hi: dt.date, contract_type: str | None) -> list[ChainRow]:
        self.asked.append((lo, hi))
        return [r for r in self.listed if lo <= r.expiration <= hi and contract_type in (None, r.contract_type)]


_SESSION = dt.date(2025, 11, 20)


@st.composite
def _chains(draw: st.DrawFn) -> list[ChainRow]:
    out = []
    for i in range(draw(st.integers(0, 24))):
        quoted = draw(st.booleans())
        out.append(
            ChainRow(
                ticker=f"O:SPY{i:03d}",
                underlying="SPY",
                contract_type=draw(st.sampled_from(["call", "put"])),
                strike=float(draw(st.integers(590, 610))),
                expiration=_SESSION + dt.timedelta(days=draw(st.integers(0, 6))),
                shares_per_contract=100,
                bid=1.0 if quoted else None,
                ask=draw(st.sampled_from([1.05, 1.5])) if quoted else None,
                quote_ts_ns=1 if quoted else None,
                iv=0.2,
                delta=draw(st.sampled_from([None, 0.3, 0.5, -0.3, -0.5])),
                gamma=None,
                theta=None,
                vega=None,
                open_interest=draw(st.integers(0, 300)),
                volume=float(draw(st.integers(0, 50))),
                underlying_price=600.0,
            )
        )
    return out


@settings(max_examples=500, deadline=None)
@given(
    _chains(),
    st.sampled_from(["call", "put"]),
    st.integers(0, 6),
    st.integers(0, 6),
    st.one_of(st.none(), st.integers(0, 8)),
    st.sampled_from([None, 0.4, -0.4]),
    st.integers(0, 200),
    st.sampled_from([0.0, 0.1]),
)
def test_asking_the_nearest_expirations_first_selects_what_the_whole_window_would(
    listed: list[ChainRow],
    kind: str,
    dte_a: int,
    dte_b: int,
    target: int | None,
    delta: float | None,
    min_oi: int,
    max_spread: float,
) -> None:
    criteria = Criteria(
        contract_type=kind,
        dte_min=min(dte_a, dte_b),
        dte_max=max(dte_a, dte_b),
        target_dte=target,
        delta=delta,
        min_open_interest=min_oi,
        max_spread=max_spread,
    )
    source = _ListedChain(listed)
    ctx = Context(SimpleNamespace(source=source, underlying="SPY", chain_queries=0))  # type: ignore[arg-type]
    ctx.session, ctx.now_ns = _SESSION, 1
    ctx.signal_bar = Bar(0, 1, 600.0, 600.0, 600.0, 600.0, 0.0)
    got = ctx.select(criteria)
    lo = _SESSION + dt.timedelta(days=criteria.dte_min)
    hi = _SESSION + dt.timedelta(days=criteria.dte_max)
    window = [r for r in listed if lo <= r.expiration <= hi and r.contract_type == kind]
    whole = select(window, criteria, _SESSION, 600.0)  # the whole DTE window asked at once
    assert got.ok == whole.ok
    if whole.ok:
        assert got.contract == whole.contract  # type: ignore[union-attr]
    else:
        assert (got.reason, got.facts) == (whole.reason, whole.facts)  # type: ignore[union-attr]
