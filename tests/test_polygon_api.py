"""The Polygon/Massive dialect on the wire: authentication habits, product and plan gates, ``next_url``,
ticker spellings, Polygon's "no data" answers and errors, as cutebacktests and the Massive client send them."""

from __future__ import annotations

import collections
import datetime as dt
import urllib.parse
from pathlib import Path
from typing import Any

import httpx
import pytest

from cutemarkets_server.market.timestamps import NS_PER_MIN, et_midnight_ns, et_ns

from conftest import RunningServer, auth
from lakeread import query

DAY = dt.date(2025, 11, 25)
NEXT = dt.date(2025, 11, 26)
LAST = dt.date(2025, 12, 2)
THANKSGIVING = dt.date(2025, 11, 27)
MID_SESSION = et_ns(LAST, 14, 0)
ABSENT_OPTION = "O:SPY251125C09990000"  # well formed, never listed


@pytest.fixture(scope="module")
def lake(market_dir: Path) -> Path:
    return market_dir / "lake"


@pytest.fixture(scope="module")
def contract(lake: Path) -> str:
    """A busy SPY contract on DAY."""
    rows = query(lake, "option_quotes", "ticker LIKE 'O:SPY2511%'", days=[DAY])
    return collections.Counter(r["ticker"] for r in rows).most_common(1)[0][0]


def with_key(server: RunningServer, key: str = "expert", **params: Any) -> dict[str, Any]:
    """cutebacktests' habit: the key as ``apiKey`` next to the other query parameters, no header."""
    return {**params, "apiKey": server.key(key)}


def get(http: httpx.Client, server: RunningServer, path: str, key: str = "expert", **params: Any) -> httpx.Response:
    return http.get(path, params=with_key(server, key, **params))


def ok(http: httpx.Client, server: RunningServer, path: str, key: str = "expert", **params: Any) -> Any:
    r = get(http, server, path, key, **params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    return r.json()


def with_api_key(url: str, server: RunningServer) -> str:
    """``url`` with ``apiKey`` appended to its query (what ``requests`` does with ``params``)."""
    return url + ("&" if "?" in url else "?") + urllib.parse.urlencode({"apiKey": server.key("expert")})


def follow(http: httpx.Client, server: RunningServer, body: dict[str, Any]) -> list[dict[str, Any]]:
    """Every row, requesting each ``next_url`` verbatim with ``apiKey`` appended (as cutebacktests does)."""
    rows = list(body["results"])
    seen: set[str] = set()
    while body.get("next_url"):
        url = body["next_url"]
        assert url.startswith(server.base_url + "/") and "cursor=" in url and url not in seen
        assert "apikey" not in url.lower() and server.key("expert") not in url
        seen.add(url)
        r = http.get(with_api_key(url, server))
        assert r.status_code == 200, r.text
        body = r.json()
        rows += body["results"]
    return rows


def error_code(r: httpx.Response, status: int) -> str:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["status"] == "ERROR" and body["request_id"].startswith("cm_") and body["error"]["message"]
    return body["error"]["code"]


# -- authentication ----------------------------------------------------------------------------------


def test_key_as_query_parameter_header_or_repeated(http: httpx.Client, server: RunningServer) -> None:
    path = "/v2/aggs/ticker/SPY/prev"
    key = server.key("expert")
    assert http.get(path, params={"apiKey": key}).status_code == 200
    assert http.get(path, params={"api_key": key}).status_code == 200
    assert http.get(path, headers=auth(key)).status_code == 200
    assert http.get(f"{path}?apiKey={key}&apiKey={key}").status_code == 200
    assert error_code(http.get(path), 401) == "unauthorized"
    assert error_code(http.get(path, params={"apiKey": "cm_nope"}), 401) == "unauthorized"


def test_products_follow_the_ticker_prefix(http: httpx.Client, server: RunningServer, contract: str) -> None:
    aggs = f"/v2/aggs/ticker/{{}}/range/1/day/{DAY}/{NEXT}"
    assert error_code(get(http, server, aggs.format("SPY"), "options_only"), 403) == "forbidden"
    assert get(http, server, aggs.format("SPY"), "stocks_only").status_code == 200
    assert error_code(get(http, server, aggs.format(contract), "stocks_only"), 403) == "forbidden"
    assert get(http, server, aggs.format(contract), "options_only").status_code == 200
    for path in (f"/v3/trades/{contract}", "/v3/snapshot/options/SPY"):
        assert error_code(get(http, server, path, "stocks_only"), 403) == "forbidden"
    assert get(http, server, "/v3/reference/options/contracts", "stocks_only").status_code == 200  # reference data
    for path in (f"/v2/aggs/grouped/locale/us/market/stocks/{DAY}", "/v2/snapshot/locale/us/markets/stocks/tickers"):
        assert error_code(get(http, server, path, "options_only"), 403) == "forbidden"
    for key in ("options_only", "stocks_only", "paper_only"):
        assert get(http, server, "/v3/reference/tickers", key).status_code == 200
        assert get(http, server, "/v1/marketstatus/now", key).status_code == 200


def test_quotes_need_an_expert_plan(http: httpx.Client, server: RunningServer, contract: str) -> None:
    for path in (f"/v3/quotes/{contract}", "/v3/quotes/SPY", "/v2/last/nbbo/SPY"):
        assert error_code(get(http, server, path, "developer"), 403) == "forbidden"
        assert get(http, server, path, "commercial").status_code == 200
    assert get(http, server, f"/v3/trades/{contract}", "developer").status_code == 200


def test_delayed_plans_see_fifteen_minutes_back(http: httpx.Client, server: RunningServer) -> None:
    with server.at(MID_SESSION):
        live = ok(http, server, "/v2/last/trade/SPY")["results"]["t"]
        delayed = ok(http, server, "/v2/last/trade/SPY", "developer")["results"]["t"]
        bars = ok(http, server, f"/v2/aggs/ticker/SPY/range/1/minute/{LAST}/{LAST}", "developer")["results"]
    assert delayed <= MID_SESSION - 15 * NS_PER_MIN < live <= MID_SESSION
    assert bars[-1]["t"] * 1_000_000 + NS_PER_MIN <= MID_SESSION - 15 * NS_PER_MIN + 1


def test_lookback_of_the_plan(http: httpx.Client, server: RunningServer) -> None:
    path = "/v2/aggs/ticker/SPY/range/1/day/2020-01-02/2020-01-10"
    assert error_code(get(http, server, path, "free"), 403) == "lookback_exceeded"
    assert ok(http, server, path)["results"] == []


# -- pagination ---------------------------------------------------------------------------------------


def test_next_url_is_absolute_self_contained_and_keyless(
    http: httpx.Client, server: RunningServer, lake: Path, contract: str
) -> None:
    lo, hi = et_midnight_ns(DAY), et_midnight_ns(NEXT)
    first = ok(
        http, server, f"/v3/quotes/{contract}", **{"timestamp.gte": lo, "timestamp.lt": hi}, order="asc", limit=100
    )
    rows = follow(http, server, first)
    lake_rows = query(lake, "option_quotes", "ticker = ?", [contract], days=[DAY])
    assert [r["sip_timestamp"] for r in rows] == sorted(r["sip_timestamp"] for r in lake_rows)
    assert len(rows) > 100
    # ``page`` works as well as ``cursor``
    token = urllib.parse.parse_qs(urllib.parse.urlparse(first["next_url"]).query)["cursor"][0]
    again = ok(http, server, f"/v3/quotes/{contract}", page=token)
    assert again["results"][0] == rows[100]


def test_v1_listings_still_page_with_page(http: httpx.Client, server: RunningServer) -> None:
    body = ok(http, server, "/v1/options/contracts/", underlying_ticker="SPY", limit=1)
    assert "/v1/options/contracts/?page=" in body["next_url"]


def test_aggregate_pages_hold_whole_bars(http: httpx.Client, server: RunningServer, lake: Path) -> None:
    first = ok(http, server, f"/v2/aggs/ticker/SPY/range/5/minute/{DAY}/{NEXT}", limit=333)
    bars = follow(http, server, first)
    minutes = query(lake, "stock_minute_aggs", "ticker = 'SPY'", days=[DAY, NEXT])
    starts = sorted({m["window_start"] // (5 * NS_PER_MIN) * 5 * NS_PER_MIN // 1_000_000 for m in minutes})
    assert [b["t"] for b in bars] == starts
    assert sum(b["v"] for b in bars) == pytest.approx(sum(m["volume"] for m in minutes))


def test_chain_without_limit_pages_by_ten(http: httpx.Client, server: RunningServer) -> None:
    body = ok(http, server, "/v3/snapshot/options/SPY", as_of=DAY.isoformat(), contract_type="call")
    assert len(body["results"]) == 10 and body["next_url"]
    assert "as_of" not in body["next_url"] and "contract_type" not in body["next_url"]
    rows = follow(http, server, body)
    tickers = [r["details"]["ticker"] for r in rows]
    assert tickers == sorted(set(tickers)) and all(r["details"]["contract_type"] == "call" for r in rows)
    clamped = ok(http, server, "/v3/snapshot/options/SPY", as_of=DAY.isoformat(), limit=100000)
    assert len(clamped["results"]) == 250


# -- tickers ------------------------------------------------------------------------------------------


def test_option_ticker_spellings_resolve_alike(http: httpx.Client, server: RunningServer, contract: str) -> None:
    encoded, bare = contract.replace(":", "%3A"), contract[2:]
    for template in (
        "/v2/aggs/ticker/{}/range/1/minute/" + f"{DAY}/{NEXT}",
        "/v3/quotes/{}",
        "/v3/trades/{}",
        "/v3/snapshot/options/SPY/{}",
        "/v3/reference/options/contracts/{}",
    ):
        answers = []
        for spelling in (contract, encoded, bare):
            body = ok(http, server, template.format(spelling), as_of=DAY.isoformat(), limit=5)
            body.pop("request_id")
            if "next_url" in body:
                body["next_url"] = urllib.parse.urlparse(body["next_url"]).query
            answers.append(body)
        assert answers[0] == answers[1] == answers[2], template
        assert answers[0]["results"]


def test_no_data_is_200_with_empty_results(http: httpx.Client, server: RunningServer) -> None:
    for ticker in ("ZZZZ", "I:VIX1D", "VIXY", ABSENT_OPTION):
        body = ok(http, server, f"/v2/aggs/ticker/{ticker}/range/1/minute/{DAY}/{NEXT}", adjusted="true", limit=50000)
        assert body["results"] == [] and body["resultsCount"] == 0 and "next_url" not in body
        prev = ok(http, server, f"/v2/aggs/ticker/{ticker}/prev")
        assert "results" not in prev and prev["resultsCount"] == 0
    for path in ("/v3/quotes/{}", "/v3/trades/{}"):
        body = ok(http, server, path.format(ABSENT_OPTION), **{"timestamp.gte": "2025-11-25"})
        assert body["results"] == [] and "next_url" not in body
    holiday = ok(http, server, f"/v2/aggs/ticker/SPY/range/1/minute/{THANKSGIVING}/{THANKSGIVING}")
    assert holiday["results"] == [] and "next_url" not in holiday
    lo, hi = et_midnight_ns(THANKSGIVING), et_midnight_ns(THANKSGIVING + dt.timedelta(days=1))
    quiet = ok(http, server, "/v3/quotes/SPY", **{"timestamp.gte": lo, "timestamp.lt": hi}, limit=50000)
    assert quiet["results"] == [] and "next_url" not in quiet
    assert ok(http, server, "/v3/snapshot/options/ZZZZ", as_of=DAY.isoformat())["results"] == []
    assert ok(http, server, "/v2/reference/news", ticker="SPY")["results"] == []
    assert error_code(get(http, server, f"/v2/last/trade/{ABSENT_OPTION}"), 404) == "not_found"
    assert error_code(get(http, server, f"/v3/snapshot/options/SPY/{ABSENT_OPTION}"), 404) == "not_found"


@pytest.mark.parametrize(
    ("path", "params"),
    [
        (f"/v2/aggs/ticker/SPY/range/1/fortnight/{DAY}/{NEXT}", {}),
        (f"/v2/aggs/ticker/SPY/range/0/day/{DAY}/{NEXT}", {}),
        (f"/v2/aggs/ticker/ZZZZ/range/x/day/{DAY}/{NEXT}", {}),
        (f"/v2/aggs/ticker/SPY/range/1/day/2025-13-01/{NEXT}", {}),
        (f"/v2/aggs/ticker/SPY/range/1/day/{DAY}/{NEXT}", {"limit": "lots"}),
        (f"/v2/aggs/ticker/SPY/range/1/day/{DAY}/{NEXT}", {"adjusted": "maybe"}),
        ("/v2/aggs/ticker/O:SPYX/range/1/day/2025-11-25/2025-11-26", {}),
        ("/v2/aggs/ticker/$$$/prev", {}),
        ("/v3/quotes/SPY", {"timestamp.gte": "yesterday"}),
        ("/v3/trades/SPY", {"order": "sideways"}),
        ("/v3/trades/SPY", {"cursor": "forged"}),
        ("/v3/snapshot/options/SPY", {"as_of": "soon"}),
        ("/v3/snapshot/options/SPY", {"strike_price": "high"}),
        ("/v3/reference/options/contracts", {"expired": "perhaps"}),
        ("/v3/reference/tickers", {"limit": "0"}),
        ("/v2/snapshot/locale/us/markets/stocks/sideways", {}),
        ("/v1/open-close/SPY/not-a-day", {}),
        ("/v1/indicators/sma/SPY", {"window": "wide"}),
    ],
)
def test_bad_input_is_400_never_422(http: httpx.Client, server: RunningServer, path: str, params: dict) -> None:
    assert error_code(get(http, server, path, **params), 400) in ("bad_request", "invalid_page_token")


def test_massive_client_raises_cleanly_on_errors(server: RunningServer) -> None:
    massive = pytest.importorskip("massive")
    client = massive.RESTClient(api_key=server.key("developer"), base=server.base_url, retries=0)
    with pytest.raises(massive.exceptions.BadResponse, match="forbidden"):
        list(client.list_quotes("SPY", limit=1))
    with pytest.raises(massive.exceptions.BadResponse, match="bad_request"):
        client.get_aggs("SPY", 1, "fortnight", "2025-11-25", "2025-11-26")
    bad = massive.RESTClient(api_key="cm_nope", base=server.base_url, retries=0)
    with pytest.raises(massive.exceptions.BadResponse, match="unauthorized"):
        bad.get_previous_close_agg("SPY")


# -- units and filters --------------------------------------------------------------------------------


def test_path_bounds_as_dates_or_milliseconds(http: httpx.Client, server: RunningServer) -> None:
    by_date = ok(http, server, f"/v2/aggs/ticker/SPY/range/1/day/{DAY}/{NEXT}")["results"]
    lo, hi = et_midnight_ns(DAY) // 1_000_000, et_midnight_ns(NEXT + dt.timedelta(days=1)) // 1_000_000 - 1
    by_ms = ok(http, server, f"/v2/aggs/ticker/SPY/range/1/day/{lo}/{hi}")["results"]
    assert by_date == by_ms and [b["t"] for b in by_date] == [lo, et_midnight_ns(NEXT) // 1_000_000]
    trailing = ok(http, server, f"/v2/aggs/ticker/SPY/range/1/day/{DAY}/{NEXT}/")["results"]
    assert trailing == by_date


def test_float_computed_nanosecond_filters_and_the_last_quote_probe(
    http: httpx.Client, server: RunningServer, lake: Path, contract: str
) -> None:
    """cutebacktests computes filters as ``int(seconds * 1e9)`` and probes with ``order=desc&limit=1``."""
    entry = dt.datetime.combine(DAY, dt.time(15, 37, 12, 345678), dt.UTC)
    start = int(entry.timestamp() * 1_000_000_000)
    end = int(dt.datetime.combine(NEXT, dt.time(0), dt.UTC).timestamp() * 1_000_000_000)
    rows = query(lake, "option_quotes", "ticker = ?", [contract], days=[DAY])
    after = sorted((r for r in rows if start <= r["sip_timestamp"] < end), key=lambda r: r["sip_timestamp"])
    before = max((r for r in rows if r["sip_timestamp"] < start), key=lambda r: r["sip_timestamp"])
    first = ok(
        http,
        server,
        f"/v3/quotes/{contract}",
        **{"timestamp.gte": start, "timestamp.lt": end},
        order="asc",
        sort="timestamp",
        limit=1,
    )
    assert first["results"][0]["sip_timestamp"] == after[0]["sip_timestamp"]
    assert first["results"][0]["ask_price"] == after[0]["ask_price"]
    day_start = int(dt.datetime.combine(DAY, dt.time(0), dt.UTC).timestamp() * 1_000_000_000)
    last = ok(
        http,
        server,
        f"/v3/quotes/{contract}",
        **{"timestamp.gte": day_start, "timestamp.lt": start},
        order="desc",
        sort="timestamp",
        limit=1,
    )
    assert last["results"][0]["sip_timestamp"] == before["sip_timestamp"]
    assert last["results"][0]["bid_price"] == before["bid_price"]


def test_large_pages_are_clamped_not_refused(http: httpx.Client, server: RunningServer, lake: Path) -> None:
    body = ok(http, server, "/v3/quotes/SPY", timestamp=DAY.isoformat(), order="asc", limit=10**6)
    rows = query(lake, "stock_quotes", "ticker = 'SPY'", days=[DAY])
    assert len(body["results"]) == min(len(rows), 50000)
    assert ok(http, server, f"/v2/aggs/ticker/SPY/range/1/minute/{DAY}/{NEXT}", limit=10**6)["queryCount"] > 0


def test_indicators_carry_the_polygon_underlying_url(http: httpx.Client, server: RunningServer) -> None:
    body = ok(http, server, "/v1/indicators/sma/SPY", timespan="day", window=5, limit=5000)["results"]
    url = body["underlying"]["url"]
    assert (
        url.startswith(server.base_url + "/v2/aggs/ticker/SPY/range/1/day/") and "aggregates" not in body["underlying"]
    )
    bars = http.get(with_api_key(url, server)).json()["results"]
    assert bars and len(body["values"]) == len(bars) - 4
    product = ok(http, server, "/v1/stocks/indicators/sma/SPY/", timespan="day", window=5)["results"]
    assert "underlying" not in product


def test_reference_shapes_and_openapi(http: httpx.Client, server: RunningServer) -> None:
    related = ok(http, server, "/v1/related-companies/AAPL")
    assert related["ticker"] == "AAPL" and all("ticker" in r for r in related["results"])
    single = ok(http, server, "/v2/snapshot/locale/us/markets/stocks/tickers/SPY")
    assert single["ticker"]["ticker"] == "SPY" and "results" not in single
    holidays = ok(http, server, "/v1/marketstatus/upcoming")
    assert isinstance(holidays, list) and holidays[0]["exchange"] == "NYSE"
    paths = http.get("/openapi.json").json()["paths"]
    for route in (
        "/v2/aggs/ticker/{ticker}/range/{multiplier}/{timespan}/{from_date}/{to_date}",
        "/v3/quotes/{ticker}",
        "/v3/snapshot/options/{underlying}/{option_contract}",
        "/v3/reference/options/contracts",
        "/v1/marketstatus/now",
    ):
        assert route in paths, route


def test_descending_aggregate_pages_match_ascending(http: httpx.Client, server: RunningServer) -> None:
    path = f"/v2/aggs/ticker/SPY/range/1/minute/{DAY}/{NEXT}"
    up = follow(http, server, ok(http, server, path, limit=300))
    down = follow(http, server, ok(http, server, path, limit=300, sort="desc"))
    assert [b["t"] for b in down] == [b["t"] for b in reversed(up)]


def test_a_reversed_range_is_an_empty_answer(http: httpx.Client, server: RunningServer) -> None:
    """``from`` after ``to`` selects no bars: 200 with no results (a cross-parameter rule that no OpenAPI
    schema can state is not turned into an error the document could not announce)."""
    body = ok(http, server, f"/v2/aggs/ticker/SPY/range/1/day/{NEXT}/{DAY}")
    assert body["resultsCount"] == 0 and body["results"] == [] and "next_url" not in body


def test_second_bars_built_from_trades_roll_up_to_the_stored_minute_bars(
    http: httpx.Client, server: RunningServer, contract: str
) -> None:
    """Second bars are built from the trades when asked for; grouped by minute they give the minute bars the
    ingest stored (open, close, high, low, volume and trade count)."""
    seconds = ok(http, server, f"/v2/aggs/ticker/{contract}/range/1/second/{DAY}/{DAY}", limit=50000)
    assert "next_url" not in seconds
    minutes = ok(http, server, f"/v2/aggs/ticker/{contract}/range/1/minute/{DAY}/{DAY}", limit=50000)["results"]
    by_minute: dict[int, list[dict[str, Any]]] = {}
    for bar in seconds["results"]:
        by_minute.setdefault(bar["t"] // 60_000 * 60_000, []).append(bar)
    assert sorted(by_minute) == [m["t"] for m in minutes] and len(seconds["results"]) > len(minutes) > 10
    for m in minutes:
        group = by_minute[m["t"]]
        assert group[0]["o"] == m["o"] and group[-1]["c"] == m["c"], m
        assert max(b["h"] for b in group) == m["h"] and min(b["l"] for b in group) == m["l"], m
        assert sum(b["v"] for b in group) == m["v"] and sum(b["n"] for b in group) == m["n"], m
