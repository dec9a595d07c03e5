"""Backtest run directories on disk (the engine's output folders): listing them and reading their artifacts.

A run directory holds what ``backtest/artifacts.py`` writes: ``manifest.json``, ``summary.json``,
``decisions.parquet``, ``fills.parquet``, ``equity.parquet``, ``trades.parquet`` and ``report.html``; only
``manifest.json`` is required for a folder to count as a run. The tables are read as the engine wrote them
(integer timestamps in UTC nanoseconds, nulls kept).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

ARTIFACTS = (
    "manifest.json",
    "summary.json",
    "decisions.parquet",
    "fills.parquet",
    "equity.parquet",
    "trades.parquet",
    "report.html",
)
TABLES = ("decisions", "fills", "equity", "trades")
RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


@dataclass(frozen=True)
class RunTable:
    columns: list[str]
    rows: list[dict[str, Any]]
    total_rows: int


class BacktestRuns:
    """Read-only access to the run directories directly under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        found = (p for p in self.root.iterdir() if p.is_dir() and RUN_NAME.match(p.name))
        return sorted(p.name for p in found if (p / "manifest.json").is_file())

    def path(self, name: str) -> Path | None:
        """The run's directory, or None when ``name`` is not a run here (never a path outside ``root``)."""
        if not RUN_NAME.match(name) or name in (".", ".."):
            return None
        found = self.root / name
        return found if (found / "manifest.json").is_file() else None

    @staticmethod
    def files(run_dir: Path) -> list[str]:
        return [name for name in ARTIFACTS if (run_dir / name).is_file()]

    @staticmethod
    def read_json(run_dir: Path, name: str) -> dict[str, Any] | None:
        path = run_dir / name
        if not path.is_file():
            return None
        data = json.loads(path.read_text())
        return data if isinstance(data, dict) else {"value": data}

    @staticmethod
    def read_table(run_dir: Path, table: str, max_rows: int) -> RunTable | None:
        path = run_dir / f"{table}.parquet"
        if not path.is_file():
            return None
        data = pq.read_table(path)
        return RunTable(data.column_names, data.slice(0, max_rows).to_pylist(), data.num_rows)

    @staticmethod
    def read_column(run_dir: Path, table: str, column: str) -> list[Any] | None:
        """Every value of one column (None when the table or the column is absent)."""
        path = run_dir / f"{table}.parquet"
        if not path.is_file() or column not in pq.read_schema(path).names:
            return None
        return pq.read_table(path, columns=[column]).column(column).to_pylist()
