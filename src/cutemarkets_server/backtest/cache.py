"""Small files a backtest command keeps between runs, so that a run does not pay for imports it only
needs to rebuild them (the trading calendar's session table, the chart template's JSON).

Each file is named after the version of the library that produced it, so an upgrade makes a new one.
They live in ``$CUTEMARKETS_CACHE_DIR`` or else ``$XDG_CACHE_HOME/cutemarkets-server`` (by default
``~/.cache/cutemarkets-server``). Where the directory cannot be written, nothing is kept and the values
are computed again next time.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def cache_dir() -> Path:
    explicit = os.environ.get("CUTEMARKETS_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cutemarkets-server"


def package_version(name: str) -> str | None:
    """The installed version of a distribution (without importing it), or None."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def read_text(name: str) -> str | None:
    try:
        return (cache_dir() / name).read_text("utf-8")
    except (OSError, ValueError):
        return None


def write_text(name: str, text: str) -> None:
    """Write atomically (a reader sees the old file or the whole new one); errors are ignored."""
    path = cache_dir() / name
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
        tmp = None
    except OSError:
        pass
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
