"""What the backtests routes answer: the runs of a results folder, each with its artifacts, drawdown and
rejects by reason.

Both derived values follow the engine's own definitions (``backtest/metrics.py``), so the page agrees with the
run's ``summary.json``: the drawdown runs from a peak that starts at the run's initial cash, and rejects are
counted once per rejected decision (a rejected package also marks each of its legs in ``fills``; those are not
counted again).
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

from ..store.backtest_runs import TABLES, BacktestRuns

MAX_TABLE_ROWS = 5000
LIST_SUMMARY_FIELDS = ("total_return", "cagr", "sharpe", "max_drawdown", "win_rate", "trades")
LIST_MANIFEST_FIELDS = ("created_at", "underlying", "from", "to", "engine_version")


class UnknownRunError(LookupError):
    pass


class BacktestRunService:
    def __init__(self, root: Path) -> None:
        self.runs = BacktestRuns(root)

    @property
    def root(self) -> Path:
        return self.runs.root

    def listing(self) -> list[dict[str, Any]]:
        out = []
        for name in self.runs.names():
            run_dir = self.runs.path(name)
            if run_dir is None:
                continue
            manifest = self.runs.read_json(run_dir, "manifest.json") or {}
            summary = self.runs.read_json(run_dir, "summary.json") or {}
            strategy = manifest.get("strategy")
            row: dict[str, Any] = {
                "run": name,
                "strategy": strategy.get("name") if isinstance(strategy, dict) else strategy,
                "files": self.runs.files(run_dir),
            }
            row.update({k: manifest.get(k) for k in LIST_MANIFEST_FIELDS if k in manifest})
            row.update({k: summary.get(k) for k in LIST_SUMMARY_FIELDS if k in summary})
            out.append(row)
        out.sort(key=lambda r: str(r.get("created_at") or ""), reverse=True)
        return out

    def detail(self, name: str) -> dict[str, Any]:
        run_dir = self.runs.path(name)
        if run_dir is None:
            raise UnknownRunError(name)
        manifest = self.runs.read_json(run_dir, "manifest.json") or {}
        summary = self.runs.read_json(run_dir, "summary.json")
        out: dict[str, Any] = {
            "run": name,
            "files": self.runs.files(run_dir),
            "manifest": manifest,
            "summary": summary,
        }
        for table in TABLES:
            found = self.runs.read_table(run_dir, table, MAX_TABLE_ROWS)
            out[table] = (
                None
                if found is None
                else {"columns": found.columns, "rows": found.rows, "total_rows": found.total_rows}
            )
        equity = self.runs.read_column(run_dir, "equity", "equity")
        shown = len(out["equity"]["rows"]) if out["equity"] else 0
        out["drawdown"] = drawdown(equity, initial_cash(manifest, summary))[:shown] if equity is not None else None
        out["rejects_by_reason"] = self._rejects(run_dir, summary)
        return out

    def _rejects(self, run_dir: Path, summary: dict[str, Any] | None) -> dict[str, int]:
        reasons = self.runs.read_column(run_dir, "decisions", "reject_reason")
        if reasons is None:
            found = (summary or {}).get("rejects")
            return dict(found) if isinstance(found, dict) else {}
        counts = Counter(r for r in reasons if r)
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def initial_cash(manifest: dict[str, Any], summary: dict[str, Any] | None) -> float | None:
    """The run's starting cash: the summary's ``initial_cash``, else the manifest's execution setting."""
    for value in ((summary or {}).get("initial_cash"), (manifest.get("execution") or {}).get("initial_cash")):
        if isinstance(value, int | float) and value > 0:
            return float(value)
    return None


def drawdown(equity: list[Any], start: float | None = None) -> list[float | None]:
    """Fractional drawdown from the running peak at each point (0 at a new high, negative below it); the peak
    starts at ``start`` (the initial cash) when given, as in the engine's ``max_drawdown``."""
    peak = start if start is not None else -math.inf
    out: list[float | None] = []
    for value in equity:
        if not isinstance(value, int | float) or math.isnan(value):
            out.append(None)
            continue
        peak = max(peak, float(value))
        out.append(float(value) / peak - 1.0 if peak > 0 else None)
    return out
