"""The built-in strategies, and loading a user's strategy from a Python file."""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import sys
from pathlib import Path

from .base import Param, Strategy
from .iron_condor import IronCondor
from .orb import OpeningRangeBreakout
from .short_put import ShortPut

BUILTINS: dict[str, type[Strategy]] = {s.name: s for s in (OpeningRangeBreakout, ShortPut, IronCondor)}


class UnknownStrategyError(ValueError):
    pass


def load_strategy(spec: str) -> tuple[type[Strategy], str]:
    """The strategy class named ``spec`` (a built-in name or a ``.py`` file) and the sha256 of its source."""
    if spec in BUILTINS:
        cls = BUILTINS[spec]
        source = Path(inspect.getsourcefile(cls) or "").read_bytes()
        return cls, hashlib.sha256(source).hexdigest()
    path = Path(spec)
    if path.suffix != ".py":
        raise UnknownStrategyError(f"unknown strategy {spec!r}; built-in: {', '.join(BUILTINS)}, or a FILE.py")
    if not path.is_file():
        raise UnknownStrategyError(f"strategy file {spec} does not exist")
    source = path.read_bytes()
    module_name = f"cutemarkets_user_strategy_{hashlib.sha256(source).hexdigest()[:12]}"
    loader_spec = importlib.util.spec_from_file_location(module_name, path)
    assert loader_spec is not None and loader_spec.loader is not None
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[module_name] = module
    loader_spec.loader.exec_module(module)
    found = [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj) and issubclass(obj, Strategy) and obj is not Strategy and obj.__module__ == module_name
    ]
    if len(found) != 1:
        raise UnknownStrategyError(f"{spec} must define exactly one Strategy subclass (found {len(found)})")
    if not found[0].name:
        found[0].name = path.stem
    return found[0], hashlib.sha256(source).hexdigest()


__all__ = ["BUILTINS", "Param", "Strategy", "UnknownStrategyError", "load_strategy"]
