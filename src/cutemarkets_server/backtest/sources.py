"""Choosing the data source from command-line style settings (also used inside sweep workers)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .data.base import DataSource


@dataclass(frozen=True)
class SourceConfig:
    data_dir: Path
    url: str | None = None
    api_key: str | None = None

    def open(self) -> DataSource:
        # Each source imports its own stack (httpx; or the store and services) only when chosen.
        if self.url:
            from .data.http import HttpSource

            return HttpSource(self.url, self.api_key or "")
        from .data.lake import LakeSource

        return LakeSource(self.data_dir)


_OPEN: dict[SourceConfig, DataSource] = {}


def shared_source(cfg: SourceConfig) -> DataSource:
    """One source per configuration and process (workers of a sweep reuse theirs across runs)."""
    if cfg not in _OPEN:
        _OPEN[cfg] = cfg.open()
    return _OPEN[cfg]
