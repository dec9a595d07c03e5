"""``cutemarkets backtest …``: list strategies, run one backtest, sweep a grid, walk forward."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..config import DEFAULT_DATA_DIR
from .data.base import DataSourceError
from .metrics import WALK_FORWARD_METRICS as METRICS

if TYPE_CHECKING:
    from .sources import SourceConfig

# Heavy modules (the lake's query engine, the calendar, Dask, plotly) load inside the commands, so
# `cutemarkets --help` and the other commands stay quick.

backtest_app = typer.Typer(help="Backtest options strategies on the lake or any v1 server.", no_args_is_help=True)
console = Console(stderr=True)

StrategyOpt = Annotated[str, typer.Option("--strategy", help="A built-in strategy name or a FILE.py")]
UnderlyingOpt = Annotated[str, typer.Option("--underlying", help="Underlying ticker, e.g. SPY")]
FromOpt = Annotated[str, typer.Option("--from", help="First session, YYYY-MM-DD")]
ToOpt = Annotated[str, typer.Option("--to", help="Last session, YYYY-MM-DD")]
RunFromOpt = Annotated[
    str | None, typer.Option("--from", help="First session, YYYY-MM-DD (lake default: the first day with quotes)")
]
RunToOpt = Annotated[
    str | None, typer.Option("--to", help="Last session, YYYY-MM-DD (lake default: the last day with quotes)")
]
OutOpt = Annotated[Path, typer.Option("--out", help="Directory for the artifacts")]
RunOutOpt = Annotated[
    Path | None,
    typer.Option(
        "--out",
        help="Directory for the artifacts (default: a new folder STRATEGY-UNDERLYING-FROM-TO-TIME in the backtests "
        "folder, where `cutemarkets serve` and its console find it)",
    ),
]
BacktestsDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--backtests-dir",
        envvar="CUTEMARKETS_BACKTESTS_DIR",
        help="Backtests folder for runs without --out, as for `serve` (default DATA_DIR/backtests)",
    ),
]
DataDirOpt = Annotated[
    Path, typer.Option("--data-dir", envvar="CUTEMARKETS_DATA_DIR", help="Data directory of the lake")
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="key=value: a strategy parameter or an execution setting (repeatable)"),
]
SourceOpt = Annotated[
    str | None,
    typer.Option("--source", envvar="CUTEMARKETS_BACKTEST_SOURCE", help="A v1 server URL instead of the lake"),
]
KeyOpt = Annotated[str | None, typer.Option("--api-key", envvar="CUTEMARKETS_API_KEY", help="API key for --source")]
GridOpt = Annotated[list[str] | None, typer.Option("--grid", help="key=v1,v2,…: one axis of the grid (repeatable)")]
WorkersOpt = Annotated[int, typer.Option("--workers", help="Local Dask worker processes")]
TrainOpt = Annotated[int | None, typer.Option("--train-days", help="Walk forward: trading days per train window")]
TestOpt = Annotated[int | None, typer.Option("--test-days", help="Walk forward: trading days per test window")]
StepOpt = Annotated[int | None, typer.Option("--step-days", help="Walk forward: trading days between fold starts")]
MetricOpt = Annotated[
    str, typer.Option("--metric", help=f"Walk forward: the train-window choice, one of {', '.join(METRICS)}")
]
SchedulerOpt = Annotated[
    str | None, typer.Option("--scheduler", envvar="DASK_SCHEDULER_ADDRESS", help="A Dask scheduler address")
]


class UsageError(ValueError):
    pass


def _fail(message: str, code: int) -> None:
    console.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code)


def _date(name: str, text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{name} must be YYYY-MM-DD, got {text!r}") from None


def _pairs(values: list[str] | None, flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{flag} expects key=value, got {item!r}")
        out[key.strip()] = value.strip()
    return out


def _base(strategy: str, underlying: str, frm: str, to: str, sets: list[str] | None) -> dict[str, Any]:
    if strategy.endswith(".py"):
        strategy = str(Path(strategy).resolve())  # sweep workers load it by path
    return {
        "strategy": strategy,
        "underlying": underlying.strip().upper(),
        "start": _date("--from", frm),
        "end": _date("--to", to),
        "set": _pairs(sets, "--set"),
    }


def _source(data_dir: Path, source: str | None, api_key: str | None) -> SourceConfig:
    from .sources import SourceConfig

    if source and not api_key:
        raise UsageError("--source needs --api-key (or CUTEMARKETS_API_KEY)")
    return SourceConfig(Path(data_dir), source, api_key)


def _guard(fn: Any) -> Any:
    try:
        return fn()
    except ValueError as exc:  # bad input: usage errors, unknown strategies, bad parameter values
        _fail(str(exc), 2)
    except DataSourceError as exc:
        _fail(str(exc), 1)


@backtest_app.command("strategies")
def strategies(as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False) -> None:
    """List the built-in strategies and their parameters (and the execution settings)."""
    from .config import Execution
    from .strategies import BUILTINS

    listing = [
        {"name": s.name, "description": s.description, "parameters": [p.describe() for p in s.params]}
        for s in BUILTINS.values()
    ]
    execution = [{"name": k, "default": v} for k, v in Execution().as_dict().items()]
    if as_json:
        sys.stdout.write(json.dumps({"strategies": listing, "execution": execution}, indent=2) + "\n")
        return
    out = Console()
    for s in listing:
        table = Table(title=f"{s['name']}: {s['description']}", title_justify="left")
        for col in ("parameter", "type", "default", "meaning"):
            table.add_column(col)
        for p in s["parameters"]:
            table.add_row(p["name"], p["type"], str(p["default"]), p["help"])
        out.print(table)
    table = Table(title="execution settings (any strategy, --set name=value)", title_justify="left")
    table.add_column("setting")
    table.add_column("default")
    for e in execution:
        table.add_row(e["name"], str(e["default"]))
    out.print(table)


@backtest_app.command("run")
def run(
    strategy: StrategyOpt,
    underlying: UnderlyingOpt,
    out: RunOutOpt = None,
    frm: RunFromOpt = None,
    to: RunToOpt = None,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    backtests_dir: BacktestsDirOpt = None,
    sets: SetOpt = None,
    source: SourceOpt = None,
    api_key: KeyOpt = None,
) -> None:
    """Run one backtest and write its artifacts into --out (default: a new run folder in the backtests folder
    that `cutemarkets serve --data-dir` shows in its console)."""
    run_command(strategy, underlying, out, frm, to, data_dir, sets, source, api_key, backtests_dir)


def run_command(
    strategy: str,
    underlying: str,
    out: Path | None,
    frm: str | None,
    to: str | None,
    data_dir: Path,
    sets: list[str] | None,
    source: str | None,
    api_key: str | None,
    backtests_dir: Path | None = None,
) -> None:
    """The body of ``backtest run`` (also reached by ``quickrun.py`` without building the typer app)."""
    from .calendar import calendar
    from .run import preload_writer, run_backtest
    from .sweep import make_spec

    preload_writer()  # the Parquet writer loads in the background while the run reads its data

    def go() -> None:
        cfg = _source(data_dir, source, api_key)
        if (frm is None or to is None) and cfg.url:
            raise UsageError("--from and --to are required with --source")
        src = cfg.open()
        first, last = frm, to
        if first is None or last is None:
            days = src.quote_days()  # type: ignore[attr-defined]  # the lake (--source needs the dates)
            if not days:
                raise DataSourceError(f"the lake in {data_dir} holds no option quotes")
            first, last = first or days[0].isoformat(), last or days[-1].isoformat()
        base = _base(strategy, underlying, first, last, sets)
        spec = make_spec(base, {})
        target = out
        if target is None:
            from .outdir import backtests_root, new_run_dir, run_dir_name

            now = dt.datetime.now(dt.UTC)
            name = run_dir_name(spec.strategy, spec.underlying, spec.start, spec.end, now)
            target = new_run_dir(backtests_root(data_dir, backtests_dir), name)
        sessions = calendar().sessions_in_range(spec.start, spec.end)
        with _progress() as bar:
            task = bar.add_task(f"{spec.strategy} {spec.underlying}", total=len(sessions))
            result = run_backtest(spec, src, target, progress=lambda day: bar.advance(task))
        s = result.summary
        Console().print(
            f"{len(result.result.sessions)} sessions, {s['decisions']} decisions, {s['trades']} trades, "
            f"rejects {s['rejects']}, total return {s['total_return']:.4%}, "
            f"{result.decisions_per_second:.0f} decisions/s — artifacts in {target}",
            highlight=False,
        )

    _guard(go)


@backtest_app.command("sweep")
def sweep_cmd(
    strategy: StrategyOpt,
    underlying: UnderlyingOpt,
    frm: FromOpt,
    to: ToOpt,
    out: OutOpt,
    grid_axes: GridOpt = None,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    sets: SetOpt = None,
    source: SourceOpt = None,
    api_key: KeyOpt = None,
    workers: WorkersOpt = 2,
    scheduler: SchedulerOpt = None,
    train_days: TrainOpt = None,
    test_days: TestOpt = None,
    step_days: StepOpt = None,
    metric: MetricOpt = "sharpe",
) -> None:
    """Run a grid of parameter sets on Dask (``--set k=v1,v2`` or ``--grid k=v1,v2`` make the axes); each run
    writes out/runs/NNN/ and the table goes to out/sweep.*. With --train-days/--test-days/--step-days: walk forward."""

    def go() -> None:
        base = _base(strategy, underlying, frm, to, sets)
        axes = _split_axes(base, grid_axes)
        cfg = _source(data_dir, source, api_key)
        folds = (train_days, test_days, step_days)
        if any(v is not None for v in folds):
            if any(v is None for v in folds):
                raise UsageError("walk-forward needs --train-days, --test-days and --step-days together")
            _walk(base, axes, cfg, out, folds, metric, workers, scheduler)  # type: ignore[arg-type]
            return
        from .sweep import sweep

        total = 1
        for values in axes.values():
            total *= len(values)
        with _progress() as bar:
            task = bar.add_task(f"sweep {base['strategy']} {base['underlying']}", total=total)
            rows = sweep(
                base, axes, cfg, out, workers=workers, scheduler=scheduler, on_done=lambda i: bar.advance(task)
            )
        _print_rows(rows, list(axes))

    _guard(go)


def _split_axes(base: dict[str, Any], grid_axes: list[str] | None) -> dict[str, list[str]]:
    """Grid axes from ``--grid`` and from ``--set`` values holding commas (those leave the fixed settings)."""
    listed = {k: v for k, v in base["set"].items() if "," in v}
    for k in listed:
        del base["set"][k]
    extra = [f"{k}={v}" for k, v in listed.items()]
    return _axes([*(grid_axes or []), *extra])


def _walk(
    base: dict[str, Any],
    axes: dict[str, list[str]],
    cfg: SourceConfig,
    out: Path,
    folds: tuple[int, int, int],
    metric: str,
    workers: int,
    scheduler: str | None,
) -> None:
    from .sweep import walk_forward

    train, test, step = folds
    result = walk_forward(
        base, axes, cfg, out, train_days=train, test_days=test, step_days=step, metric=metric, workers=workers,
        scheduler=scheduler,
    )  # fmt: skip
    Console().print_json(json.dumps(result))


@backtest_app.command("walkforward")
def walkforward_cmd(
    strategy: StrategyOpt,
    underlying: UnderlyingOpt,
    frm: FromOpt,
    to: ToOpt,
    out: OutOpt,
    train_days: Annotated[int, typer.Option("--train-days", help="Trading days per train window")],
    test_days: Annotated[int, typer.Option("--test-days", help="Trading days per test window")],
    step_days: Annotated[int, typer.Option("--step-days", help="Trading days between fold starts")],
    grid_axes: GridOpt = None,
    metric: MetricOpt = "sharpe",
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    sets: SetOpt = None,
    source: SourceOpt = None,
    api_key: KeyOpt = None,
    workers: WorkersOpt = 2,
    scheduler: SchedulerOpt = None,
) -> None:
    """Walk forward: pick the best grid point on each train window, run it on the next test window
    (the same as ``sweep`` with the fold options)."""

    def go() -> None:
        base = _base(strategy, underlying, frm, to, sets)
        axes = _split_axes(base, grid_axes)
        _walk(
            base, axes, _source(data_dir, source, api_key), out, (train_days, test_days, step_days), metric, workers,
            scheduler,
        )  # fmt: skip

    _guard(go)


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]backtest[/bold] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def _axes(values: list[str] | None) -> dict[str, list[str]]:
    axes = {k: [x.strip() for x in v.split(",") if x.strip()] for k, v in _pairs(values, "--grid").items()}
    if not axes or any(not v for v in axes.values()):
        raise UsageError("give at least one --grid key=v1,v2,… (or --set key=v1,v2,…) with values")
    return axes


def _print_rows(rows: list[dict[str, Any]], keys: list[str]) -> None:
    table = Table(title="sweep", title_justify="left")
    cols = ["run", *keys, "total_return", "sharpe", "max_drawdown", "win_rate", "trades", "rejects"]
    for c in cols:
        table.add_column(c)
    for r in rows:
        table.add_row(*[f"{r[c]:.4f}" if isinstance(r.get(c), float) else str(r.get(c)) for c in cols])
    Console().print(table)
