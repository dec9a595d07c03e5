"""Build time of the built-in market's default profile, with rows and bytes per dataset."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from ..sim.build import build_market


def run(data_dir: Path, console: Console) -> dict[str, Any]:
    target = data_dir / "default-build"
    if target.exists():
        shutil.rmtree(target)
    report = build_market(target, seed=7, profile="default")
    table = Table(title=f"default profile: {len(report.tick_days)} tick sessions, built in {report.seconds:.1f}s")
    table.add_column("dataset")
    table.add_column("rows", justify="right")
    table.add_column("bytes", justify="right")
    for name, stats in sorted(report.datasets.items()):
        table.add_row(name, f"{stats.rows:,}", f"{stats.bytes:,}")
    console.print(table)
    return {"seconds": report.seconds, "datasets": {k: v.__dict__ for k, v in report.datasets.items()}}
