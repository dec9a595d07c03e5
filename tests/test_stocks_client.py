"""The stocks routes called the way the official clients call them, with raw httpx.

The released Python client (0.3.2) has no stocks methods; the newer one (``client.stocks.*``) and the
TypeScript client do. Their request habits are reproduced here: path quoting, how parameters are
serialised, how single objects are unwrapped, how ``next_url`` is followed, and the JSON types their
models accept (integers as integers, ids as strings, lists never ``null``).
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from cutemarkets_server.market.timestamps import et_ns

from conftest import RunningServer

MID_SESSION = et_ns(dt.date(2025, 12, 2), 14, 0)


def quote_path(value: str) -> str:
    """The newer Python client's path quoting: ``:`` kept, everything else percent-encoded."""
    return urllib.parse.quote(str(value), safe=":")


def encode_uri_component(value: str) -> str:
    """JavaScript's ``encodeURIComponent`` (``:`` becomes ``%3A``)."""
    return urllib.parse.quote(str(value), safe="-_.!~*'()")


class PythonMain:
    """Requests as the newer Python client sends them (no redirects, None parameters dropped)."""

    def __init__(self, server: RunningServer) -> None:
        self.http = httpx.Client(
            base_url=server.base_url,
            follow_redirects=False,
            timeout=30,
            headers={
                "Accept": "application/json",
                "User-Agent": "cutemarkets-python/0.4.0",
                "Authorization": f"Bearer {server.key('stocks_only')}",
            },
        )

    def get(self, path: str, **params: Any) -> Any:
        r = self.http.get(path, params={k: v for k, v in params.items() if v is not None})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("application/json")
        return r.json()

    def iter_all(self, path: str, **params: Any) -> Iterator[dict]:
        """``Page.iter_all``: rows of ``results``, then ``next_url`` requested as-is with the same key."""
        body = self.get(path, **params)
        yield from body["results"]
        while body.get("next_url"):
            r = self.http.get(body["next_url"])
            assert r.status_code == 200, r.text
            body = r.json()
            yield from body["results"]


class TypeScript:
    """Requests as the TypeScript client builds them (``new URL``, ``encodeURIComponent``, ISO dates)."""

    def __init__(self, server: RunningServer) -> None:
        self.base = server.base_url
        self.http = httpx.Client(timeout=30, headers={"Authorization": f"Bearer {server.key('stocks_only')}"})

    @staticmethod
    def serialise(params: dict[str, Any]) -> dict[str, str]:
        out = {}
        for key, value in params.items():
            if value is None or value == "":
                continue
            if isinstance(value, dt.datetime):
                text = value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
            elif isinstance(value, bool):
                text = "true" if value else "false"
            else:
                text = str(value)
            for op in ("gte", "gt", "lte", "lt"):
                if key.endswith("_" + op):
                    key = key[: -len(op) - 1] + "." + op
                    break
            out[key] = text
        return out

    def request(self, path: str, **params: Any) -> Any:
        url = httpx.URL(self.base + path).copy_merge_params(self.serialise(params))
        r = self.http.get(url)
        body = r.json()  # the TypeScript client parses every body as JSON
        assert r.is_success, body
        return body

    def paginate(self, path: str, **params: Any) -> list[dict]:
        body = self.request(path, **params)
        rows = list(body["results"])
        while body.get("next_url"):
            url = urllib.parse.urlsplit(body["next_url"])  # `new URL(next_url)` throws on a relative URL
            assert url.scheme in ("http", "https") and url.netloc
            r = self.http.get(body["next_url"])
            body = r.json()
            rows += body["results"]
        return rows


@pytest.fixture(scope="module")
def py(server: RunningServer) -> Iterator[PythonMain]:
    client = PythonMain(server)
    yield client
    client.http.close()


@pytest.fixture(scope="module")
def ts(server: RunningServer) -> Iterator[TypeScript]:
    client = TypeScript(server)
    yield client
    client.http.close()


def is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def is_num(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


# -- the newer Python client ------------------------------------------------------------------------------


def test_python_snapshots(py: PythonMain, server: RunningServer) -> None:
    with server.at(MID_SESSION):
        everything = py.get("/v1/stocks/snapshot/", tickers="AAPL,NVDA")
        one = py.get(f"/v1/stocks/snapshot/{quote_path('AAPL')}/")
        movers = py.get(f"/v1/stocks/snapshot/movers/{quote_path('gainers')}/")
    # StockSnapshotResponse: ``tickers`` and ``results`` must be lists when present, ``ticker`` an object.
    assert isinstance(everything["tickers"], list) and "results" not in everything and "ticker" not in everything
    assert isinstance(movers["tickers"], list)
    snapshot = one["results"]  # ``_snapshot_from_response`` takes ``results`` when it is an object
    assert isinstance(snapshot, dict) and snapshot["ticker"] == "AAPL" and is_int(snapshot["updated"])
    for row in [*everything["tickers"], snapshot, *movers["tickers"]]:
        assert is_int(row["lastTrade"]["t"]) and isinstance(row["lastTrade"]["i"], str)
        assert all(is_int(c) for c in row["lastTrade"]["c"])
        assert is_int(row["lastQuote"]["t"]) and is_int(row["min"]["t"]) and is_int(row["min"]["av"])
        assert all(is_num(row[part][k]) for part in ("day", "prevDay", "min") for k in ("o", "h", "l", "c", "v", "vw"))


def test_python_reference(py: PythonMain) -> None:
    listed = list(py.iter_all("/v1/stocks/tickers/", limit=1, market="stocks"))
    assert [t["ticker"] for t in listed] == ["AAPL", "NVDA", "QQQ", "SPY"]
    for t in listed:
        assert all(isinstance(t[k], str) for k in ("ticker", "name", "market", "locale", "type", "last_updated_utc"))
        assert t["active"] is True
    detail = py.get(f"/v1/stocks/tickers/{quote_path('QQQ')}/", date="2025-11-25")["results"]
    assert detail["name"] == "Invesco QQQ Trust, Series 1" and is_num(detail["market_cap"])
    types = list(py.iter_all("/v1/stocks/tickers/types/"))
    assert all(isinstance(v, str) for t in types for v in t.values())
    related = list(py.iter_all(f"/v1/stocks/tickers/{quote_path('AAPL')}/related/"))
    assert related and all(isinstance(r["ticker"], str) for r in related)


def test_python_ticks(py: PythonMain) -> None:
    trades = list(py.iter_all("/v1/stocks/trades/SPY/", timestamp="2025-11-28", limit=1000))
    assert len(trades) > 1000 and len({(t["sip_timestamp"], t["sequence_number"]) for t in trades}) == len(trades)
    for t in trades[:50]:
        assert isinstance(t["id"], str) and all(is_int(t[k]) for k in ("sip_timestamp", "exchange", "tape"))
    last = py.get("/v1/stocks/trades/SPY/last/")["results"]
    assert last["T"] == "SPY" and isinstance(last["i"], str) and is_int(last["t"])
    quote = py.get("/v1/stocks/quotes/SPY/last/")["results"]
    # StockLastQuote properties: bid_exchange = x, ask_exchange = y.
    page = py.get("/v1/stocks/quotes/SPY/", limit=1)["results"][0]
    assert (quote["x"], quote["y"]) == (page["bid_exchange"], page["ask_exchange"])
    assert (quote["p"], quote["P"], quote["t"]) == (page["bid_price"], page["ask_price"], page["sip_timestamp"])


def test_python_aggregates(py: PythonMain) -> None:
    grouped = list(py.iter_all("/v1/stocks/aggs/grouped/2025-12-01/"))
    assert {g["T"] for g in grouped} == {"AAPL", "NVDA", "QQQ", "SPY"}
    assert all(is_int(g["t"]) and is_int(g["n"]) and isinstance(g["T"], str) for g in grouped)
    path = f"/v1/stocks/aggs/{quote_path('NVDA')}/1/{quote_path('day')}/2025-11-20/2025-12-02/"
    paged = list(py.iter_all(path, adjusted=True, limit=3))
    whole = py.get(path, adjusted=True)["results"]
    assert paged == whole and len(whole) == 8
    prev = py.get("/v1/stocks/aggs/NVDA/prev/")
    assert isinstance(prev["results"], list) and prev["results"][0]["T"] == "NVDA"  # ``previous`` takes results[0]
    oc = py.get("/v1/stocks/open-close/NVDA/2025-12-01/")
    assert "results" not in oc and is_num(oc["open"]) and oc["symbol"] == "NVDA"  # parsed flat
    sma = py.get("/v1/stocks/indicators/sma/NVDA/", window=3, limit=2)
    assert isinstance(sma["results"]["values"], list) and len(sma["results"]["values"]) == 2


# -- the TypeScript client --------------------------------------------------------------------------------


def test_typescript_stocks_quickstart(ts: TypeScript, server: RunningServer) -> None:
    with server.at(MID_SESSION):
        snapshots = ts.request("/v1/stocks/snapshot/", tickers="AAPL,MSFT,NVDA")
    rows = snapshots.get("tickers") or snapshots.get("results")
    assert [r["ticker"] for r in rows] == ["AAPL", "NVDA"]  # the example reads ``tickers`` first
    for r in rows:
        last, prev = (r.get("last_trade") or r["lastTrade"])["price"], (r.get("prev_day") or r["prevDay"])["close"]
        assert is_num(last) and is_num(prev) and prev > 0
        assert r["todaysChangePerc"] == pytest.approx((last - prev) / prev * 100, abs=1e-6)
    bars = ts.request(
        f"/v1/stocks/aggs/{encode_uri_component('AAPL')}/1/{encode_uri_component('day')}/2025-11-01/2025-11-30/"
    )
    assert len(bars["results"]) == 19 and all(is_int(b["t"]) for b in bars["results"])


def test_typescript_reference_and_dates(ts: TypeScript) -> None:
    midnight = dt.datetime(2025, 11, 25, tzinfo=dt.UTC)  # a JavaScript Date made from "2025-11-25"
    detail = ts.request(f"/v1/stocks/tickers/{encode_uri_component('QQQ')}/", date=midnight)["results"]
    assert detail["name"] == "Invesco QQQ Trust, Series 1"
    ranged = ts.paginate("/v1/stocks/tickers/", ticker_gte="NVDA", limit=1, active=True)
    assert [r["ticker"] for r in ranged] == ["NVDA", "QQQ", "SPY"]
    single = ts.request("/v1/stocks/snapshot/SPY/")
    assert isinstance(single["results"], dict)  # ``snapshots.get`` returns ``results`` when it is an object


def test_typescript_ticks_and_indicator_alias(ts: TypeScript, server: RunningServer) -> None:
    start = dt.datetime(2025, 11, 28, 15, 0, tzinfo=dt.UTC)  # 10:00 ET
    quotes = ts.paginate(
        "/v1/stocks/quotes/AAPL/", timestamp_gte=start, timestamp_lt=start + dt.timedelta(minutes=20), limit=50
    )
    assert quotes and all(start.timestamp() * 1e9 <= q["sip_timestamp"] for q in quotes)
    assert len({q["sip_timestamp"] for q in quotes}) > 50
    options = httpx.get(
        f"{server.base_url}/v1/options/contracts/",
        params={"underlying_ticker": "NVDA", "limit": 1},
        headers={"Authorization": f"Bearer {server.key('expert')}"},
    ).json()["results"]
    contract = options[0]["ticker"]
    r = httpx.get(
        f"{server.base_url}/v1/indicators/sma/{encode_uri_component(contract)}/",
        params={"window": 3},
        headers={"Authorization": f"Bearer {server.key('expert')}"},
    )
    assert r.status_code == 200 and isinstance(r.json()["results"]["values"], list)
    assert "%3A" in encode_uri_component(contract)
