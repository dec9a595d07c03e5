"""The OpenAPI document is the truth: typed parameters, real statuses, bodies that match their schemas,
and schemathesis with every check finding nothing."""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from jsonschema import Draft202012Validator

from openapi_kit import body_validator, operations, problems

from conftest import auth

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from fuzz_openapi import run_schemathesis

UNTYPED = {"anyOf": [{"type": "string"}, {"type": "null"}]}


@pytest.fixture(scope="module")
def doc(http) -> dict:
    response = http.get("/openapi.json")
    assert response.status_code == 200
    return response.json()


@pytest.fixture(scope="module")
def contract(http, server) -> str:
    """A contract of the test market with trades and quotes."""
    body = http.get("/v1/options/chain/SPY/", params={"limit": 250}, headers=auth(server.key("expert"))).json()
    traded = [s for s in body["results"] if s.get("last_trade") and s.get("last_quote")]
    return traded[0]["details"]["ticker"]


def test_every_operation_documents_typed_parameters_real_statuses_and_its_body(doc) -> None:
    assert doc["openapi"] == "3.1.0"
    ops = list(operations(doc))
    assert len(ops) >= 55
    for schema in doc["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    for op in ops:
        where = f"{op.method} {op.path}"
        responses = op.spec["responses"]
        assert "422" not in responses, where
        successes = sorted(s for s in responses if s.startswith("2"))
        assert successes, where
        for status in successes:
            if status == "204":
                assert "content" not in responses[status], where
                continue
            ok = responses[status]["content"]["application/json"]["schema"]
            assert list(ok) == ["$ref"] and ok["$ref"].split("/")[-1] in doc["components"]["schemas"], where
        for status, response in responses.items():
            assert "X-Request-Id" in response["headers"], where
            if not status.startswith("2"):
                assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
        keyed = op.path != "/v1/status/"
        assert {"401", "403", "429"} <= set(responses) if keyed else not {"401", "403", "429"} & set(responses)
        assert bool(op.spec["security"]) == keyed, where
        assert "500" in responses, where
        assert ("400" in responses) == bool(op.spec.get("parameters") or "requestBody" in op.spec), where
        for param in op.spec.get("parameters", []):
            schema = {k: v for k, v in param["schema"].items() if k not in ("title", "description", "examples")}
            assert (
                (schema and schema != UNTYPED and schema != {"type": "string"})
                or param["name"]
                in (
                    "query",
                    "search",
                    "exchange",
                )
                or param["name"].startswith("underlying_ticker")
            ), f"{where}: {param['name']} is untyped"
            if param["name"] == "limit":
                assert schema["type"] == "integer" and schema["minimum"] == 1, where
                if "default" in schema:  # a page size: its maximum is documented with the clamp
                    assert "larger values are served as" in param["description"], where


def test_polygon_routes_declare_the_parameters_they_forward(doc) -> None:
    names = {op.path: {p["name"] for p in op.spec.get("parameters", [])} for op in operations(doc)}
    assert {"as_of", "limit", "cursor", "page", "strike_price.gte"} <= names["/v3/snapshot/options/{underlying}"]
    assert {"as_of", "expired", "limit", "cursor"} <= names["/v3/reference/options/contracts"]
    assert {"adjusted", "include_otc"} <= names["/v2/aggs/grouped/locale/us/market/stocks/{date}"]
    assert {"date", "limit", "cursor", "type"} <= names["/v3/reference/tickers"]


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
    }


def test_real_bodies_of_every_operation_match_their_documented_schema(doc, http, server, contract) -> None:
    """Every GET route answered with real data of the test market validates against its 200 schema."""
    values = _values(contract)
    key = auth(server.key("expert"))
    extra = {"expand_underlying": "true", "limit": "3"}
    checked = 0
    for op in operations(doc):
        names = [p["name"] for p in op.path_params]
        if op.method != "GET" or any(n not in values for n in names):
            continue
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
            if "/v1/open-close/" in path and "O:" in path:
                path = path.replace("2025-12-01", "2025-12-02")
            params = {k: v for k, v in extra.items() if k in {p["name"] for p in op.query}}
            response = http.get(path, params=params, headers=key)
            if response.status_code == 404 and "{" in op.path:
                continue  # e.g. a contract that did not trade on the day asked
            assert response.status_code == 200, f"{path}: {response.text[:300]}"
            assert response.headers["content-type"].startswith("application/json")
            errors = problems(body_validator(doc, op, 200), response.json())
            assert not errors, f"{path}: {errors[:5]}"
            checked += 1
    assert checked >= 55


def test_error_bodies_match_the_error_schema(doc, http, server) -> None:
    ops = {op.path: op for op in operations(doc)}
    cases = [
        ("/v1/options/chain/{underlying}/", "/v1/options/chain/SPY/?limit=zero", "expert", 400),
        ("/v1/options/chain/{underlying}/", "/v1/options/chain/SPY/", None, 401),
        ("/v1/stocks/snapshot/{stocksTicker}/", "/v1/stocks/snapshot/SPY/", "options_only", 403),
        ("/v1/stocks/snapshot/{stocksTicker}/", "/v1/stocks/snapshot/ZZZZ/", "expert", 404),
    ]
    for template, url, who, status in cases:
        headers = auth(server.key(who)) if who else {}
        response = http.get(url, headers=headers)
        assert response.status_code == status, url
        assert not problems(body_validator(doc, ops[template], status), response.json()), url


def test_schemathesis_every_check_passes(server) -> None:
    """A bounded schemathesis run (every check, positive and negative data) finds no failure."""
    assert run_schemathesis(server.base_url, server.new_key("expert"), max_examples=12, seed=15) == 0
