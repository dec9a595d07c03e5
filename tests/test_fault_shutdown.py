"""SIGTERM drains: in-flight requests finish, WebSocket clients get a close frame, the process exits 0."""

from __future__ import annotations

import asyncio
import concurrent.futures
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from cutemarkets_server.store.keys import KeyStore
from wsserver import close_code, linked_data_dir, open_authenticated, subscribe

DRAIN_SERVER = Path(__file__).with_name("drainserver.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sigterm_drains_requests_and_closes_websockets(market_dir: Path, tmp_path: Path) -> None:
    data_dir = linked_data_dir(tmp_path / "data", market_dir)
    keys = KeyStore(data_dir / "keys.sqlite")
    http_key = keys.create("http", "expert", ("stocks", "options"))[0]
    ws_keys = [keys.create(f"ws-{i}", "expert", ("stocks", "options"))[0] for i in range(3)]
    port, marker = _free_port(), tmp_path / "in-flight"
    proc = subprocess.Popen(
        [sys.executable, str(DRAIN_SERVER), str(data_dir), str(port), str(marker)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base, ws_base = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            assert proc.poll() is None and time.time() < deadline, "the server did not start"
            try:
                if httpx.get(base + "/v1/status/", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)

        async def scenario() -> tuple[httpx.Response, list[tuple[int | None, str]]]:
            paths = ["/v1/ws/stocks/", "/v1/ws/options/", "/v1/ws/stocks/"]
            sockets = [await open_authenticated(ws_base + p, k) for p, k in zip(paths, ws_keys, strict=True)]
            await subscribe(sockets[0], "T.*")
            loop = asyncio.get_running_loop()
            with concurrent.futures.ThreadPoolExecutor(1) as pool:
                pending = loop.run_in_executor(
                    pool,
                    lambda: httpx.get(
                        base + "/v1/stocks/slow/", headers={"Authorization": f"Bearer {http_key}"}, timeout=30
                    ),
                )
                while not marker.exists():
                    await asyncio.sleep(0.01)
                proc.send_signal(signal.SIGTERM)
                codes = await asyncio.gather(*(close_code(ws) for ws in sockets))
                return await pending, list(codes)

        slow, codes = asyncio.run(scenario())
        assert slow.status_code == 200 and slow.json()["finished"] == "yes"
        assert slow.headers["x-ratelimit-plan"] == "Expert"
        assert codes == [(1001, "server shutting down")] * 3
        # After its graceful shutdown uvicorn re-raises the signal, so the parent sees how the process ended.
        assert proc.wait(timeout=30) in (0, -signal.SIGTERM)
        output = proc.stdout.read().decode() if proc.stdout else ""
        assert "Traceback" not in output, output
        # The port is released: nothing listens any more.
        try:
            httpx.get(base + "/v1/status/", timeout=2)
            raise AssertionError("the server still answers after SIGTERM")
        except httpx.TransportError:
            pass
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
