"""Every parameter is validated into its domain: no input gives a 5xx, every refusal is the error envelope
naming the parameter, and one instant gives one answer whatever its spelling."""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cutemarkets_server.market.timestamps import et_ns
from openapi_kit import Operation, body_validator, operations, problems

from conftest import auth

EDGE_VALUES = [
    "",
    " ",
    "0",
    "-1",
    "1.5",
    "1e400",
    "nan",
    "true",
    "0001-01-01",
    "0001-01-01T00:00:00+05:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59-14:00",
    "2025-02-30",
    "2025-12-01T24:00:00Z",
    "2016-12-31T23:59:60Z",
    "2025-12-01T14:30:00.1234567891234Z",
    str(2**63),
    str(2**64 + 1),
    "9" * 40,
    "9" * 5000,
    "-" + "9" * 30,
    "1000000",
    "O:SPY251219C00650000",
    "SPY251231P00000001",
    "O:SPY250231C00650000",
    "I:VIX1D",
    "I:",
    "BRK.B",
    "\u0661\u0662",  # Arabic-Indic digits
    "ſpy",
    "%00",
    "a" * 300,
    "eyJyIjoiY2hhaW4ifQ.AAAAAAAAAAAAAAAAAAAAAA",
]
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=24)
VALUES = st.one_of(st.sampled_from(EDGE_VALUES), TEXT, st.integers().map(str), st.floats().map(str))
# An empty, "." or ".." segment would address another route (or be resolved away by the client).
PATH_VALUES = VALUES.filter(lambda v: v not in ("", ".", ".."))
REAL_PATH_VALUES = {
    "underlying": "SPY",
    "stocksTicker": "SPY",
    "ticker": "SPY",
    "date": "2025-12-01",
    "multiplier": "1",
    "timespan": "day",
    "from_date": "2025-11-24",
    "to_date": "2025-12-02",
    "indicator": "sma",
    "direction": "gainers",
}
# How an error message names a parameter when its route spells it differently.
MESSAGE_NAMES = {"from_date": "from", "to_date": "to", "cursor": "page"}


@pytest.fixture(scope="module")
def doc(http) -> dict:
    return http.get("/openapi.json").json()


def test_year_1_and_year_9999_in_every_spelling_are_not_errors_of_the_server(http, server) -> None:
    key = auth(server.key("expert"))
    for url in (
        "/v1/stocks/trades/SPY/?timestamp.gte=0001-01-01T00:00:00%2B05:00",
        "/v1/stocks/trades/SPY/?timestamp.lt=9999-12-31T23:59:59Z",
        "/v1/stocks/aggs/SPY/1/day/2025-11-01/9999-12-31/",
        "/v2/aggs/ticker/SPY/range/1/day/2025-11-01/9999-12-31",
        f"/v1/stocks/trades/SPY/?timestamp.gte={2**64 + 1}",
        f"/v1/stocks/aggs/SPY/1/day/2025-11-01/{'9' * 30}/",
        "/v1/options/chain/SPY/?as_of=0001-01-01T00:00:00%2B05:00",
        "/v1/indicators/sma/SPY?timestamp.lte=9999-12-31T23:59:59Z",
    ):
        response = http.get(url, headers=key)
        assert response.status_code in (200, 403), f"{url}: {response.text[:200]}"
    # Far ends select exactly what the plain range does: the bars through the last session.
    through_9999 = http.get("/v1/stocks/aggs/SPY/1/day/2025-11-01/9999-12-31/", headers=key).json()
    through_end = http.get("/v1/stocks/aggs/SPY/1/day/2025-11-01/2025-12-02/", headers=key).json()
    assert through_9999["results"] == through_end["results"] and through_end["resultsCount"] > 10


def test_windows_and_multipliers_are_bounded_with_a_400_naming_them(http, server) -> None:
    key = auth(server.key("expert"))
    for url, name in (
        ("/v1/stocks/indicators/sma/SPY/?window=1000000", "window"),
        ("/v1/stocks/indicators/macd/SPY/?signal_window=10001", "signal_window"),
        ("/v1/stocks/aggs/SPY/10001/day/2025-11-01/2025-12-02/", "multiplier"),
        (f"/v2/aggs/ticker/SPY/range/{2**70}/day/2025-11-01/2025-12-02", "multiplier"),
    ):
        response = http.get(url, headers=key)
        body = response.json()
        assert response.status_code == 400 and body["error"]["code"] == "bad_request", url
        assert f"Invalid {name}" in body["error"]["message"], url
    ok = http.get("/v1/stocks/indicators/sma/SPY/?window=10000&timespan=minute", headers=key)
    assert ok.status_code == 200 and ok.json()["results"]["values"] == []


def _chain_tickers(http, key: dict, as_of: str) -> list[str]:
    body = http.get("/v1/options/chain/SPY/", params={"as_of": as_of, "limit": 250}, headers=key).json()
    assert body["status"] == "OK", body
    return [s["details"]["ticker"] for s in body["results"]]


def test_the_same_instant_gives_the_same_chain_in_every_spelling(http, server) -> None:
    key = auth(server.key("expert"))
    ns = et_ns(dt.date(2025, 12, 1), 14, 0)
    spellings = [
        "2025-12-01T19:00:00Z",
        "2025-12-01T14:00:00-05:00",
        "2025-12-01T19:00:00.000000000Z",
        str(ns // 1_000_000_000),
        str(ns // 1_000_000),
        str(ns),
    ]
    answers = {s: _chain_tickers(http, key, s) for s in spellings}
    assert answers[spellings[0]] and all(a == answers[spellings[0]] for a in answers.values())
    # Beyond the horizon, every spelling of year 9999 describes the horizon: the chain of now.
    now = _chain_tickers(http, key, "")
    for far in ("9999-12-31", "9999-12-31T23:59:59Z", str(2**64), "2262-04-11T00:00:00Z"):
        assert _chain_tickers(http, key, far) == now, far
    assert now and all(t.startswith("O:SPY") for t in now)


def test_the_same_instant_gives_the_same_trades_in_every_spelling(http, server) -> None:
    key = auth(server.key("expert"))
    ns = et_ns(dt.date(2025, 12, 1), 10, 0)

    def rows(value: str) -> list[int]:
        body = http.get("/v1/stocks/trades/SPY/", params={"timestamp.lt": value, "limit": 5}, headers=key).json()
        return [r["sip_timestamp"] for r in body["results"]]

    first = rows(str(ns))
    assert first and max(first) < ns
    for spelling in ("2025-12-01T15:00:00Z", "2025-12-01T10:00:00-05:00", str(ns // 10**6), str(ns // 10**9)):
        assert rows(spelling) == first, spelling


def test_option_contract_reference_takes_a_stocks_only_key(http, server) -> None:
    key = auth(server.key("stocks_only"))
    listing = http.get("/v3/reference/options/contracts", params={"underlying_ticker": "SPY", "limit": 2}, headers=key)
    assert listing.status_code == 200 and len(listing.json()["results"]) == 2
    ticker = listing.json()["results"][0]["ticker"]
    detail = http.get(f"/v3/reference/options/contracts/{ticker}", headers=key)
    assert detail.status_code == 200 and detail.json()["results"]["ticker"] == ticker
    # Market data of options still needs the options product.
    assert http.get("/v3/snapshot/options/SPY", headers=key).status_code == 403


def test_contract_reference_after_today_is_today(http, server) -> None:
    """A listing of a later day is not knowable yet: ``as_of`` after today answers today's listing."""
    key = auth(server.key("expert"))

    def tickers(as_of: str) -> list[str]:
        body = http.get("/v1/options/contracts/", params={"as_of": as_of, "limit": 1000}, headers=key).json()
        return [r["ticker"] for r in body["results"]]

    assert tickers("2025-12-03") and tickers("2025-12-03") == tickers("2026-06-01") == tickers("9999-12-31")


def _path(op: Operation, path_values: dict[str, str]) -> str:
    path = op.path
    for name, value in path_values.items():
        path = path.replace("{" + name + "}", quote(value, safe=""))
    return path


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)
@given(data=st.data())
def test_no_input_gives_a_5xx_and_every_refusal_is_the_envelope_naming_a_parameter(data, doc, http, server) -> None:
    ops = [op for op in operations(doc) if op.method == "GET"]
    op = data.draw(st.sampled_from(ops), label="operation")
    path_values = {}
    for param in op.path_params:
        real = REAL_PATH_VALUES.get(param["name"], "O:SPY251219C00650000")
        path_values[param["name"]] = data.draw(st.one_of(st.just(real), PATH_VALUES), label=param["name"])
    names = [p["name"] for p in op.query]
    query = data.draw(st.dictionaries(st.sampled_from(names), VALUES, max_size=4), label="query") if names else {}
    response = http.get(_path(op, path_values), params=query, headers=auth(server.key("expert")))
    assert response.status_code < 500, response.text[:300]
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    if response.status_code == 200:
        errors = problems(body_validator(doc, op, 200), body)
        assert not errors, errors[:3]
        return
    assert set(body) == {"status", "request_id", "error"} and body["status"] == "ERROR"
    assert set(body["error"]) == {"code", "message"} and body["request_id"].startswith("cm_")
    if response.status_code == 400:
        sent = [*path_values, *query, *(p["name"] for p in op.query if p.get("required"))]
        message = body["error"]["message"]
        assert any(MESSAGE_NAMES.get(n, n) in message for n in sent), (message, sent)


def test_ranges_whose_bounds_exclude_each_other_are_empty_answers(http, server, doc) -> None:
    """No OpenAPI schema can state "from before to", so such a range is answered, with nothing in it."""
    key = auth(server.key("expert"))
    ops = {op.path: op for op in operations(doc)}
    for template, url, params in (
        (
            "/v1/stocks/aggs/{stocksTicker}/{multiplier}/{timespan}/{from_date}/{to_date}/",
            "/v1/stocks/aggs/SPY/1/day/2025-12-01/2025-11-01/",
            {},
        ),
        (
            "/v1/stocks/trades/{stocksTicker}/",
            "/v1/stocks/trades/SPY/",
            {"timestamp.gte": "2025-12-02", "timestamp.lt": "2025-12-01"},
        ),
    ):
        response = http.get(url, params=params, headers=key)
        assert response.status_code == 200 and response.json()["results"] == [], url
        assert not problems(body_validator(doc, ops[template], 200), response.json())


PAPER_FIELDS = [
    "name",
    "initial_cash",
    "confirm",
    "reason",
    "symbol",
    "qty",
    "side",
    "type",
    "time_in_force",
    "limit_price",
    "client_order_id",
    "position_intent",
    "extended_hours",
    "order_class",
    "notional",
]
JSON_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), VALUES, st.sampled_from(["buy", "SPY", "1"])
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=6,
)
PAPER_BODIES = st.one_of(
    st.dictionaries(st.sampled_from(PAPER_FIELDS), JSON_VALUES, max_size=6).map(orjson.dumps),
    JSON_VALUES.map(orjson.dumps),
    st.binary(max_size=40),
)


@pytest.fixture(scope="module")
def paper_account(http, server) -> tuple[dict[str, str], str]:
    key = auth(server.new_key("expert", ("options", "stocks", "paper"), name="input-domain-paper"))
    return key, http.post("/v1/paper/accounts/", json={}, headers=key).json()["account"]["id"]


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)
@given(data=st.data())
def test_no_paper_body_gives_a_5xx_and_every_refusal_names_a_field(data, http, paper_account) -> None:
    key, account = paper_account
    method, path = data.draw(
        st.sampled_from(
            [
                ("POST", "/v1/paper/accounts/"),
                ("PATCH", f"/v1/paper/accounts/{account}/"),
                ("POST", f"/v1/paper/accounts/{account}/reset/"),
                ("POST", f"/v1/paper/accounts/{account}/orders/"),
            ]
        ),
        label="route",
    )
    body = data.draw(PAPER_BODIES, label="body")
    response = http.request(method, path, content=body, headers={**key, "Content-Type": "application/json"})
    assert response.status_code < 500, response.text[:300]
    payload = response.json()
    if response.status_code >= 400:
        assert response.status_code == 400 and payload["status"] == "ERROR", response.text[:300]
        assert payload["error"]["message"].startswith("Invalid "), payload
