"""Fuzz every operation of ``/openapi.json`` with schemathesis (every check) against a server over the
built-in test market; the exit status is schemathesis's (0 = no failure).

    python scripts/fuzz_openapi.py                    # what `make fuzz` runs (a long run)
    python scripts/fuzz_openapi.py --max-examples 20  # a short run
    python scripts/fuzz_openapi.py --url http://127.0.0.1:8000 --key cm_…   # against a running server
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

CONFIG = Path(__file__).with_name("schemathesis.toml")
TEST_MARKET_END = dt.date(2025, 12, 2)


def run_schemathesis(
    base_url: str,
    key: str,
    *,
    max_examples: int,
    seed: int,
    phases: str = "examples,coverage,fuzzing,stateful",
    workers: int = 2,
    parameters: dict[str, str] | None = None,
    extra: list[str] | None = None,
) -> int:
    """Run schemathesis with every check over the served document; returns its exit status.

    More than one worker can fail on CPython 3.11 with "AST constructor recursion depth mismatch": Hypothesis
    parses lambdas with ``ast.parse``, which is not thread-safe there. A run that must not flake uses one.
    ``parameters`` fixes parameters to real values (``{"path.account_id": …}``) on top of the config file's.
    """
    with tempfile.TemporaryDirectory(prefix="cutemarkets-schemathesis-") as tmp:
        config = CONFIG
        if parameters:
            fixed = "".join(f"{json.dumps(name)} = {json.dumps(value)}\n" for name, value in parameters.items())
            config = Path(tmp) / CONFIG.name
            config.write_text(CONFIG.read_text().replace("[parameters]\n", "[parameters]\n" + fixed, 1))
        return _run(config, base_url, key, max_examples, seed, phases, workers, extra or [])


def _run(
    config: Path,
    base_url: str,
    key: str,
    max_examples: int,
    seed: int,
    phases: str,
    workers: int,
    extra: list[str],
) -> int:
    exe = Path(sys.executable).with_name("schemathesis")
    command = [
        str(exe),
        "--config-file",
        str(config),
        "run",
        f"{base_url}/openapi.json",
        "--header",
        f"Authorization: Bearer {key}",
        "--checks",
        "all",
        "--max-examples",
        str(max_examples),
        "--seed",
        str(seed),
        "--phases",
        phases,
        "--workers",
        str(workers),
        "--suppress-health-check",
        "filter_too_much,too_slow",
        *extra,
    ]
    return subprocess.run(command, check=False).returncode


def serve_test_market(data_dir: Path) -> tuple[str, str]:
    """Build the test market in ``data_dir`` (once), serve it at the test clock; returns (base URL, Expert key)."""
    import uvicorn

    from cutemarkets_server.app import create_app
    from cutemarkets_server.clock import FixedClock
    from cutemarkets_server.config import Settings
    from cutemarkets_server.market.timestamps import et_ns
    from cutemarkets_server.sim.build import build_market
    from cutemarkets_server.store.keys import KeyStore

    if not (data_dir / "lake" / "manifest.sqlite").exists():
        build_market(data_dir, seed=7, end=TEST_MARKET_END, profile="test")
    key, _ = KeyStore(data_dir / "keys.sqlite").create("fuzz", "expert", ("options", "stocks", "paper"))
    clock = FixedClock(et_ns(TEST_MARKET_END + dt.timedelta(days=1), 10, 0))
    app = create_app(Settings(data_dir=data_dir, secret="fuzz-secret"), clock=clock)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{sock.getsockname()[1]}", key


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-examples", type=int, default=300, help="test cases per operation and phase")
    parser.add_argument("--seed", type=int, default=int(time.time()) % 100_000)
    parser.add_argument("--data-dir", type=Path, help="where the test market is built (default: a temp dir)")
    parser.add_argument("--url", help="fuzz this running server instead")
    parser.add_argument("--key", help="the API key for --url")
    args, extra = parser.parse_known_args()
    if args.url:
        return run_schemathesis(args.url.rstrip("/"), args.key or "", max_examples=args.max_examples, seed=args.seed)
    with tempfile.TemporaryDirectory(prefix="cutemarkets-fuzz-") as tmp:
        base, key = serve_test_market(args.data_dir or Path(tmp))
        print(f"fuzzing {base} (seed {args.seed})", flush=True)
        return run_schemathesis(base, key, max_examples=args.max_examples, seed=args.seed, extra=extra)


if __name__ == "__main__":
    sys.exit(main())
