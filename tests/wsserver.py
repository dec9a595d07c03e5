"""A streaming server for the WebSocket tests: the real app under uvicorn (with the production keepalive and
shutdown behaviour of :class:`StreamingServer`) in a thread, and small client helpers."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import websockets

from cutemarkets_server.app import create_app
from cutemarkets_server.clock import Clock
from cutemarkets_server.config import Settings
from cutemarkets_server.store.keys import KeyStore
from cutemarkets_server.ws.config import StreamConfig
from cutemarkets_server.ws.serving import StreamingServer, server_config


@dataclass
class StreamServer:
    data_dir: Path
    app: Any
    server: StreamingServer
    thread: threading.Thread
    port: int
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ws(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    @property
    def service(self) -> Any:
        return self.app.state.stream

    @property
    def clock(self) -> Any:
        return self.app.state.ctx.runtime.clock

    def new_key(self, name: str, plan: str = "expert", products: tuple[str, ...] = ("options", "stocks")) -> str:
        secret, _ = KeyStore(self.data_dir / "keys.sqlite").create(name, plan, products)
        return secret

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def start_stream_server(
    data_dir: Path, streaming: StreamConfig, *, clock: Clock | None = None, **uvicorn_options: Any
) -> StreamServer:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = create_app(Settings(data_dir=data_dir, secret="test-secret"), clock=clock, streaming=streaming)
    config = server_config(app, log_level="warning", **uvicorn_options)
    server = StreamingServer(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.time() + 60
    while not server.started:
        if time.time() > deadline or not thread.is_alive():
            raise RuntimeError("stream server did not start")
        time.sleep(0.02)
    return StreamServer(data_dir, app, server, thread, port)


def linked_data_dir(root: Path, market_dir: Path) -> Path:
    """A fresh data directory whose lake is the (read-only) shared test market."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "lake").symlink_to(market_dir / "lake", target_is_directory=True)
    return root


def wait_until(condition: Callable[[], bool], timeout_s: float = 20.0, what: str = "condition") -> None:
    deadline = time.time() + timeout_s
    while not condition():
        if time.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def recv_json(ws: Any, timeout_s: float = 10.0) -> list[dict[str, Any]]:
    data = await asyncio.wait_for(ws.recv(), timeout_s)
    assert isinstance(data, str), "frames are text"
    events = orjson.loads(data)
    assert isinstance(events, list), f"a frame is a JSON array: {data[:200]}"
    return events


async def send(ws: Any, action: str, params: Any) -> None:
    await ws.send(orjson.dumps({"action": action, "params": params}).decode())


async def open_authenticated(url: str, key: str) -> Any:
    """A connection authenticated in the handshake (the connected and auth_success frames consumed)."""
    ws = await websockets.connect(url, additional_headers=bearer(key), max_size=None)
    statuses = await statuses_until(ws, "auth_success")
    assert statuses[0]["status"] == "connected"
    return ws


async def statuses_until(ws: Any, wanted: str, timeout_s: float = 10.0) -> list[dict[str, Any]]:
    """Status events up to and including the first one with ``status == wanted``."""
    seen: list[dict[str, Any]] = []
    while True:
        for ev in await recv_json(ws, timeout_s):
            if ev.get("ev") == "status":
                seen.append(ev)
                if ev["status"] == wanted:
                    return seen


async def subscribe(ws: Any, params: str) -> list[dict[str, Any]]:
    """Subscribe and return the acknowledgements (one status per topic), skipping data frames in between."""
    await send(ws, "subscribe", params)
    return await _acks(ws, len([t for t in params.split(",") if t.strip()]))


async def unsubscribe(ws: Any, params: str) -> list[dict[str, Any]]:
    await send(ws, "unsubscribe", params)
    return await _acks(ws, len([t for t in params.split(",") if t.strip()]))


async def _acks(ws: Any, n: int) -> list[dict[str, Any]]:
    acks: list[dict[str, Any]] = []
    while len(acks) < n:
        for ev in await recv_json(ws):
            if ev.get("ev") == "status" and ev["status"] in ("success", "error"):
                acks.append(ev)
    return acks


async def collect(ws: Any, seconds: float) -> list[dict[str, Any]]:
    """Every event received for ``seconds``."""
    out: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while (left := end - loop.time()) > 0:
        try:
            out.extend(await recv_json(ws, left))
        except TimeoutError:
            break
    return out


async def close_code(ws: Any, timeout_s: float = 15.0) -> tuple[int | None, str]:
    """Read until the server closes; (close code, reason)."""
    try:
        while True:
            await asyncio.wait_for(ws.recv(), timeout_s)
    except websockets.ConnectionClosed as exc:
        rcvd = exc.rcvd
        return (rcvd.code, rcvd.reason) if rcvd is not None else (None, "")
