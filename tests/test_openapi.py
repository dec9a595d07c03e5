"""The OpenAPI document is the truth: typed parameters and bodies, the statuses and headers each route really
gives, real bodies of every route matching their schemas, and schemathesis with every check finding nothing."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from jsonschema import Draft202012Validator

from cutemarkets_server.market.timestamps import et_ns
from openapi_kit import Operation, body_validator, operations, problems

from conftest import auth

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from fuzz_openapi import run_schemathesis

UNTYPED = {"anyOf": [{"type": "string"}, {"type": "null"}]}
# Free-text parameters: any string is a valid value.
FREE_TEXT = ("query", "search", "exchange", "account_id", "order_id")
EDGE = {"413", "414", "431"}
RATE_LIMIT_HEADERS = {
    "X-RateLimit-Plan",
    "X-RateLimit-Limit-Minute",
    "X-RateLimit-Remaining-Minute",
    "X-RateLimit-Limit-Day",
    "X-RateLimit-Remaining-Day",
}
# Operations whose real bodies were checked in this module (the last test asserts every one was).
CHECKED: set[tuple[str, str]] = set()


@pytest.fixture(scope="module")
def doc(http) -> dict:
    response = http.get("/openapi.json")
    assert response.status_code == 200
    return response.json()


@pytest.fixture(scope="module")
def ops(doc) -> dict[tuple[str, str], Operation]:
    return {(op.method, op.path): op for op in operations(doc)}


@pytest.fixture(scope="module")
def contract(http, server) -> str:
    """A contract of the test market with trades and quotes."""
    body = http.get("/v1/options/chain/SPY/", params={"limit": 250}, headers=auth(server.key("expert"))).json()
    traded = [s for s in body["results"] if s.get("last_trade") and s.get("last_quote")]
    return traded[0]["details"]["ticker"]


def _success(op: Operation) -> list[str]:
    return [s for s in op.spec["responses"] if s.startswith("2")]


def check(doc: dict, op: Operation, response: httpx.Response) -> None:
    """The response's status, headers and body are what the document says ``op`` answers."""
    where = f"{op.method} {op.path} → {response.status_code}"
    documented = op.spec["responses"].get(str(response.status_code))
    assert documented is not None, f"{where}: undocumented status ({response.text[:200]})"
    for name, header in documented.get("headers", {}).items():
        value = response.headers.get(name)
        assert value is not None or not header.get("required"), f"{where}: no {name} header"
        if value is not None:
            assert Draft202012Validator(header["schema"]).is_valid(value), f"{where}: {name}: {value!r}"
    if "content" in documented:
        assert response.headers["content-type"].startswith("application/json"), where
        errors = problems(body_validator(doc, op, response.status_code), response.json())
        assert not errors, f"{where}: {errors[:5]}"
    else:
        assert response.content == b"", where
    if response.status_code < 300:
        CHECKED.add((op.method, op.path))


def test_every_operation_documents_typed_parameters_real_statuses_and_headers(doc) -> None:
    assert doc["openapi"] == "3.1.0"
    all_ops = list(operations(doc))
    assert len(all_ops) >= 75
    paths = {op.path for op in all_ops}
    assert not {p for p in paths if p.startswith(("/console", "/docs", "/redoc", "/v1/ws"))}, "pages stay out"
    for schema in doc["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    for op in all_ops:
        where = f"{op.method} {op.path}"
        responses = op.spec["responses"]
        assert "422" not in responses, where
        success = _success(op)
        assert len(success) >= 1, where
        for status in success:
            if status != "204":
                ok = responses[status]["content"]["application/json"]["schema"]
                assert list(ok) == ["$ref"] and ok["$ref"].split("/")[-1] in doc["components"]["schemas"], where
        keyed = op.path != "/v1/status/"
        for status, response in responses.items():
            headers = set(response["headers"])
            assert "X-Request-Id" in headers, where
            assert ("Retry-After" in headers) == (status in ("429", "503")), f"{where} {status}"
            rate_limited = keyed and status not in EDGE and status != "401"
            assert (headers >= RATE_LIMIT_HEADERS) == rate_limited, f"{where} {status}"
            if not status.startswith("2"):
                assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
        assert {"401", "429"} <= set(responses) if keyed else not {"401", "403", "429"} & set(responses)
        assert bool(op.spec["security"]) == keyed, where
        assert {"500", *EDGE} <= set(responses), where
        assert ("404" in responses) == ("{" in op.path), where
        params = op.spec.get("parameters", [])
        constrained = [p for p in params if p["in"] == "query" or p["name"] not in FREE_TEXT]
        cancel = op.method == "DELETE" and op.path.endswith("{order_id}/")  # a closed order is a 400
        refusable = bool(constrained) or "requestBody" in op.spec or cancel
        assert ("400" in responses) == refusable, where
        for param in params:
            schema = {k: v for k, v in param["schema"].items() if k not in ("title", "description", "examples")}
            assert (
                (schema and schema != UNTYPED and schema != {"type": "string"})
                or param["name"] in FREE_TEXT
                or param["name"].startswith("underlying_ticker")
            ), f"{where}: {param['name']} is untyped"
            if param["name"] == "limit":
                assert schema["type"] == "integer" and schema["minimum"] == 1, where
                if "default" in schema:  # a page size: its maximum is documented with the clamp
                    assert "larger values are served as" in param["description"], where
            assert param.get("allowEmptyValue", False) == (param["in"] == "query" and not param.get("required"))
    # Only routes that read lake files can be unavailable; the key, clock and results folder always answer.
    lake = {op.path for op in all_ops if "503" in op.spec["responses"]}
    assert "/v1/options/chain/{underlying}/" in lake and "/v1/paper/accounts/{account_id}/positions/" in lake
    assert not lake & {"/v1/status/", "/v1/account/", "/v1/clock/", "/v1/backtests/", "/v1/paper/accounts/"}


def test_polygon_routes_declare_the_parameters_they_forward(doc) -> None:
    names = {op.path: {p["name"] for p in op.spec.get("parameters", [])} for op in operations(doc)}
    assert {"as_of", "limit", "cursor", "page", "strike_price.gte"} <= names["/v3/snapshot/options/{underlying}"]
    assert {"as_of", "expired", "limit", "cursor"} <= names["/v3/reference/options/contracts"]
    assert {"adjusted", "include_otc"} <= names["/v2/aggs/grouped/locale/us/market/stocks/{date}"]
    assert {"date", "limit", "cursor", "type"} <= names["/v3/reference/tickers"]


def test_paper_bodies_are_documented_as_the_parser_reads_them(doc) -> None:
    schemas = doc["components"]["schemas"]
    order = Draft202012Validator({**schemas["PaperOrderRequest"], "components": doc["components"]})
    valid = {"symbol": "SPY", "qty": "1.5", "side": "BUY", "type": "market"}
    assert order.is_valid(valid) and order.is_valid({**valid, "symbol": "o:spy251219c00600000", "qty": " 2 "})
    for bad in ({"qty": "1e2"}, {"qty": "1_0"}, {"qty": "0"}, {"qty": 1}, {"side": "short"}, {"extended_hours": 0}):
        assert not order.is_valid({**valid, **bad}), bad
    create = Draft202012Validator({**schemas["PaperAccountCreate"], "components": doc["components"]})
    assert create.is_valid(None) and create.is_valid({}) and not create.is_valid({"initial_cash": None})
    assert not create.is_valid({"name": "  "}) and not create.is_valid({"initial_cash": "1000000000000"})


def _values(contract: str) -> dict[str, list[str]]:
    """Real values for every path parameter name of the document (several where a route serves both products)."""
    return {
        "underlying": ["SPY"],
        "option_contract": [contract],
        "options_ticker": [contract],
        "stocksTicker": ["SPY"],
        "ticker": ["SPY", contract],
        "date": ["2025-12-01"],
        "multiplier": ["1", "5"],
        "timespan": ["day", "minute"],
        "from_date": ["2025-11-24"],
        "to_date": ["2025-12-02"],
        "indicator": ["macd", "sma"],
        "direction": ["gainers"],
        "run": ["openapi-run"],
    }


def test_real_bodies_of_every_get_route_match_their_documented_schema(doc, http, server, contract, engine_runs) -> None:
    """Every GET route outside /v1/paper/ answered with real data validates against its 200 schema (a backtest
    run made by the engine included)."""
    values = _values(contract) | {"run": [engine_runs.rejects.name]}
    key = auth(server.key("expert"))
    extra = {"expand_underlying": "true", "limit": "3", "at": "2025-11-28T13:30:00-05:00"}
    checked = 0
    for op in operations(doc):
        names = [p["name"] for p in op.path_params]
        if op.method != "GET" or op.path.startswith("/v1/paper/"):
            continue
        assert all(n in values for n in names), f"{op.path}: no real value for its path parameters"
        both = {p["name"] for p in op.path_params if "anyOf" in p["schema"]}  # a stock or an option ticker
        variants = [
            {n: values[n][min(i, len(values[n]) - 1) if n in both or n != "ticker" else 0] for n in names}
            for i in range(2)
        ]
        if op.path.startswith("/v1/tickers/expirations") or op.path.startswith("/v2/snapshot"):
            variants = variants[:1]
        for chosen in variants:
            path = op.path
            for name, value in chosen.items():
                path = path.replace("{" + name + "}", quote(value, safe=":"))
            if "open-close/" in path and "O:" in path:  # the contract traded on the test market's last day
                path = path.replace("2025-12-01", "2025-12-02")
            params = {k: v for k, v in extra.items() if k in {p["name"] for p in op.query}}
            response = http.get(path, params=params, headers=key)
            if response.status_code == 404 and "{" in op.path:
                check(doc, op, response)
                continue  # e.g. a contract that did not trade on the day asked
            assert response.status_code == 200, f"{path}: {response.text[:300]}"
            check(doc, op, response)
            checked += 1
    assert checked >= 60


def test_real_paper_bodies_match_their_documented_schema(doc, ops, http, server, contract) -> None:
    """A paper session through every paper route, each answer checked against the document."""
    key = auth(server.new_key("expert", ("options", "stocks", "paper"), name="openapi-paper"))
    base = "/v1/paper/accounts/"

    def call(method: str, template: str, path: str, **kw: Any) -> httpx.Response:
        response = http.request(method, path, headers=key, **kw)
        check(doc, ops[(method, template)], response)
        return response

    account_t, orders_t = base + "{account_id}/", base + "{account_id}/orders/"
    order_t = orders_t + "{order_id}/"
    with server.at(et_ns(dt.date(2025, 12, 1), 11, 0)):
        created = call("POST", base, base, content=b"")
        assert created.status_code == 201
        aid = created.json()["account"]["id"]
        account = f"{base}{aid}/"
        bought = call(
            "POST", orders_t, account + "orders/", json={"symbol": "SPY", "qty": "2", "side": "buy", "type": "market"}
        )
        assert bought.status_code == 201 and bought.json()["status"] == "filled", bought.text
        call(
            "POST",
            orders_t,
            account + "orders/",
            json={"symbol": contract, "qty": "1", "side": "buy", "type": "market"},
        )
        resting = {"symbol": "SPY", "qty": "1", "side": "buy", "type": "limit", "limit_price": "0.01"}
        resting["client_order_id"] = "openapi-1"
        first = call("POST", orders_t, account + "orders/", json=resting)
        again = call("POST", orders_t, account + "orders/", json=resting)
        assert (first.status_code, again.status_code) == (201, 200) and first.json()["id"] == again.json()["id"]
        oid = first.json()["id"]
        by_client = call(
            "GET",
            orders_t[:-1] + ":by_client_order_id",
            account + "orders:by_client_order_id",
            params={"client_order_id": "openapi-1"},
        )
        assert by_client.json()["id"] == oid
        call("GET", order_t, f"{account}orders/{oid}/")
        assert call("DELETE", order_t, f"{account}orders/{oid}/").json()["status"] == "canceled"
        refused = call("DELETE", order_t, f"{account}orders/{oid}/")
        assert refused.status_code == 400
        for template, suffix in (
            (account_t, ""),
            (account_t + "account/", "account/"),
            (account_t + "positions/", "positions/"),
            (account_t + "fills/", "fills/"),
            (account_t + "portfolio/history/", "portfolio/history/"),
            (orders_t, "orders/"),
        ):
            assert call("GET", template, account + suffix).status_code == 200, suffix
        assert call("GET", account_t + "positions/", account + "positions/").json()["results"]
        assert call("GET", account_t + "fills/", account + "fills/").json()["results"]
        assert call("GET", orders_t, account + "orders/", params={"status": "open", "limit": 1}).status_code == 200
        call("PATCH", account_t, account, json={"name": "Renamed"})
        call("POST", account_t + "reset/", account + "reset/", json={"confirm": True, "initial_cash": "5000"})
        assert call("DELETE", account_t, account).status_code == 204
        listed = call("GET", base, base, params={"include_archived": "true"}).json()["results"]
        assert aid in {a["id"] for a in listed}
        # Refusals are documented too: an archived account takes no order, an unknown one is a 404.
        closed = call(
            "POST", orders_t, account + "orders/", json={"symbol": "SPY", "qty": "1", "side": "buy", "type": "market"}
        )
        assert closed.status_code == 400
        assert call("GET", account_t, f"{base}nope/").status_code == 404


def test_error_answers_match_the_error_schema_and_their_headers(doc, ops, http, server) -> None:
    chain = ops[("GET", "/v1/options/chain/{underlying}/")]
    snapshot = ops[("GET", "/v1/stocks/snapshot/{stocksTicker}/")]
    create = ops[("POST", "/v1/paper/accounts/")]
    for op, url, who, status in (
        (chain, "/v1/options/chain/SPY/?limit=zero", "expert", 400),
        (chain, "/v1/options/chain/SPY/", None, 401),
        (snapshot, "/v1/stocks/snapshot/SPY/", "options_only", 403),
        (snapshot, "/v1/stocks/snapshot/ZZZZ/", "expert", 404),
        (chain, "/v1/options/chain/SPY/?as_of=" + "9" * 9000, "expert", 414),
    ):
        response = http.get(url, headers=auth(server.key(who)) if who else {})
        assert response.status_code == status, url
        check(doc, op, response)
    big = http.get("/v1/options/chain/SPY/", headers={**auth(server.key("expert")), "X-Big": "x" * 17000})
    assert big.status_code == 431
    check(doc, chain, big)
    too_large = http.post(
        "/v1/paper/accounts/", content=b"{" + b" " * (2 << 20) + b"}", headers=auth(server.key("expert"))
    )
    assert too_large.status_code == 413
    check(doc, create, too_large)
    free = auth(server.new_key("free", name="openapi-429"))
    account = ops[("GET", "/v1/account/")]
    answers = [http.get("/v1/account/", headers=free) for _ in range(11)]
    assert [r.status_code for r in answers] == [200] * 10 + [429]
    for response in answers:
        check(doc, account, response)


def test_a_method_a_path_does_not_serve_is_a_405_naming_every_method_it_does(http, server) -> None:
    """Starlette named only the first route's methods in Allow (schemathesis ST205)."""
    key = auth(server.key("expert"))
    for path, allowed in (
        ("/v1/paper/accounts/x/", "DELETE, GET, PATCH"),
        ("/v1/paper/accounts/x/orders/", "GET, POST"),
        ("/v1/paper/accounts/x/orders/y/", "DELETE, GET"),
        ("/v1/options/chain/SPY/", "GET"),
    ):
        response = http.request("PUT", path, headers=key)
        assert response.status_code == 405 and response.headers["allow"] == allowed, path
        assert response.json()["error"]["code"] == "bad_request"


def test_empty_and_malformed_values_of_the_new_routes_are_answered_as_documented(http, server) -> None:
    """Regressions found by schemathesis: ``?at=`` is now (allowEmptyValue) and far dates are clamped, decimals
    are plain notation, choices ASCII, and ``extended_hours: 0`` is not ``false``."""
    key = auth(server.key("expert"))
    assert http.get("/v1/clock/?at=", headers=key).status_code == 200
    # A date beyond the int64-nanosecond range is clamped to its end, as on every route (it was a 500).
    for far, ns in (("9999-12-31", 2**63 - 1), ("0001-01-01", 0)):
        answer = http.get(f"/v1/clock/?at={far}", headers=key)
        assert answer.status_code == 200 and answer.json()["results"]["at"]["ns"] == ns, answer.text[:200]
    created = http.post("/v1/paper/accounts/", json={"initial_cash": "1e5"}, headers=key)
    assert created.status_code == 400 and "initial_cash" in created.json()["error"]["message"]
    aid = http.post("/v1/paper/accounts/", json={}, headers=key).json()["account"]["id"]
    order = {"symbol": "SPY", "qty": "1", "side": "buy", "type": "market"}
    for bad, field in (
        ({"qty": "1_0"}, "qty"),
        ({"extended_hours": 0}, "extended_hours"),
        ({"side": "BUY\u212a"}, "side"),
    ):
        r = http.post(f"/v1/paper/accounts/{aid}/orders/", json={**order, **bad}, headers=key)
        assert r.status_code == 400 and f"Invalid {field}" in r.json()["error"]["message"], bad
    missing = http.get(f"/v1/paper/accounts/{aid}/orders:by_client_order_id", headers=key)
    assert missing.status_code == 400 and "client_order_id" in missing.json()["error"]["message"]
    http.delete(f"/v1/paper/accounts/{aid}/", headers=key)


def test_every_operation_had_a_real_body_checked(doc) -> None:
    missing = {(op.method, op.path) for op in operations(doc)} - CHECKED
    assert not missing, sorted(missing)


def test_schemathesis_every_check_passes(http, server) -> None:
    """A bounded schemathesis run (every check, positive and negative data) finds no failure. The paper routes
    are called on a real account and order of the key, so that they answer more than 404."""
    key = server.new_key("expert", ("options", "stocks", "paper"), name="schemathesis")
    account = http.post("/v1/paper/accounts/", json={}, headers=auth(key)).json()["account"]["id"]
    order = {"symbol": "SPY", "qty": "1", "side": "buy", "type": "limit", "limit_price": "1"}
    order_id = http.post(f"/v1/paper/accounts/{account}/orders/", json=order, headers=auth(key)).json()["id"]
    real = {"path.account_id": account, "path.order_id": order_id, "path.run": "openapi-run"}
    phases = "examples,coverage,fuzzing"  # the stateful phase runs in `make fuzz`
    code = run_schemathesis(server.base_url, key, max_examples=12, seed=15, phases=phases, workers=1, parameters=real)
    assert code == 0
