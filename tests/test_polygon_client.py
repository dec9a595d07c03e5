"""The Polygon/Massive dialect driven by the official ``massive`` client, unmodified, against the running server.

Every answer is checked against an independent read of the lake (raw Parquet rows) or against the ``/v1``
answer to the same request, which the dialect must reproduce field for field.
"""

from __future__ import annotations

import collections
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cutemarkets_server.market.calendar import xnys
from cutemarkets_server.market.conditions import STOCK_TRADE_CONDITIONS
from cutemarkets_server.market.timestamps import ET, et_midnight_ns, et_ns

from conftest import TEST_NOW_NS, RunningServer, auth
from lakeread import query

massive = pytest.importorskip("massive")
from massive import RESTClient  # noqa: E402
from massive.exceptions import BadResponse  # noqa: E402

DAY = dt.date(2025, 11, 25)
NEXT = dt.date(2025, 11, 26)
LAST = dt.date(2025, 12, 2)
THANKSGIVING = dt.date(2025, 11, 27)
EARLY_CLOSE = dt.date(2025, 11, 28)
MID_SESSION = et_ns(LAST, 14, 0)


def ms(ns: int) -> int:
    return ns // 1_000_000


def utc(ns: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ns / 1e9, dt.UTC)


@pytest.fixture(scope="module")
def client(server: RunningServer) -> Iterator[RESTClient]:
    c = RESTClient(api_key=server.key("expert"), base=server.base_url, retries=0)
    yield c
    c.client.clear()


@pytest.fixture(scope="module")
def lake(market_dir: Path) -> Path:
    return market_dir / "lake"


@pytest.fixture(scope="module")
def busiest(lake: Path) -> str:
    """The SPY contract with the most trades on DAY (it also trades on later days)."""
    rows = query(lake, "option_trades", "ticker LIKE 'O:SPY%' AND ticker > 'O:SPY2511260'", days=[DAY])
    return collections.Counter(r["ticker"] for r in rows).most_common(1)[0][0]


def v1(http: httpx.Client, server: RunningServer, path: str, **params: Any) -> Any:
    r = http.get(path, params=params, headers=auth(server.key("expert")))
    assert r.status_code == 200, r.text
    return r.json()


def v1_all(http: httpx.Client, server: RunningServer, path: str, **params: Any) -> list[dict]:
    body = v1(http, server, path, **params)
    rows = list(body["results"])
    while body.get("next_url"):
        body = http.get(body["next_url"], headers=auth(server.key("expert"))).json()
        rows += body["results"]
    return rows


def lake_bars(lake: Path, dataset: str, ticker: str, lo: int, hi: int) -> list[dict]:
    rows = query(lake, dataset, "ticker = ? AND window_start >= ? AND window_start < ?", [ticker, lo, hi])
    return sorted(rows, key=lambda r: r["window_start"])


def same_bar(agg: Any, row: dict) -> None:
    assert agg.timestamp == ms(row["window_start"])
    assert (agg.open, agg.high, agg.low, agg.close) == pytest.approx(
        (row["open"], row["high"], row["low"], row["close"]), abs=1e-6
    )
    assert agg.volume == pytest.approx(row["volume"])
    assert agg.transactions == row["transactions"]


# -- aggregates --------------------------------------------------------------------------------------


def test_daily_bars_are_the_lake_bars_stamped_at_midnight_new_york(client: RESTClient, lake: Path) -> None:
    aggs = client.get_aggs("SPY", 1, "day", "2025-11-20", "2025-12-02", adjusted=False)
    rows = lake_bars(
        lake, "stock_day_aggs", "SPY", et_midnight_ns(dt.date(2025, 11, 20)), et_midnight_ns(dt.date(2025, 12, 3))
    )
    assert len(aggs) == len(rows) == 8
    for agg, row in zip(aggs, rows, strict=True):
        same_bar(agg, row)
        stamp = dt.datetime.fromtimestamp(agg.timestamp / 1000, ET)
        assert (stamp.hour, stamp.minute) == (0, 0)
        # both of cutebacktests' labellings (New York date and UTC date) name the trading day
        assert stamp.date() == utc(agg.timestamp * 1_000_000).date()
    assert THANKSGIVING not in {dt.datetime.fromtimestamp(a.timestamp / 1000, ET).date() for a in aggs}


def test_minute_bars_page_through_next_url(client: RESTClient, lake: Path, server: RunningServer) -> None:
    rows = lake_bars(lake, "stock_minute_aggs", "SPY", et_midnight_ns(DAY), et_midnight_ns(NEXT + dt.timedelta(days=1)))
    first = client.get_aggs("SPY", 1, "minute", DAY.isoformat(), NEXT.isoformat(), limit=700, raw=True)
    body = first.json()
    assert 0 < body["queryCount"] <= 700 and "cursor=" in body["next_url"] and "apiKey" not in body["next_url"]
    assert body["next_url"].startswith(server.base_url + "/v2/aggs/ticker/SPY/range/1/minute/")
    aggs = list(client.list_aggs("SPY", 1, "minute", DAY.isoformat(), NEXT.isoformat(), limit=700))
    assert len(aggs) == len(rows) > 700
    for agg, row in zip(aggs, rows, strict=True):
        same_bar(agg, row)
    assert all(dt.datetime.fromtimestamp(a.timestamp / 1000, ET).second == 0 for a in aggs)


def second_bar(trades: list[dict]) -> dict | None:
    """A bar from one second's trades with the intraday sale-condition rules (None without a price-setting trade)."""
    trades = sorted(trades, key=lambda r: (r["sip_timestamp"], r["sequence_number"]))
    flags = []
    for t in trades:
        hl = oc = vol = True
        for code in t["conditions"] or []:
            rule = STOCK_TRADE_CONDITIONS.get(int(code))
            if rule is not None:
                a, b, c = rule.updates(intraday=True)
                hl, oc, vol = hl and a, oc and b, vol and c
        flags.append((hl, oc, vol))
    prices = [t["price"] for t, f in zip(trades, flags, strict=True) if f[1]]
    if not prices:
        return None
    highs = [t["price"] for t, f in zip(trades, flags, strict=True) if f[0]] + [prices[0], prices[-1]]
    volume = sum(t["size"] for t, f in zip(trades, flags, strict=True) if f[2])
    return {"open": prices[0], "high": max(highs), "low": min(highs), "close": prices[-1], "volume": volume}


def test_second_bars_from_trades_roll_up_to_the_stored_minute_bars(client: RESTClient, lake: Path) -> None:
    lo, hi = et_ns(DAY, 10, 0), et_ns(DAY, 10, 5)
    seconds = client.get_aggs("SPY", 1, "second", utc(lo), utc(hi - 1))
    trades = query(lake, "stock_trades", "ticker = 'SPY' AND sip_timestamp >= ? AND sip_timestamp < ?", [lo, hi])
    by_second: dict[int, list[dict]] = collections.defaultdict(list)
    for t in trades:
        by_second[t["sip_timestamp"] // 10**9 * 1000].append(t)
    expected = {t: bar for t, rows in sorted(by_second.items()) if (bar := second_bar(rows)) is not None}
    assert [s.timestamp for s in seconds] == list(expected) and len(seconds) > 20
    for s in seconds:
        e = expected[s.timestamp]
        assert (s.open, s.high, s.low, s.close, s.volume) == pytest.approx(
            (e["open"], e["high"], e["low"], e["close"], e["volume"])
        )
    minutes = lake_bars(lake, "stock_minute_aggs", "SPY", lo, hi)
    assert len(minutes) == 5
    for m in minutes:
        inside = [s for s in seconds if m["window_start"] <= s.timestamp * 1_000_000 < m["window_start"] + 60 * 10**9]
        assert (inside[0].open, inside[-1].close) == pytest.approx((m["open"], m["close"]))
        assert (max(s.high for s in inside), min(s.low for s in inside)) == pytest.approx((m["high"], m["low"]))
        assert sum(s.volume for s in inside) <= m["volume"]


def test_option_minute_bars_of_one_day(client: RESTClient, lake: Path, busiest: str) -> None:
    aggs = client.get_aggs(busiest, 1, "minute", DAY.isoformat(), NEXT.isoformat(), limit=50000, sort="asc")
    rows = lake_bars(
        lake, "option_minute_aggs", busiest, et_midnight_ns(DAY), et_midnight_ns(NEXT + dt.timedelta(days=1))
    )
    assert len(aggs) == len(rows) > 10
    for agg, row in zip(aggs, rows, strict=True):
        same_bar(agg, row)


def test_previous_close_stock_and_option(client: RESTClient, lake: Path, busiest: str) -> None:
    (spy,) = client.get_previous_close_agg("SPY")
    (row,) = query(lake, "stock_day_aggs", "ticker = 'SPY'", days=[LAST])
    assert spy.ticker == "SPY" and spy.timestamp == ms(et_ns(LAST, 16))
    assert (spy.close, spy.volume) == pytest.approx((row["close"], row["volume"]))
    (opt,) = client.get_previous_close_agg(busiest)
    last = max(query(lake, "option_day_aggs", "ticker = ?", [busiest]), key=lambda r: r["window_start"])
    assert opt.ticker == busiest and opt.close == pytest.approx(last["close"])


def test_grouped_daily_is_every_stock_bar_of_the_day(client: RESTClient, lake: Path) -> None:
    grouped = client.get_grouped_daily_aggs(EARLY_CLOSE.isoformat(), adjusted=False)
    rows = {r["ticker"]: r for r in query(lake, "stock_day_aggs", "TRUE", days=[EARLY_CLOSE])}
    assert sorted(g.ticker for g in grouped) == sorted(rows)
    for g in grouped:
        r = rows[g.ticker]
        assert (g.open, g.close, g.volume) == pytest.approx((r["open"], r["close"], r["volume"]))
        assert g.timestamp == ms(et_ns(EARLY_CLOSE, 16))
    assert client.get_grouped_daily_aggs(THANKSGIVING.isoformat()) == []


def test_daily_open_close_equals_v1(
    client: RESTClient, http: httpx.Client, server: RunningServer, busiest: str
) -> None:
    oc = client.get_daily_open_close_agg("SPY", EARLY_CLOSE.isoformat())
    want = v1(http, server, f"/v1/stocks/open-close/SPY/{EARLY_CLOSE}/")
    assert (oc.symbol, oc.from_, oc.open, oc.close, oc.volume) == (
        "SPY",
        want["from"],
        want["open"],
        want["close"],
        want["volume"],
    )
    assert (oc.pre_market, oc.after_hours) == (want["preMarket"], want["afterHours"])
    opt = client.get_daily_open_close_agg(busiest, DAY.isoformat())
    want = v1(http, server, f"/v1/options/open-close/{busiest}/{DAY}/")
    assert (opt.open, opt.high, opt.low, opt.close, opt.volume) == (
        want["open"],
        want["high"],
        want["low"],
        want["close"],
        want["volume"],
    )
    with pytest.raises(BadResponse, match="not_found"):
        client.get_daily_open_close_agg("SPY", THANKSGIVING.isoformat())


# -- trades and quotes -------------------------------------------------------------------------------


def test_option_trades_in_a_window_across_pages(client: RESTClient, lake: Path, busiest: str) -> None:
    lo, hi = et_ns(DAY, 9, 30), et_ns(DAY, 16)
    trades = list(client.list_trades(busiest, timestamp_gte=utc(lo), timestamp_lt=utc(hi), order="asc", limit=7))
    rows = query(lake, "option_trades", "ticker = ? AND sip_timestamp >= ? AND sip_timestamp < ?", [busiest, lo, hi])
    rows.sort(key=lambda r: (r["sip_timestamp"], r["sequence_number"]))
    assert len(trades) == len(rows) > 7
    assert [t.sip_timestamp for t in trades] == [r["sip_timestamp"] for r in rows]
    assert [t.price for t in trades] == pytest.approx([r["price"] for r in rows])
    assert [t.conditions for t in trades] == [list(r["conditions"] or []) for r in rows]


def test_stock_trades_newest_first_by_default(client: RESTClient, lake: Path) -> None:
    page = client.list_trades("SPY", timestamp=LAST.isoformat(), limit=50, raw=True).json()
    rows = query(lake, "stock_trades", "ticker = 'SPY'", days=[LAST])
    rows.sort(key=lambda r: (r["sip_timestamp"], r["sequence_number"]), reverse=True)
    assert [t["sip_timestamp"] for t in page["results"]] == [r["sip_timestamp"] for r in rows[:50]]
    assert [t["id"] for t in page["results"]] == [r["id"] for r in rows[:50]]
    assert "cursor=" in page["next_url"]


def test_option_quotes_with_nanosecond_filters(client: RESTClient, lake: Path, busiest: str) -> None:
    lo, hi = et_ns(DAY, 11), et_ns(DAY, 13)
    quotes = list(client.list_quotes(busiest, timestamp_gte=lo, timestamp_lt=hi, order="asc", limit=50000))
    rows = query(lake, "option_quotes", "ticker = ? AND sip_timestamp >= ? AND sip_timestamp < ?", [busiest, lo, hi])
    rows.sort(key=lambda r: (r["sip_timestamp"], r["sequence_number"]))
    assert len(quotes) == len(rows) > 10
    assert [(q.sip_timestamp, q.bid_price, q.ask_price, q.bid_size, q.ask_size) for q in quotes] == [
        (r["sip_timestamp"], r["bid_price"], r["ask_price"], r["bid_size"], r["ask_size"]) for r in rows
    ]


def test_last_trade_and_last_nbbo(client: RESTClient, lake: Path, busiest: str) -> None:
    trades = query(lake, "stock_trades", "ticker = 'SPY' AND sip_timestamp <= ?", [TEST_NOW_NS], days=[LAST])
    newest = max(trades, key=lambda r: (r["sip_timestamp"], r["sequence_number"]))
    last = client.get_last_trade("SPY")
    assert (last.ticker, last.sip_timestamp, last.price, last.size) == (
        "SPY",
        newest["sip_timestamp"],
        newest["price"],
        newest["size"],
    )
    assert (last.participant_timestamp, last.trf_timestamp, last.id) == (
        newest["participant_timestamp"],
        newest["trf_timestamp"],
        newest["id"],
    )
    quotes = query(lake, "stock_quotes", "ticker = 'SPY'", days=[LAST])
    q = max(quotes, key=lambda r: (r["sip_timestamp"], r["sequence_number"]))
    nbbo = client.get_last_quote("SPY")
    assert (nbbo.bid_price, nbbo.ask_price, nbbo.bid_size, nbbo.ask_size) == (
        q["bid_price"],
        q["ask_price"],
        q["bid_size"],
        q["ask_size"],
    )
    assert (nbbo.bid_exchange, nbbo.ask_exchange) == (q["bid_exchange"], q["ask_exchange"])
    assert (nbbo.sip_timestamp, nbbo.participant_timestamp) == (q["sip_timestamp"], q["participant_timestamp"])
    opt_rows = query(lake, "option_trades", "ticker = ?", [busiest])
    opt_last = client.get_last_trade(busiest)
    assert opt_last.sip_timestamp == max(r["sip_timestamp"] for r in opt_rows)


# -- options ---------------------------------------------------------------------------------------


def test_chain_snapshot_as_of_equals_v1_and_sees_nothing_of_the_day(
    client: RESTClient, http: httpx.Client, server: RunningServer
) -> None:
    params = {"as_of": DAY.isoformat(), "expiration_date.lte": "2025-11-28", "limit": 40}
    chain = list(client.list_snapshot_options_chain("SPY", params=dict(params)))
    want = v1_all(http, server, "/v1/options/chain/SPY/", **params)
    assert [c.details.ticker for c in chain] == [w["details"]["ticker"] for w in want]
    assert len(chain) > 40
    for got, w in zip(chain, want, strict=True):
        assert got.implied_volatility == w.get("implied_volatility")
        assert (got.greeks.delta if got.greeks else None) == w.get("greeks", {}).get("delta")
        assert got.open_interest == w.get("open_interest")
        assert (got.last_quote is None) == ("last_quote" not in w)  # listed that day: no quote before it
        if got.last_quote is not None:
            assert (got.last_quote.bid, got.last_quote.ask) == (w["last_quote"]["bid"], w["last_quote"]["ask"])
            assert got.last_quote.last_updated < et_ns(DAY, 9, 30)
        assert got.day.last_updated is None or got.day.last_updated < et_ns(DAY, 9, 30)
        assert got.underlying_asset.last_updated < et_ns(DAY, 9, 30)
    raw = http.get("/v3/snapshot/options/SPY", params=params, headers=auth(server.key("expert"))).json()
    assert {r["details"]["underlying_ticker"] for r in raw["results"]} == {"SPY"}


def test_contract_snapshot_as_of_equals_v1(
    client: RESTClient, http: httpx.Client, server: RunningServer, busiest: str
) -> None:
    snap = client.get_snapshot_option("SPY", busiest, params={"as_of": NEXT.isoformat()})
    want = v1(http, server, f"/v1/options/snapshot/SPY/{busiest}/", as_of=NEXT.isoformat())["results"]
    assert snap.details.ticker == busiest and snap.details.strike_price == want["details"]["strike_price"]
    assert snap.implied_volatility == want["implied_volatility"] and snap.greeks.delta == want["greeks"]["delta"]
    assert snap.open_interest == want["open_interest"] and snap.day.volume == want["day"]["volume"]
    assert snap.last_quote.last_updated < et_ns(NEXT, 9, 30) <= et_ns(NEXT, 16)
    afternoon = client.get_snapshot_option("SPY", busiest, params={"as_of": "2025-11-26T15:00:00-05:00"})
    assert snap.last_quote.last_updated < afternoon.last_quote.last_updated <= et_ns(NEXT, 15)


def test_contracts_as_of_expired_and_detail(client: RESTClient, http: httpx.Client, server: RunningServer) -> None:
    listed = list(client.list_options_contracts(underlying_ticker="SPY", as_of=DAY.isoformat(), limit=100))
    want = v1_all(http, server, "/v1/options/contracts/", underlying_ticker="SPY", as_of=DAY.isoformat(), limit=100)
    assert [c.ticker for c in listed] == [w["ticker"] for w in want] and len(listed) > 100
    assert all(c.expiration_date >= DAY.isoformat() for c in listed)
    expired = list(
        client.list_options_contracts(
            underlying_ticker="SPY",
            expired=True,
            expiration_date_gte="2025-11-20",
            expiration_date_lte=LAST,
            limit=1000,
        )
    )
    want = v1_all(
        http,
        server,
        "/v1/options/contracts/",
        underlying_ticker="SPY",
        expired="true",
        **{"expiration_date.gte": "2025-11-20", "expiration_date.lte": LAST.isoformat()},
        limit=1000,
    )
    assert [c.ticker for c in expired] == [w["ticker"] for w in want] and expired
    assert all("2025-11-20" <= c.expiration_date < "2025-12-03" for c in expired)
    detail = client.get_options_contract(listed[0].ticker, as_of=DAY.isoformat())
    assert (detail.ticker, detail.strike_price, detail.expiration_date) == (
        listed[0].ticker,
        listed[0].strike_price,
        listed[0].expiration_date,
    )


# -- reference, indicators, stock snapshots, market status --------------------------------------------


def test_tickers_list_and_details_equal_v1(client: RESTClient, http: httpx.Client, server: RunningServer) -> None:
    tickers = list(client.list_tickers(limit=2))
    want = v1_all(http, server, "/v1/stocks/tickers/", limit=2)
    assert [t.ticker for t in tickers] == [w["ticker"] for w in want] and len(tickers) >= 4
    assert [t.name for t in tickers] == [w["name"] for w in want]
    raw = http.get("/v3/reference/tickers", params={"limit": 2}, headers=auth(server.key("expert"))).json()
    assert raw["count"] == 2
    before = client.get_ticker_details("QQQ", date="2025-11-25")
    after = client.get_ticker_details("QQQ", date="2025-11-26")
    assert before.name == v1(http, server, "/v1/stocks/tickers/QQQ/", date="2025-11-25")["results"]["name"]
    assert after.name == "Invesco QQQ ETF" != before.name
    assert after.market_cap == v1(http, server, "/v1/stocks/tickers/QQQ/", date="2025-11-26")["results"]["market_cap"]
    types = client.get_ticker_types(asset_class="stocks")
    assert [t.code for t in types] == [
        w["code"] for w in v1(http, server, "/v1/stocks/tickers/types/", asset_class="stocks")["results"]
    ]
    related = client.get_related_companies("AAPL")
    assert [r.ticker for r in related] == [
        w["ticker"] for w in v1(http, server, "/v1/stocks/tickers/AAPL/related/")["results"]
    ]
    assert related


@pytest.mark.parametrize("kind", ["sma", "ema", "rsi", "macd"])
def test_indicators_equal_v1(
    kind: str, client: RESTClient, http: httpx.Client, server: RunningServer, busiest: str
) -> None:
    method = getattr(client, f"get_{kind}")
    kwargs: dict[str, Any] = {"timespan": "day", "limit": 20}
    if kind != "macd":
        kwargs["window"] = 5
    else:
        kwargs.update(short_window=3, long_window=6, signal_window=2)
    got = method("SPY", **kwargs)
    wire = {k: v for k, v in kwargs.items()}
    want = v1(http, server, f"/v1/stocks/indicators/{kind}/SPY/", **wire)["results"]["values"]
    assert [v.timestamp for v in got.values] == [w["timestamp"] for w in want] and len(want) == 20
    assert [v.value for v in got.values] == [w["value"] for w in want]
    if kind == "macd":
        assert [v.signal for v in got.values] == [w["signal"] for w in want]
    minute = method(busiest, timespan="minute", timestamp_gte=DAY.isoformat(), timestamp_lt=NEXT.isoformat(), limit=5)
    want = v1(
        http,
        server,
        f"/v1/options/indicators/{kind}/{busiest}/",
        timespan="minute",
        **{"timestamp.gte": DAY.isoformat(), "timestamp.lt": NEXT.isoformat()},
        limit=5,
    )["results"]["values"]
    assert [v.value for v in minute.values] == [w["value"] for w in want]


def test_stock_snapshots_equal_v1(client: RESTClient, http: httpx.Client, server: RunningServer) -> None:
    with server.at(MID_SESSION):
        snaps = client.get_snapshot_all("stocks", tickers=["SPY", "AAPL"])
        want = v1(http, server, "/v1/stocks/snapshot/", tickers="SPY,AAPL")["tickers"]
        one = client.get_snapshot_ticker("stocks", "NVDA")
        want_one = v1(http, server, "/v1/stocks/snapshot/NVDA/")["results"]
        gainers = client.get_snapshot_direction("stocks", "gainers")
        losers = client.get_snapshot_direction("stocks", "losers")
        want_g = v1(http, server, "/v1/stocks/snapshot/movers/gainers/")["tickers"]
        want_l = v1(http, server, "/v1/stocks/snapshot/movers/losers/")["tickers"]
    assert [s.ticker for s in snaps] == [w["ticker"] for w in want] == ["SPY", "AAPL"]
    assert [s.last_trade.price for s in snaps] == [w["lastTrade"]["p"] for w in want]
    assert [s.prev_day.close for s in snaps] == [w["prevDay"]["c"] for w in want]
    assert (one.ticker, one.day.volume, one.todays_change_percent) == (
        "NVDA",
        want_one["day"]["v"],
        want_one["todaysChangePerc"],
    )
    assert [s.ticker for s in gainers] == [w["ticker"] for w in want_g]
    assert [s.ticker for s in losers] == [w["ticker"] for w in want_l]
    assert len(gainers) + len(losers) >= 1


def test_market_status_follows_the_calendar(client: RESTClient, server: RunningServer) -> None:
    now = client.get_market_status()
    assert (now.market, now.early_hours, now.after_hours) == ("open", False, False)
    assert now.server_time == "2025-12-03T10:00:00-05:00"
    assert (now.exchanges.nyse, now.exchanges.nasdaq) == ("open", "open")
    for at, market, early, after in (
        (et_ns(LAST, 8), "extended-hours", True, False),
        (et_ns(EARLY_CLOSE, 14), "extended-hours", False, True),
        (et_ns(EARLY_CLOSE, 17, 30), "closed", False, False),
        (et_ns(THANKSGIVING, 11), "closed", False, False),
        (et_ns(dt.date(2025, 11, 29), 11), "closed", False, False),
    ):
        with server.at(at):
            s = client.get_market_status()
        assert (s.market, s.early_hours, s.after_hours) == (market, early, after)


def test_upcoming_holidays_and_early_closes(client: RESTClient) -> None:
    days = client.get_market_holidays()
    assert {d.exchange for d in days} == {"NYSE", "NASDAQ", "OTC"}
    nyse = [d for d in days if d.exchange == "NYSE"]
    first = nyse[0]
    assert (first.date, first.status, first.name) == ("2025-12-24", "early-close", "Christmas Eve")
    assert (first.open, first.close) == ("2025-12-24T14:30:00.000Z", "2025-12-24T18:00:00.000Z")
    assert (nyse[1].date, nyse[1].status, nyse[1].name) == ("2025-12-25", "closed", "Christmas")
    cal = xnys()
    closed = {dt.date.fromisoformat(d.date) for d in nyse if d.status == "closed"}
    span = [dt.date(2025, 12, 3) + dt.timedelta(days=i) for i in range(366)]
    assert closed == {d for d in span if d.weekday() < 5 and not cal.is_session(d)}
    assert all(d.open is None and d.close is None for d in nyse if d.status == "closed")
