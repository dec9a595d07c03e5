"""Backtest runs made by the real engine through ``cutemarkets backtest run`` without ``--out``, so they land
in the data directory's backtests folder exactly as a user's run would, for the routes and the console page
that serve them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner

# orb over five sessions with a 20 s quote-age limit: trades, a losing session (drawdown) and stale_quote rejects.
REJECTS = ("--strategy", "orb", "--underlying", "SPY", "--from", "2025-11-20", "--to", "2025-11-26")
REJECTS_SETS = ("--set", "stale_quote_ms=20000")
# orb with the defaults over two sessions: the first session closes below the initial cash.
LOSS_FIRST = ("--strategy", "orb", "--underlying", "SPY", "--from", "2025-11-20", "--to", "2025-11-21")


@dataclass(frozen=True)
class EngineRuns:
    root: Path
    rejects: Path
    loss_first: Path


def cli_run(data_dir: Path, *args: str, env: dict[str, str | None] | None = None) -> Path:
    """Run ``cutemarkets backtest run ARGS --data-dir DATA_DIR`` and return the run folder it created."""
    from cutemarkets_server.cli import app
    from cutemarkets_server.config import Settings

    overrides: dict[str, str | None] = {"CUTEMARKETS_BACKTESTS_DIR": None, "COLUMNS": "200", **(env or {})}
    configured = overrides.get("CUTEMARKETS_BACKTESTS_DIR")
    root = Settings(data_dir=data_dir, backtests_dir=Path(configured) if configured else None).backtests_root
    before = set(root.iterdir()) if root.is_dir() else set()
    result = CliRunner().invoke(app, ["backtest", "run", *args, "--data-dir", str(data_dir)], env=overrides)
    assert result.exit_code == 0, result.output
    created = set(root.iterdir()) - before
    assert len(created) == 1, (created, result.output)
    return created.pop()


def make_engine_runs(data_dir: Path) -> EngineRuns:
    rejects = cli_run(data_dir, *REJECTS, *REJECTS_SETS)
    loss_first = cli_run(data_dir, *LOSS_FIRST)
    return EngineRuns(rejects.parent, rejects, loss_first)
