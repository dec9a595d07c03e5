"""The ``cutemarkets`` command line through its real entry point."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from cutemarkets_server.cli import app

runner = CliRunner()


def cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env=env)
    return result.exit_code, result.output


@pytest.mark.parametrize("command", [[], ["demo"], ["serve"], ["run"], ["keys"], ["keys", "create"], ["bench"]])
def test_help_everywhere(command: list[str]) -> None:
    code, out = cli(*command, "--help")
    assert code == 0 and "Usage" in out


def test_keys_create_list_revoke(tmp_path: Path) -> None:
    code, out = cli(
        "keys",
        "create",
        "--name",
        "alice",
        "--plan",
        "developer",
        "--products",
        "options,stocks",
        "--json",
        "--data-dir",
        str(tmp_path),
    )
    assert code == 0
    created = json.loads(out)
    assert re.fullmatch(r"cm_[0-9a-f]{32}", created["key"])
    assert created["plan"] == "developer" and created["products"] == ["options", "stocks"]
    code, out = cli("keys", "list", "--json", "--data-dir", str(tmp_path))
    listed = json.loads(out)
    assert [k["name"] for k in listed] == ["alice"] and created["key"] not in out
    assert cli("keys", "revoke", "alice", "--data-dir", str(tmp_path))[0] == 0
    assert json.loads(cli("keys", "list", "--json", "--data-dir", str(tmp_path))[1])[0]["revoked_at"]
    assert cli("keys", "revoke", "alice", "--data-dir", str(tmp_path))[0] == 1


def test_bad_flags_are_explained_not_tracebacks(tmp_path: Path) -> None:
    code, out = cli("keys", "create", "--name", "x", "--plan", "platinum", "--data-dir", str(tmp_path))
    assert code == 2 and "unknown plan" in out and "Traceback" not in out
    code, out = cli("keys", "create", "--name", "x", "--products", "futures", "--data-dir", str(tmp_path))
    assert code == 2 and "unknown product" in out
    code, out = cli("demo", "--end", "yesterday", "--data-dir", str(tmp_path))
    assert code == 2 and "--end" in out
    code, out = cli("demo", "--profile", "huge", "--data-dir", str(tmp_path))
    assert code == 2 and "unknown profile 'huge'" in out and "full" in out


def test_data_dir_comes_from_the_environment(tmp_path: Path) -> None:
    code, _ = cli("keys", "create", "--name", "env", "--json", env={"CUTEMARKETS_DATA_DIR": str(tmp_path)})
    assert code == 0 and (tmp_path / "keys.sqlite").exists()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_run_builds_prints_a_working_key_and_curl_then_serves(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "CUTEMARKETS_DATA_DIR": str(tmp_path), "CUTEMARKETS_PORT": str(port), "COLUMNS": "200"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cutemarkets_server.cli", "run", "--profile", "test", "--end", "2025-12-02"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        output = ""
        deadline = time.time() + 180
        key = url = None
        while time.time() < deadline and not (key and url):
            line = proc.stdout.readline()
            if not line:
                break
            output += line
            if m := re.search(r"Demo API key:\s*(cm_[0-9a-f]{32})", line):
                key = m.group(1)
            if m := re.search(r'curl -H "Authorization: Bearer (cm_[0-9a-f]+)" "([^"]+)"', line):
                url = m.group(2)
                assert m.group(1) == key
        assert key and url, output
        assert (tmp_path / "lake" / "manifest.sqlite").exists()
        for _ in range(300):
            try:
                r = httpx.get(url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert r.status_code == 200 and r.json()["status"] == "OK"
        assert (tmp_path / "demo-key.txt").read_text().strip() == key
        console_url = re.search(r"Web console:\s*(http://\S+/console/)", output)
        assert console_url and output.index("Web console:") < output.index("Demo API key:"), output
        assert httpx.get(console_url.group(1), timeout=30).status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    # A second run reuses the market and the key.
    assert (tmp_path / "demo-key.txt").stat().st_mode & 0o077 == 0


def test_served_logs_never_contain_a_key_sent_in_the_url(market_dir: Path, tmp_path: Path) -> None:
    import asyncio

    import websockets

    (tmp_path / "lake").symlink_to(market_dir / "lake", target_is_directory=True)
    key = json.loads(cli("keys", "create", "--name", "logs", "--json", "--data-dir", str(tmp_path))[1])["key"]
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cutemarkets_server.cli",
            "serve",
            "--no-live",
            "--data-dir",
            str(tmp_path),
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        for _ in range(300):
            try:
                httpx.get(f"http://127.0.0.1:{port}/v1/status/", timeout=5)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert httpx.get(f"http://127.0.0.1:{port}/v1/tickers/search/", params={"apiKey": key}).status_code == 200

        async def connect() -> str:
            async with websockets.connect(f"ws://127.0.0.1:{port}/v1/ws/stocks/?api_key={key}") as ws:
                return str(await ws.recv())

        assert "connected" in asyncio.run(connect())
        time.sleep(0.5)
    finally:
        proc.terminate()
        output = proc.communicate(timeout=30)[0]
    assert "WebSocket /v1/ws/stocks/" in output and "/v1/tickers/search/" in output
    assert key not in output
