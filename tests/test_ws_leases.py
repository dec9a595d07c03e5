"""One connection per user: 4409 for a second connection on either market, and the lease's release on a
clean close, on an abrupt client death, on a frozen client (keepalive), and on the death of the process
that held it (TTL). Also the clean shutdown that closes every socket with a reason."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets

from cutemarkets_server.store.keys import KeyStore
from cutemarkets_server.store.leases import LeaseStore
from cutemarkets_server.ws.config import StreamConfig
from wsserver import (
    StreamServer,
    bearer,
    close_code,
    collect,
    linked_data_dir,
    open_authenticated,
    recv_json,
    run,
    send,
    start_stream_server,
    subscribe,
)

REPLAY_DAY = dt.date(2025, 12, 1)
TTL_S = 1.5


def _config(**extra: Any) -> StreamConfig:
    return StreamConfig(
        mode="replay",
        replay_day=REPLAY_DAY,
        replay_speed=30.0,
        replay_start=dt.time(10, 0),
        lease_ttl_s=TTL_S,
        lease_refresh_s=0.3,
        **extra,
    )


@pytest.fixture(scope="module")
def srv(market_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StreamServer]:
    data_dir = linked_data_dir(tmp_path_factory.mktemp("ws-leases"), market_dir)
    server = start_stream_server(data_dir, _config(), ws_ping_interval=0.5, ws_ping_timeout=0.5)
    yield server
    server.stop()


def _user(srv: StreamServer) -> tuple[str, str]:
    """Two keys of one user (same name), one per product."""
    name = f"user-{uuid.uuid4().hex[:8]}"
    return srv.new_key(name, "expert", ("stocks",)), srv.new_key(name, "commercial", ("options",))


async def _attempt(srv: StreamServer, path: str, key: str) -> tuple[str, int | None]:
    """Open a connection and report how authentication ended: ``auth_success`` or the refusal and its code."""
    async with websockets.connect(srv.ws(path), additional_headers=bearer(key)) as ws:
        while True:
            for ev in await recv_json(ws):
                if ev["status"] == "auth_success":
                    return "auth_success", None
                if ev["status"] in ("max_connections", "auth_failed"):
                    code, _ = await close_code(ws)
                    return ev["status"], code


def _until_admitted(srv: StreamServer, path: str, key: str, timeout_s: float) -> float:
    """Seconds until a connection of ``key`` is admitted (polling)."""
    started = time.monotonic()
    while True:
        result, _ = run(_attempt(srv, path, key))
        if result == "auth_success":
            return time.monotonic() - started
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"still refused after {timeout_s} s")
        time.sleep(0.1)


def test_second_connection_of_a_user_gets_4409_on_either_market(srv: StreamServer) -> None:
    stocks_key, options_key = _user(srv)

    async def go() -> tuple[list[Any], list[Any], list[dict[str, Any]]]:
        first = await open_authenticated(srv.ws("/v1/ws/stocks/"), stocks_key)
        async with first:
            await subscribe(first, "T.*")
            refusals = [await _attempt(srv, "/v1/ws/options/", options_key)]
            refusals.append(await _attempt(srv, "/v1/ws/stocks/", stocks_key))
            statuses: list[Any] = []
            async with websockets.connect(srv.ws("/options")) as polygon:
                await polygon.recv()
                await send(polygon, "auth", options_key)
                statuses.append(await polygon.recv())
                statuses.append(await close_code(polygon))
            still = await collect(first, 1.5)
        return refusals, statuses, still

    refusals, statuses, still = run(go())
    assert refusals == [("max_connections", 4409), ("max_connections", 4409)]
    assert '"status":"max_connections"' in statuses[0] and "Maximum number of connections exceeded." in statuses[0]
    assert statuses[1][0] == 4409
    assert any(e["ev"] == "T" for e in still), "the first connection keeps streaming"


def test_lease_is_released_when_the_connection_closes(srv: StreamServer) -> None:
    stocks_key, options_key = _user(srv)

    async def go() -> None:
        ws = await open_authenticated(srv.ws("/v1/ws/stocks/"), stocks_key)
        await ws.close()

    run(go())
    assert _until_admitted(srv, "/v1/ws/options/", options_key, timeout_s=5) < 2.0


def test_lease_is_released_when_the_client_dies_without_a_close_frame(srv: StreamServer) -> None:
    stocks_key, options_key = _user(srv)

    async def go() -> tuple[str, int | None]:
        ws = await open_authenticated(srv.ws("/v1/ws/stocks/"), stocks_key)
        await subscribe(ws, "T.*")
        refused = await _attempt(srv, "/v1/ws/options/", options_key)
        ws.transport.abort()  # TCP reset, no close frame
        return refused

    assert run(go()) == ("max_connections", 4409)
    assert _until_admitted(srv, "/v1/ws/options/", options_key, timeout_s=5) < 3.0


def test_a_frozen_client_is_dropped_by_the_keepalive_and_its_lease_freed(srv: StreamServer) -> None:
    stocks_key, options_key = _user(srv)
    raw = socket.create_connection(("127.0.0.1", srv.port))
    handshake = (
        "GET /v1/ws/stocks/ HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{srv.port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n"
        "Sec-WebSocket-Version: 13\r\n"
        f"Authorization: Bearer {stocks_key}\r\n\r\n"
    )
    raw.sendall(handshake.encode())
    reply = b""
    while b"auth_success" not in reply:
        reply += raw.recv(65536)
    assert reply.startswith(b"HTTP/1.1 101")
    try:
        assert run(_attempt(srv, "/v1/ws/options/", options_key)) == ("max_connections", 4409)
        # The frozen client never answers a ping: after ping interval + timeout (1 s) it is dropped.
        assert _until_admitted(srv, "/v1/ws/options/", options_key, timeout_s=6) < 4.0
    finally:
        raw.close()


def test_a_dead_process_lease_expires_after_its_ttl(srv: StreamServer) -> None:
    stocks_key, options_key = _user(srv)
    found = KeyStore(srv.data_dir / "keys.sqlite").lookup(stocks_key)
    assert found is not None
    name = found.name
    LeaseStore(srv.data_dir / "keys.sqlite").acquire(name, "other-host:4242:dead", "stocks", time.time(), TTL_S)
    assert run(_attempt(srv, "/v1/ws/options/", options_key)) == ("max_connections", 4409)
    waited = _until_admitted(srv, "/v1/ws/stocks/", stocks_key, timeout_s=TTL_S + 3)
    assert waited <= TTL_S + 1.0


def test_a_living_connection_keeps_its_lease_beyond_the_ttl(srv: StreamServer) -> None:
    stocks_key, options_key = _user(srv)

    async def go() -> tuple[str, int | None]:
        ws = await open_authenticated(srv.ws("/v1/ws/stocks/"), stocks_key)
        async with ws:
            await asyncio.sleep(TTL_S * 2.5)
            return await _attempt(srv, "/v1/ws/options/", options_key)

    assert run(go()) == ("max_connections", 4409)


def test_shutdown_closes_every_socket_with_a_reason(market_dir: Path, tmp_path: Path) -> None:
    server = start_stream_server(linked_data_dir(tmp_path / "data", market_dir), _config())
    keys = [server.new_key(f"user-{i}") for i in range(3)]

    async def go() -> list[tuple[int | None, str]]:
        paths = ["/v1/ws/stocks/", "/v1/ws/options/", "/v1/ws/stocks/"]
        sockets = [await open_authenticated(server.ws(p), k) for p, k in zip(paths, keys, strict=True)]
        await subscribe(sockets[0], "T.*")
        await asyncio.get_running_loop().run_in_executor(None, server.stop)
        return [await close_code(ws) for ws in sockets]

    assert run(go()) == [(1001, "server shutting down")] * 3
