"""Parameter sweeps and walk-forward on Dask (a local cluster by default, or a scheduler address).

Only the adapter lives here: each run is one task; the tasks run ``run_backtest`` in the workers and
write their own artifacts. Walk-forward folds are cut on trading days: each fold sweeps the grid on
its train window, picks the best by a declared metric, and runs that choice on the next test window;
only test-window results make the out-of-sample record.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from .calendar import calendar
from .config import Execution, RunSpec
from .metrics import WALK_FORWARD_METRICS as METRICS
from .sources import SourceConfig, shared_source
from .strategies import load_strategy

SUMMARY_COLUMNS = ("total_return", "sharpe", "sortino", "max_drawdown", "win_rate", "profit_factor", "trades")



def grid(axes: dict[str, list[str]]) -> list[dict[str, str]]:
    """Every combination of the axes' values, in a stable order (axes in the given order)."""
    names = list(axes)
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*(axes[n] for n in names))]


def split_settings(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(strategy parameters, execution settings) from one ``--set`` mapping."""
    names = set(Execution.names())
    return {k: v for k, v in values.items() if k not in names}, {k: v for k, v in values.items() if k in names}


def make_spec(base: dict[str, Any], values: dict[str, Any]) -> RunSpec:
    params, execution = split_settings({**base["set"], **values})
    load_strategy(base["strategy"])[0].resolve(params)
    return RunSpec(
        strategy=base["strategy"],
        underlying=base["underlying"],
        start=base["start"],
        end=base["end"],
        params=params,
        execution=Execution.from_values(execution),
    )


def run_task(spec: RunSpec, source: SourceConfig, out_dir: str | None, created_at: str | None) -> dict[str, Any]:
    """One run inside a worker; returns its summary row."""
    from .run import run_backtest

    out = run_backtest(spec, shared_source(source), Path(out_dir) if out_dir else None, created_at=created_at)
    row = {k: out.summary.get(k) for k in SUMMARY_COLUMNS}
    row["rejects"] = sum(out.summary["rejects"].values())
    row["seconds"] = out.seconds
    return row


@contextmanager
def dask_client(workers: int, scheduler: str | None) -> Iterator[Any]:
    """A Dask client: to ``scheduler`` when given, else a local cluster of ``workers`` processes."""
    from dask.distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler) as client:
            yield client
        return
    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def run_many(
    client: Any,
    specs: list[RunSpec],
    source: SourceConfig,
    out_dirs: list[str | None],
    created_at: str | None,
    on_done: Callable[[int], None] | None = None,
) -> list[dict[str, Any]]:
    from dask.distributed import as_completed

    futures = [
        client.submit(run_task, spec, source, out, created_at, pure=False)
        for spec, out in zip(specs, out_dirs, strict=True)
    ]
    index = {f.key: i for i, f in enumerate(futures)}
    rows: list[dict[str, Any] | None] = [None] * len(futures)
    for fut in as_completed(futures):
        rows[index[fut.key]] = fut.result()  # a failed run raises here and stops the sweep
        if on_done is not None:
            on_done(index[fut.key])
    return [r for r in rows if r is not None]


def sweep(
    base: dict[str, Any],
    axes: dict[str, list[str]],
    source: SourceConfig,
    out_dir: Path,
    *,
    workers: int = 2,
    scheduler: str | None = None,
    created_at: str | None = None,
    on_done: Callable[[int], None] | None = None,
) -> list[dict[str, Any]]:
    """Run every grid point; each writes ``out_dir/runs/NNN/``; the table goes to ``sweep.parquet``/``sweep.json``."""
    points = grid(axes)
    specs = [make_spec(base, p) for p in points]  # validates every point before any work starts
    outs = [str(out_dir / "runs" / f"{i:03d}") for i in range(len(points))]
    with dask_client(workers, scheduler) as client:
        rows = run_many(client, specs, source, outs, created_at, on_done)
    table = [
        {"run": f"{i:03d}", **points[i], **{k: v for k, v in rows[i].items() if k != "seconds"}}
        for i in range(len(points))
    ]
    _write_table(out_dir, "sweep", table)
    return table


def folds(sessions: list[dt.date], train: int, test: int, step: int) -> list[tuple[list[dt.date], list[dt.date]]]:
    if min(train, test, step) < 1:
        raise ValueError("--train-days, --test-days and --step-days must be at least 1")
    if step < test:
        raise ValueError("--step-days must be at least --test-days (test windows must not overlap)")
    out = []
    i = 0
    while i + train + test <= len(sessions):
        out.append((sessions[i : i + train], sessions[i + train : i + train + test]))
        i += step
    if not out:
        raise ValueError(f"{len(sessions)} sessions cannot hold one fold of {train} train + {test} test days")
    return out


def walk_forward(
    base: dict[str, Any],
    axes: dict[str, list[str]],
    source: SourceConfig,
    out_dir: Path,
    *,
    train_days: int,
    test_days: int,
    step_days: int,
    metric: str = "sharpe",
    workers: int = 2,
    scheduler: str | None = None,
    created_at: str | None = None,
) -> dict[str, Any]:
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; known: {', '.join(METRICS)}")
    sessions = calendar().sessions_in_range(base["start"], base["end"])
    plan = folds(sessions, train_days, test_days, step_days)
    points = grid(axes)
    for p in points:
        make_spec(base, p)
    fold_rows: list[dict[str, Any]] = []
    with dask_client(workers, scheduler) as client:
        for k, (train, test) in enumerate(plan):
            train_specs = [replace(make_spec(base, p), start=train[0], end=train[-1]) for p in points]
            train_rows = run_many(client, train_specs, source, [None] * len(points), created_at)
            best = max(range(len(points)), key=lambda i: (_score(train_rows[i], metric), -i))
            test_spec = replace(make_spec(base, points[best]), start=test[0], end=test[-1])
            test_row = run_many(client, [test_spec], source, [str(out_dir / "folds" / f"{k:03d}")], created_at)[0]
            fold_rows.append(
                {
                    "fold": k,
                    "train_from": train[0].isoformat(),
                    "train_to": train[-1].isoformat(),
                    "test_from": test[0].isoformat(),
                    "test_to": test[-1].isoformat(),
                    "chosen": points[best],
                    f"train_{metric}": train_rows[best].get(metric),
                    **{f"test_{c}": test_row.get(c) for c in SUMMARY_COLUMNS},
                }
            )
    compounded = 1.0
    for row in fold_rows:
        compounded *= 1.0 + (row["test_total_return"] or 0.0)
    result = {
        "metric": metric,
        "train_days": train_days,
        "test_days": test_days,
        "step_days": step_days,
        "folds": fold_rows,
        "out_of_sample_total_return": round(compounded - 1.0, 10),
        "out_of_sample_trades": sum(r["test_trades"] or 0 for r in fold_rows),
    }
    from .artifacts import write_json

    write_json(out_dir / "walkforward.json", result)
    return result


def _score(row: dict[str, Any], metric: str) -> float:
    v = row.get(metric)
    return float("-inf") if v is None else float(v)


def _write_table(out_dir: Path, name: str, rows: list[dict[str, Any]]) -> None:
    import pyarrow as pa

    from .artifacts import write_json, write_parquet

    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / f"{name}.json", rows)
    cols = {k: [r.get(k) for r in rows] for k in rows[0]} if rows else {}
    write_parquet(out_dir / f"{name}.parquet", pa.table(cols))
