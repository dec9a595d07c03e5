"""Helpers for the ingest tests: export the test market as vendor files, import them, read lakes back."""

from __future__ import annotations

import datetime as dt
import io
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console

from cutemarkets_server.ingest import dbn, flatfiles, splits
from cutemarkets_server.ingest.context import Filters
from cutemarkets_server.ingest.runner import IngestRunner, RunSummary, print_summary
from cutemarkets_server.store.lake import Lake
from cutemarkets_server.store.schemas import dataset

IMPORTERS: dict[str, tuple[Callable, Callable, Callable]] = {
    "flatfiles": (flatfiles.ingest_file, flatfiles.is_flat_file, flatfiles.file_order),
    "dbn": (dbn.ingest_file, dbn.is_dbn_file, dbn.file_order),
    "splits": (splits.ingest_file, splits.is_splits_file, lambda p: (str(p),)),
}


def ingest(
    data_dir: Path,
    kind: str,
    paths: list[Path],
    *,
    filters: Filters | None = None,
    force: bool = False,
    forced_dataset: str | None = None,
) -> tuple[RunSummary, str]:
    """Import in-process; returns the summary and the printed report."""
    out = io.StringIO()
    console = Console(file=out, width=200)
    runner = IngestRunner(data_dir, console, progress=False)
    importer, accept, order = IMPORTERS[kind]
    if forced_dataset is not None:
        importer = lambda ctx, p, c: flatfiles.ingest_file(ctx, p, c, forced_dataset)  # noqa: E731
    summary = runner.run(
        kind,
        paths,
        importer,
        accept,
        order=order,
        filters=filters,
        options_key=forced_dataset or "",
        force=force,
    )
    print_summary(console, summary, runner.layout.quarantine)
    return summary, out.getvalue()


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run ``cutemarkets`` in a subprocess."""
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "cutemarkets_server.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
    )


def lake(data_dir: Path) -> Lake:
    return Lake(Path(data_dir) / "lake")


def partitions(data_dir: Path, name: str) -> dict[dt.date, pa.Table]:
    snap = lake(data_dir).snapshot()
    return {
        day: pa.concat_tables([pq.read_table(f, schema=dataset(name).schema) for f in part.files])
        for day, part in sorted(snap.by_dataset.get(name, {}).items())
    }


def manifest(data_dir: Path) -> dict[tuple[str, dt.date], tuple]:
    """(dataset, day) -> (relative files, rows, sha256, source): everything but the write time."""
    root = Path(data_dir) / "lake"
    snap = lake(data_dir).snapshot()
    return {
        (name, day): (tuple(str(Path(f).relative_to(root)) for f in p.files), p.rows, p.sha256, p.source)
        for name, parts in snap.by_dataset.items()
        for day, p in parts.items()
    }


def copy_datasets(src: Path, dst: Path, names: list[str]) -> None:
    """Copy whole datasets (e.g. rates, which no vendor file carries) from one data directory to another."""
    target = lake(dst)
    for name in names:
        for day, table in partitions(src, name).items():
            target.write_partition(name, day, table, source="copied-for-test")


def without(table: pa.Table, *columns: str) -> pa.Table:
    return table.drop_columns([c for c in columns if c in table.column_names])
