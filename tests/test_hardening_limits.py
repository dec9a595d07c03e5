"""Rate limits through the running server: sliding windows, only served requests charged, the product check
before counting, and exact counts under concurrency across worker processes sharing one data directory."""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from cutemarkets_server.market.timestamps import NS_PER_DAY, NS_PER_MIN
from cutemarkets_server.store.ratelimit import RateLimitStore, Window

from conftest import TEST_NOW_NS, RunningServer, auth

NS_PER_SEC = 1_000_000_000
SEARCH = "/v1/tickers/search/"
# A minute boundary a few days after the test market, so each test starts with fresh windows.
BOUNDARY = (TEST_NOW_NS + 5 * NS_PER_DAY) // NS_PER_MIN * NS_PER_MIN


def test_no_burst_of_twice_the_limit_across_a_minute_boundary(http: httpx.Client, server: RunningServer) -> None:
    key = server.new_key("free", ("options",), name="boundary")
    with server.at(BOUNDARY - NS_PER_SEC):
        assert [http.get(SEARCH, headers=auth(key)).status_code for _ in range(10)] == [200] * 10
    # Two seconds later a new calendar minute has begun, but the last 60 seconds already hold 10 requests.
    with server.at(BOUNDARY + NS_PER_SEC):
        r = http.get(SEARCH, headers=auth(key))
        assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limit_exceeded"
        assert r.headers["retry-after"] == "58"  # the ten requests leave the window at BOUNDARY + 59 s
    with server.at(BOUNDARY + 59 * NS_PER_SEC - 1):
        assert http.get(SEARCH, headers=auth(key)).status_code == 429
    with server.at(BOUNDARY + 59 * NS_PER_SEC):
        r = http.get(SEARCH, headers=auth(key))
        assert r.status_code == 200 and r.headers["x-ratelimit-remaining-minute"] == "9"  # all ten left together


def test_refused_requests_are_not_charged(http: httpx.Client, server: RunningServer) -> None:
    key = server.new_key("free", ("options",), name="retrying")
    start = BOUNDARY + 10 * NS_PER_MIN
    with server.at(start):
        # The wrong product is refused before counting, and the refusal carries the headers.
        for _ in range(5):
            r = http.get("/v1/stocks/snapshot/AAPL/", headers=auth(key))
            assert r.status_code == 403 and r.headers["x-ratelimit-remaining-minute"] == "10"
        # A route the plan does not include (quotes need Expert) is refused after admission, then refunded.
        r = http.get("/v1/options/quotes/O:SPY251219C00650000/", headers=auth(key))
        assert r.status_code == 403 and r.headers["x-ratelimit-remaining-minute"] == "10"
        for expected in range(9, -1, -1):
            r = http.get(SEARCH, headers=auth(key))
            assert r.status_code == 200 and r.headers["x-ratelimit-remaining-minute"] == str(expected)
        # A client retrying while limited does not dig itself deeper.
        for _ in range(30):
            r = http.get(SEARCH, headers=auth(key))
            assert r.status_code == 429 and r.headers["x-ratelimit-remaining-day"] == "4990"
    with server.at(start + NS_PER_MIN):
        r = http.get(SEARCH, headers=auth(key))
        assert r.status_code == 200
        assert r.headers["x-ratelimit-remaining-minute"] == "9" and r.headers["x-ratelimit-remaining-day"] == "4989"
    # A bad request is an answer, and is charged.
    with server.at(start + 2 * NS_PER_MIN):
        r = http.get("/v1/options/contracts/", params={"limit": "many"}, headers=auth(key))
        assert r.status_code == 400 and r.headers["x-ratelimit-remaining-day"] == "4988"


def _admit_many(path: str, n: int, limit: int, now_ns: int) -> int:
    store = RateLimitStore(Path(path))
    return sum(store.admit(1, now_ns, (Window(60 * NS_PER_SEC, limit),)).admitted for _ in range(n))


def test_the_store_is_exact_across_processes(tmp_path: Path) -> None:
    db = str(tmp_path / "usage.sqlite")
    RateLimitStore(Path(db))
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        admitted = pool.starmap(_admit_many, [(db, 60, 97, TEST_NOW_NS)] * 4)
    assert sum(admitted) == 97
    assert RateLimitStore(Path(db)).peek(1, TEST_NOW_NS, (Window(60 * NS_PER_SEC, 97),)) == (0,)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    cli = Path(sys.executable).parent / "cutemarkets"
    env = {**os.environ, "CUTEMARKETS_SECRET": "test-secret"}
    return subprocess.Popen(
        [str(cli), "serve", "--data-dir", str(data_dir), "--port", str(port), "--no-live"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_ready(base: str, proc: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        assert proc.poll() is None, "the server exited"
        try:
            if httpx.get(base + "/v1/status/", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("server did not start")


def test_two_server_processes_share_one_exact_limit(server: RunningServer, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "lake").symlink_to((server.data_dir / "lake").resolve(), target_is_directory=True)
    ports = [_free_port(), _free_port()]
    procs = [_serve(data_dir, p) for p in ports]
    try:
        bases = [f"http://127.0.0.1:{p}" for p in ports]
        for base, proc in zip(bases, procs, strict=True):
            _wait_ready(base, proc)
        from cutemarkets_server.store.keys import KeyStore

        key, _ = KeyStore(data_dir / "keys.sqlite").create("shared", "free", ("options",))
        clients = [httpx.Client(base_url=b, timeout=30) for b in bases]

        def call(i: int) -> int:
            return clients[i % 2].get(SEARCH, headers=auth(key)).status_code

        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(call, range(40)))
        assert statuses.count(200) == 10 and statuses.count(429) == 30
        for c in clients:
            c.close()
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
