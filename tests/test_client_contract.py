"""Contract tests: the official ``cutemarkets-python`` 0.3.2 client, unmodified, against the running server."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from conftest import RunningServer

cutemarkets = pytest.importorskip("cutemarkets")
from cutemarkets import CuteMarkets  # noqa: E402
from cutemarkets.errors import (  # noqa: E402
    AuthenticationError,
    BadRequestError,
    ForbiddenError,
    InvalidPageTokenError,
    LookbackExceededError,
    NotFoundError,
    RateLimitError,
)

TODAY = dt.date(2025, 12, 3)  # the server's clock: the morning after the test market's last session


@pytest.fixture(scope="module")
def client(server: RunningServer) -> Iterator[CuteMarkets]:
    with CuteMarkets(api_key=server.key("expert"), base_url=server.base_url, max_retries=0) as c:
        yield c


def client_for(server: RunningServer, key: str) -> CuteMarkets:
    return CuteMarkets(api_key=key, base_url=server.base_url, max_retries=0)


def test_status(client: CuteMarkets) -> None:
    status = client.status()
    assert status.status == "ok"
    assert set(status.services) >= {"api", "database", "cache"}
    assert status.services["database"].latency_ms is not None


def test_search_and_iter_search_to_the_end(client: CuteMarkets) -> None:
    page = client.tickers.search(query="SPY", limit=2)
    assert page.results[0].symbol == "SPY" and page.results[0].name
    everything = list(client.tickers.iter_search(query="", limit=1))
    assert len(everything) == len({r.symbol for r in everything}) >= 2


def test_expirations_sorted_listed_strings(client: CuteMarkets) -> None:
    exp = client.tickers.expirations("SPY")
    assert exp.ticker == "SPY" and exp.results == sorted(exp.results)
    assert all(dt.date.fromisoformat(d) >= TODAY for d in exp.results)
    assert client.tickers.expirations("ZZZZ").results == []


def test_chain_iterates_every_listed_contract(client: CuteMarkets) -> None:
    rows = list(client.options.iter_chain("SPY", limit=50))
    contracts = list(client.options.contracts.iter_list(underlying_ticker="SPY", limit=1000))
    assert [r.details.ticker for r in rows] == sorted(c.ticker for c in contracts)
    first = rows[0]
    assert first.details.contract_type in ("call", "put") and first.details.shares_per_contract
    assert first.underlying_asset.ticker == "SPY" and first.underlying_asset.price > 0
    with_greeks = [r for r in rows if r.greeks is not None]
    assert with_greeks and all(r.implied_volatility > 0 for r in with_greeks)
    assert any(r.last_quote is not None and r.last_quote.timeframe == "REAL-TIME" for r in rows)


def test_chain_filters_and_sort(client: CuteMarkets) -> None:
    exp = client.tickers.expirations("SPY").results
    page = client.options.chain(
        "SPY",
        contract_type="call",
        expiration_date_gte=exp[0],
        expiration_date_lte=exp[1],
        strike_price_gte=600,
        strike_price_lt=700.0,
        sort="strike_price",
        order="desc",
        limit=250,
    )
    strikes = [r.details.strike_price for r in page.results]
    assert page.results and strikes == sorted(strikes, reverse=True)
    assert all(600 <= s < 700 for s in strikes)
    assert all(
        r.details.contract_type == "call" and exp[0] <= r.details.expiration_date <= exp[1] for r in page.results
    )


def test_snapshot_matches_the_chain_row(client: CuteMarkets) -> None:
    row = next(r for r in client.options.iter_chain("SPY", limit=100) if r.greeks is not None)
    snap = client.options.snapshot("SPY", row.details.ticker)
    assert snap.details.ticker == row.details.ticker
    assert snap.implied_volatility == pytest.approx(row.implied_volatility)
    assert snap.greeks.delta == pytest.approx(row.greeks.delta)
    assert snap.break_even_price == pytest.approx(row.break_even_price)
    with pytest.raises(BadRequestError):
        client.options.snapshot("QQQ", row.details.ticker)
    with pytest.raises(NotFoundError):
        client.options.snapshot("SPY", "O:SPY991231C00001000")
    with pytest.raises(BadRequestError):
        client.options.snapshot("SPY", "O:SPY-NOT-A-TICKER")


def test_contracts_list_get_and_as_of(client: CuteMarkets) -> None:
    page = client.options.contracts.list(underlying_ticker="SPY", as_of="2025-11-21", limit=10)
    assert len(page.results) == 10 and page.next_url
    c = page.results[0]
    got = client.options.contracts.get(c.ticker, as_of="2025-11-21")
    assert got.ticker == c.ticker and got.underlying_ticker == "SPY"
    expired = client.options.contracts.list(underlying_ticker="SPY", expired=True, limit=1000).results
    assert expired and all(dt.date.fromisoformat(e.expiration_date) < TODAY for e in expired)
    # An expired contract is found with an as_of inside its life.
    gone = expired[0]
    assert client.options.contracts.get(gone.ticker, as_of=gone.expiration_date).ticker == gone.ticker


def test_trades_list_iterate_and_last(client: CuteMarkets) -> None:
    row = next(r for r in client.options.iter_chain("SPY", limit=100) if r.last_trade is not None)
    t = row.details.ticker
    trades = list(client.options.trades.iter_list(t, limit=7, order="asc"))
    stamps = [x.sip_timestamp for x in trades]
    assert stamps == sorted(stamps) and len(trades) >= 1
    assert all(isinstance(x.id, str) and x.decimal_size for x in trades)
    last = client.options.trades.last(t)
    assert t == last.T and last.t == max(stamps) and last.p > 0
    day = client.options.trades.list(t, timestamp="2025-12-02", limit=10000, order="asc").results
    assert all(dt.datetime.fromtimestamp(x.sip_timestamp / 1e9, dt.UTC).date() == dt.date(2025, 12, 2) for x in day)


def test_quotes_list_and_iterate(client: CuteMarkets) -> None:
    t = client.options.chain("SPY", limit=1).results[0].details.ticker
    quotes = client.options.quotes.list(t, timestamp_gte="2025-12-02", timestamp_lt="2025-12-03", limit=50)
    assert quotes.results and all(q.bid_price <= q.ask_price for q in quotes.results)
    walked = list(client.options.quotes.iter_list(t, timestamp="2025-12-02", limit=5000))
    assert len(walked) == len({(q.sip_timestamp, q.sequence_number) for q in walked})


def test_aggs_range_prev_open_close(client: CuteMarkets) -> None:
    row = next(r for r in client.options.iter_chain("SPY", limit=100) if r.last_trade is not None)
    t = row.details.ticker
    page = client.options.aggs.range(t, 1, "day", "2025-11-01", "2025-12-02", limit=5000)
    assert page.results and all(isinstance(b.t, int) for b in page.results)
    minute = list(client.options.aggs.iter_range(t, 1, "minute", "2025-11-20", "2025-12-02", limit=50))
    assert minute == sorted(minute, key=lambda b: b.t) and len({b.t for b in minute}) == len(minute)
    prev = client.options.aggs.previous(t)
    assert prev.c is not None and prev.t is not None
    traded_day = dt.datetime.fromtimestamp(page.results[-1].t / 1000, dt.UTC).date()
    oc = client.options.aggs.open_close(t, traded_day)
    assert oc.symbol == t and oc.close == pytest.approx(page.results[-1].c)
    with pytest.raises(NotFoundError):
        client.options.aggs.open_close(t, "2025-11-27")  # Thanksgiving


def test_indicators(client: CuteMarkets) -> None:
    t = "O:" + client.options.chain("SPY", limit=1).results[0].details.ticker[2:]
    sma = client.options.indicators.sma(t, window=2, timespan="day", limit=3, expand_underlying=True)
    assert sma.values is not None and sma.underlying is not None and sma.underlying.url.startswith("http")
    assert client.options.indicators.ema(t, window=2).values is not None
    assert client.options.indicators.rsi(t, window=2).values is not None
    macd = client.options.indicators.macd(t, short_window=2, long_window=3, signal_window=2)
    assert macd.values is not None


def test_errors_map_to_the_client_exceptions(client: CuteMarkets, server: RunningServer) -> None:
    with pytest.raises(InvalidPageTokenError):
        client.options.contracts.list(underlying_ticker="SPY", page="not-a-token")
    with pytest.raises(BadRequestError):
        client.options.aggs.range("O:SPY251219C00600000", 1, "fortnight", "2025-11-01", "2025-12-01")
    with client_for(server, server.key("developer")) as dev:
        t = dev.options.chain("SPY", limit=1).results[0]
        assert t.last_quote is None, "quotes are not part of the Developer plan"
        with pytest.raises(ForbiddenError, match="Expert Plan"):
            dev.options.quotes.list(t.details.ticker)
        with pytest.raises(LookbackExceededError):
            dev.options.contracts.list(underlying_ticker="SPY", as_of="2015-01-01")
    with client_for(server, "cm_" + "f" * 32) as bad, pytest.raises(AuthenticationError):
        bad.options.chain("SPY")
    free_key = server.new_key("free", ("options",), name="client-429")
    with client_for(server, free_key) as free, server.at(server.clock.now_ns() + 7 * 86_400 * 10**9):
        for _ in range(10):
            free.tickers.search(query="S")
        with pytest.raises(RateLimitError):
            free.tickers.search(query="S")
