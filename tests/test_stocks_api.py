"""Stocks routes through the running server, checked against independent recomputations from the lake.

The expected values are rebuilt here from raw Parquet rows (``lakeread``) with plain Python: bars from
trades with the published sale-condition table, last ticks by timestamp, point-in-time reference
records by folding the ticker event log, split factors from the recorded split.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import urllib.parse
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from cutemarkets_server.market.conditions import STOCK_TRADE_CONDITIONS
from cutemarkets_server.market.timestamps import ET, NS_PER_MIN, et_midnight_ns, et_ns

from conftest import TEST_NOW_NS, RunningServer, auth
from lakeread import query

LAST = dt.date(2025, 12, 2)
PREV = dt.date(2025, 12, 1)
THANKSGIVING = dt.date(2025, 11, 27)
EARLY_CLOSE = dt.date(2025, 11, 28)
MID_SESSION = et_ns(LAST, 14, 0)
DELAY = 15 * NS_PER_MIN
STOCKS = ("AAPL", "NVDA", "QQQ", "SPY")


# -- helpers ------------------------------------------------------------------------------------------


def get(http: httpx.Client, server: RunningServer, path: str, key: str = "expert", **params: Any) -> httpx.Response:
    return http.get(path, params=params, headers=auth(server.key(key)))


def ok(http: httpx.Client, server: RunningServer, path: str, key: str = "expert", **params: Any) -> Any:
    r = get(http, server, path, key, **params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    return r.json()


def follow(http: httpx.Client, server: RunningServer, body: dict, key: str = "expert") -> list[dict]:
    """Every row of a listing, following ``next_url`` verbatim (it must be absolute and never repeat)."""
    rows = list(body["results"])
    seen: set[str] = set()
    while body.get("next_url"):
        url = body["next_url"]
        assert url.startswith("http://") and url not in seen and "apiKey" not in url
        seen.add(url)
        r = http.get(url, headers=auth(server.key(key)))
        assert r.status_code == 200, r.text
        body = r.json()
        rows += body["results"]
    return rows


@pytest.fixture(scope="module")
def lake(market_dir: Path) -> Path:
    return market_dir / "lake"


@pytest.fixture(scope="module")
def meta(lake: Path) -> dict:
    with sqlite3.connect(lake / "manifest.sqlite") as con:
        return json.loads(con.execute("SELECT value FROM meta WHERE key = 'market'").fetchone()[0])


def ms(day: dt.date, hour: int = 0, minute: int = 0) -> int:
    return et_ns(day, hour, minute) // 1_000_000


def updates(conditions: list[int] | None, *, intraday: bool) -> tuple[bool, bool, bool]:
    """(high/low, open/close, volume) a trade may update: every condition must allow it."""
    hl = oc = vol = True
    for code in conditions or []:
        rule = STOCK_TRADE_CONDITIONS.get(int(code))
        if rule is not None:
            a, b, c = rule.updates(intraday=intraday)
            hl, oc, vol = hl and a, oc and b, vol and c
    return hl, oc, vol


def bar_from_trades(trades: list[dict], *, intraday: bool = False) -> dict | None:
    """One OHLCV bar from trades in time order, or None when no trade may set the open/close."""
    trades = sorted(trades, key=lambda r: (r["sip_timestamp"], r["sequence_number"]))
    flags = [updates(t["conditions"], intraday=intraday) for t in trades]
    oc = [t["price"] for t, f in zip(trades, flags, strict=True) if f[1]]
    if not oc:
        return None
    hl = [t["price"] for t, f in zip(trades, flags, strict=True) if f[0]] + [oc[0], oc[-1]]
    sized = [(t["price"], t["size"]) for t, f in zip(trades, flags, strict=True) if f[2]]
    volume = sum(s for _, s in sized)
    return {
        "open": oc[0],
        "high": max(hl),
        "low": min(hl),
        "close": oc[-1],
        "volume": volume,
        "vwap": sum(p * s for p, s in sized) / volume if volume else (oc[0] + oc[-1]) / 2,
        "n": len(sized),
    }


def trades_between(lake: Path, ticker: str, lo: int, hi: int, day: dt.date) -> list[dict]:
    return query(
        lake, "stock_trades", "ticker = ? AND sip_timestamp >= ? AND sip_timestamp < ?", [ticker, lo, hi], [day]
    )


def last_row(lake: Path, dataset: str, ticker: str, before: int, day: dt.date) -> dict:
    rows = query(lake, dataset, "ticker = ? AND sip_timestamp < ?", [ticker, before], [day])
    return max(rows, key=lambda r: (r["sip_timestamp"], r["sequence_number"]))


def day_bar(lake: Path, ticker: str, day: dt.date) -> dict:
    (row,) = query(lake, "stock_day_aggs", "ticker = ?", [ticker], [day])
    return row


def split_of(meta: dict) -> tuple[str, dt.date, float]:
    s = meta["split"]
    return s["ticker"], dt.date.fromisoformat(s["execution_date"]), s["split_from"] / s["split_to"]


def assert_ohlcv(wire: dict, expected: dict, *, factor: float = 1.0) -> None:
    for short, long in (("o", "open"), ("h", "high"), ("l", "low"), ("c", "close")):
        assert wire[short] == wire[long] == pytest.approx(expected[long] * factor, abs=2e-6), short
    assert wire["v"] == wire["volume"] == pytest.approx(expected["volume"] / factor, abs=1e-3)
    assert wire["vw"] == wire["vwap"] == pytest.approx(expected["vwap"] * factor, abs=1e-4)


# -- product gating and bad input ---------------------------------------------------------------------

ROUTES = [
    "/v1/stocks/snapshot/",
    "/v1/stocks/snapshot/AAPL/",
    "/v1/stocks/snapshot/movers/gainers/",
    "/v1/stocks/tickers/",
    "/v1/stocks/tickers/types/",
    "/v1/stocks/tickers/AAPL/",
    "/v1/stocks/tickers/AAPL/related/",
    "/v1/stocks/trades/AAPL/",
    "/v1/stocks/trades/AAPL/last/",
    "/v1/stocks/quotes/AAPL/",
    "/v1/stocks/quotes/AAPL/last/",
    "/v1/stocks/aggs/grouped/2025-12-01/",
    "/v1/stocks/aggs/AAPL/prev/",
    "/v1/stocks/aggs/AAPL/1/day/2025-11-20/2025-12-02/",
    "/v1/stocks/open-close/AAPL/2025-12-01/",
    "/v1/stocks/indicators/sma/AAPL/",
]


@pytest.mark.parametrize("path", ROUTES)
def test_every_route_answers_stock_keys_and_forbids_options_only_keys(
    http: httpx.Client, server: RunningServer, path: str
) -> None:
    for variant in (path, path.rstrip("/")):
        r = get(http, server, variant, "stocks_only")
        assert r.status_code == 200, (variant, r.text)
        assert r.json()["status"] == "OK" and r.json()["request_id"].startswith("cm_")
    denied = get(http, server, path, "options_only")
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "forbidden"
    assert "stocks" in denied.json()["error"]["message"]
    assert get(http, server, path, "paper_only").status_code == 403
    assert http.get(path).status_code == 401


@pytest.mark.parametrize(
    ("path", "params", "name"),
    [
        ("/v1/stocks/aggs/AAPL/1/fortnight/2025-11-01/2025-12-01/", {}, "timespan"),
        ("/v1/stocks/aggs/AAPL/0/day/2025-11-01/2025-12-01/", {}, "multiplier"),
        ("/v1/stocks/aggs/AAPL/1/day/2025-02-30/2025-03-01/", {}, "from"),
        ("/v1/stocks/aggs/AAPL/1/day/2025-11-01/2025-12-01/", {"sort": "sideways"}, "sort"),
        ("/v1/stocks/aggs/AAPL/1/day/2025-11-01/2025-12-01/", {"adjusted": "maybe"}, "adjusted"),
        ("/v1/stocks/aggs/AAPL/1/day/2025-11-01/2025-12-01/", {"limit": "0"}, "limit"),
        ("/v1/stocks/aggs/AAPL/prev/", {"adjusted": "perhaps"}, "adjusted"),
        ("/v1/stocks/aggs/grouped/2025-13-01/", {}, "date"),
        ("/v1/stocks/aggs/grouped/2025-12-01/", {"include_otc": "sometimes"}, "include_otc"),
        ("/v1/stocks/open-close/AAPL/yesterday/", {}, "date"),
        ("/v1/stocks/snapshot/movers/climbers/", {}, "direction"),
        ("/v1/stocks/snapshot/", {"include_otc": "2"}, "include_otc"),
        ("/v1/stocks/snapshot/", {"limit": "-1"}, "limit"),
        ("/v1/stocks/snapshot/", {"tickers": "AAPL,O:SPY251128C00600000"}, "tickers"),
        ("/v1/stocks/snapshot/O:SPY251128C00600000/", {}, "stocksTicker"),
        ("/v1/stocks/tickers/", {"sort": "delta"}, "sort"),
        ("/v1/stocks/tickers/", {"order": "up"}, "order"),
        ("/v1/stocks/tickers/", {"market": "moon"}, "market"),
        ("/v1/stocks/tickers/", {"type": "SHARES"}, "type"),
        ("/v1/stocks/tickers/", {"active": "perhaps"}, "active"),
        ("/v1/stocks/tickers/", {"date": "2025-11-31"}, "date"),
        ("/v1/stocks/tickers/", {"limit": "many"}, "limit"),
        ("/v1/stocks/tickers/", {"ticker.gte": "a b"}, "ticker.gte"),
        ("/v1/stocks/tickers/types/", {"asset_class": "bonds"}, "asset_class"),
        ("/v1/stocks/tickers/types/", {"locale": "mars"}, "locale"),
        ("/v1/stocks/tickers/AAPL/", {"date": "12/01/2025"}, "date"),
        ("/v1/stocks/trades/AAPL/", {"order": "up"}, "order"),
        ("/v1/stocks/trades/AAPL/", {"sort": "price"}, "sort"),
        ("/v1/stocks/trades/AAPL/", {"timestamp.gte": "2025-12-02T25:00:00Z"}, "timestamp.gte"),
        ("/v1/stocks/quotes/AAPL/", {"timeframe": "yesterday"}, "timeframe"),
        ("/v1/stocks/indicators/wma/AAPL/", {}, "indicator"),
        ("/v1/stocks/indicators/sma/AAPL/", {"window": "-3"}, "window"),
        ("/v1/stocks/indicators/sma/AAPL/", {"timespan": "fortnight"}, "timespan"),
    ],
)
def test_bad_input_is_400_naming_the_parameter(
    http: httpx.Client, server: RunningServer, path: str, params: dict, name: str
) -> None:
    r = get(http, server, path, **params)
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["error"]["code"] == "bad_request" and name in body["error"]["message"], body
    assert body["request_id"].startswith("cm_")


@pytest.mark.parametrize(
    "path",
    [
        "/v1/stocks/snapshot/ZZZZ/",
        "/v1/stocks/tickers/ZZZZ/",
        "/v1/stocks/tickers/ZZZZ/related/",
        "/v1/stocks/trades/ZZZZ/",
        "/v1/stocks/trades/ZZZZ/last/",
        "/v1/stocks/quotes/ZZZZ/",
        "/v1/stocks/quotes/ZZZZ/last/",
        "/v1/stocks/aggs/ZZZZ/prev/",
        "/v1/stocks/aggs/ZZZZ/1/day/2025-11-20/2025-12-02/",
        "/v1/stocks/open-close/ZZZZ/2025-12-01/",
        "/v1/stocks/indicators/sma/ZZZZ/",
        "/v1/indicators/sma/ZZZZ/",
    ],
)
def test_unknown_ticker_is_404(http: httpx.Client, server: RunningServer, path: str) -> None:
    r = get(http, server, path)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", r.text


def test_lookback_applies_to_stock_dates(http: httpx.Client, server: RunningServer) -> None:
    for path, params in (
        ("/v1/stocks/aggs/grouped/2020-01-02/", {}),
        ("/v1/stocks/aggs/AAPL/1/day/2020-01-02/2020-02-01/", {}),
        ("/v1/stocks/open-close/AAPL/2020-01-02/", {}),
        ("/v1/stocks/tickers/", {"date": "2020-01-02"}),
        ("/v1/stocks/trades/AAPL/", {"timestamp.gte": "2020-01-02"}),
    ):
        r = get(http, server, path, "free", **params)
        assert r.status_code == 403 and r.json()["error"]["code"] == "lookback_exceeded", (path, r.text)


# -- snapshots ----------------------------------------------------------------------------------------


def expected_snapshot(lake: Path, ticker: str, horizon: int, *, quotes: bool) -> dict:
    """Every part of a snapshot at ``horizon`` (a 2025-12-02 instant), rebuilt from raw rows."""
    before = horizon + 1
    trade = last_row(lake, "stock_trades", ticker, before, LAST)
    day = bar_from_trades(trades_between(lake, ticker, et_midnight_ns(LAST), before, LAST))
    minutes = query(
        lake, "stock_minute_aggs", "ticker = ? AND window_start <= ?", [ticker, before - NS_PER_MIN], [LAST]
    )
    minute = max(minutes, key=lambda r: r["window_start"])
    prev = day_bar(lake, ticker, PREV)
    out = {
        "trade": trade,
        "day": day,
        "minute": minute,
        "av": sum(m["volume"] for m in minutes),
        "prev": prev,
        "change": trade["price"] - prev["close"],
    }
    if quotes:
        out["quote"] = last_row(lake, "stock_quotes", ticker, before, LAST)
    return out


def check_snapshot(row: dict, exp: dict, *, quotes: bool, timeframe: str) -> None:
    trade = exp["trade"]
    lt = row["lastTrade"]
    assert lt["t"] == lt["sip_timestamp"] == trade["sip_timestamp"] and isinstance(lt["t"], int)
    assert lt["p"] == lt["price"] == pytest.approx(trade["price"])
    assert lt["s"] == lt["size"] == trade["size"]
    assert lt["x"] == lt["exchange"] == trade["exchange"]
    assert lt["c"] == lt["conditions"] == list(trade["conditions"] or [])
    assert lt["i"] == lt["id"] == trade["id"] and isinstance(lt["i"], str)
    assert lt["timeframe"] == timeframe
    assert_ohlcv(row["day"], exp["day"])
    assert row["day"]["last_updated"] == trade["sip_timestamp"]
    assert_ohlcv(row["prevDay"], exp["prev"])
    assert row["prevDay"]["t"] == ms(PREV, 16)
    m, em = row["min"], exp["minute"]
    assert m["t"] == em["window_start"] // 1_000_000 and isinstance(m["t"], int)
    assert_ohlcv(m, em)
    assert m["n"] == em["transactions"] and m["av"] == round(exp["av"]) and isinstance(m["av"], int)
    assert row["todaysChange"] == pytest.approx(exp["change"], abs=1e-6)
    assert row["todaysChangePerc"] == pytest.approx(exp["change"] / exp["prev"]["close"] * 100, abs=1e-6)
    if quotes:
        q, eq = row["lastQuote"], exp["quote"]
        assert q["t"] == q["sip_timestamp"] == eq["sip_timestamp"]
        assert q["P"] == q["ask_price"] == pytest.approx(eq["ask_price"])
        assert q["p"] == q["bid_price"] == pytest.approx(eq["bid_price"])
        assert q["S"] == q["ask_size"] == eq["ask_size"] and q["s"] == q["bid_size"] == eq["bid_size"]
        assert row["updated"] == max(trade["sip_timestamp"], eq["sip_timestamp"])
    else:
        assert "lastQuote" not in row
        assert row["updated"] == trade["sip_timestamp"]


def test_snapshot_all_mid_session_equals_a_recomputation_from_the_lake(
    http: httpx.Client, server: RunningServer, lake: Path
) -> None:
    with server.at(MID_SESSION):
        body = ok(http, server, "/v1/stocks/snapshot/")
    assert set(body) == {"status", "request_id", "count", "tickers"}
    assert body["count"] == len(body["tickers"]) and [r["ticker"] for r in body["tickers"]] == list(STOCKS)
    for row in body["tickers"]:
        check_snapshot(
            row, expected_snapshot(lake, row["ticker"], MID_SESSION, quotes=True), quotes=True, timeframe="REAL-TIME"
        )
        assert row["min"]["session"] == "regular"


def test_delayed_plans_see_the_snapshot_fifteen_minutes_ago(
    http: httpx.Client, server: RunningServer, lake: Path
) -> None:
    with server.at(MID_SESSION):
        live = ok(http, server, "/v1/stocks/snapshot/NVDA/")["results"]
        delayed = ok(http, server, "/v1/stocks/snapshot/NVDA/", "developer")["results"]
        free = ok(http, server, "/v1/stocks/snapshot/", "free", tickers="NVDA")["tickers"][0]
    check_snapshot(live, expected_snapshot(lake, "NVDA", MID_SESSION, quotes=True), quotes=True, timeframe="REAL-TIME")
    exp = expected_snapshot(lake, "NVDA", MID_SESSION - DELAY, quotes=False)
    check_snapshot(delayed, exp, quotes=False, timeframe="DELAYED")
    check_snapshot(free, exp, quotes=False, timeframe="DELAYED")
    assert delayed["updated"] <= MID_SESSION - DELAY < live["lastTrade"]["t"]
    assert delayed["min"]["t"] * 1_000_000 + NS_PER_MIN <= MID_SESSION - DELAY + 1
    assert delayed["day"]["v"] < live["day"]["v"]


def test_snapshot_day_counts_extended_hours_volume_but_not_their_prices(
    http: httpx.Client, server: RunningServer, lake: Path
) -> None:
    at = et_ns(LAST, 9, 0)
    with server.at(at):
        row = ok(http, server, "/v1/stocks/snapshot/SPY/")["results"]
    pre = trades_between(lake, "SPY", et_midnight_ns(LAST), at + 1, LAST)
    assert pre and row["day"]["v"] == sum(t["size"] for t in pre)
    # Before the open only extended-hours trades exist; they never set a consolidated open or close.
    assert all(12 in (t["conditions"] or []) for t in pre)
    assert row["day"]["o"] == row["day"]["c"] == 0
    assert row["min"]["session"] == "premarket"
    assert row["lastTrade"]["t"] == max(t["sip_timestamp"] for t in pre)


def test_split_day_snapshot_expresses_the_previous_day_in_post_split_shares(
    http: httpx.Client, server: RunningServer, lake: Path, meta: dict
) -> None:
    ticker, execution, factor = split_of(meta)
    at = et_ns(execution, 14, 0)
    with server.at(at):
        row = ok(http, server, f"/v1/stocks/snapshot/{ticker}/")["results"]
    prev_day = dt.date(2025, 11, 24)
    raw = day_bar(lake, ticker, prev_day)
    assert_ohlcv(row["prevDay"], raw, factor=factor)
    trade = last_row(lake, "stock_trades", ticker, at + 1, execution)
    assert row["todaysChange"] == pytest.approx(trade["price"] - raw["close"] * factor, abs=1e-6)
    assert abs(row["todaysChangePerc"]) < 10, "an unadjusted previous close would show a one-third drop"


def test_snapshot_lists_known_tickers_only_and_keeps_order(http: httpx.Client, server: RunningServer) -> None:
    body = ok(http, server, "/v1/stocks/snapshot/", tickers="SPY,ZZZZ,aapl", **{"ticker.any_of": "NVDA,SPY"})
    assert [r["ticker"] for r in body["tickers"]] == ["SPY", "AAPL", "NVDA"] and body["count"] == 3
    assert len(ok(http, server, "/v1/stocks/snapshot/", limit=2)["tickers"]) == 2
    empty = ok(http, server, "/v1/stocks/snapshot/", tickers="ZZZZ")
    assert empty["tickers"] == [] and empty["count"] == 0
    single = ok(http, server, "/v1/stocks/snapshot/AAPL/")
    assert isinstance(single["results"], dict) and single["results"]["ticker"] == "AAPL"


def test_snapshot_after_the_last_session_has_an_empty_day_and_real_previous_day(
    http: httpx.Client, server: RunningServer, lake: Path
) -> None:
    row = ok(http, server, "/v1/stocks/snapshot/AAPL/")["results"]  # 2025-12-03 10:00: no data for that day
    assert row["day"]["v"] == 0 and "last_updated" not in row["day"]
    assert_ohlcv(row["prevDay"], day_bar(lake, "AAPL", LAST))
    assert row["prevDay"]["t"] == ms(LAST, 16)
    assert row["lastTrade"]["t"] == last_row(lake, "stock_trades", "AAPL", TEST_NOW_NS, LAST)["sip_timestamp"]
    assert row["min"]["session"] == "after_hours"
    assert ok(http, server, "/v1/stocks/snapshot/movers/gainers/")["tickers"] == []
    assert ok(http, server, "/v1/stocks/snapshot/movers/losers/")["tickers"] == []


# -- movers --------------------------------------------------------------------------------------------


def expected_movers(lake: Path, horizon: int) -> tuple[list[str], list[str], dict[str, float]]:
    """Gainers and losers at ``horizon`` (2025-12-02) by the Polygon rule, from raw trades and bars."""
    perc: dict[str, float] = {}
    for t in STOCKS:
        trades = trades_between(lake, t, et_midnight_ns(LAST), horizon + 1, LAST)
        if sum(r["size"] for r in trades) < 10_000:
            continue
        last = max(trades, key=lambda r: (r["sip_timestamp"], r["sequence_number"]))
        close = day_bar(lake, t, PREV)["close"]
        perc[t] = (last["price"] - close) / close * 100
    gainers = sorted((t for t in perc if perc[t] > 0), key=lambda t: -perc[t])
    losers = sorted((t for t in perc if perc[t] < 0), key=lambda t: perc[t])
    return gainers, losers, perc


@pytest.mark.parametrize("at", [et_ns(LAST, 8, 0), et_ns(LAST, 10, 30), MID_SESSION, et_ns(LAST, 18, 0)])
def test_movers_are_ranked_by_change_with_the_volume_floor(
    http: httpx.Client, server: RunningServer, lake: Path, at: int
) -> None:
    with server.at(at):
        gainers = ok(http, server, "/v1/stocks/snapshot/movers/gainers/")["tickers"]
        losers = ok(http, server, "/v1/stocks/snapshot/movers/losers")["tickers"]
        delayed = ok(http, server, "/v1/stocks/snapshot/movers/gainers/", "developer")["tickers"]
    exp_g, exp_l, perc = expected_movers(lake, at)
    assert [r["ticker"] for r in gainers] == exp_g
    assert [r["ticker"] for r in losers] == exp_l
    for r in gainers + losers:
        assert r["todaysChangePerc"] == pytest.approx(perc[r["ticker"]], abs=1e-6)
        assert r["day"]["v"] >= 10_000
    assert [r["ticker"] for r in delayed] == expected_movers(lake, at - DELAY)[0]
    if at == et_ns(LAST, 8, 0):
        assert set(perc) == {"SPY"}, "only SPY has traded 10,000 shares by 08:00"


# -- ticker reference ---------------------------------------------------------------------------------


def records_on(lake: Path, day: dt.date) -> dict[str, dict]:
    """The ticker event log folded by hand: each ticker's newest record with effective date <= day."""
    from lakeread import files

    out: dict[str, tuple[dt.date, dict]] = {}
    for f in files(lake, "stock_tickers"):
        eff = dt.date.fromisoformat(Path(f).parent.name)
        if eff > day:
            continue
        for r in query(lake, "stock_tickers", days=[eff]):
            if r["ticker"] not in out or out[r["ticker"]][0] < eff:
                out[r["ticker"]] = (eff, {**r, "effective": eff})
    return {t: r for t, (_, r) in out.items()}


def test_ticker_listing_pages_to_the_end_with_reference_fields(
    http: httpx.Client, server: RunningServer, lake: Path
) -> None:
    first = ok(http, server, "/v1/stocks/tickers/", limit=1)
    rows = follow(http, server, first)
    expected = records_on(lake, dt.date(2025, 12, 3))
    assert [r["ticker"] for r in rows] == sorted(expected)
    for row in rows:
        rec = expected[row["ticker"]]
        for k in (
            "name",
            "market",
            "locale",
            "primary_exchange",
            "type",
            "currency_name",
            "cik",
            "composite_figi",
            "share_class_figi",
        ):
            assert row[k] == rec[k], k
        assert row["active"] is True
        assert row["last_updated_utc"] == dt.datetime.combine(rec["effective"], dt.time(), ET).astimezone(
            dt.UTC
        ).strftime("%Y-%m-%dT%H:%M:%SZ")
    backwards = follow(http, server, ok(http, server, "/v1/stocks/tickers/", limit=3, order="desc"))
    assert [r["ticker"] for r in backwards] == sorted(expected, reverse=True)
    by_name = follow(http, server, ok(http, server, "/v1/stocks/tickers/", limit=2, sort="name"))
    assert [r["name"] for r in by_name] == sorted(r["name"] for r in expected.values())


@pytest.mark.parametrize(
    ("params", "tickers"),
    [
        ({"type": "ETF"}, ["QQQ", "SPY"]),
        ({"type": "cs"}, ["AAPL", "NVDA"]),
        ({"exchange": "ARCX"}, ["SPY"]),
        ({"search": "apple"}, ["AAPL"]),
        ({"search": "vd"}, ["NVDA"]),
        ({"ticker": "QQQ"}, ["QQQ"]),
        ({"ticker.gte": "NVDA"}, ["NVDA", "QQQ", "SPY"]),
        ({"ticker.gt": "NVDA", "ticker.lt": "SPY"}, ["QQQ"]),
        ({"ticker.lte": "NVDA"}, ["AAPL", "NVDA"]),
        ({"market": "stocks"}, ["AAPL", "NVDA", "QQQ", "SPY"]),
        ({"market": "otc"}, []),
        ({"active": "false"}, []),
        ({"date": "2025-06-01"}, []),  # before the market's reference data begins (its first listings)
    ],
)
def test_ticker_listing_filters(http: httpx.Client, server: RunningServer, params: dict, tickers: list[str]) -> None:
    body = ok(http, server, "/v1/stocks/tickers/", **params)
    assert [r["ticker"] for r in body["results"]] == tickers and "next_url" not in body


def test_ticker_details_are_point_in_time_around_the_name_change(
    http: httpx.Client, server: RunningServer, lake: Path, meta: dict
) -> None:
    nc = meta["name_change"]
    ticker, change = nc["ticker"], dt.date.fromisoformat(nc["date"])
    before = ok(http, server, f"/v1/stocks/tickers/{ticker}/", date=(change - dt.timedelta(days=1)).isoformat())
    after = ok(http, server, f"/v1/stocks/tickers/{ticker}/", date=change.isoformat())
    today = ok(http, server, f"/v1/stocks/tickers/{ticker}/")
    assert before["results"]["name"] == nc["old_name"] and after["results"]["name"] == nc["new_name"]
    assert today["results"]["name"] == nc["new_name"]
    listed = {
        r["ticker"]: r["name"]
        for r in ok(http, server, "/v1/stocks/tickers/", date=(change - dt.timedelta(days=1)).isoformat())["results"]
    }
    assert listed[ticker] == nc["old_name"]
    with server.at(et_ns(change - dt.timedelta(days=1), 12)):  # the day before, a future date sees nothing new
        early = ok(http, server, f"/v1/stocks/tickers/{ticker}/", date=change.isoformat())["results"]
    assert early["name"] == nc["old_name"]
    first = dt.date.fromisoformat(meta["first_day"])
    missing = get(http, server, f"/v1/stocks/tickers/{ticker}/", date=(first - dt.timedelta(days=1)).isoformat())
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_ticker_details_carry_shares_and_a_market_cap_in_the_shares_of_the_day(
    http: httpx.Client, server: RunningServer, lake: Path, meta: dict
) -> None:
    ticker, execution, factor = split_of(meta)
    pre = ok(http, server, f"/v1/stocks/tickers/{ticker}/", date="2025-11-24")["results"]
    post = ok(http, server, f"/v1/stocks/tickers/{ticker}/", date=execution.isoformat())["results"]
    assert post["share_class_shares_outstanding"] == pytest.approx(
        pre["share_class_shares_outstanding"] / factor, rel=1e-6
    )
    # Market cap on a day: that day's weighted shares times that day's (completed) close.
    for rec, day in ((pre, dt.date(2025, 11, 24)), (post, execution)):
        close = day_bar(lake, ticker, day)["close"]
        assert rec["market_cap"] == pytest.approx(rec["weighted_shares_outstanding"] * close, rel=1e-9)
    now = ok(http, server, f"/v1/stocks/tickers/{ticker}/")["results"]  # today: the last completed close
    assert now["market_cap"] == pytest.approx(
        now["weighted_shares_outstanding"] * day_bar(lake, ticker, LAST)["close"], rel=1e-9
    )
    with server.at(MID_SESSION):  # mid-session the day's close is not known yet: the previous close is used
        mid = ok(http, server, f"/v1/stocks/tickers/{ticker}/", date=LAST.isoformat())["results"]
    assert mid["market_cap"] == pytest.approx(
        mid["weighted_shares_outstanding"] * day_bar(lake, ticker, PREV)["close"], rel=1e-9
    )
    for key in ("list_date", "description", "homepage_url", "round_lot", "weighted_shares_outstanding"):
        assert key in post
    assert isinstance(post["list_date"], str) and isinstance(post["active"], bool)


def test_related_tickers_and_types(http: httpx.Client, server: RunningServer, lake: Path) -> None:
    related = ok(http, server, "/v1/stocks/tickers/SPY/related/")["results"]
    rec = records_on(lake, dt.date(2025, 12, 3))
    assert [r["ticker"] for r in related] == list(rec["SPY"]["related"])
    for r in related:
        if r["ticker"] in rec:
            assert r["name"] == rec[r["ticker"]]["name"] and r["type"] == rec[r["ticker"]]["type"]
        else:
            assert set(r) == {"ticker"}
    types = ok(http, server, "/v1/stocks/tickers/types/")["results"]
    codes = {t["code"] for t in types}
    assert {"CS", "ETF"} <= codes and {r["type"] for r in rec.values()} <= codes
    assert all(
        set(t) == {"code", "description", "asset_class", "locale"} and all(isinstance(v, str) for v in t.values())
        for t in types
    )
    indices = ok(http, server, "/v1/stocks/tickers/types/", asset_class="indices")["results"]
    assert [t["code"] for t in indices] == ["INDEX"]
    assert ok(http, server, "/v1/stocks/tickers/types/", locale="global")["results"] == []


# -- trades and quotes --------------------------------------------------------------------------------


def test_trades_page_to_the_end_in_both_orders(http: httpx.Client, server: RunningServer, lake: Path) -> None:
    raw = sorted(
        query(lake, "stock_trades", "ticker = 'AAPL'", days=[EARLY_CLOSE]),
        key=lambda r: (r["sip_timestamp"], r["sequence_number"]),
    )
    asc = follow(
        http, server, ok(http, server, "/v1/stocks/trades/AAPL/", timestamp="2025-11-28", order="asc", limit=700)
    )
    assert [(r["sip_timestamp"], r["sequence_number"]) for r in asc] == [
        (r["sip_timestamp"], r["sequence_number"]) for r in raw
    ]
    desc = follow(http, server, ok(http, server, "/v1/stocks/trades/AAPL/", timestamp="2025-11-28", limit=1000))
    assert [r["sequence_number"] for r in desc] == [r["sequence_number"] for r in reversed(raw)]
    sample = asc[len(asc) // 2]
    src = raw[len(raw) // 2]
    assert sample["price"] == pytest.approx(src["price"]) and sample["size"] == src["size"]
    assert sample["conditions"] == list(src["conditions"] or []) and sample["id"] == src["id"]
    for k in ("sip_timestamp", "participant_timestamp", "exchange", "tape", "sequence_number"):
        assert isinstance(sample[k], int)


def test_quotes_page_to_the_end_and_need_an_expert_stock_plan(
    http: httpx.Client, server: RunningServer, lake: Path
) -> None:
    lo, hi = et_ns(EARLY_CLOSE, 12, 0), et_ns(EARLY_CLOSE, 13, 30)
    raw = query(
        lake, "stock_quotes", "ticker = 'NVDA' AND sip_timestamp >= ? AND sip_timestamp < ?", [lo, hi], [EARLY_CLOSE]
    )
    params = {
        "timestamp.gte": "2025-11-28T17:00:00Z",
        "timestamp.lt": "2025-11-28T18:30:00Z",
        "order": "asc",
        "limit": 97,
    }
    rows = follow(http, server, ok(http, server, "/v1/stocks/quotes/NVDA/", **params))
    assert len(rows) == len(raw) > 97
    assert [r["sip_timestamp"] for r in rows] == sorted(r["sip_timestamp"] for r in raw)
    assert {
        "ask_exchange",
        "ask_price",
        "ask_size",
        "bid_exchange",
        "bid_price",
        "bid_size",
        "sequence_number",
        "sip_timestamp",
        "tape",
    } <= set(rows[0])
    for key in ("developer", "free"):
        for path in ("/v1/stocks/quotes/NVDA/", "/v1/stocks/quotes/NVDA/last/"):
            denied = get(http, server, path, key)
            assert denied.status_code == 403 and denied.json()["error"]["code"] == "forbidden"
            assert "Expert Plan" in denied.json()["error"]["message"]
    assert get(http, server, "/v1/stocks/quotes/NVDA/last/", "commercial").status_code == 200


def test_last_trade_and_last_quote_are_compact_and_respect_the_delay(
    http: httpx.Client, server: RunningServer, lake: Path
) -> None:
    with server.at(MID_SESSION):
        trade = ok(http, server, "/v1/stocks/trades/AAPL/last/")["results"]
        delayed = ok(http, server, "/v1/stocks/trades/AAPL/last/", "developer")["results"]
        quote = ok(http, server, "/v1/stocks/quotes/AAPL/last/")["results"]
        quote_delayed = ok(http, server, "/v1/stocks/quotes/AAPL/last/", timeframe="delayed")["results"]
    src = last_row(lake, "stock_trades", "AAPL", MID_SESSION + 1, LAST)
    assert trade["T"] == "AAPL" and trade["t"] == src["sip_timestamp"] and trade["p"] == pytest.approx(src["price"])
    assert trade["i"] == src["id"] and trade["x"] == src["exchange"] and trade["z"] == src["tape"]
    assert delayed["t"] == last_row(lake, "stock_trades", "AAPL", MID_SESSION - DELAY + 1, LAST)["sip_timestamp"]
    q = last_row(lake, "stock_quotes", "AAPL", MID_SESSION + 1, LAST)
    assert quote["T"] == "AAPL" and quote["t"] == q["sip_timestamp"] and quote["q"] == q["sequence_number"]
    assert quote["P"] == pytest.approx(q["ask_price"]) and quote["p"] == pytest.approx(q["bid_price"])
    assert quote["S"] == q["ask_size"] and quote["s"] == q["bid_size"] and quote["z"] == q["tape"]
    assert quote["x"] == q["bid_exchange"] and quote["y"] == q["ask_exchange"] == quote["X"]
    assert quote_delayed["t"] <= MID_SESSION - DELAY


# -- bars -------------------------------------------------------------------------------------------------


def test_split_adjusted_daily_and_minute_bars_against_raw(
    http: httpx.Client, server: RunningServer, lake: Path, meta: dict
) -> None:
    ticker, execution, factor = split_of(meta)
    assert factor == pytest.approx(2 / 3)
    path = f"/v1/stocks/aggs/{ticker}/1/day/2025-11-20/2025-12-02/"
    adjusted = ok(http, server, path)["results"]
    raw = ok(http, server, path, adjusted="false")["results"]
    assert [b["t"] for b in adjusted] == [b["t"] for b in raw]
    pre_split = 0
    for a, r in zip(adjusted, raw, strict=True):
        day = dt.datetime.fromtimestamp(a["t"] / 1000, ET).date()
        stored = day_bar(lake, ticker, day)
        assert r["c"] == pytest.approx(stored["close"], abs=2e-6) and r["v"] == pytest.approx(stored["volume"])
        f = factor if day < execution else 1.0
        pre_split += day < execution
        for k in ("o", "h", "l", "c", "vw"):
            assert a[k] == pytest.approx(r[k] * f, abs=1e-4), (day, k)
        assert a["v"] == pytest.approx(r["v"] / f, abs=1e-3) and a["n"] == r["n"]
    assert pre_split >= 2
    minute_path = f"/v1/stocks/aggs/{ticker}/1/minute/2025-11-24/2025-11-24/"
    adj_min = ok(http, server, minute_path, limit=10000)["results"]
    raw_min = ok(http, server, minute_path, limit=10000, adjusted="false")["results"]
    assert len(adj_min) == len(raw_min) > 100
    for a, r in zip(adj_min, raw_min, strict=True):
        assert a["c"] == pytest.approx(r["c"] * factor, abs=1e-5) and a["v"] == pytest.approx(r["v"] * 1.5, abs=1e-3)
    prev = ok(http, server, f"/v1/stocks/aggs/{ticker}/prev/")["results"][0]
    assert (
        prev["T"] == ticker
        and prev["t"] == ms(LAST, 16)
        and prev["c"] == pytest.approx(day_bar(lake, ticker, LAST)["close"])
    )


def test_daily_bars_skip_the_holiday_and_equal_a_recomputation_from_trades(
    http: httpx.Client, server: RunningServer, lake: Path
) -> None:
    bars = ok(http, server, "/v1/stocks/aggs/AAPL/1/day/2025-11-20/2025-12-02/")["results"]
    days = [dt.datetime.fromtimestamp(b["t"] / 1000, ET) for b in bars]
    assert all((d.hour, d.minute) == (0, 0) for d in days)
    assert THANKSGIVING not in {d.date() for d in days} and len(bars) == 8
    for b, d in zip(bars, days, strict=True):
        exp = bar_from_trades(query(lake, "stock_trades", "ticker = 'AAPL'", days=[d.date()]))
        assert exp is not None
        assert (b["o"], b["h"], b["l"], b["c"]) == pytest.approx(
            (exp["open"], exp["high"], exp["low"], exp["close"]), abs=2e-6
        )
        assert b["v"] == exp["volume"] and b["n"] == exp["n"] and b["vw"] == pytest.approx(exp["vwap"], abs=1e-4)
    assert ok(http, server, "/v1/stocks/aggs/AAPL/1/minute/2025-11-27/2025-11-27/")["results"] == []
    grouped = ok(http, server, f"/v1/stocks/aggs/grouped/{THANKSGIVING}/")
    assert grouped["results"] == [] and grouped["resultsCount"] == grouped["queryCount"] == 0


def test_minute_bars_on_the_early_close_are_labelled_by_session(
    http: httpx.Client, server: RunningServer, lake: Path
) -> None:
    bars = follow(http, server, ok(http, server, "/v1/stocks/aggs/SPY/1/minute/2025-11-28/2025-11-28/", limit=10000))
    assert len(bars) > 200
    open_, close, ah_close = ms(EARLY_CLOSE, 9, 30), ms(EARLY_CLOSE, 13), ms(EARLY_CLOSE, 17)
    labels = {"premarket": 0, "regular": 0, "after_hours": 0}
    for b in bars:
        expected = "premarket" if b["t"] < open_ else "regular" if b["t"] < close else "after_hours"
        assert b["session"] == expected, b
        labels[expected] += 1
        assert b["t"] < ah_close
    assert all(labels.values()), labels
    regular = [b for b in bars if b["session"] == "regular"]
    assert max(b["t"] for b in regular) < close, "no regular-session bar after the 13:00 early close"
    # Independent check of the after-hours bars: each equals the intraday-rule bar of that minute's trades.
    trades = query(lake, "stock_trades", "ticker = 'SPY'", days=[EARLY_CLOSE])
    for b in [x for x in bars if x["session"] == "after_hours"][:25]:
        lo = b["t"] * 1_000_000
        exp = bar_from_trades([t for t in trades if lo <= t["sip_timestamp"] < lo + NS_PER_MIN], intraday=True)
        assert exp is not None and b["c"] == pytest.approx(exp["close"]) and b["v"] == exp["volume"]
    normal = ok(http, server, "/v1/stocks/aggs/SPY/1/minute/2025-12-01/2025-12-01/", limit=10000)["results"]
    late_regular = [b for b in normal if b["session"] == "regular" and b["t"] >= ms(PREV, 15, 59)]
    assert late_regular, "on a normal day the regular session runs to 16:00"
    hours = ok(http, server, "/v1/stocks/aggs/SPY/1/hour/2025-11-28/2025-11-28/")["results"]
    by_hour = {dt.datetime.fromtimestamp(b["t"] / 1000, ET).hour: b.get("session") for b in hours}
    assert by_hour[10] == "regular" and by_hour[14] == "after_hours" and by_hour[9] is None


def test_grouped_daily_equals_the_stored_bars_with_polygon_fields(
    http: httpx.Client, server: RunningServer, lake: Path, meta: dict
) -> None:
    body = ok(http, server, f"/v1/stocks/aggs/grouped/{PREV}/", adjusted="false")
    assert body["adjusted"] is False and body["resultsCount"] == body["queryCount"] == len(body["results"]) == len(
        STOCKS
    )
    for row in body["results"]:
        stored = day_bar(lake, row["T"], PREV)
        assert set(row) == {"T", "o", "h", "l", "c", "v", "vw", "t", "n"}
        assert row["t"] == ms(PREV, 16) and isinstance(row["n"], int)
        assert (row["o"], row["c"], row["v"], row["n"]) == pytest.approx(
            (stored["open"], stored["close"], stored["volume"], stored["transactions"])
        )
    ticker, _, factor = split_of(meta)
    day = dt.date(2025, 11, 24)
    adjusted = {r["T"]: r for r in ok(http, server, f"/v1/stocks/aggs/grouped/{day}/")["results"]}
    raw = day_bar(lake, ticker, day)
    assert adjusted[ticker]["c"] == pytest.approx(raw["close"] * factor, abs=1e-5)
    assert adjusted[ticker]["v"] == pytest.approx(raw["volume"] / factor, abs=1e-3)
    assert adjusted["AAPL"]["c"] == pytest.approx(day_bar(lake, "AAPL", day)["close"])
    assert ok(http, server, f"/v1/stocks/aggs/grouped/{day}/", include_otc="true")["results"] == list(adjusted.values())
    assert ok(http, server, "/v1/stocks/aggs/grouped/2025-12-06/")["results"] == []  # a Saturday


def test_grouped_daily_of_a_session_in_progress_uses_only_trades_before_the_horizon(
    http: httpx.Client, server: RunningServer, lake: Path
) -> None:
    with server.at(MID_SESSION):
        rows = {r["T"]: r for r in ok(http, server, f"/v1/stocks/aggs/grouped/{LAST}/", "developer")["results"]}
    horizon = MID_SESSION - DELAY
    for t in STOCKS:
        exp = bar_from_trades(trades_between(lake, t, et_midnight_ns(LAST), horizon + 1, LAST))
        assert rows[t]["c"] == pytest.approx(exp["close"]) and rows[t]["v"] == exp["volume"]


def test_open_close_uses_regular_hours_and_extended_prices(
    http: httpx.Client, server: RunningServer, lake: Path
) -> None:
    body = ok(http, server, f"/v1/stocks/open-close/AAPL/{EARLY_CLOSE}/")
    assert "results" not in body and body["symbol"] == "AAPL" and body["from"] == "2025-11-28"
    trades = sorted(
        query(lake, "stock_trades", "ticker = 'AAPL'", days=[EARLY_CLOSE]),
        key=lambda r: (r["sip_timestamp"], r["sequence_number"]),
    )
    open_, close = et_ns(EARLY_CLOSE, 9, 30), et_ns(EARLY_CLOSE, 13)
    regular = bar_from_trades([t for t in trades if open_ <= t["sip_timestamp"] < close])
    assert regular is not None
    assert (body["open"], body["high"], body["low"], body["close"]) == pytest.approx(
        (regular["open"], regular["high"], regular["low"], regular["close"]), abs=2e-6
    )
    assert body["volume"] == regular["volume"]
    assert body["preMarket"] == pytest.approx(next(t for t in trades if t["sip_timestamp"] < open_)["price"])
    assert body["afterHours"] == pytest.approx([t for t in trades if t["sip_timestamp"] >= close][-1]["price"])
    for day in (THANKSGIVING, dt.date(2025, 12, 3)):
        r = get(http, server, f"/v1/stocks/open-close/AAPL/{day}/")
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


# -- indicators -------------------------------------------------------------------------------------------


def test_stock_indicators_and_the_product_neutral_alias(http: httpx.Client, server: RunningServer, lake: Path) -> None:
    body = ok(http, server, "/v1/stocks/indicators/sma/AAPL/", window=5, limit=3, expand_underlying="true")
    values = body["results"]["values"]
    closes = [
        day_bar(lake, "AAPL", d)["close"]
        for d in (dt.date(2025, 11, 24), dt.date(2025, 11, 25), dt.date(2025, 11, 26), EARLY_CLOSE, PREV, LAST)
    ]
    assert values[0]["timestamp"] == ms(LAST) and values[0]["value"] == pytest.approx(np.mean(closes[-5:]), abs=1e-6)
    assert values[1]["timestamp"] == ms(PREV) and values[1]["value"] == pytest.approx(np.mean(closes[-6:-1]), abs=1e-6)
    url = body["results"]["underlying"]["url"]
    assert url.startswith(server.base_url + "/v1/stocks/aggs/AAPL/1/day/")
    alias = ok(http, server, "/v1/indicators/sma/AAPL/", window=5, limit=3)["results"]["values"]
    assert alias == values
    contracts = ok(http, server, "/v1/options/contracts/", underlying_ticker="AAPL", limit=1)["results"]
    option = contracts[0]["ticker"]
    product = ok(http, server, f"/v1/options/indicators/rsi/{option}/", window=3)["results"]
    alias_rsi = ok(http, server, f"/v1/indicators/rsi/{option.replace(':', '%3A')}/", window=3)["results"]
    assert alias_rsi["values"] == product["values"]  # the alias is also the Polygon route: it adds underlying.url
    assert get(http, server, "/v1/indicators/sma/AAPL/", "options_only").status_code == 403
    assert get(http, server, f"/v1/indicators/sma/{option}/", "stocks_only").status_code == 403
    assert get(http, server, f"/v1/indicators/sma/{option}/", "options_only").status_code == 200
    empty = ok(http, server, "/v1/stocks/indicators/ema/AAPL/", **{"timestamp.lt": "2025-07-01"})
    assert empty["results"] == {"values": []}


def test_openapi_lists_the_stock_routes(http: httpx.Client) -> None:
    paths = http.get("/openapi.json").json()["paths"]
    for route in (
        "/v1/stocks/snapshot/",
        "/v1/stocks/snapshot/movers/{direction}/",
        "/v1/stocks/tickers/types/",
        "/v1/stocks/aggs/grouped/{date}/",
        "/v1/stocks/open-close/{stocksTicker}/{date}/",
        "/v1/indicators/{indicator}/{ticker}/",
    ):
        assert route in paths, route


# -- lake changes: OTC tickers, and data after the horizon ---------------------------------------------


def test_otc_tickers_and_later_data_in_a_copied_lake(market_dir: Path, tmp_path: Path) -> None:
    """Add an OTC ticker, and rewrite every tick after the snapshot instant: OTC rows appear only with
    ``include_otc``, and the snapshot at the instant does not move."""
    import shutil

    import pyarrow as pa
    import pyarrow.compute as pc

    from cutemarkets_server.clock import FixedClock
    from cutemarkets_server.ingest.pipeline import Ingestor
    from cutemarkets_server.store.keys import KeyStore
    from cutemarkets_server.store.lake import Lake
    from cutemarkets_server.store.schemas import dataset

    from conftest import start_server

    shutil.copytree(market_dir / "lake", tmp_path / "lake")
    key, _ = KeyStore(tmp_path / "keys.sqlite").create("otc", "expert", ("stocks",))
    srv, _, base = start_server(tmp_path, FixedClock(MID_SESSION))
    ingest = Ingestor(Lake(tmp_path / "lake"), tmp_path / "quarantine")
    try:
        with httpx.Client(base_url=base, headers=auth(key), timeout=60) as client:
            before = client.get("/v1/stocks/snapshot/").json()["tickers"]
            assert len(before) == len(STOCKS)

            first = Lake(tmp_path / "lake").snapshot().days("stock_tickers")[0]
            aapl = query(tmp_path / "lake", "stock_tickers", "ticker = 'AAPL'", days=[first])[0]
            otc = {**aapl, "ticker": "OTCX", "name": "Over The Counter Example", "market": "otc", "related": []}
            otc.pop("effective_date", None)
            ingest.write_day(
                "stock_tickers",
                dt.date(2025, 11, 21),
                pa.Table.from_pylist([otc], dataset("stock_tickers").schema),
                source="test",
            )
            for day in (PREV, LAST):
                table = pa.Table.from_pylist(
                    query(tmp_path / "lake", "stock_trades", days=[day]), dataset("stock_trades").schema
                )
                if day == LAST:  # every trade after the snapshot instant at double the price
                    late = pc.greater(table["sip_timestamp"], MID_SESSION)
                    table = table.set_column(
                        table.column_names.index("price"),
                        "price",
                        pc.if_else(late, pc.multiply(table["price"], 2.0), table["price"]),
                    )
                extra = [
                    {
                        "ticker": "OTCX",
                        "sip_timestamp": et_ns(day, 10, i),
                        "participant_timestamp": et_ns(day, 10, i) - 1000,
                        "trf_timestamp": None,
                        "price": (2.0 if day == PREV else 3.0) + i / 10,
                        "size": 5000,
                        "exchange": 4,
                        "conditions": [],
                        "correction": 0,
                        "id": f"otc{i}",
                        "sequence_number": i + 1,
                        "tape": 1,
                        "trf_id": None,
                    }
                    for i in range(3)
                ]
                schema = dataset("stock_trades").schema
                merged = pa.concat_tables([table.cast(schema), pa.Table.from_pylist(extra, schema)])
                results = ingest.write_day("stock_trades", day, merged, source="test")
                assert all(r.rows_quarantined == 0 for r in results)

            after = client.get("/v1/stocks/snapshot/").json()["tickers"]
            assert after == before, "rows after the snapshot instant must not change it"
            with_otc = {
                r["ticker"]: r
                for r in client.get("/v1/stocks/snapshot/", params={"include_otc": "true"}).json()["tickers"]
            }
            assert with_otc["OTCX"]["otc"] is True and with_otc["OTCX"]["day"]["v"] == 15_000
            assert with_otc["OTCX"]["prevDay"]["c"] == pytest.approx(2.2)
            assert "OTCX" not in {
                r["ticker"]
                for r in client.get("/v1/stocks/snapshot/", params={"tickers": "OTCX,SPY"}).json()["tickers"]
            }
            grouped = client.get(f"/v1/stocks/aggs/grouped/{PREV}/").json()["results"]
            assert "OTCX" not in {r["T"] for r in grouped}
            grouped_otc = {
                r["T"]: r
                for r in client.get(f"/v1/stocks/aggs/grouped/{PREV}/", params={"include_otc": "true"}).json()[
                    "results"
                ]
            }
            assert (
                grouped_otc["OTCX"]["otc"] is True
                and grouped_otc["OTCX"]["v"] == 15_000
                and grouped_otc["OTCX"]["c"] == pytest.approx(2.2)
            )
            assert all("otc" not in r for t, r in grouped_otc.items() if t != "OTCX")
            listed = client.get("/v1/stocks/tickers/", params={"market": "otc"}).json()["results"]
            assert [r["ticker"] for r in listed] == ["OTCX"]
            movers = client.get("/v1/stocks/snapshot/movers/gainers/", params={"include_otc": "true"}).json()["tickers"]
            assert movers[0]["ticker"] == "OTCX" and movers[0]["todaysChangePerc"] == pytest.approx(1.0 / 2.2 * 100)
            plain = client.get("/v1/stocks/snapshot/movers/gainers/").json()["tickers"]
            assert [r["ticker"] for r in plain] == [r["ticker"] for r in movers[1:]]
    finally:
        srv.should_exit = True


def test_page_tokens_are_bound_to_their_route(http: httpx.Client, server: RunningServer) -> None:
    trades = ok(http, server, "/v1/stocks/trades/AAPL/", limit=5)
    token = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(trades["next_url"]).query))["page"]
    for path in ("/v1/stocks/tickers/", "/v1/stocks/quotes/AAPL/", "/v1/options/contracts/"):
        r = get(http, server, path, page=token)
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_page_token", path
    listing = ok(http, server, "/v1/stocks/tickers/", limit=1)
    tampered = listing["next_url"][:-3] + ("AAA" if not listing["next_url"].endswith("AAA") else "BBB")
    r = http.get(tampered, headers=auth(server.key("expert")))
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_page_token"


def test_adjustment_never_uses_a_split_executed_after_the_horizon(
    http: httpx.Client, server: RunningServer, market_dir: Path
) -> None:
    """Before the split's execution day (a replay clock, say), adjusted and raw bars are the same."""
    split_day = query(market_dir / "lake", "corporate_actions", "ticker = 'NVDA'")[0]["execution_date"]
    h = auth(server.key("expert"))
    path = "/v1/stocks/aggs/NVDA/1/day/2025-10-01/2025-12-02/"
    with server.at(et_ns(split_day, 8, 0) - 24 * 3600 * 10**9):
        adjusted = http.get(path, headers=h).json()["results"]
        raw = http.get(path, params={"adjusted": "false"}, headers=h).json()["results"]
    assert adjusted and adjusted == raw
    later_adjusted = http.get(path, headers=h).json()["results"]
    assert later_adjusted[0]["c"] != adjusted[0]["c"]


def test_session_bounds_are_the_exchange_calendars_sessions() -> None:
    """The bounds bar labels are searched in: every XNYS session of two years, its open and close as
    exchange_calendars gives them (early closes included), premarket from 04:00 and after hours to 20:00
    (17:00 on early closes) ET, in time order."""
    import exchange_calendars

    from cutemarkets_server.market.calendar import xnys

    first, last = dt.date(2024, 1, 1), dt.date(2025, 12, 31)
    bounds = xnys().session_bounds(first, last)
    oracle = exchange_calendars.get_calendar("XNYS")
    sessions = oracle.sessions_in_range(first.isoformat(), last.isoformat())
    assert len(bounds) == len(sessions) > 490
    for row, session in zip(bounds.tolist(), sessions, strict=True):
        day = session.date()
        opens, closes = oracle.session_open(session).value, oracle.session_close(session).value
        early = closes < et_ns(day, 16)
        assert row == [et_ns(day, 4), opens, closes, et_ns(day, 17 if early else 20)], day
    assert np.all(np.diff(bounds.ravel()) > 0)
