"""What the backtests routes answer: the runs of a results folder, each with its artifacts, drawdown and
rejects by reason."""

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
        out: dict[str, Any] = {
            "run": name,
            "files": self.runs.files(run_dir),
            "manifest": self.runs.read_json(run_dir, "manifest.json"),
            "summary": self.runs.read_json(run_dir, "summary.json"),
        }
        for table in TABLES:
            found = self.runs.read_table(run_dir, table, MAX_TABLE_ROWS)
            out[table] = (
                None
                if found is None
                else {"columns": found.columns, "rows": found.rows, "total_rows": found.total_rows}
            )
        equity = out["equity"]
        out["drawdown"] = drawdown([r.get("equity") for r in equity["rows"]]) if equity else None
        rejects: Counter[str] = Counter()
        for table in ("decisions", "fills"):
            if out[table]:
                rejects.update(r["reject_reason"] for r in out[table]["rows"] if r.get("reject_reason"))
        out["rejects_by_reason"] = dict(rejects.most_common())
        return out


def drawdown(equity: list[Any]) -> list[float | None]:
    """Fractional drawdown from the running peak at each point (0 at a new high, negative below it)."""
    peak = -math.inf
    out: list[float | None] = []
    for value in equity:
        if not isinstance(value, int | float) or math.isnan(value):
            out.append(None)
            continue
        peak = max(peak, float(value))
        out.append(float(value) / peak - 1.0 if peak > 0 else None)
    return out
