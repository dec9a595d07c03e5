"""The ``cutemarkets`` command line: build the built-in market, serve, manage keys, ingest, benchmark."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from .backtest.cli import backtest_app
from .config import DEFAULT_DATA_DIR, DEFAULT_HOST, DEFAULT_PORT, Settings, parse_origins
from .ingest.commands import ingest_app

if TYPE_CHECKING:
    from .ws.config import StreamConfig

app = typer.Typer(
    help="cutemarkets-server: a self-hosted CuteMarkets v1 market-data API for U.S. options and stocks.",
    no_args_is_help=True,
    add_completion=False,
)
keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(ingest_app, name="ingest")
app.add_typer(backtest_app, name="backtest")
console = Console()

DataDir = Annotated[
    Path, typer.Option("--data-dir", envvar="CUTEMARKETS_DATA_DIR", help="Data directory (lake, keys, settings).")
]
Host = Annotated[str, typer.Option("--host", envvar="CUTEMARKETS_HOST", help="Interface to listen on.")]
Port = Annotated[int, typer.Option("--port", envvar="CUTEMARKETS_PORT", help="TCP port to listen on.")]
PublicUrl = Annotated[
    str | None,
    typer.Option(
        "--public-url",
        envvar="CUTEMARKETS_PUBLIC_URL",
        help="Absolute base URL clients reach this server at (used in next_url); default: the request's host.",
    ),
]
Seed = Annotated[int, typer.Option("--seed", envvar="CUTEMARKETS_SEED", help="Random seed of the built-in market.")]
End = Annotated[
    str | None,
    typer.Option(
        "--end",
        envvar="CUTEMARKETS_END",
        help="Last session (YYYY-MM-DD) of the built-in market; default: the last completed session.",
    ),
]
Profile = Annotated[
    str,
    typer.Option(
        "--profile",
        envvar="CUTEMARKETS_PROFILE",
        help="Market size: default (a year; 20 tick sessions), full (63 tick sessions), bench or test.",
    ),
]
Replay = Annotated[
    str | None,
    typer.Option(
        "--replay",
        envvar="CUTEMARKETS_REPLAY",
        help="Replay this stored session (YYYY-MM-DD) through the WebSocket streams; its clock is REST's now.",
    ),
]
Speed = Annotated[
    str,
    typer.Option(
        "--speed", envvar="CUTEMARKETS_SPEED", help="Replay speed: a multiple of real time, or max (as fast as read)."
    ),
]
Start = Annotated[
    str,
    typer.Option("--start", envvar="CUTEMARKETS_START", help="Replay start, HH:MM Eastern Time (04:00-20:00)."),
]
BacktestsDir = Annotated[
    Path | None,
    typer.Option(
        "--backtests-dir",
        envvar="CUTEMARKETS_BACKTESTS_DIR",
        help="Folder of backtest run directories shown by /v1/backtests/ and the console (default DATA_DIR/backtests).",
    ),
]
Workers = Annotated[
    int,
    typer.Option(
        "--workers",
        envvar="CUTEMARKETS_WORKERS",
        min=1,
        help="Worker processes sharing the port (one of them, the leader, does every write).",
    ),
]
Live = Annotated[
    bool,
    typer.Option(
        "--live/--no-live",
        envvar="CUTEMARKETS_LIVE",
        help="Run the built-in market clock: new ticks in real time during XNYS sessions.",
    ),
]


def _settings(
    data_dir: Path, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, public_url: str | None = None
) -> Settings:
    return Settings(
        data_dir=data_dir,
        host=host,
        port=port,
        public_url=public_url or None,
        secret=os.environ.get("CUTEMARKETS_SECRET") or None,
        cors_origins=parse_origins(os.environ.get("CUTEMARKETS_CORS_ORIGINS")),
    )


def _parse_end(end: str | None) -> dt.date | None:
    if end is None:
        return None
    try:
        return dt.date.fromisoformat(end)
    except ValueError:
        raise typer.BadParameter(f"{end!r} is not a date (YYYY-MM-DD)", param_hint="--end") from None


def _has_market(settings: Settings) -> bool:
    from .store.lake import Lake

    manifest = settings.layout.lake / "manifest.sqlite"
    return manifest.exists() and any(Lake(settings.layout.lake).snapshot().by_dataset.values())


def _build(settings: Settings, seed: int, end: dt.date | None, profile: str) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from .sim.build import build_market

    if profile not in ("default", "full", "bench", "test"):
        raise typer.BadParameter(
            f"unknown profile {profile!r}; choose default, full, bench or test", param_hint="--profile"
        )
    layout = settings.layout
    for stale in (layout.lake, layout.quarantine):
        if stale.exists():
            shutil.rmtree(stale)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        report = build_market(layout.root, seed=seed, end=end, profile=profile, progress=progress)
    table = Table(title=f"Built-in market ({profile}) in {report.seconds:.1f}s")
    table.add_column("dataset")
    table.add_column("rows", justify="right")
    table.add_column("bytes", justify="right")
    for name, stats in sorted(report.datasets.items()):
        table.add_row(name, f"{stats.rows:,}", f"{stats.bytes:,}")
    console.print(table)


@app.command()
def demo(
    data_dir: DataDir = DEFAULT_DATA_DIR,
    seed: Seed = 7,
    end: End = None,
    profile: Profile = "default",
) -> None:
    """Build (or rebuild) the built-in market into the data directory. API keys are kept."""
    _build(_settings(data_dir), seed, _parse_end(end), profile)


@app.command()
def compact(
    data_dir: DataDir = DEFAULT_DATA_DIR,
    ticks: Annotated[
        bool,
        typer.Option(
            "--ticks/--no-ticks",
            envvar="CUTEMARKETS_PACK_TICKS",
            help="Pack quotes by month too (trades always are): faster pages across many days, twice their disk.",
        ),
    ] = False,
) -> None:
    """Fold days into the lake's monthly and yearly packs (done after builds and imports; safe while serving)."""
    from .store.lake import Lake

    with console.status("packing"):
        built = Lake(_settings(data_dir).layout.lake).compact(ticks=ticks)
    console.print(f"{built} pack(s) written")


@app.command()
def serve(
    data_dir: DataDir = DEFAULT_DATA_DIR,
    host: Host = DEFAULT_HOST,
    port: Port = DEFAULT_PORT,
    public_url: PublicUrl = None,
    replay: Replay = None,
    speed: Speed = "1",
    start: Start = "09:30",
    live: Live = True,
    backtests_dir: BacktestsDir = None,
    workers: Workers = 1,
) -> None:
    """Serve the REST and WebSocket API over the data directory (live, or replaying a stored session)."""
    settings = dataclasses.replace(_settings(data_dir, host, port, public_url), backtests_dir=backtests_dir)
    if not _has_market(settings):
        console.print(
            "[yellow]The lake is empty: run `cutemarkets demo` to build the built-in market, "
            "or `cutemarkets ingest` to load vendor files.[/yellow]"
        )
    streaming = _streaming(replay, speed, start, live)
    if streaming.replay_day is not None:
        _require_stored(settings, streaming.replay_day)
    if workers > 1 and streaming.mode == "replay" and streaming.replay_speed is None:
        raise typer.BadParameter(
            "an unpaced replay (--speed max) runs at each process's own pace; use --workers 1 or a speed",
            param_hint="--workers",
        )
    _serve(settings, streaming, workers)


def _require_stored(settings: Settings, day: dt.date) -> None:
    from .store.lake import Lake

    snap = Lake(settings.layout.lake).snapshot()
    stored = sorted({d for name in ("stock_trades", "option_trades") for d in snap.days(name)})
    if day not in stored:
        latest = ", ".join(d.isoformat() for d in stored[-5:]) or "none"
        message = f"no stored ticks for {day}; the latest stored sessions: {latest}"
        raise typer.BadParameter(message, param_hint="--replay")


def _streaming(replay: str | None, speed: str, start: str, live: bool) -> StreamConfig:
    from .ws.config import StreamConfig

    if replay is None:
        return StreamConfig(mode="live" if live else "off")
    try:
        day = dt.date.fromisoformat(replay)
    except ValueError:
        raise typer.BadParameter(f"{replay!r} is not a date (YYYY-MM-DD)", param_hint="--replay") from None
    try:
        pace = None if speed.strip().lower() in ("max", "0") else float(speed)
        if pace is not None and pace <= 0:
            raise ValueError
    except ValueError:
        raise typer.BadParameter(f"{speed!r} is not a positive number or max", param_hint="--speed") from None
    try:
        at = dt.time.fromisoformat(start)
    except ValueError:
        raise typer.BadParameter(f"{start!r} is not a time (HH:MM)", param_hint="--start") from None
    config = StreamConfig(mode="replay", replay_day=day, replay_speed=pace, replay_start=at)
    try:
        config.replay_clock()
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--replay") from None
    return config


def _serve(settings: Settings, streaming: StreamConfig | None = None, workers: int = 1) -> None:
    from .app import create_app
    from .workers import LOG_FORMAT, serve_workers
    from .ws.config import StreamConfig
    from .ws.serving import StreamingServer, server_config

    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    if workers > 1:
        serve_workers(settings, streaming or StreamConfig(mode="live"), workers)
        return
    application = create_app(settings, streaming=streaming or StreamConfig(mode="live"))
    StreamingServer(server_config(application, host=settings.host, port=settings.port)).run()


@app.command()
def run(
    data_dir: DataDir = DEFAULT_DATA_DIR,
    host: Host = DEFAULT_HOST,
    port: Port = DEFAULT_PORT,
    public_url: PublicUrl = None,
    seed: Seed = 7,
    end: End = None,
    profile: Profile = "default",
    backtests_dir: BacktestsDir = None,
    workers: Workers = 1,
) -> None:
    """Build the built-in market if missing, make sure a demo key exists, print it, and serve."""
    settings = dataclasses.replace(_settings(data_dir, host, port, public_url), backtests_dir=backtests_dir)
    if not _has_market(settings):
        console.print("[bold]Building the built-in market (first run only)…[/bold]")
        _build(settings, seed, _parse_end(end), profile)
    key = ensure_demo_key(settings)
    base = public_url or f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    console.print()
    console.print(f"[bold green]Web console:[/bold green] {base}/console/  (sign in with the demo key below)")
    console.print(f"[bold green]Demo API key:[/bold green] {key}")
    console.print("[bold]Try:[/bold]")
    console.print(f'  curl -H "Authorization: Bearer {key}" "{base}/v1/options/chain/SPY/?limit=1"', soft_wrap=True)
    console.print(f"  API docs: {base}/docs")
    console.print()
    _serve(settings, workers=workers)


def ensure_demo_key(settings: Settings) -> str:
    """The demo key kept in the data directory (created with the Expert plan on every product if needed)."""
    from .store.keys import KeyStore

    store = KeyStore(settings.layout.keys_db)
    path = settings.layout.demo_key_file
    if path.exists():
        secret = path.read_text().strip()
        found = store.lookup(secret)
        if found is not None and found.active:
            return secret
    secret, _ = store.create("demo", "expert", ("options", "stocks", "paper"))
    tmp = path.with_suffix(".tmp")
    tmp.write_text(secret + "\n")
    os.chmod(tmp, 0o600)
    tmp.replace(path)
    return secret


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option("--name", help="A label for the key.")],
    plan: Annotated[str, typer.Option("--plan", help="free, developer, expert or commercial (or base).")] = "expert",
    products: Annotated[
        str, typer.Option("--products", help="Comma list of products: options, stocks, paper.")
    ] = "options,stocks,paper",
    as_json: Annotated[bool, typer.Option("--json", help="Print the key as JSON.")] = False,
    data_dir: DataDir = DEFAULT_DATA_DIR,
) -> None:
    """Create a key and print it (it is shown once; only its hash is stored)."""
    from .plans import parse_products
    from .plans import plan as lookup_plan
    from .store.keys import KeyStore

    try:
        chosen = lookup_plan(plan)
        prods = parse_products(products)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    secret, key = KeyStore(_settings(data_dir).layout.keys_db).create(name, chosen.key, prods)
    if as_json:
        typer.echo(json.dumps({"key": secret, "id": key.id, "name": name, "plan": chosen.key, "products": list(prods)}))
    else:
        typer.echo(secret)


@keys_app.command("list")
def keys_list(
    data_dir: DataDir = DEFAULT_DATA_DIR,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List keys (prefix, plan, products, status); secrets are never shown."""
    from .store.keys import KeyStore

    keys = KeyStore(_settings(data_dir).layout.keys_db).list()
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "id": k.id,
                        "name": k.name,
                        "prefix": k.key_prefix,
                        "plan": k.plan,
                        "products": list(k.products),
                        "created_at": k.created_at,
                        "revoked_at": k.revoked_at,
                    }
                    for k in keys
                ]
            )
        )
        return
    table = Table()
    for col in ("id", "name", "prefix", "plan", "products", "created", "status"):
        table.add_column(col)
    for k in keys:
        table.add_row(
            str(k.id),
            k.name,
            k.key_prefix + "…",
            k.plan,
            ",".join(k.products),
            k.created_at,
            "active" if k.active else f"revoked {k.revoked_at}",
        )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(
    ident: Annotated[str, typer.Argument(help="Key id, name, or the key itself.")],
    data_dir: DataDir = DEFAULT_DATA_DIR,
) -> None:
    """Revoke a key (takes effect within seconds on a running server)."""
    from .store.keys import KeyStore

    n = KeyStore(_settings(data_dir).layout.keys_db).revoke(ident)
    if n == 0:
        console.print(f"[red]No active key matches {ident!r}.[/red]")
        raise typer.Exit(1)
    console.print(f"Revoked {n} key(s).")


@app.command()
def bench(
    data_dir: Annotated[
        Path, typer.Option("--data-dir", envvar="CUTEMARKETS_BENCH_DIR", help="Where the bench market is built.")
    ] = Path("./data-bench"),
    suite: Annotated[str, typer.Option("--suite", help="all, or a comma list of suites (see --list).")] = "all",
    list_suites: Annotated[bool, typer.Option("--list", help="List the benchmark suites and exit.")] = False,
    output: Annotated[Path | None, typer.Option("--output", help="Write the results as JSON to this file.")] = None,
) -> None:
    """Run the benchmarks and print medians and ratios measured side by side in one run."""
    from .benchmarks import run_suites, suites

    if list_suites:
        for name, doc in suites().items():
            console.print(f"[bold]{name}[/bold]: {doc}")
        return
    results = run_suites(data_dir, None if suite == "all" else suite.split(","), console)
    if output:
        output.write_text(json.dumps(results, indent=2))


def main() -> None:
    import sys

    from .backtest.quickrun import main as quick_backtest_run

    if quick_backtest_run(sys.argv[1:]):  # `backtest run` without typer's per-option setup (see quickrun.py)
        return
    app()


if __name__ == "__main__":
    main()
