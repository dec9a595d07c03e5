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


def package_version(distribution: str, module: str) -> str | None:
    """The installed version of a distribution, from its ``.dist-info`` directory beside the module
    (importlib.metadata costs a command more to import than this look-up takes); for other layouts a
    key from the module file's modification time. None when the module is not installed."""
    import importlib.util

    spec = importlib.util.find_spec(module)  # locates the module without running it
    if spec is None or spec.origin is None:
        return None
    origin = Path(spec.origin)
    site = origin.parent.parent if origin.name == "__init__.py" else origin.parent
    prefix = distribution.replace("-", "_").lower() + "-"
    try:
        for name in os.listdir(site):
            if name.lower().startswith(prefix) and name.endswith(".dist-info"):
                return name[len(prefix) : -len(".dist-info")]
        return f"mtime{origin.stat().st_mtime_ns}"
    except OSError:
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
