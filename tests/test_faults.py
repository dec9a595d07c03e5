"""Faults survived: a missing or corrupt Parquet file takes only its dataset offline (503 with the
envelope, reported by /v1/status/), and errors never break a keep-alive connection."""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from cutemarkets_server.clock import FixedClock
from cutemarkets_server.store.lake import Lake

from conftest import TEST_NOW_NS, auth, start_server
from lakeread import query

DAY = "2025-12-02"


@pytest.fixture()
def own_lake(market_dir: Path, tmp_path: Path) -> Iterator[tuple[str, Path, object]]:
    """A server over a private copy of the test market, so files can be broken."""
    data_dir = tmp_path / "data"
    shutil.copytree(market_dir / "lake", data_dir / "lake")
    handle, app, base = start_server(data_dir, FixedClock(TEST_NOW_NS))
    try:
        yield base, data_dir, app
    finally:
        handle.should_exit = True


def _key(data_dir: Path, plan: str = "expert") -> str:
    from cutemarkets_server.store.keys import KeyStore

    return KeyStore(data_dir / "keys.sqlite").create("faults", plan, ("options", "stocks"))[0]


def _day_file(data_dir: Path, dataset: str) -> Path:
    """The file that serves ``DAY`` of ``dataset``: its month's pack when one holds the day, else the day file."""
    lake = Lake(data_dir / "lake")
    snap = lake.snapshot()
    pack = snap.pack_files.get(dataset, {}).get(DAY)
    if pack is not None:
        return lake.root / pack
    part = snap.partition(dataset, __import__("datetime").date.fromisoformat(DAY))
    assert part is not None
    return Path(part.files[0])


def _contract(client: httpx.Client, key: str) -> str:
    r = client.get("/v1/options/contracts/", params={"underlying_ticker": "SPY", "limit": 1}, headers=auth(key))
    return r.json()["results"][0]["ticker"]


def _assert_unavailable(r: httpx.Response, dataset: str, data_dir: Path) -> None:
    assert r.status_code == 503, r.text
    body = r.json()
    assert body["status"] == "ERROR" and body["request_id"].startswith("cm_")
    assert body["error"]["code"] == "service_unavailable" and dataset in body["error"]["message"]
    assert str(data_dir) not in r.text and ".parquet" not in r.text, "no file paths leak to clients"
    assert r.headers["content-type"].startswith("application/json") and "x-ratelimit-plan" in r.headers


def test_a_missing_or_corrupt_file_takes_only_its_dataset_offline(own_lake: tuple[str, Path, object]) -> None:
    base, data_dir, _ = own_lake
    key = _key(data_dir)
    with httpx.Client(base_url=base, timeout=60) as client:
        contract = _contract(client, key)
        option_trades = f"/v1/options/trades/{contract}/"
        stock_quotes = "/v1/stocks/quotes/AAPL/"
        stock_trades = "/v1/stocks/trades/AAPL/"
        day = {"timestamp": DAY, "limit": 50}
        assert client.get("/v1/status/").json()["services"]["lake"]["status"] == "ok"

        missing = _day_file(data_dir, "option_trades")
        kept = missing.with_suffix(".kept")
        missing.rename(kept)
        corrupt = _day_file(data_dir, "stock_quotes")
        original = corrupt.read_bytes()
        corrupt.write_bytes(b"\0garbage" * 512)

        _assert_unavailable(client.get(option_trades, params=day, headers=auth(key)), "option_trades", data_dir)
        _assert_unavailable(client.get(stock_quotes, params=day, headers=auth(key)), "stock_quotes", data_dir)
        # Everything else keeps serving, on the same pooled connections.
        assert client.get(stock_trades, params=day, headers=auth(key)).status_code == 200
        assert client.get(f"/v1/options/quotes/{contract}/", params=day, headers=auth(key)).status_code == 200
        assert client.get(f"/v1/stocks/aggs/grouped/{DAY}/", headers=auth(key)).status_code == 200
        assert client.get("/v1/options/contracts/", params={"limit": 5}, headers=auth(key)).status_code == 200

        status = client.get("/v1/status/").json()
        assert status["status"] == "degraded"
        lake = status["services"]["lake"]
        assert lake["status"] == "degraded" and set(lake["datasets"]) == {"option_trades", "stock_quotes"}
        assert DAY[:7] in lake["datasets"]["option_trades"]["message"]  # the day, or the month of its pack
        assert "missing" in lake["datasets"]["option_trades"]["message"]
        assert "unreadable" in lake["datasets"]["stock_quotes"]["message"]
        assert str(data_dir) not in orjson.dumps(status).decode()

        # Repaired files serve again and the status recovers without a restart.
        kept.rename(missing)
        corrupt.write_bytes(original)
        assert client.get(option_trades, params=day, headers=auth(key)).status_code == 200
        assert client.get(stock_quotes, params=day, headers=auth(key)).status_code == 200
        status = client.get("/v1/status/").json()
        assert status["status"] == "ok" and "datasets" not in status["services"]["lake"]


def _raw_get(sock: socket.socket, path: str, key: str) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 request on an open socket; reads exactly one response (Content-Length framed)."""
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {key}\r\n\r\n".encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection"
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers["content-length"])
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection mid-body"
        rest += chunk
    return status, headers, rest[:length]


def test_errors_keep_the_connection_and_are_logged_with_their_status(
    own_lake: tuple[str, Path, Any], caplog: pytest.LogCaptureFixture
) -> None:
    base, data_dir, app = own_lake

    def broken() -> None:
        raise RuntimeError("a bug, with secret detail cm_0123456789abcdef")

    # A route that fails with an unexpected exception stands in for any bug in a handler.
    app.add_api_route("/v1/stocks/broken/", broken)
    key = _key(data_dir, "free")
    traded = query(data_dir / "lake", "option_trades", "ticker LIKE 'O:SPY%'", days=[dt.date.fromisoformat(DAY)])
    contract = traded[0]["ticker"]  # a contract with trades on DAY, whose file goes missing next
    _day_file(data_dir, "option_trades").unlink()
    host, port = base.removeprefix("http://").split(":")
    with caplog.at_level(logging.INFO, logger="cutemarkets"), socket.create_connection((host, int(port))) as sock:
        status, headers, body = _raw_get(sock, "/v1/stocks/broken/", key)
        assert status == 500 and headers.get("connection", "").lower() != "close"
        err = orjson.loads(body)
        assert err["status"] == "ERROR" and err["error"]["code"] == "internal_error"
        assert "secret" not in body.decode() and "RuntimeError" not in body.decode()
        assert headers["x-request-id"] == err["request_id"]
        # A fault is not charged to the caller's quota.
        assert headers["x-ratelimit-remaining-minute"] == "10"
        status, headers, body = _raw_get(sock, f"/v1/options/trades/{contract}/?timestamp={DAY}", key)
        assert status == 503 and headers.get("connection", "").lower() != "close"
        # The same connection goes on serving.
        status, headers, _ = _raw_get(sock, "/v1/tickers/search/?query=SP", key)
        assert status == 200 and headers["x-ratelimit-remaining-minute"] == "9"
        deadline = time.time() + 5
        while time.time() < deadline:
            lines = [r.getMessage() for r in caplog.records if r.name == "cutemarkets.access"]
            if len(lines) >= 3:
                break
            time.sleep(0.05)
    assert any(" /v1/stocks/broken/ 500 " in line for line in lines), lines
    assert any("/v1/options/trades/" in line and " 503 " in line for line in lines), lines
    assert "0" not in [line.split()[2] for line in lines], "every access line has the status sent"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert key not in logged
