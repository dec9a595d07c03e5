"""``cutemarkets ingest …``: load vendor files into the data directory, and write them back out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from ..config import DEFAULT_DATA_DIR

if TYPE_CHECKING:
    from .context import FileOutcome, Filters, IngestContext

ingest_app = typer.Typer(
    help=(
        "Load vendor data you own: Massive/Polygon flat files, Databento DBN files and a splits CSV. "
        "Imports are resumable (re-run the same command after an interruption), idempotent (a finished "
        "file is skipped by checksum; a changed file replaces its day) and never drop a row silently: "
        "rejected rows go with their reason to the quarantine directory."
    ),
    no_args_is_help=True,
)
console = Console()

DataDir = Annotated[
    Path, typer.Option("--data-dir", envvar="CUTEMARKETS_DATA_DIR", help="Data directory (lake, quarantine).")
]
Paths = Annotated[list[Path], typer.Argument(help="Files or directories (searched recursively).", show_default=False)]
Underlying = Annotated[
    str | None,
    typer.Option(
        "--underlying",
        envvar="CUTEMARKETS_INGEST_UNDERLYING",
        help="Only these underlyings, comma-separated (options by underlying, stocks by ticker).",
    ),
]
Ticker = Annotated[
    str | None,
    typer.Option(
        "--ticker", envvar="CUTEMARKETS_INGEST_TICKER", help="Only these tickers, comma-separated (e.g. O:SPY…, AAPL)."
    ),
]
From = Annotated[
    str | None, typer.Option("--from", envvar="CUTEMARKETS_INGEST_FROM", help="First day to import (YYYY-MM-DD).")
]
To = Annotated[
    str | None, typer.Option("--to", envvar="CUTEMARKETS_INGEST_TO", help="Last day to import (YYYY-MM-DD).")
]
Force = Annotated[
    bool,
    typer.Option("--force", envvar="CUTEMARKETS_INGEST_FORCE", help="Import files again even if already ingested."),
]
ShowProgress = Annotated[
    bool,
    typer.Option("--progress/--no-progress", envvar="CUTEMARKETS_INGEST_PROGRESS", help="Show the progress bar."),
]


def _day(value: str | None, flag: str) -> dt.date | None:
    if value is None or value == "":
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)", param_hint=flag) from None


def _names(value: str | None) -> frozenset[str]:
    return frozenset(v.strip().upper() for v in (value or "").split(",") if v.strip())


def _filters(underlying: str | None, ticker: str | None, first: str | None, last: str | None) -> Filters:
    from .context import Filters

    f = Filters(_names(underlying), _names(ticker), _day(first, "--from"), _day(last, "--to"))
    if f.first_day and f.last_day and f.first_day > f.last_day:
        raise typer.BadParameter("--from is after --to", param_hint="--from")
    return f


def _run(
    kind: str,
    data_dir: Path,
    paths: list[Path],
    importer: Callable[[IngestContext, Path, str], FileOutcome],
    accept: Callable[[Path], bool],
    order: Callable[[Path], tuple],
    filters: Filters,
    options_key: str,
    force: bool,
    progress: bool,
) -> None:
    from .errors import SourceError, StorageFullError
    from .runner import IngestLockedError, IngestRunner, print_summary

    runner = IngestRunner(data_dir, console, progress=progress)
    try:
        summary = runner.run(
            kind, paths, importer, accept, order=order, filters=filters, options_key=options_key, force=force
        )
    except (SourceError, IngestLockedError, StorageFullError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    if not summary.outcomes:
        console.print("[yellow]No files to import were found.[/yellow]")
        raise typer.Exit(1)
    print_summary(console, summary, runner.layout.quarantine)
    if summary.failed:
        raise typer.Exit(1)


@ingest_app.command("flatfiles")
def flatfiles_cmd(
    paths: Paths,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    underlying: Underlying = None,
    ticker: Ticker = None,
    first: From = None,
    last: To = None,
    dataset: Annotated[
        str | None,
        typer.Option(
            "--dataset",
            envvar="CUTEMARKETS_INGEST_DATASET",
            help="Treat every file as this dataset, e.g. us_options_opra/quotes_v1 (default: from the path "
            "{prefix}/{dataset}/… and the header).",
        ),
    ] = None,
    force: Force = False,
    progress: ShowProgress = True,
) -> None:
    """Massive/Polygon flat files (us_options_opra, us_stocks_sip: trades_v1, quotes_v1, day_aggs_v1,
    minute_aggs_v1), .csv.gz or .csv, single files or the vendor's directory tree."""
    from . import flatfiles

    _run(
        "flatfiles",
        data_dir,
        paths,
        lambda ctx, p, checksum: flatfiles.ingest_file(ctx, p, checksum, dataset),
        flatfiles.is_flat_file,
        flatfiles.file_order,
        _filters(underlying, ticker, first, last),
        dataset or "",
        force,
        progress,
    )


@ingest_app.command("dbn")
def dbn_cmd(
    paths: Paths,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    underlying: Underlying = None,
    ticker: Ticker = None,
    first: From = None,
    last: To = None,
    force: Force = False,
    progress: ShowProgress = True,
) -> None:
    """Databento DBN files (.dbn or .dbn.zst): OPRA definition, trades, cmbp-1/cbbo-1s/cbbo-1m/tcbbo,
    statistics (open interest); equities trades, mbp-1/tbbo/bbo-1s/bbo-1m. Definitions are loaded first."""
    from . import dbn

    _run(
        "dbn",
        data_dir,
        paths,
        dbn.ingest_file,
        dbn.is_dbn_file,
        dbn.file_order,
        _filters(underlying, ticker, first, last),
        "",
        force,
        progress,
    )


@ingest_app.command("splits")
def splits_cmd(
    file: Annotated[Path, typer.Argument(help="CSV with a header: ticker,execution_date,split_from,split_to")],
    data_dir: DataDir = DEFAULT_DATA_DIR,
    progress: ShowProgress = True,
) -> None:
    """Stock splits: one per row, e.g. NVDA,2024-06-10,1,10 (10-for-1); adjusted=true bars apply them."""
    from . import splits
    from .context import Filters

    _run(
        "splits",
        data_dir,
        [file],
        splits.ingest_file,
        splits.is_splits_file,
        lambda p: (str(p),),
        Filters(),
        "",
        True,
        progress,
    )


@ingest_app.command("export")
def export_cmd(
    out: Annotated[Path, typer.Option("--out", envvar="CUTEMARKETS_EXPORT_OUT", help="Directory to write to.")],
    data_dir: DataDir = DEFAULT_DATA_DIR,
    fmt: Annotated[
        str, typer.Option("--format", envvar="CUTEMARKETS_EXPORT_FORMAT", help="flatfiles or dbn.")
    ] = "flatfiles",
    compress: Annotated[
        bool,
        typer.Option("--compress/--no-compress", envvar="CUTEMARKETS_EXPORT_COMPRESS", help="gzip / zstd the files."),
    ] = True,
) -> None:
    """Write the data directory's market out as vendor files (flat files per dataset and day, or DBN)."""
    from .export import FlatExportOptions, export_dbn, export_flatfiles

    if fmt not in ("flatfiles", "dbn"):
        raise typer.BadParameter(f"unknown format {fmt!r}; choose flatfiles or dbn", param_hint="--format")
    if fmt == "flatfiles":
        files = export_flatfiles(data_dir, out, options=FlatExportOptions(compress=compress))
    else:
        files = export_dbn(data_dir, out, compress=compress)
    console.print(f"Wrote {len(files)} file(s) under {out}")
