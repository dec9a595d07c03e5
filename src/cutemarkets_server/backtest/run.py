"""One backtest from a ``RunSpec`` to its artifacts directory."""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import ENGINE_VERSION
from .calendar import calendar
from .config import RunSpec
from .data.base import DataSource
from .engine import Engine, RunResult
from .metrics import summarize
from .strategies import load_strategy

TIMEZONE_POLICY = "store_utc_display_et"


@dataclass
class RunOutput:
    out_dir: Path
    manifest: dict[str, Any]
    summary: dict[str, Any]
    result: RunResult
    seconds: float

    @property
    def decisions_per_second(self) -> float:
        return len(self.result.decisions) / self.seconds if self.seconds > 0 else 0.0


def preload_writer() -> None:
    """Start importing the artifact writer (pyarrow, about a tenth of a second) on a background thread,
    so that it loads while a run waits for its data; ``write_artifacts`` then finds it loaded (or waits
    for the import to finish; an import error surfaces there)."""

    def load() -> None:
        with contextlib.suppress(Exception):  # an import error is reported by write_artifacts' own import
            importlib.import_module(f"{__package__}.artifacts")

    threading.Thread(target=load, name="preload-artifacts", daemon=True).start()


def build_manifest(spec: RunSpec, source: DataSource, params: dict[str, Any], code_sha: str, name: str) -> dict:
    ex = spec.execution
    return {
        "engine_version": ENGINE_VERSION,
        "strategy": {"name": name, "spec": spec.strategy, "parameters": params, "code_sha256": code_sha},
        "fill_policy": ex.policy().label,
        "execution": ex.as_dict(),
        "stale_quote_ms": ex.stale_quote_ms,
        "latency_ms": ex.latency_ms,
        "commission_per_contract": ex.commission_per_contract,
        "underlying": spec.underlying,
        "from": spec.start.isoformat(),
        "to": spec.end.isoformat(),
        "data_source": source.describe(spec.underlying, spec.start, spec.end),
        "timezone_policy": TIMEZONE_POLICY,
    }


def run_backtest(
    spec: RunSpec,
    source: DataSource,
    out_dir: Path | None,
    *,
    progress: Callable[[dt.date], None] | None = None,
    created_at: str | None = None,
    report: bool = True,
) -> RunOutput:
    """Run ``spec`` against ``source``; write the artifacts into ``out_dir`` (when given)."""
    cls, code_sha = load_strategy(spec.strategy)
    strategy = cls(**spec.params)
    manifest = build_manifest(spec, source, strategy.p, code_sha, cls.name)
    started = time.perf_counter()
    engine = Engine(source, strategy, spec.underlying, spec.execution, calendar())
    result = engine.run(spec.start, spec.end, progress)
    seconds = time.perf_counter() - started
    manifest["sessions"] = [d.isoformat() for d in result.sessions]
    manifest["sessions_without_data"] = [d.isoformat() for d in result.skipped_sessions]
    summary = summarize(result.equity, result.fills, result.trades, result.decisions, result.initial_cash)
    if out_dir is not None:
        write_artifacts(out_dir, manifest, summary, result, created_at=created_at, report=report)
    return RunOutput(Path(out_dir) if out_dir else Path(), manifest, summary, result, seconds)


def write_artifacts(
    out_dir: Path,
    manifest: dict[str, Any],
    summary: dict[str, Any],
    result: RunResult,
    *,
    created_at: str | None = None,
    report: bool = True,
) -> None:
    from .artifacts import table, write_json, write_parquet

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stamp = created_at or dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    write_json(out / "manifest.json", {**manifest, "created_at": stamp})
    write_parquet(out / "decisions.parquet", table("decisions", result.decisions))
    write_parquet(out / "fills.parquet", table("fills", result.fills))
    write_parquet(out / "equity.parquet", table("equity", result.equity))
    write_parquet(out / "trades.parquet", table("trades", result.trades))
    write_json(out / "summary.json", summary)
    if report:
        from .report import render_report

        (out / "report.html").write_text(render_report({**manifest, "created_at": stamp}, summary, result), "utf-8")
