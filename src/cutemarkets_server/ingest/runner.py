"""Run an import job: find the files, skip the ones already done, import the rest, report.

Resumability and idempotency rest on three rules:

* every write is atomic (a day partition appears in one manifest switch; quarantine files and
  book-keeping rows are renamed or committed whole);
* a file counts as done only after all its partitions are committed, and it is recorded under its
  SHA-256 checksum (plus the import options), so re-running the same command after a crash or
  ``kill -9`` skips the finished files and redoes the interrupted one from scratch;
* derived reference data (contracts, tickers) is a pure function of the book-keeping and is rebuilt
  after every file and at the end of every run.

Re-importing a changed file (a new checksum) replaces its day partition; partitions are
content-addressed, so importing identical content again yields identical files.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import hashlib
import os
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from ..config import DataLayout
from ..store.ingest_state import FileRecord, IngestState
from ..store.lake import Lake
from .context import FileOutcome, Filters, IngestContext
from .contracts import rebuild_reference
from .errors import SourceError, StorageFullError
from .pipeline import Ingestor

STALE_TMP_S = 600.0


class IngestLockedError(RuntimeError):
    """Another import is running on the same data directory."""


@dataclass
class RunSummary:
    outcomes: list[FileOutcome] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.error]

    def total(self, attr: str) -> int:
        return sum(getattr(o, attr) for o in self.outcomes if not o.skipped and not o.error)

    @property
    def reconciles(self) -> bool:
        return all(o.reconciles for o in self.outcomes if not o.error and not o.skipped)


class _RowsPerSecond(ProgressColumn):
    def render(self, task: Task) -> Text:
        rows = int(task.fields.get("rows", 0))
        elapsed = task.elapsed or 0.0
        rate = rows / elapsed if elapsed > 0 else 0.0
        return Text(f"{rows:,} rows  {rate:,.0f} rows/s", style="cyan")


def sha256_file(path: Path, on_bytes: Callable[[int], None] | None = None) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(4 << 20):
            h.update(chunk)
            if on_bytes is not None:
                on_bytes(len(chunk))
    return h.hexdigest()


def discover(paths: list[Path], accept: Callable[[Path], bool]) -> list[Path]:
    """Files among ``paths`` (directories are searched recursively); missing paths are errors."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.is_file() and accept(f)))
        elif p.is_file():
            out.append(p)
        else:
            raise SourceError(f"{p}: no such file or directory")
    seen: set[Path] = set()
    unique = []
    for f in out:
        r = f.resolve()
        if r not in seen:
            seen.add(r)
            unique.append(f)
    return unique


@contextlib.contextmanager
def ingest_lock(lake_root: Path) -> Iterator[None]:
    lake_root.mkdir(parents=True, exist_ok=True)
    fd = os.open(lake_root / "ingest.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IngestLockedError(f"another import is running on {lake_root.parent}; wait for it to finish") from None
        yield
    finally:
        os.close(fd)


def disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` (or an exception it wraps) means the disk or quota is full."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(seen, OSError) and seen.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        text = str(seen)
        if isinstance(seen, sqlite3.OperationalError) and "disk is full" in text:
            return True
        if "No space left on device" in text or "[Errno 28]" in text:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _remove_stale_tmp(lake_root: Path, quarantine: Path) -> None:
    """Temporary files left by an interrupted write (never referenced by the manifest)."""
    cutoff = time.time() - STALE_TMP_S
    for root in (lake_root, quarantine):
        if not root.exists():
            continue
        for f in root.rglob(".tmp-*"):
            with contextlib.suppress(FileNotFoundError):
                if f.stat().st_mtime < cutoff:
                    f.unlink()


class IngestRunner:
    """Imports vendor files into the data directory ``data_dir`` (lake, quarantine, book-keeping)."""

    def __init__(self, data_dir: Path, console: Console | None = None, *, progress: bool = True) -> None:
        self.layout = DataLayout(Path(data_dir))
        self.console = console or Console()
        self.show_progress = progress
        self.lake = Lake(self.layout.lake)
        self.state = IngestState(self.layout.lake / "ingest.sqlite")
        self.workdir = self.layout.root / "ingest-work"

    def run(
        self,
        kind: str,
        paths: list[Path],
        importer: Callable[[IngestContext, Path, str], FileOutcome],
        accept: Callable[[Path], bool],
        *,
        order: Callable[[Path], tuple] = lambda p: (str(p),),
        filters: Filters | None = None,
        options_key: str = "",
        force: bool = False,
    ) -> RunSummary:
        """Import ``paths`` with ``importer`` (one file at a time, in ``order``)."""
        filters = filters or Filters()
        started = time.perf_counter()
        summary = RunSummary()
        with ingest_lock(self.layout.lake):
            shutil.rmtree(self.workdir, ignore_errors=True)
            _remove_stale_tmp(self.layout.lake, self.layout.quarantine)
            files = sorted(discover(paths, accept), key=order)
            total = sum(f.stat().st_size for f in files)
            with self._progress() as progress:
                task = progress.add_task("starting", total=total or 1, rows=0)
                ctx = IngestContext(
                    self.lake,
                    Ingestor(self.lake, self.layout.quarantine),
                    self.state,
                    self.layout.quarantine,
                    self.workdir,
                    filters,
                )
                current: Path | None = None
                try:
                    for current in files:
                        summary.outcomes.append(
                            self._one(ctx, kind, current, importer, progress, task, options_key, filters, force)
                        )
                    current = None
                    progress.update(task, description="reference data")
                    rebuild_reference(self.lake, self.state)
                    progress.update(task, description="packing")
                    self.lake.compact()
                except Exception as exc:
                    if not disk_full(exc):
                        raise
                    shutil.rmtree(self.workdir, ignore_errors=True)
                    where = f"importing {current.name}" if current else "updating the reference data and packs"
                    raise StorageFullError(
                        f"the disk holding {self.layout.root} is full ({where}); nothing of that file is visible "
                        "and every file reported done stays done. Free some space and run the same command again."
                    ) from exc
                progress.update(task, description="done", completed=total or 1)
            shutil.rmtree(self.workdir, ignore_errors=True)
        summary.seconds = time.perf_counter() - started
        return summary

    def _progress(self) -> Progress:
        return Progress(
            TextColumn("[bold]{task.description}", table_column=None),
            BarColumn(),
            DownloadColumn(),
            _RowsPerSecond(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            disable=not self.show_progress,
            transient=False,
        )

    def _one(
        self,
        ctx: IngestContext,
        kind: str,
        path: Path,
        importer: Callable[[IngestContext, Path, str], FileOutcome],
        progress: Progress,
        task: int,
        options_key: str,
        filters: Filters,
        force: bool,
    ) -> FileOutcome:
        size = path.stat().st_size
        start = progress.tasks[task].completed
        progress.update(task, description=f"checksum {path.name}")
        checksum = sha256_file(path)
        key = f"{kind}:{checksum}:{filters.fingerprint()}:{options_key}"
        done = None if force else self.state.file_done(key)
        if done is not None:
            progress.update(task, completed=start + size)
            return FileOutcome(
                path,
                done.dataset,
                [dt.date.fromisoformat(d) for d in done.days],
                rows_read=done.rows_read,
                rows_stored=done.rows_stored,
                rows_quarantined=done.rows_quarantined,
                reasons=done.reasons,
                skipped=True,
            )
        progress.update(task, description=f"{path.name}")

        def advance(nbytes: int, rows: int) -> None:
            t = progress.tasks[task]
            progress.update(
                task, completed=min(start + size, t.completed + nbytes), rows=int(t.fields.get("rows", 0)) + rows
            )

        ctx.progress = advance
        try:
            outcome = importer(ctx, path, checksum)
        except SourceError as exc:
            progress.update(task, completed=start + size)
            return FileOutcome(path, "?", error=str(exc))
        finally:
            ctx.progress = None
        progress.update(task, completed=start + size)
        if outcome.skipped:
            return outcome
        if not outcome.reconciles:
            raise RuntimeError(
                f"{path}: rows do not reconcile (read {outcome.rows_read}, stored {outcome.rows_stored}, "
                f"quarantined {outcome.rows_quarantined}, filtered {outcome.rows_filtered})"
            )
        self.state.record_file(
            FileRecord(
                key=key,
                path=str(path.resolve()),
                kind=kind,
                checksum=checksum,
                size=size,
                dataset=outcome.dataset,
                days=tuple(d.isoformat() for d in outcome.days),
                rows_read=outcome.rows_read,
                rows_stored=outcome.rows_stored,
                rows_quarantined=outcome.rows_quarantined,
                reasons=outcome.reasons,
                finished_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            )
        )
        rebuild_reference(self.lake, self.state)
        return outcome


def summary_table(summary: RunSummary, quarantine_dir: Path) -> Table:
    """Per file: rows read, stored, quarantined (and filtered out), with the totals reconciled."""
    filtered = any(o.rows_filtered for o in summary.outcomes)
    table = Table(title=f"Ingest summary ({summary.seconds:.1f} s)", show_lines=False)
    for col in ("file", "dataset", "day(s)", "read", "stored", "quarantined", *(["filtered"] if filtered else [])):
        table.add_column(col, justify="right" if col in ("read", "stored", "quarantined", "filtered") else "left")
    table.add_column("status")
    for o in summary.outcomes:
        days = ", ".join(d.isoformat() for d in o.days[:3]) + (" …" if len(o.days) > 3 else "")
        status = (
            "[red]error[/red]"
            if o.error
            else f"[dim]{o.note or 'already ingested'}[/dim]"
            if o.skipped
            else "[yellow]ok (rows quarantined)[/yellow]"
            if o.rows_quarantined
            else "[green]ok[/green]"
        )
        nums = [f"{o.rows_read:,}", f"{o.rows_stored:,}", f"{o.rows_quarantined:,}"]
        if filtered:
            nums.append(f"{o.rows_filtered:,}")
        if o.error:
            nums = ["-"] * len(nums)
        table.add_row(o.path.name, o.dataset, days, *nums, status)
    totals = [f"{summary.total('rows_read'):,}", f"{summary.total('rows_stored'):,}"]
    totals.append(f"{summary.total('rows_quarantined'):,}")
    if filtered:
        totals.append(f"{summary.total('rows_filtered'):,}")
    table.add_row("[bold]total (this run)[/bold]", "", "", *totals, "", end_section=True)
    return table


def print_summary(console: Console, summary: RunSummary, quarantine_dir: Path) -> None:
    console.print(summary_table(summary, quarantine_dir))
    read, stored = summary.total("rows_read"), summary.total("rows_stored")
    quarantined, filtered = summary.total("rows_quarantined"), summary.total("rows_filtered")
    extra = f" + {filtered:,} filtered out" if filtered else ""
    check = "ok" if summary.reconciles else "MISMATCH"
    console.print(f"rows read {read:,} = stored {stored:,} + quarantined {quarantined:,}{extra}  \\[{check}]")
    reasons: dict[str, int] = {}
    for o in summary.outcomes:
        if not o.skipped and not o.error:
            for k, v in o.reasons.items():
                reasons[k] = reasons.get(k, 0) + v
    if reasons:
        console.print(f"[yellow]Quarantined rows by reason[/yellow] (files under {quarantine_dir}):")
        for reason, n in sorted(reasons.items(), key=lambda kv: -kv[1]):
            console.print(f"  {n:>12,}  {reason}")
    for o in summary.failed:
        console.print(f"[red]error:[/red] {o.error}")
