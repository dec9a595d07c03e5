"""Where ``cutemarkets backtest run`` writes when no ``--out`` is given: a new run directory in the backtests
folder the server serves (``Settings.backtests_root``: DATA_DIR/backtests, or CUTEMARKETS_BACKTESTS_DIR), so
the console lists the run without further steps."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from ..config import Settings

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def backtests_root(data_dir: Path, backtests_dir: Path | None) -> Path:
    """The same folder ``cutemarkets serve`` reads with the same data dir and backtests-dir settings."""
    return Settings(data_dir=Path(data_dir), backtests_dir=backtests_dir).backtests_root


def run_dir_name(strategy: str, underlying: str, start: dt.date, end: dt.date, now: dt.datetime) -> str:
    """``{strategy}-{underlying}-{from}-{to}-{UTC time}``, e.g. ``orb-SPY-2025-11-20-2025-11-26-20260101T120000Z``
    (a strategy file contributes its stem); only letters, digits, ``.``, ``_`` and ``-``, as the server accepts."""
    label = Path(strategy).stem if strategy.endswith(".py") else strategy
    parts = (label, underlying, start.isoformat(), end.isoformat(), now.strftime("%Y%m%dT%H%M%SZ"))
    name = _UNSAFE.sub("-", "-".join(parts)).strip("-.")
    return name[:200] or "run"


def new_run_dir(root: Path, name: str) -> Path:
    """``root/name``, or ``root/name-2``, ``-3``… when that folder already exists."""
    candidate, n = Path(root) / name, 1
    while candidate.exists():
        n += 1
        candidate = Path(root) / f"{name}-{n}"
    return candidate
