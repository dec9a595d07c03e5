"""Shared fixtures: the built-in market's test profile is built once per test run and shared."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

# A fixed window that contains Thanksgiving 2025 (holiday) and the early close on 2025-11-28.
TEST_MARKET_END = dt.date(2025, 12, 2)
TEST_MARKET_SEED = 7


@pytest.fixture(scope="session")
def market_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory holding the test-profile built-in market (read-only for tests)."""
    from cutemarkets_server.sim.build import build_market

    cached = os.environ.get("CUTEMARKETS_TEST_MARKET_DIR")
    if cached and (Path(cached) / "lake" / "manifest.sqlite").exists():
        return Path(cached)
    root = tmp_path_factory.mktemp("market")
    build_market(root, seed=TEST_MARKET_SEED, end=TEST_MARKET_END, profile="test")
    return root


# -- a running server over the test market -------------------------------------------------------

import contextlib  # noqa: E402
import socket  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402

from cutemarkets_server.market.timestamps import et_ns  # noqa: E402

# "Now" for the test server: the morning after the test market's last session.
TEST_NOW_NS = et_ns(dt.date(2025, 12, 3), 10, 0)


@dataclass
class RunningServer:
    base_url: str
    data_dir: Path
    clock: object
    keys: dict[str, str] = field(default_factory=dict)
    app: object = None

    def key(self, name: str) -> str:
        return self.keys[name]

    def new_key(self, plan: str, products: tuple[str, ...] = ("options", "stocks", "paper"), name: str = "test") -> str:
        from cutemarkets_server.store.keys import KeyStore

        secret, _ = KeyStore(self.data_dir / "keys.sqlite").create(name, plan, products)
        return secret

    @contextlib.contextmanager
    def at(self, now_ns: int) -> Iterator[None]:
        """Run a block with the server's clock at ``now_ns``."""
        before = self.clock.now_ns()
        self.clock.set(now_ns)
        try:
            yield
        finally:
            self.clock.set(before)


@dataclass
class ServerHandle:
    server: object
    thread: threading.Thread

    @property
    def should_exit(self) -> bool:
        return self.server.should_exit

    @should_exit.setter
    def should_exit(self, value: bool) -> None:
        """Ask the server to stop and wait for its thread, so no daemon thread outlives the test."""
        self.server.should_exit = value
        if value:
            self.thread.join(timeout=30)


def start_server(
    data_dir: Path, clock: object, public_url: str | None = None, **settings: object
) -> tuple[ServerHandle, object, str]:
    import uvicorn

    from cutemarkets_server.app import create_app
    from cutemarkets_server.config import Settings

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = create_app(Settings(data_dir=data_dir, public_url=public_url, secret="test-secret", **settings), clock=clock)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started:
        if time.time() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    return ServerHandle(server, thread), app, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def server(market_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """The API served over the shared test market, with a fixed clock and one key per plan."""
    from cutemarkets_server.clock import FixedClock

    data_dir = tmp_path_factory.mktemp("server")
    (data_dir / "lake").symlink_to(market_dir / "lake", target_is_directory=True)
    clock = FixedClock(TEST_NOW_NS)
    srv, app, base = start_server(data_dir, clock)
    running = RunningServer(base, data_dir, clock, app=app)
    running.keys = {
        "expert": running.new_key("expert", name="expert"),
        "commercial": running.new_key("commercial", name="commercial"),
        "developer": running.new_key("developer", name="developer"),
        "free": running.new_key("free", name="free"),
        "options_only": running.new_key("expert", ("options",), name="options-only"),
        "stocks_only": running.new_key("expert", ("stocks",), name="stocks-only"),
        "paper_only": running.new_key("expert", ("paper",), name="paper-only"),
    }
    yield running
    srv.should_exit = True


@pytest.fixture(scope="session")
def http(server: RunningServer) -> Iterator[object]:
    """An httpx client against the running server (no redirects followed)."""
    import httpx

    with httpx.Client(base_url=server.base_url, timeout=60.0, follow_redirects=False) as client:
        yield client


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="session")
def engine_runs(server: RunningServer) -> object:
    """Two runs of the real backtest engine on the test market, written by ``cutemarkets backtest run`` (no
    ``--out``) into the running server's backtests folder (see ``tests/enginerun.py``)."""
    from enginerun import make_engine_runs

    return make_engine_runs(server.data_dir)
