"""Security basics through the running server: security headers, the CORS policy, request size limits,
and nothing secret in error messages or logs."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cutemarkets_server.clock import FixedClock

from conftest import TEST_NOW_NS, RunningServer, auth, start_server

ALLOWED = "https://research.example"


def _assert_envelope(r: httpx.Response, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["status"] == "ERROR" and body["request_id"].startswith("cm_") and body["error"]["code"] == code


def test_security_headers_on_every_answer(http: httpx.Client, server: RunningServer) -> None:
    answers = [
        http.get("/v1/status/"),
        http.get("/v1/options/contracts/", params={"limit": 1}, headers=auth(server.key("expert"))),
        http.get("/v1/options/contracts/"),  # 401
        http.get("/nowhere"),  # 404
        http.get("/openapi.json"),
    ]
    for r in answers:
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["content-security-policy"].startswith("default-src 'none'")
        assert "strict-transport-security" not in r.headers  # plain HTTP
    docs = http.get("/docs")
    assert docs.status_code == 200 and docs.headers["content-type"].startswith("text/html")
    csp = docs.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp and "https:" not in csp
    assert docs.headers["x-frame-options"] == "DENY"
    behind_tls = http.get("/v1/status/", headers={"X-Forwarded-Proto": "https"})
    assert behind_tls.headers["strict-transport-security"].startswith("max-age=")


def test_no_cross_origin_access_by_default(http: httpx.Client, server: RunningServer) -> None:
    r = http.get("/v1/options/contracts/", headers={**auth(server.key("expert")), "Origin": ALLOWED})
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
    pre = http.options(
        "/v1/options/contracts/",
        headers={"Origin": ALLOWED, "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in pre.headers


@pytest.fixture()
def cors_server(market_dir: Path, tmp_path: Path) -> Iterator[tuple[str, str]]:
    from cutemarkets_server.store.keys import KeyStore

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "lake").symlink_to(market_dir / "lake", target_is_directory=True)
    handle, _, base = start_server(
        data_dir, FixedClock(TEST_NOW_NS), cors_origins=(ALLOWED,), max_body_bytes=4096, max_url_bytes=2048
    )
    key, _ = KeyStore(data_dir / "keys.sqlite").create("cors", "free", ("options",))
    try:
        yield base, key
    finally:
        handle.should_exit = True


def test_configured_origins_get_cors_and_others_do_not(cors_server: tuple[str, str]) -> None:
    base, key = cors_server
    with httpx.Client(base_url=base, timeout=30) as client:
        preflight = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"}
        # A preflight is answered before authentication and is not charged.
        ok = client.options("/v1/options/contracts/", headers={"Origin": ALLOWED, **preflight})
        assert ok.status_code == 204 and ok.headers["access-control-allow-origin"] == ALLOWED
        assert "authorization" in ok.headers["access-control-allow-headers"].lower()
        refused = client.options("/v1/options/contracts/", headers={"Origin": "https://evil.example", **preflight})
        _assert_envelope(refused, 400, "bad_request")
        assert "access-control-allow-origin" not in refused.headers

        r = client.get("/v1/options/contracts/", params={"limit": 1}, headers={**auth(key), "Origin": ALLOWED})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == ALLOWED
        exposed = r.headers["access-control-expose-headers"].lower()
        assert "x-ratelimit-remaining-minute" in exposed and "x-request-id" in exposed
        assert r.headers["x-ratelimit-remaining-minute"] == "9"
        other = client.get("/v1/options/contracts/", params={"limit": 1}, headers={**auth(key), "Origin": "null"})
        assert "access-control-allow-origin" not in other.headers


def test_request_size_limits(cors_server: tuple[str, str]) -> None:
    base, key = cors_server
    with httpx.Client(base_url=base, timeout=30) as client:
        _assert_envelope(
            client.get("/v1/options/contracts/", params={"q": "x" * 3000}, headers=auth(key)), 414, "uri_too_long"
        )
        _assert_envelope(
            client.post("/v1/options/contracts/", content=b"x" * 5000, headers=auth(key)), 413, "payload_too_large"
        )

        def chunks() -> Iterator[bytes]:
            for _ in range(10):
                yield b"y" * 1000

        _assert_envelope(
            client.post("/v1/options/contracts/", content=chunks(), headers=auth(key)), 413, "payload_too_large"
        )
        # A small body passes the limit and reaches routing (this route only answers GET).
        small = client.post("/v1/options/contracts/", content=b"{}", headers=auth(key))
        assert small.status_code == 405
        # Refused requests were never charged.
        r = client.get("/v1/options/contracts/", params={"limit": 1}, headers=auth(key))
        assert r.status_code == 200 and r.headers["x-ratelimit-remaining-minute"] == "8"


def test_oversized_headers_are_refused(cors_server: tuple[str, str]) -> None:
    base, key = cors_server
    with httpx.Client(base_url=base, timeout=30) as client:
        r = client.get("/v1/options/contracts/", headers={**auth(key), "X-Big": "z" * 20_000})
        _assert_envelope(r, 431, "bad_request")
        assert client.get("/v1/status/", headers={"X-Fine": "z" * 4000}).status_code == 200


def test_nothing_secret_in_errors_or_logs(
    http: httpx.Client, server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    key = server.key("expert")
    near_miss = key[:-4] + "0000"
    with caplog.at_level(logging.DEBUG):
        wrong = http.get("/v1/options/contracts/", headers=auth(near_miss))
        assert wrong.status_code == 401 and near_miss not in wrong.text and near_miss[3:12] not in wrong.text
        bad = http.get("/v1/options/contracts/", params={"apiKey": key, "limit": "x"})
        assert bad.status_code == 400 and key not in bad.text
        http.get("/v1/options/contracts/", params={"api_key": key, "limit": 1})
        refused = http.get("/v1/stocks/snapshot/AAPL/", headers=auth(server.key("options_only")))
        assert refused.status_code == 403 and refused.headers["x-ratelimit-plan"] == "Expert"
        time.sleep(0.3)
    server_side = [r for r in caplog.records if r.name.startswith(("cutemarkets", "uvicorn"))]
    logged = "\n".join(r.getMessage() for r in server_side) + "\n".join(str(r.exc_info) for r in server_side)
    assert len(server_side) >= 4
    for secret in (key, near_miss, server.key("options_only"), "test-secret"):
        assert secret not in logged
