"""Options routes through raw HTTP: what the answers mean, point in time, bad input, Polygon extras."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import exchange_calendars as xcals
import httpx
import numpy as np
import pytest
from vollib.black_scholes_merton import black_scholes_merton
from vollib.black_scholes_merton.greeks import analytical
from vollib.black_scholes_merton.implied_volatility import implied_volatility

from cutemarkets_server.clock import FixedClock
from cutemarkets_server.market import conditions
from cutemarkets_server.market.timestamps import ET, NS_PER_DAY, et_date, et_ns

from conftest import TEST_NOW_NS, RunningServer, auth, start_server
from lakeread import query

SESSION = dt.date(2025, 12, 2)
XNYS = xcals.get_calendar("XNYS", start="2025-01-01", end="2026-12-31")


def close_ns(day: dt.date) -> int:
    """The regular close of a session (13:00 ET on early-close days), from exchange_calendars."""
    return int(XNYS.session_close(day.isoformat()).value)


def get(http: httpx.Client, server: RunningServer, path: str, key: str = "expert", **params: Any) -> httpx.Response:
    return http.get(path, params=params, headers=auth(server.key(key)))


def ok(http: httpx.Client, server: RunningServer, path: str, **params: Any) -> Any:
    r = get(http, server, path, **params)
    assert r.status_code == 200, r.text
    return r.json()


def traded_contract(http: httpx.Client, server: RunningServer, underlying: str = "SPY", min_trades: int = 20) -> str:
    chain = ok(http, server, f"/v1/options/chain/{underlying}/", limit=250, as_of="2025-12-02T20:00:00Z")["results"]
    best = max(chain, key=lambda r: r.get("day", {}).get("volume", 0))
    assert best["day"]["volume"] >= min_trades
    return best["details"]["ticker"]


# -- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params", "name"),
    [
        ("/v1/options/trades/NOT-AN-OPTION/", {}, "options_ticker"),
        ("/v1/options/snapshot/SPY/O:SPY25130C00600000/", {}, "option_contract"),
        ("/v1/options/aggs/{c}/1/fortnight/2025-11-01/2025-12-01/", {}, "timespan"),
        ("/v1/options/aggs/{c}/0/day/2025-11-01/2025-12-01/", {}, "multiplier"),
        ("/v1/options/aggs/{c}/1/day/2025-02-30/2025-03-01/", {}, "from"),
        ("/v1/options/open-close/{c}/2025-13-01/", {}, "date"),
        ("/v1/options/chain/SPY/", {"strike_price": "abc"}, "strike_price"),
        ("/v1/options/chain/SPY/", {"sort": "delta"}, "sort"),
        ("/v1/options/chain/SPY/", {"as_of": "yesterday"}, "as_of"),
        ("/v1/options/trades/{c}/", {"timestamp.gte": "2025-12-02T25:00:00Z"}, "timestamp.gte"),
        ("/v1/options/trades/{c}/", {"order": "up"}, "order"),
        ("/v1/options/indicators/wma/{c}/", {}, "indicator"),
        ("/v1/options/indicators/sma/{c}/", {"window": "-3"}, "window"),
        ("/v1/options/indicators/sma/{c}/", {"series_type": "median"}, "series_type"),
    ],
)
def test_bad_input_is_400_naming_the_parameter(
    http: httpx.Client, server: RunningServer, path: str, params: dict, name: str
) -> None:
    c = traded_contract(http, server)
    r = get(http, server, path.format(c=c), **params)
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["error"]["code"] == "bad_request" and name in body["error"]["message"], body


def test_underlying_mismatch_and_unknown_contracts(http: httpx.Client, server: RunningServer) -> None:
    c = traded_contract(http, server)
    r = get(http, server, f"/v1/options/snapshot/QQQ/{c}/")
    assert r.status_code == 400 and "underlying" in r.json()["error"]["message"]
    for path in (
        "/v1/options/snapshot/SPY/O:SPY991231C00001000/",
        "/v1/options/trades/O:SPY991231C00001000/",
        "/v1/options/contracts/O:SPY991231C00001000/",
        "/v1/options/aggs/O:SPY991231C00001000/1/day/2025-11-01/2025-12-01/",
    ):
        assert get(http, server, path).json()["error"]["code"] == "not_found"


# -- shapes and Polygon extras -------------------------------------------------------------------


def test_aggs_envelope_has_polygon_extras_and_integer_timestamps(http: httpx.Client, server: RunningServer) -> None:
    c = traded_contract(http, server)
    body = ok(http, server, f"/v1/options/aggs/{c}/1/day/2025-11-01/2025-12-02/")
    assert body["ticker"] == c and body["adjusted"] is True
    assert body["resultsCount"] == body["count"] == len(body["results"]) > 0
    assert body["queryCount"] >= body["resultsCount"]
    for bar in body["results"]:
        assert set(bar) == {"o", "h", "l", "c", "v", "vw", "t", "n"} and isinstance(bar["t"], int)
        start = dt.datetime.fromtimestamp(bar["t"] / 1000, ET)
        assert (start.hour, start.minute) == (0, 0), "daily bars start at midnight New York time"
    prev = ok(http, server, f"/v1/options/aggs/{c}/prev/")
    assert prev["results"][0]["T"] == c and prev["queryCount"] == prev["resultsCount"] == prev["count"] == 1
    stamp = dt.datetime.fromtimestamp(prev["results"][0]["t"] / 1000, ET)
    assert (stamp.hour, stamp.minute) == (16, 0)


def test_prev_without_trades_omits_results(http: httpx.Client, server: RunningServer) -> None:
    for underlying in ("AAPL", "NVDA", "SPY"):
        contracts = ok(http, server, "/v1/options/contracts/", underlying_ticker=underlying, limit=1000)["results"]
        for c in contracts:
            body = ok(http, server, f"/v1/options/aggs/{c['ticker']}/prev/")
            if body["count"] == 0:
                assert "results" not in body and body["queryCount"] == body["resultsCount"] == 0
                return
            assert body["results"] != []
    pytest.fail("every listed contract traded on its previous session: no case to check")


def test_typescript_style_iso_dates_in_query_parameters(http: httpx.Client, server: RunningServer) -> None:
    by_date = ok(
        http,
        server,
        "/v1/options/contracts/",
        underlying_ticker="SPY",
        as_of="2025-11-21",
        **{"expiration_date.gte": "2025-11-28", "limit": 50},
    )
    by_iso = ok(
        http,
        server,
        "/v1/options/contracts/",
        underlying_ticker="SPY",
        as_of="2025-11-21T00:00:00.000Z",
        **{"expiration_date.gte": "2025-11-28T00:00:00.000Z", "limit": 50},
    )
    assert by_date["results"] == by_iso["results"] and by_date["results"]
    chain_date = ok(http, server, "/v1/options/chain/SPY/", as_of="2025-11-21", limit=5)["results"]
    chain_iso = ok(http, server, "/v1/options/chain/SPY/", as_of="2025-11-21T00:00:00.000Z", limit=5)["results"]
    assert chain_date == chain_iso


def test_open_close_is_flat_with_extended_fields(http: httpx.Client, server: RunningServer) -> None:
    c = traded_contract(http, server)
    body = ok(http, server, f"/v1/options/open-close/{c}/2025-12-02/")
    assert "results" not in body and body["symbol"] == c and body["from"] == "2025-12-02"
    assert body["low"] <= min(body["open"], body["close"]) <= max(body["open"], body["close"]) <= body["high"]
    assert body["preMarket"] == body["open"] and body["afterHours"] == body["close"]
    assert get(http, server, f"/v1/options/open-close/{c}/2025-11-27/").status_code == 404


# -- greeks against an independent oracle ----------------------------------------------------------


def test_snapshot_iv_and_greeks_match_py_vollib_at_the_quote_instant(
    http: httpx.Client, server: RunningServer, market_dir: Path
) -> None:
    chain = ok(http, server, "/v1/options/chain/SPY/", limit=250, as_of="2025-12-01T18:00:00Z")["results"]
    rate_rows = query(market_dir / "lake", "rates", days=[dt.date(2025, 12, 1)])
    tenors = np.array([r["tenor_days"] for r in sorted(rate_rows, key=lambda r: r["tenor_days"])], dtype=float)
    rates = np.array([r["rate"] for r in sorted(rate_rows, key=lambda r: r["tenor_days"])])
    q = [r for r in query(market_dir / "lake", "stock_tickers", "ticker = 'SPY'")][-1]["dividend_yield"]
    checked = 0
    for row in chain:
        if "greeks" not in row:
            continue
        t_q = row["last_quote"]["last_updated"]
        if et_date(t_q) != dt.date(2025, 12, 1):
            continue
        # Ask for the snapshot at exactly the quote's instant: the underlying then is what the solver used.
        snap = ok(http, server, f"/v1/options/snapshot/SPY/{row['details']['ticker']}/", as_of=str(t_q))["results"]
        S = snap["underlying_asset"]["price"]
        K = snap["details"]["strike_price"]
        exp = dt.date.fromisoformat(snap["details"]["expiration_date"])
        T = (close_ns(exp) - t_q) / (365 * NS_PER_DAY)
        r = float(np.interp(T * 365, tenors, rates))
        flag = "c" if snap["details"]["contract_type"] == "call" else "p"
        mid = snap["last_quote"]["midpoint"]
        try:
            oracle_iv = implied_volatility(mid, S, K, T, r, q, flag)
        except Exception:  # py_vollib refuses prices it considers below intrinsic
            continue
        assert snap["implied_volatility"] == pytest.approx(oracle_iv, abs=1e-6)
        g = snap["greeks"]
        assert g["delta"] == pytest.approx(analytical.delta(flag, S, K, T, r, oracle_iv, q), abs=1e-6)
        assert g["gamma"] == pytest.approx(analytical.gamma(flag, S, K, T, r, oracle_iv, q), rel=1e-4, abs=1e-8)
        assert g["theta"] == pytest.approx(analytical.theta(flag, S, K, T, r, oracle_iv, q), rel=1e-4, abs=1e-8)
        assert g["vega"] == pytest.approx(analytical.vega(flag, S, K, T, r, oracle_iv, q), rel=1e-4, abs=1e-8)
        assert black_scholes_merton(flag, S, K, T, r, oracle_iv, q) == pytest.approx(mid, abs=1e-6)
        checked += 1
    assert checked >= 20


def test_greeks_are_omitted_outside_no_arbitrage_bounds(http: httpx.Client, server: RunningServer) -> None:
    rows = ok(http, server, "/v1/options/chain/SPY/", limit=250, as_of="2025-12-01T18:00:00Z")["results"]
    for row in rows:
        if "greeks" in row:
            assert all(np.isfinite(v) for v in row["greeks"].values())
            assert row["implied_volatility"] > 0
        else:
            assert "implied_volatility" not in row
    # Contracts on their expiry day after the close have no time left: no greeks.
    late = ok(
        http, server, "/v1/options/chain/SPY/", limit=250, as_of="2025-12-02T21:30:00Z", expiration_date="2025-12-02"
    )["results"]
    assert late and all("greeks" not in r for r in late)


def test_iv_recovered_from_quotes_matches_the_generating_surface(
    http: httpx.Client, server: RunningServer, market_dir: Path
) -> None:
    from cutemarkets_server.sim.surface import expiry_ns, load_surface_states, year_fraction

    states = load_surface_states(market_dir)
    instant = "2025-12-01T17:00:00Z"
    rows = ok(
        http, server, "/v1/options/chain/SPY/", limit=250, as_of=instant, **{"expiration_date.gte": "2025-12-05"}
    )["results"]
    errors = []
    for row in rows:
        lq = row.get("last_quote")
        if "greeks" not in row or lq["bid"] <= 0.5 or (lq["ask"] - lq["bid"]) / lq["midpoint"] > 0.05:
            continue
        t_q = lq["last_updated"]
        snap = ok(http, server, f"/v1/options/snapshot/SPY/{row['details']['ticker']}/", as_of=str(t_q))["results"]
        st = states[("SPY", et_date(t_q))]
        exp = dt.date.fromisoformat(row["details"]["expiration_date"])
        truth = float(
            st.iv(
                spot=snap["underlying_asset"]["price"],
                strike=row["details"]["strike_price"],
                t_years=year_fraction(t_q, expiry_ns(exp)),
            )
        )
        vega = snap["greeks"]["vega"] * 100
        tolerance = 0.5 * (lq["ask"] - lq["bid"]) / vega + 1e-4  # the mid is rounded to the tick grid
        errors.append(abs(snap["implied_volatility"] - truth) / tolerance)
    assert len(errors) >= 10
    assert max(errors) <= 1.0


# -- aggregates and indicators against independent recomputations -------------------------------


def recompute_bars(trades: list[dict], bucket: Any, asset: str = "options", intraday: bool = True) -> dict[int, dict]:
    """Plain-loop bars from raw trades with the consolidated condition rules."""
    table = conditions.rules(asset)
    bars: dict[int, dict] = {}
    for t in sorted(trades, key=lambda t: t["sip_timestamp"]):
        codes = t["conditions"] or []
        rules = [table.get(c) for c in codes]

        def allowed(field: str, rules: list = rules) -> bool:
            return all(r is None or (intraday and r.extended_hours) or getattr(r, field) for r in rules)

        key = bucket(t["sip_timestamp"])
        b = bars.setdefault(key, {"o": None, "c": None, "h": -np.inf, "l": np.inf, "v": 0.0, "pv": 0.0, "n": 0})
        if allowed("updates_open_close"):
            b["o"] = t["price"] if b["o"] is None else b["o"]
            b["c"] = t["price"]
        if allowed("updates_high_low"):
            b["h"], b["l"] = max(b["h"], t["price"]), min(b["l"], t["price"])
        if allowed("updates_volume"):
            b["v"] += t["size"]
            b["pv"] += t["size"] * t["price"]
            b["n"] += 1
    out = {}
    for k, b in bars.items():
        if b["o"] is None:
            continue
        out[k] = {
            "o": b["o"],
            "c": b["c"],
            "h": max(b["h"], b["o"], b["c"]),
            "l": min(b["l"], b["o"], b["c"]),
            "v": b["v"],
            "n": b["n"],
            "vw": b["pv"] / b["v"] if b["v"] else None,
        }
    return out


@pytest.mark.parametrize(
    ("multiplier", "timespan", "width_ns"),
    [(1, "minute", 60 * 10**9), (5, "minute", 300 * 10**9), (1, "hour", 3600 * 10**9)],
)
def test_intraday_aggregates_equal_a_recomputation_from_raw_trades(
    http: httpx.Client, server: RunningServer, market_dir: Path, multiplier: int, timespan: str, width_ns: int
) -> None:
    c = traded_contract(http, server)
    trades = query(market_dir / "lake", "option_trades", "ticker = ?", [c], days=[SESSION])
    expected = recompute_bars(trades, lambda ts: ts - ts % width_ns)
    bars = ok(http, server, f"/v1/options/aggs/{c}/{multiplier}/{timespan}/2025-12-02/2025-12-02/")["results"]
    assert {b["t"] * 1_000_000 for b in bars} == set(expected)
    for b in bars:
        e = expected[b["t"] * 1_000_000]
        assert (b["o"], b["h"], b["l"], b["c"], b["n"]) == (e["o"], e["h"], e["l"], e["c"], e["n"])
        assert b["v"] == pytest.approx(e["v"]) and b["vw"] == pytest.approx(e["vw"], abs=1e-4)


def test_daily_aggregates_equal_a_recomputation_from_raw_trades(
    http: httpx.Client, server: RunningServer, market_dir: Path
) -> None:
    c = traded_contract(http, server)
    trades = query(market_dir / "lake", "option_trades", "ticker = ?", [c])
    expected = recompute_bars(trades, lambda ts: et_ns(et_date(ts), 0), intraday=False)
    bars = ok(http, server, f"/v1/options/aggs/{c}/1/day/2025-11-01/2025-12-02/")["results"]
    assert {b["t"] * 1_000_000 for b in bars} == set(expected)
    for b in bars:
        e = expected[b["t"] * 1_000_000]
        assert (b["o"], b["h"], b["l"], b["c"], b["n"]) == (e["o"], e["h"], e["l"], e["c"], e["n"])
    weekly = ok(http, server, f"/v1/options/aggs/{c}/1/week/2025-11-01/2025-12-02/")["results"]
    assert sum(b["v"] for b in weekly) == pytest.approx(sum(b["v"] for b in bars))
    for w in weekly:
        start = dt.datetime.fromtimestamp(w["t"] / 1000, ET)
        assert start.weekday() == 6 and (start.hour, start.minute) == (0, 0), "weeks start on Sunday 00:00 ET"


def test_aggregate_paging_never_splits_a_window(http: httpx.Client, server: RunningServer) -> None:
    c = traded_contract(http, server)
    whole = ok(http, server, f"/v1/options/aggs/{c}/1/hour/2025-11-20/2025-12-02/")["results"]
    paged, url = [], None
    # A page holds at most ``limit`` minute bars; 60 (one hour's worth) pages without ever needing to split
    # a window of the most traded contract, which trades in most minutes.
    body = ok(http, server, f"/v1/options/aggs/{c}/1/hour/2025-11-20/2025-12-02/", limit=60)
    pages = 0
    while True:
        pages += 1
        assert body["queryCount"] <= 60
        paged += body["results"]
        url = body.get("next_url")
        if not url:
            break
        body = http.get(url, headers=auth(server.key("expert"))).json()
    assert pages > 3
    assert paged == whole


def test_indicators_equal_a_reference_implementation(http: httpx.Client, server: RunningServer) -> None:
    import pandas as pd
    import talib

    c = traded_contract(http, server)
    # Reference series: every minute bar of the test window, so earlier sessions warm the indicators up.
    bars = ok(http, server, f"/v1/options/aggs/{c}/1/minute/2025-11-20/2025-12-02/", limit=10000)["results"]
    closes = pd.Series([b["c"] for b in bars], index=[b["t"] for b in bars], dtype=float)
    day = {
        "timestamp.gte": "2025-12-02",
        "timestamp.lte": "2025-12-02",
        "timespan": "minute",
        "limit": 1000,
        "order": "asc",
    }
    start_ms = et_ns(SESSION, 0) // 1_000_000

    def api(kind: str, **params: Any) -> list[dict]:
        return ok(http, server, f"/v1/options/indicators/{kind}/{c}/", **day, **params)["results"]["values"]

    sma = api("sma", window=5)
    ref = closes.rolling(5).mean()
    ref = ref[ref.index >= start_ms]
    assert [v["timestamp"] for v in sma] == list(ref.index)
    assert np.allclose([v["value"] for v in sma], ref.values, rtol=1e-12)

    # EMA and RSI against TA-Lib on the same bars: equal once the seed has been forgotten.
    for kind, ref_values in (("ema", talib.EMA(closes.values, 5)), ("rsi", talib.RSI(closes.values, 5))):
        values = api(kind, window=5)
        expected = pd.Series(ref_values, index=closes.index)
        expected = expected[expected.index >= start_ms]
        assert [v["timestamp"] for v in values] == list(expected.index)
        assert np.allclose([v["value"] for v in values][-10:], expected.values[-10:], rtol=1e-6)
    macd = api("macd", short_window=3, long_window=6, signal_window=2)
    line, signal, hist = (pd.Series(x, index=closes.index) for x in talib.MACD(closes.values, 3, 6, 2))
    tail = [v["timestamp"] for v in macd][-10:]
    assert len(tail) >= 5
    assert np.allclose([v["value"] for v in macd][-10:], line[tail].values, rtol=1e-6)
    assert np.allclose([v["signal"] for v in macd][-10:], signal[tail].values, rtol=1e-6)
    assert np.allclose([v["histogram"] for v in macd][-10:], hist[tail].values, rtol=1e-6, atol=1e-9)
    desc = ok(http, server, f"/v1/options/indicators/sma/{c}/", timespan="minute", window=5, limit=3)["results"][
        "values"
    ]
    assert [v["timestamp"] for v in desc] == sorted([v["timestamp"] for v in desc], reverse=True)


def test_indicators_use_only_completed_bars(http: httpx.Client, server: RunningServer) -> None:
    c = traded_contract(http, server)
    now = et_ns(SESSION, 11, 0, 30)
    with server.at(now):
        values = ok(http, server, f"/v1/options/indicators/sma/{c}/", timespan="minute", window=1, limit=1)["results"][
            "values"
        ]
    assert values and values[0]["timestamp"] * 1_000_000 + 60 * 10**9 <= now


# -- point in time ----------------------------------------------------------------------------------


def test_bare_date_as_of_means_before_the_open(http: httpx.Client, server: RunningServer, market_dir: Path) -> None:
    c = traded_contract(http, server)
    snap = ok(http, server, f"/v1/options/snapshot/SPY/{c}/", as_of="2025-12-02")["results"]
    open_ns = et_ns(SESSION, 9, 30)
    assert snap["last_quote"]["last_updated"] < open_ns
    assert snap["last_trade"]["sip_timestamp"] < open_ns
    assert snap["underlying_asset"]["last_updated"] < open_ns
    # The session's own bar cannot be known yet: the day object is the previous session's.
    assert snap["day"].get("last_updated", 0) < open_ns
    oi = query(market_dir / "lake", "option_open_interest", "ticker = ?", [c], days=[SESSION])
    assert oi and snap["open_interest"] == oi[0]["open_interest"], "OI reported at 06:30 is known before the open"


def test_as_of_answers_do_not_change_when_later_data_arrives(
    market_dir: Path, tmp_path: Path, server: RunningServer
) -> None:
    """Copy the lake, then rewrite everything after the as_of instant: the answers must not move."""
    from cutemarkets_server.ingest.pipeline import Ingestor
    from cutemarkets_server.store.lake import Lake

    shutil.copytree(market_dir / "lake", tmp_path / "lake")
    from cutemarkets_server.store.keys import KeyStore

    key, _ = KeyStore(tmp_path / "keys.sqlite").create("pit", "expert", ("options",))
    srv, _, base = start_server(tmp_path, FixedClock(TEST_NOW_NS))
    as_of = "2025-12-01T17:30:00Z"
    cut = et_ns(dt.date(2025, 12, 1), 12, 30)
    with httpx.Client(base_url=base, headers=auth(key), timeout=60) as client:

        def answers() -> list[Any]:
            chain = client.get("/v1/options/chain/SPY/", params={"as_of": as_of, "limit": 250}).json()
            snaps = [
                client.get(f"/v1/options/snapshot/SPY/{r['details']['ticker']}/", params={"as_of": as_of}).json()[
                    "results"
                ]
                for r in chain["results"][:20]
            ]
            contracts = client.get(
                "/v1/options/contracts/", params={"as_of": "2025-12-01", "underlying_ticker": "SPY", "limit": 1000}
            ).json()["results"]
            return [chain["results"], snaps, contracts]

        before = answers()
        ingest = Ingestor(Lake(tmp_path / "lake"), tmp_path / "quarantine")
        for name in ("option_quotes", "option_trades", "stock_quotes", "stock_trades"):
            rows = query(tmp_path / "lake", name, days=[dt.date(2025, 12, 1)])
            import pyarrow as pa

            table = pa.Table.from_pylist(rows)
            late = pa.compute.greater_equal(table["sip_timestamp"], cut)
            price_cols = [c for c in ("price", "bid_price", "ask_price") if c in table.column_names]
            for col in price_cols:
                doubled = pa.compute.if_else(late, pa.compute.multiply(table[col], 2.0), table[col])
                table = table.set_column(table.column_names.index(col), col, doubled)
            ingest.write_day(name, dt.date(2025, 12, 1), table, source="test:rewrite-after-as-of")
        after = answers()
    srv.should_exit = True
    assert before == after
    assert before[0], "the chain must not be empty"


# -- lifecycle, adjusted contracts, entitlements ------------------------------------------------


def test_expired_contract_snapshot_is_404_without_as_of_and_answers_inside_its_life(
    http: httpx.Client, server: RunningServer
) -> None:
    expired = ok(
        http,
        server,
        "/v1/options/contracts/",
        underlying_ticker="SPY",
        expired="true",
        limit=1000,
        **{"expiration_date.gte": "2025-11-24"},
    )["results"]
    gone = expired[0]
    r = get(http, server, f"/v1/options/snapshot/SPY/{gone['ticker']}/")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    inside = (dt.date.fromisoformat(gone["expiration_date"]) - dt.timedelta(days=1)).isoformat()
    snap = ok(http, server, f"/v1/options/snapshot/SPY/{gone['ticker']}/", as_of=inside)["results"]
    assert snap["details"]["ticker"] == gone["ticker"]
    detail = ok(http, server, f"/v1/options/contracts/{gone['ticker']}/", as_of=gone["expiration_date"])["results"]
    assert detail["ticker"] == gone["ticker"]


def test_split_adjusted_contracts_carry_their_deliverable_and_are_valued_on_it(
    http: httpx.Client, server: RunningServer, market_dir: Path
) -> None:
    action = query(market_dir / "lake", "corporate_actions", "ticker = 'NVDA'")[0]
    split_day = action["execution_date"]
    before = ok(
        http,
        server,
        "/v1/options/contracts/",
        underlying_ticker="NVDA",
        as_of=(split_day - dt.timedelta(days=1)).isoformat(),
        limit=1000,
    )["results"]
    after = ok(
        http, server, "/v1/options/contracts/", underlying_ticker="NVDA", as_of=split_day.isoformat(), limit=1000
    )["results"]
    assert before and all(c["shares_per_contract"] == 100 and not c["ticker"].startswith("O:NVDA1") for c in before)
    adjusted = [c for c in after if c["ticker"].startswith("O:NVDA1")]
    assert adjusted and all(c["shares_per_contract"] == 150 for c in adjusted)
    assert all(
        c["additional_underlyings"] == [{"type": "equity", "underlying": "NVDA", "amount": 150}] for c in adjusted
    )
    assert {c["ticker"][len("O:NVDA1") :] for c in adjusted} <= {c["ticker"][len("O:NVDA") :] for c in before}
    # The old tickers are gone on the split day; the adjusted ones answer with greeks on 1.5 shares per unit.
    old = before[0]["ticker"]
    assert (
        get(http, server, f"/v1/options/snapshot/NVDA/{old}/", as_of=split_day.isoformat() + "T17:00:00Z").status_code
        == 404
    )
    rows = ok(http, server, "/v1/options/chain/NVDA/", as_of=f"{split_day}T17:00:00Z", limit=250)["results"]
    adj = [r for r in rows if r["details"]["ticker"].startswith("O:NVDA1") and "greeks" in r]
    assert adj
    r0 = adj[0]
    t_q = r0["last_quote"]["last_updated"]
    snap = ok(http, server, f"/v1/options/snapshot/NVDA/{r0['details']['ticker']}/", as_of=str(t_q))["results"]
    S = snap["underlying_asset"]["price"] * 1.5
    K = snap["details"]["strike_price"]
    exp = dt.date.fromisoformat(snap["details"]["expiration_date"])
    T = (close_ns(exp) - t_q) / (365 * NS_PER_DAY)
    flag = "c" if snap["details"]["contract_type"] == "call" else "p"
    rates = sorted(query(market_dir / "lake", "rates", days=[et_date(t_q)]), key=lambda r: r["tenor_days"])
    r = float(np.interp(T * 365, [x["tenor_days"] for x in rates], [x["rate"] for x in rates]))
    q = [x for x in query(market_dir / "lake", "stock_tickers", "ticker = 'NVDA'")][-1]["dividend_yield"] or 0.0
    assert snap["implied_volatility"] == pytest.approx(
        implied_volatility(snap["last_quote"]["midpoint"], S, K, T, r, q, flag), abs=1e-6
    )


def test_unknown_underlying_chain_is_empty_and_expirations_too(http: httpx.Client, server: RunningServer) -> None:
    assert ok(http, server, "/v1/options/chain/ZZZZ/")["results"] == []
    body = ok(http, server, "/v1/tickers/expirations/ZZZZ/")
    assert body["ticker"] == "ZZZZ" and body["results"] == []


def test_contracts_underlying_ranges(http: httpx.Client, server: RunningServer) -> None:
    rows = ok(
        http,
        server,
        "/v1/options/contracts/",
        limit=1000,
        **{"underlying_ticker.gte": "NVDA", "underlying_ticker.lt": "SPY"},
    )["results"]
    assert rows and {r["underlying_ticker"] for r in rows} <= {"NVDA", "QQQ", "MSFT", "NFLX"} - {"MSFT"}


def test_delayed_quote_timeframe(http: httpx.Client, server: RunningServer) -> None:
    c = traded_contract(http, server)
    now = et_ns(SESSION, 11, 0)
    with server.at(now):
        live = ok(http, server, f"/v1/options/quotes/{c}/last/")["results"]
        delayed = ok(http, server, f"/v1/options/quotes/{c}/last/", timeframe="delayed")["results"]
        listed = ok(http, server, f"/v1/options/quotes/{c}/", timeframe="delayed", limit=5)["results"]
    assert live["ticker"] == c and live["sip_timestamp"] <= now
    assert delayed["sip_timestamp"] <= now - 15 * 60 * 10**9 < live["sip_timestamp"]
    assert all(q["sip_timestamp"] <= now - 15 * 60 * 10**9 for q in listed)
    assert get(http, server, f"/v1/options/quotes/{c}/last/", timeframe="sometimes").status_code == 400


def test_timestamp_filters_accept_dates_integers_and_rfc3339_alike(http: httpx.Client, server: RunningServer) -> None:
    c = traded_contract(http, server)
    lo, hi = et_ns(SESSION, 10, 0), et_ns(SESSION, 15, 0)
    forms = [
        {"timestamp.gte": str(lo), "timestamp.lt": str(hi)},
        {"timestamp.gte": "2025-12-02T15:00:00Z", "timestamp.lt": "2025-12-02T20:00:00Z"},
        {"timestamp.gte": "2025-12-02T10:00:00-05:00", "timestamp.lt": "2025-12-02T15:00:00.000000000-05:00"},
        {"timestamp.gte": str(lo // 1_000_000), "timestamp.lt": str(hi // 1_000_000)},  # ms, inferred
    ]
    answers = [ok(http, server, f"/v1/options/trades/{c}/", limit=10000, **f)["results"] for f in forms]
    assert answers[0] and all(a == answers[0] for a in answers)
    assert all(lo <= t["sip_timestamp"] < hi for t in answers[0])
    whole_day = ok(http, server, f"/v1/options/trades/{c}/", timestamp="2025-12-02", limit=10000)["results"]
    assert {t["sip_timestamp"] for t in answers[0]} <= {t["sip_timestamp"] for t in whole_day}
    assert all(et_date(t["sip_timestamp"]) == SESSION for t in whole_day)


def test_descending_aggregate_pages_walk_the_same_bars_backwards(http: httpx.Client, server: RunningServer) -> None:
    c = traded_contract(http, server)
    path = f"/v1/options/aggs/{c}/5/minute/2025-11-20/2025-12-02/"

    def walk(**params: Any) -> list[dict]:
        body, out = ok(http, server, path, limit=40, **params), []
        while True:
            out += body["results"]
            if "next_url" not in body:
                return out
            body = http.get(body["next_url"], headers=auth(server.key("expert"))).json()

    up, down = walk(), walk(sort="desc")
    assert up and [b["t"] for b in down] == [b["t"] for b in reversed(up)]
    assert down == list(reversed(up))


@pytest.mark.parametrize(
    ("sort", "order"), [("ticker", "asc"), ("strike_price", "asc"), ("expiration_date", "desc"), ("ticker", "desc")]
)
def test_paging_through_a_chain_gives_the_rows_of_one_big_page(
    http: httpx.Client, server: RunningServer, sort: str, order: str
) -> None:
    """Continuation pages are built from facts gathered once for the whole listing and start where a binary
    search of the sorted listing puts the page token; they must say exactly what pages built on their own
    say (a single 250-contract page is built on its own)."""
    h = auth(server.key("expert"))
    params = {"sort": sort, "order": order, "as_of": "2025-12-01T15:30:00Z", "expiration_date.lte": "2025-12-19"}
    big = http.get("/v1/options/chain/SPY/", params={**params, "limit": 250}, headers=h)
    assert big.status_code == 200, big.text
    whole = big.json()["results"]
    assert len(whole) > 40
    paged: list[dict[str, Any]] = []
    r = http.get("/v1/options/chain/SPY/", params={**params, "limit": 10}, headers=h)
    while True:
        assert r.status_code == 200, r.text
        paged += r.json()["results"]
        nxt = r.json().get("next_url")
        if not nxt or len(paged) >= len(whole):
            break
        r = http.get(nxt, headers=h)
    for a, b in zip(paged, whole, strict=False):
        assert a == b, [(k, a.get(k), b.get(k)) for k in set(a) | set(b) if a.get(k) != b.get(k)]
    assert any("greeks" in row and "fmv" in row for row in paged[10:])


def test_expiration_bounds_at_the_ends_of_the_calendar_are_answered(http: httpx.Client, server: RunningServer) -> None:
    """``expiration_date.gt=9999-12-31`` once overflowed the date arithmetic into a 500."""
    h = auth(server.key("expert"))
    for route in ("/v1/options/contracts/", "/v1/options/chain/SPY/"):
        r = http.get(route, params={"expiration_date.gt": "9999-12-31"}, headers=h)
        assert r.status_code == 200 and r.json()["results"] == [], r.text
        r = http.get(route, params={"expiration_date.lt": "0001-01-01"}, headers=h)
        assert r.status_code in (200, 403), r.text  # before the plan's lookback for most plans
