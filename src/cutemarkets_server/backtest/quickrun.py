"""``cutemarkets backtest run`` parsed without building the typer application.

typer builds a pydantic validator for every option of the command it runs (and imports pydantic for
it), which costs a backtest command about a tenth of a second of CPU, as much as the run itself. The
plain forms of ``backtest run`` (the options below, each once except ``--set``, as ``--opt value`` or
``--opt=value``) are parsed here and handed to the same ``run_command``; anything else (``--help``, an
unknown or repeated option, a missing value or a missing required option) is left to typer, which then
answers exactly as it always does. ``tests/test_backtest_cli.py`` checks that these options, their
environment variables and their defaults are the ones the typer command declares.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ..config import DEFAULT_DATA_DIR

# flag -> (parameter of run_command, environment variable or None)
OPTIONS: dict[str, tuple[str, str | None]] = {
    "--strategy": ("strategy", None),
    "--underlying": ("underlying", None),
    "--out": ("out", None),
    "--from": ("frm", None),
    "--to": ("to", None),
    "--data-dir": ("data_dir", "CUTEMARKETS_DATA_DIR"),
    "--set": ("sets", None),
    "--source": ("source", "CUTEMARKETS_BACKTEST_SOURCE"),
    "--api-key": ("api_key", "CUTEMARKETS_API_KEY"),
    "--backtests-dir": ("backtests_dir", "CUTEMARKETS_BACKTESTS_DIR"),
}
REQUIRED = ("strategy", "underlying", "out")
REPEATABLE = ("sets",)


def parse(argv: list[str]) -> dict[str, object] | None:
    """The run_command arguments for ``argv`` (what follows ``backtest run``), or None to let typer parse."""
    values: dict[str, object] = {}
    sets: list[str] = []
    i = 0
    while i < len(argv):
        flag, eq, inline = argv[i].partition("=")
        if flag not in OPTIONS:
            return None
        if eq:
            value, i = inline, i + 1
        elif i + 1 < len(argv) and not argv[i + 1].startswith("-"):
            value, i = argv[i + 1], i + 2
        else:
            return None
        name = OPTIONS[flag][0]
        if name in REPEATABLE:
            sets.append(value)
        elif name in values:
            return None
        else:
            values[name] = value
    for name, envvar in OPTIONS.values():
        if name in values or envvar is None or envvar not in os.environ:
            continue
        if not os.environ[envvar]:
            return None  # let typer decide what an empty variable means
        values[name] = os.environ[envvar]
    if any(name not in values for name in REQUIRED):
        return None
    return {
        "strategy": values["strategy"],
        "underlying": values["underlying"],
        "out": Path(str(values["out"])),
        "frm": values.get("frm"),
        "to": values.get("to"),
        "data_dir": Path(str(values["data_dir"])) if "data_dir" in values else DEFAULT_DATA_DIR,
        "sets": sets or None,
        "source": values.get("source"),
        "api_key": values.get("api_key"),
        "backtests_dir": Path(str(values["backtests_dir"])) if "backtests_dir" in values else None,
    }


def main(argv: list[str]) -> bool:
    """Run ``backtest run`` when ``argv`` is one of its plain forms; False to let typer handle ``argv``."""
    if argv[:2] != ["backtest", "run"]:
        return False
    args = parse(argv[2:])
    if args is None:
        return False
    import typer

    from .cli import run_command

    try:
        run_command(**args)  # type: ignore[arg-type]
    except typer.Exit as done:
        raise SystemExit(done.exit_code) from None
    except KeyboardInterrupt:
        print("\nAborted!", file=sys.stderr)  # as typer says it
        raise SystemExit(1) from None
    return True
