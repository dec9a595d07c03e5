"""The HTTP edge through the running server: envelope, auth and products, plans, rate limits,
lookback, delay, page tokens, paths and content types."""

from __future__ import annotations

import base64
import re
import sqlite3
import time
from typing import Any

import httpx
import pytest

from cutemarkets_server.clock import FixedClock
from cutemarkets_server.market.timestamps import NS_PER_DAY, NS_PER_MIN, et_ns

from conftest import TEST_NOW_NS, RunningServer, auth, start_server

RID = re.compile(r"^cm_[0-9a-f]{32}$")
RATE_HEADERS = (
    "x-ratelimit-plan",
    "x-ratelimit-limit-minute",
    "x-ratelimit-remaining-minute",
    "x-ratelimit-limit-day",
    "x-ratelimit-remaining-day",
)


def a_contract(http: httpx.Client, server: RunningServer, **params: Any) -> dict[str, Any]:
    r = http.get(
        "/v1/options/contracts/",
        params={"underlying_ticker": "SPY", "limit": 1, **params},
        headers=auth(server.key("expert")),
    )
    assert r.status_code == 200, r.text
    return r.json()["results"][0]


def assert_error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["status"] == "ERROR"
    assert RID.match(body["request_id"])
    assert set(body["error"]) == {"code", "message"} and body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body


# -- status and envelope ------------------------------------------------------------------------


def test_status_is_public_flat_and_measured(http: httpx.Client) -> None:
    r = http.get("/v1/status/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["status"] == "ok" and RID.match(body["request_id"]) and "results" not in body
    services = body["services"]
    assert services["api"] == {"status": "ok"}
    for name in ("database", "cache"):
        assert services[name]["status"] == "ok"
        assert isinstance(services[name]["latency_ms"], float) and services[name]["latency_ms"] >= 0
    # A key sent anyway is ignored, and the route is never rate limited.
    assert http.get("/v1/status", headers=auth("cm_nonsense")).status_code == 200


def test_status_reports_degraded_when_the_lake_is_empty(tmp_path: Any) -> None:
    srv, _, base = start_server(tmp_path, FixedClock(TEST_NOW_NS))
    try:
        body = httpx.get(base + "/v1/status/").json()
        assert body["status"] == "degraded"
        assert body["services"]["database"]["status"] == "degraded"
        assert "lake" in body["services"]["database"]["message"]
    finally:
        srv.should_exit = True


def test_request_ids_are_unique_and_present_everywhere(http: httpx.Client, server: RunningServer) -> None:
    seen = set()
    for path, headers in (
        ("/v1/status/", {}),
        ("/v1/options/contracts/", auth(server.key("expert"))),
        ("/v1/options/contracts/", {}),
        ("/v1/no/such/route/", {}),
    ):
        body = http.get(path, headers=headers).json()
        assert RID.match(body["request_id"])
        seen.add(body["request_id"])
    assert len(seen) == 4


def test_unknown_route_and_method(http: httpx.Client, server: RunningServer) -> None:
    assert_error(http.get("/v1/nothing/here/"), 404, "not_found")
    assert_error(http.get("/v9/x"), 404, "not_found")
    r = http.post("/v1/status/")
    assert r.status_code == 405 and r.json()["status"] == "ERROR"
    assert r.headers["content-type"].startswith("application/json")


def test_validation_errors_are_400_naming_the_parameter(http: httpx.Client, server: RunningServer) -> None:
    h = auth(server.key("expert"))
    for params, name in (
        ({"limit": "abc"}, "limit"),
        ({"limit": "0"}, "limit"),
        ({"limit": "2.5"}, "limit"),
        ({"expired": "maybe"}, "expired"),
        ({"as_of": "2025-02-30"}, "as_of"),
        ({"sort": "volume"}, "sort"),
        ({"order": "sideways"}, "order"),
        ({"strike_price.gte": "ten"}, "strike_price.gte"),
        ({"contract_type": "straddle"}, "contract_type"),
        ({"ticker": "O:SPY251219C00600000"}, "ticker"),
    ):
        body = assert_error(http.get("/v1/options/contracts/", params=params, headers=h), 400, "bad_request")
        assert name in body["error"]["message"], (params, body)


def test_large_limits_are_clamped_not_rejected(http: httpx.Client, server: RunningServer) -> None:
    r = http.get(
        "/v1/options/contracts/",
        params={"limit": 100000, "underlying_ticker": "SPY"},
        headers=auth(server.key("expert")),
    )
    assert r.status_code == 200
    assert 0 < len(r.json()["results"]) <= 1000


# -- auth and products --------------------------------------------------------------------------


def test_missing_unknown_and_revoked_keys_are_401(http: httpx.Client, server: RunningServer) -> None:
    assert_error(http.get("/v1/options/contracts/"), 401, "unauthorized")
    body = assert_error(http.get("/v1/options/contracts/", headers=auth("cm_" + "0" * 32)), 401, "unauthorized")
    assert body["error"]["message"] == "Invalid or inactive API key."
    key = server.new_key("expert", name="to-revoke")
    assert http.get("/v1/options/contracts/", headers=auth(key)).status_code == 200
    from cutemarkets_server.store.keys import KeyStore

    assert KeyStore(server.data_dir / "keys.sqlite").revoke(key) == 1
    time.sleep(5.2)  # the server caches key lookups for five seconds
    assert_error(http.get("/v1/options/contracts/", headers=auth(key)), 401, "unauthorized")


def test_key_in_query_parameters(http: httpx.Client, server: RunningServer) -> None:
    key = server.key("expert")
    assert http.get("/v1/options/contracts/", params={"apiKey": key}).status_code == 200
    assert http.get("/v1/options/contracts/", params={"api_key": key}).status_code == 200
    assert http.get("/v1/options/contracts/", headers={"Authorization": f"bearer {key}"}).status_code == 200


def test_products_gate_routes(http: httpx.Client, server: RunningServer) -> None:
    for key_name in ("stocks_only", "paper_only"):
        body = assert_error(http.get("/v1/options/contracts/", headers=auth(server.key(key_name))), 403, "forbidden")
        assert "options" in body["error"]["message"]
    assert_error(http.get("/v1/tickers/expirations/SPY/", headers=auth(server.key("stocks_only"))), 403, "forbidden")
    body = assert_error(
        http.get("/v1/stocks/snapshot/AAPL/", headers=auth(server.key("options_only"))), 403, "forbidden"
    )
    assert "stocks" in body["error"]["message"]
    # Search accepts any valid key.
    assert (
        http.get("/v1/tickers/search/", params={"query": "SP"}, headers=auth(server.key("paper_only"))).status_code
        == 200
    )


def test_keys_are_stored_hashed(server: RunningServer) -> None:
    raw = (server.data_dir / "keys.sqlite").read_bytes()
    for key in server.keys.values():
        assert key.encode() not in raw
    with sqlite3.connect(server.data_dir / "keys.sqlite") as con:
        hashes = {row[0] for row in con.execute("SELECT key_hash FROM api_keys")}
    assert all(len(h) == 64 for h in hashes)


# -- plans --------------------------------------------------------------------------------------


def test_rate_limit_headers_on_every_keyed_response(http: httpx.Client, server: RunningServer) -> None:
    r = http.get("/v1/options/contracts/", headers=auth(server.key("expert")))
    assert all(h in r.headers for h in RATE_HEADERS)
    assert r.headers["x-ratelimit-plan"] == "Expert"
    assert r.headers["x-ratelimit-limit-minute"] == "unlimited" and r.headers["x-ratelimit-limit-day"] == "unlimited"
    assert int(r.headers["x-ratelimit-remaining-minute"]) > 0
    err = http.get("/v1/options/contracts/O:SPY991231C00001000/", headers=auth(server.key("developer")))
    assert err.status_code == 404 and err.headers["x-ratelimit-plan"] == "Developer"


def test_free_plan_allows_ten_requests_per_minute(http: httpx.Client, server: RunningServer) -> None:
    key = server.new_key("free", ("options",), name="rate-limit")
    with server.at(TEST_NOW_NS + 3 * NS_PER_DAY):
        remaining = []
        for _ in range(10):
            r = http.get("/v1/tickers/search/", params={"query": "SPY"}, headers=auth(key))
            assert r.status_code == 200
            assert r.headers["x-ratelimit-limit-minute"] == "10" and r.headers["x-ratelimit-limit-day"] == "5000"
            remaining.append(int(r.headers["x-ratelimit-remaining-minute"]))
        assert remaining == list(range(9, -1, -1))
        r = http.get("/v1/tickers/search/", params={"query": "SPY"}, headers=auth(key))
        assert_error(r, 429, "rate_limit_exceeded")
        assert r.headers["x-ratelimit-remaining-minute"] == "0" and "retry-after" in r.headers
    # The next minute starts afresh.
    with server.at(TEST_NOW_NS + 3 * NS_PER_DAY + NS_PER_MIN):
        assert http.get("/v1/tickers/search/", headers=auth(key)).status_code == 200


def test_free_plan_daily_limit(http: httpx.Client, server: RunningServer) -> None:
    key = server.new_key("free", ("options",), name="daily-limit")
    from cutemarkets_server.store.keys import KeyStore

    key_id = next(k.id for k in KeyStore(server.data_dir / "keys.sqlite").list() if k.name == "daily-limit")
    # 4,999 requests spread over the last 24 hours, none in the last minute.
    earlier = [(key_id, TEST_NOW_NS - NS_PER_DAY + NS_PER_MIN + i * 10**10) for i in range(4999)]
    with sqlite3.connect(server.data_dir / "usage.sqlite") as con:
        con.executemany("INSERT INTO admitted(key_id, at_ns) VALUES (?, ?)", earlier)
    r = http.get("/v1/tickers/search/", headers=auth(key))
    assert r.status_code == 200 and r.headers["x-ratelimit-remaining-day"] == "0"
    assert_error(http.get("/v1/tickers/search/", headers=auth(key)), 429, "rate_limit_exceeded")


@pytest.mark.parametrize(("plan", "years_ok", "years_denied"), [("free", 2, 4), ("developer", 6, 8), ("expert", 9, 11)])
def test_lookback_windows(
    http: httpx.Client, server: RunningServer, plan: str, years_ok: int, years_denied: int
) -> None:
    key = server.key(plan) if plan != "free" else server.new_key("free", ("options",), name="lookback")
    h = auth(key)
    ok = http.get("/v1/options/contracts/", params={"as_of": f"{2025 - years_ok}-12-01"}, headers=h)
    assert ok.status_code == 200, ok.text
    body = assert_error(
        http.get("/v1/options/contracts/", params={"as_of": f"{2025 - years_denied}-12-01"}, headers=h),
        403,
        "lookback_exceeded",
    )
    assert f"{years_denied - 1 if plan == 'free' else 0}" is not None
    assert "years of historical lookback" in body["error"]["message"]


def test_quote_routes_need_expert(http: httpx.Client, server: RunningServer) -> None:
    c = a_contract(http, server)["ticker"]
    for plan in ("developer", "free"):
        key = server.key(plan) if plan != "free" else server.new_key("free", ("options",), name="quotes")
        for path in (f"/v1/options/quotes/{c}/", f"/v1/options/quotes/{c}/last/"):
            body = assert_error(http.get(path, headers=auth(key)), 403, "forbidden")
            assert "Expert Plan" in body["error"]["message"]
    for plan in ("expert", "commercial"):
        assert (
            http.get(f"/v1/options/quotes/{c}/", params={"limit": 1}, headers=auth(server.key(plan))).status_code == 200
        )


def test_delayed_plans_see_nothing_newer_than_fifteen_minutes(http: httpx.Client, server: RunningServer) -> None:
    contracts = http.get(
        "/v1/options/contracts/",
        params={"underlying_ticker": "SPY", "as_of": "2025-12-02", "limit": 1000},
        headers=auth(server.key("expert")),
    ).json()["results"]
    now = et_ns(__import__("datetime").date(2025, 12, 2), 11, 0)
    with server.at(now):
        for c in contracts:
            live = http.get(
                f"/v1/options/trades/{c['ticker']}/",
                params={"limit": 1, "timestamp": "2025-12-02"},
                headers=auth(server.key("expert")),
            ).json()["results"]
            if not live:
                continue
            delayed = http.get(
                f"/v1/options/trades/{c['ticker']}/",
                params={"limit": 5, "timestamp": "2025-12-02"},
                headers=auth(server.key("developer")),
            ).json()["results"]
            assert live[0]["sip_timestamp"] <= now
            assert all(t["sip_timestamp"] <= now - 15 * NS_PER_MIN for t in delayed)
            if live[0]["sip_timestamp"] > now - 15 * NS_PER_MIN:
                break
        else:
            pytest.fail("no contract traded between 10:45 and 11:00 on 2025-12-02")


# -- pagination tokens --------------------------------------------------------------------------


def list_page(http: httpx.Client, key: str, **params: Any) -> dict[str, Any]:
    r = http.get("/v1/options/contracts/", params={"underlying_ticker": "SPY", "limit": 5, **params}, headers=auth(key))
    assert r.status_code == 200, r.text
    return r.json()


def test_next_url_is_absolute_signed_and_walks_to_the_end(http: httpx.Client, server: RunningServer) -> None:
    key = server.key("expert")
    first = list_page(http, key)
    assert first["next_url"].startswith(server.base_url + "/v1/options/contracts/?page=")
    assert key not in first["next_url"]
    seen = [r["ticker"] for r in first["results"]]
    url = first["next_url"]
    urls = {url}
    while url:
        body = http.get(url, headers=auth(key)).json()
        seen += [r["ticker"] for r in body["results"]]
        url = body.get("next_url")
        assert url not in urls
        if url:
            urls.add(url)
    every = list_page(http, key, limit=1000)["results"]
    assert seen == [r["ticker"] for r in every]
    assert seen == sorted(seen)


def test_tampered_foreign_and_expired_tokens(http: httpx.Client, server: RunningServer) -> None:
    key = server.key("expert")
    token = list_page(http, key)["next_url"].split("page=")[1]
    body, mac = token.split(".")
    forged = (
        base64.urlsafe_b64encode(base64.urlsafe_b64decode(body + "==").replace(b'"l":5', b'"l":9'))
        .rstrip(b"=")
        .decode()
    )
    for bad in (forged + "." + mac, token[:-2] + "xx", "garbage", ""):
        if not bad:
            continue
        assert_error(
            http.get("/v1/options/contracts/", params={"page": bad}, headers=auth(key)), 400, "invalid_page_token"
        )
    # A token of one route is refused on another.
    assert_error(
        http.get("/v1/options/chain/SPY/", params={"page": token}, headers=auth(key)), 400, "invalid_page_token"
    )
    with server.at(TEST_NOW_NS + 25 * 3600 * 1_000_000_000):
        assert_error(
            http.get("/v1/options/contracts/", params={"page": token}, headers=auth(key)), 400, "invalid_page_token"
        )


def test_next_url_uses_the_configured_public_url(server: RunningServer) -> None:
    srv, _, base = start_server(server.data_dir, FixedClock(TEST_NOW_NS), public_url="https://md.example.org/prefix/")
    try:
        r = httpx.get(
            base + "/v1/options/contracts/",
            params={"underlying_ticker": "SPY", "limit": 2},
            headers=auth(server.key("expert")),
        )
        assert r.json()["next_url"].startswith("https://md.example.org/prefix/v1/options/contracts/?page=")
    finally:
        srv.should_exit = True


def test_forwarded_headers_shape_next_url(http: httpx.Client, server: RunningServer) -> None:
    r = http.get(
        "/v1/options/contracts/",
        params={"underlying_ticker": "SPY", "limit": 2},
        headers={**auth(server.key("expert")), "X-Forwarded-Proto": "https", "X-Forwarded-Host": "api.local"},
    )
    assert r.json()["next_url"].startswith("https://api.local/v1/options/contracts/?page=")


# -- paths ----------------------------------------------------------------------------------------


def test_every_route_answers_with_and_without_the_slash_and_never_redirects(
    http: httpx.Client, server: RunningServer
) -> None:
    c = a_contract(http, server, as_of="2025-12-02")["ticker"]
    h = auth(server.key("expert"))
    paths = [
        "/v1/status/",
        "/v1/options/contracts/",
        f"/v1/options/contracts/{c}/",
        f"/v1/options/trades/{c}/",
        f"/v1/options/quotes/{c}/",
        f"/v1/options/aggs/{c}/1/day/2025-11-01/2025-12-02/",
        f"/v1/options/aggs/{c}/prev/",
        "/v1/tickers/search/",
        "/v1/tickers/expirations/SPY/",
    ]
    for path in paths:
        with_slash = http.get(path, headers=h)
        without = http.get(path.rstrip("/"), headers=h)
        assert with_slash.status_code == without.status_code == 200, (path, with_slash.text, without.text)
        assert not with_slash.is_redirect and not without.is_redirect


def test_colon_may_be_percent_encoded(http: httpx.Client, server: RunningServer) -> None:
    c = a_contract(http, server, as_of="2025-12-02")["ticker"]
    h = auth(server.key("expert"))
    plain = http.get(f"/v1/options/contracts/{c}/", headers=h).json()["results"]
    encoded = http.get(f"/v1/options/contracts/{c.replace(':', '%3A')}/", headers=h).json()["results"]
    bare = http.get(f"/v1/options/contracts/{c[2:]}/", headers=h).json()["results"]
    assert plain == encoded == bare and plain["ticker"] == c


def test_openapi_document(http: httpx.Client) -> None:
    spec = http.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    assert "/v1/options/chain/{underlying}/" in spec["paths"] and "/v1/status/" in spec["paths"]
    v1 = [p for p in spec["paths"] if p.startswith(("/v1/options/", "/v1/stocks/", "/v1/tickers/"))]
    assert v1 and all(p.endswith("/") for p in v1), "slash-less aliases stay out of the document"
    assert http.get("/docs").status_code == 200


def test_access_log_never_contains_the_key(
    http: httpx.Client, server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    key = server.key("expert")
    with caplog.at_level("INFO", logger="cutemarkets.access"):
        http.get("/v1/options/contracts/", params={"apiKey": key, "limit": 1})
        http.get("/v1/options/contracts/", params={"api_key": key, "limit": 1})
        http.get("/v1/options/contracts/", headers=auth(key))
        deadline = time.time() + 5
        while len([r for r in caplog.records if r.name == "cutemarkets.access"]) < 3 and time.time() < deadline:
            time.sleep(0.05)
    lines = [r.getMessage() for r in caplog.records if r.name == "cutemarkets.access"]
    assert len(lines) >= 3
    assert all(key not in line for line in lines)
    assert any("apiKey=%2A%2A%2A" in line or "apiKey=***" in line for line in lines)


def test_large_answers_are_gzipped_for_remote_clients_that_ask(http: httpx.Client, server: RunningServer) -> None:
    h = auth(server.key("expert"))
    params = {"limit": 1000, "underlying_ticker": "SPY"}
    # A client behind a proxy on this host (uvicorn trusts the loopback proxy's X-Forwarded-For).
    remote = {**h, "X-Forwarded-For": "203.0.113.5"}
    zipped = http.get("/v1/options/contracts/", params=params, headers={**remote, "Accept-Encoding": "gzip"})
    plain = http.get("/v1/options/contracts/", params=params, headers={**remote, "Accept-Encoding": "identity"})
    # A client on the server's own host gets the bytes uncompressed: there compression only costs CPU.
    local = http.get("/v1/options/contracts/", params=params, headers={**h, "Accept-Encoding": "gzip"})
    assert zipped.headers.get("content-encoding") == "gzip" and "content-encoding" not in plain.headers
    assert "content-encoding" not in local.headers and len(local.content) > 2048
    assert zipped.json()["results"] == plain.json()["results"] == local.json()["results"]
    assert zipped.headers["content-type"].startswith("application/json") and "x-ratelimit-plan" in zipped.headers


def test_a_wrong_method_names_every_method_of_its_path(http: httpx.Client, server: RunningServer) -> None:
    """A 405 lists in ``Allow`` every method some route serves at the path, not only the first route's."""
    path = "/v1/paper/accounts/85abe1d6-a161-4997-80e5-10f35ba0ec53/"
    r = http.request("PUT", path, headers=auth(server.key("paper_only")))
    assert r.status_code == 405 and r.json()["status"] == "ERROR", r.text
    assert set(r.headers["allow"].split(", ")) >= {"GET", "PATCH", "DELETE"}
