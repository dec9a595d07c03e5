"""Run cutebacktests' intraday options backtest against a cutemarkets-server and summarise the result.

cutebacktests (PyPI) talks to the server only through the Polygon/Massive dialect and is configured only
by two environment variables:

    CUTEMARKETS_BASE_URL   the server, e.g. http://127.0.0.1:8000
    CUTEMARKETS_API_KEY    a key holding both the options and the stocks product

Example (the test market of ``cutemarkets demo --profile test --end 2025-12-02``):

    export CUTEMARKETS_BASE_URL=http://127.0.0.1:8000 CUTEMARKETS_API_KEY=cm_...
    python scripts/run_cutebacktests.py --ticker SPY --start 2025-11-20 --end 2025-11-26

The dates must lie in the market's tick sessions (minute bars, option chains and quotes). cutebacktests
takes every session as 09:30-16:00 ET: on an early close (2025-11-28) it runs on the after-hours stock bars
and plans exits after the options' 13:00 close, where there is no option bar, and rejects the attempt
(``entry_or_exit_bar_missing``); choose a window without one. The run uses
``--option-mode historical`` (no synthetic proxy trades hide missing data) and no relative-volume filter
(its 112-day minute-bar history is absent from small markets). The full result is written to
``WORKDIR/result.json`` and cutebacktests' own database to ``WORKDIR/data/``. The exit status is 1 when
the run did not fill real option trades from the server's quotes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

SUMMARY_KEYS = (
    "trades",
    "total_return",
    "win_rate",
    "historical_option_fills",
    "proxy_fills",
    "option_rejection_counts",
)


def backtest_command(ticker: str, start: str, end: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "cutebacktests.cli",
        "run-intraday-options-backtest",
        "--ticker",
        ticker,
        "--start",
        start,
        "--end",
        end,
        "--option-mode",
        "historical",
        "--require-relative-volume",
        "false",
    ]


def run_backtest(base_url: str, api_key: str, ticker: str, start: str, end: str, workdir: Path) -> dict[str, Any]:
    """Run the CLI in ``workdir`` (where it would read a ``.env``) and return its JSON result."""
    workdir.mkdir(parents=True, exist_ok=True)
    data = workdir / "data"
    env = {
        **os.environ,
        "CUTEMARKETS_BASE_URL": base_url,
        "CUTEMARKETS_API_KEY": api_key,
        "CUTEBACKTESTS_DATA_DIR": str(data),
        "CUTEBACKTESTS_DB_PATH": str(data / "cutebacktests.duckdb"),
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
    }
    done = subprocess.run(
        backtest_command(ticker, start, end), cwd=workdir, env=env, capture_output=True, text=True, check=False
    )
    (workdir / "stderr.log").write_text(done.stderr)
    if done.returncode != 0:
        raise RuntimeError(f"cutebacktests exited with {done.returncode}: {done.stderr[-2000:]}")
    result = json.loads(done.stdout)
    (workdir / "result.json").write_text(json.dumps(result, indent=2, default=str))
    return result


def filled_from_quotes(result: dict[str, Any]) -> bool:
    """Real option trades filled from quotes, with no proxy trade and no rejected attempt."""
    return (
        int(result.get("historical_option_fills") or 0) > 0
        and int(result.get("proxy_fills") or 0) == 0
        and not result.get("option_rejection_counts")
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ticker", default="SPY")
    parser.add_argument("--start", required=True, help="YYYY-MM-DD, a tick session of the server's market")
    parser.add_argument("--end", required=True, help="YYYY-MM-DD")
    parser.add_argument("--workdir", type=Path, default=None, help="default: a new temporary directory")
    args = parser.parse_args(argv)
    base_url = os.environ.get("CUTEMARKETS_BASE_URL", "http://127.0.0.1:8000")
    api_key = os.environ.get("CUTEMARKETS_API_KEY", "")
    if not api_key:
        parser.error("set CUTEMARKETS_API_KEY to a key with the options and stocks products")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="cutebacktests-"))
    result = run_backtest(base_url, api_key, args.ticker, args.start, args.end, workdir)
    summary = {k: result.get(k) for k in SUMMARY_KEYS}
    print(json.dumps({"workdir": str(workdir), **summary}, indent=2, default=str))
    return 0 if filled_from_quotes(result) else 1


if __name__ == "__main__":
    sys.exit(main())
