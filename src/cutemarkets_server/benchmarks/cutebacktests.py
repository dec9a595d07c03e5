"""A real client end to end: cutebacktests 0.3.0's intraday options backtest over the last 10 SPY
sessions of the default built-in market, against the server, through ``scripts/run_cutebacktests.py``
(historical option mode: every fill comes from the server's quotes). Records the wall time, the trades
and the requests the client made."""

from __future__ import annotations

import datetime as dt
import json
import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from ..app import create_app
from ..clock import FixedClock
from ..config import Settings
from ..market.timestamps import et_ns
from ..store.keys import KeyStore
from ..store.lake import Lake
from .harness import DEFAULT_MARKET_END, default_market, serve_dir_over, serve_in_thread

END = DEFAULT_MARKET_END
SESSIONS = 10
SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "run_cutebacktests.py"


class _Count(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.n = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.n += 1


def run(data_dir: Path, console: Console) -> dict[str, Any]:
    try:
        import cutebacktests  # noqa: F401
    except ImportError:
        console.print("cutebacktests is not installed (pip install -e '.[dev]'): skipped")
        return {"skipped": "cutebacktests not installed"}
    if not SCRIPT.exists():
        console.print(f"{SCRIPT} not found (run from a source checkout): skipped")
        return {"skipped": "no source checkout"}
    root = default_market(data_dir, console)
    days = Lake(root / "lake").snapshot().days("option_quotes")[-SESSIONS:]
    serve_dir = serve_dir_over(data_dir / "cutebacktests-serve", root / "lake")
    app = create_app(Settings(data_dir=serve_dir), clock=FixedClock(et_ns(END + dt.timedelta(days=1), 10)))
    key, _ = KeyStore(serve_dir / "keys.sqlite").create("cutebacktests", "expert", ("options", "stocks"))
    access, counter = logging.getLogger("cutemarkets.access"), _Count()
    access.addHandler(counter)
    level = access.level
    access.setLevel(logging.INFO)
    server, base = serve_in_thread(app)
    try:
        started = time.perf_counter()
        done = subprocess.run(
            [
                sys.executable,
                str(SCRIPT),
                "--ticker",
                "SPY",
                "--start",
                str(days[0]),
                "--end",
                str(days[-1]),
                "--workdir",
                str(data_dir / "cutebacktests-run"),
            ],
            env={"PATH": "/usr/bin:/bin", "CUTEMARKETS_BASE_URL": base, "CUTEMARKETS_API_KEY": key},
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.perf_counter() - started
    finally:
        server.should_exit = True
        access.removeHandler(counter)
        access.setLevel(level)
    # The script exits 1 when any option attempt was rejected (e.g. an exit planned after the options' close
    # on an early-close session, which cutebacktests takes as a full one); the run still counts when it
    # filled real trades from the server's quotes and used no proxies.
    try:
        summary = json.loads(done.stdout)
    except ValueError:
        summary = {}
    if not summary.get("historical_option_fills") or summary.get("proxy_fills"):
        raise RuntimeError(f"cutebacktests run failed ({done.returncode}): {done.stdout[-2000:]} {done.stderr[-2000:]}")
    console.print(
        f"cutebacktests over {len(days)} sessions ({days[0]} to {days[-1]}): {seconds:.1f} s, "
        f"{counter.n:,} requests ({counter.n / seconds:,.0f}/s)\n{done.stdout}"
    )
    return {
        "sessions": len(days),
        "from": str(days[0]),
        "to": str(days[-1]),
        "seconds": round(seconds, 1),
        "requests": counter.n,
        "summary": done.stdout,
    }
