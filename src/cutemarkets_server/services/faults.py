"""Datasets that failed to read: recorded when a query meets a missing or corrupt file, cleared when the file
reads again or the manifest no longer points at it. ``/v1/status/`` reports them as degraded."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..store.errors import DatasetUnavailable
from ..store.lake import Lake
from ..store.probe import file_fault

UNNAMED_FAULT_TTL_S = 60.0  # a fault whose file is unknown is reported this long after its last occurrence


@dataclass(frozen=True, slots=True)
class DatasetFault:
    dataset: str
    path: str | None
    seen_at: float

    @property
    def day(self) -> str | None:
        """The partition day (or a pack's period), from the lake layout ``{dataset}/{YYYY-MM-DD}/{file}``."""
        return Path(self.path).parent.name if self.path else None


class DatasetFaults:
    """A thread-safe registry of the lake files that failed, per dataset."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: dict[tuple[str, str | None], DatasetFault] = {}

    def record(self, exc: DatasetUnavailable) -> None:
        with self._lock:
            self._faults[(exc.dataset, exc.path)] = DatasetFault(exc.dataset, exc.path, time.monotonic())

    def degraded(self, lake: Lake) -> dict[str, str]:
        """Dataset → a short reason, for the datasets with a fault that still stands (re-checked now)."""
        with self._lock:
            faults = list(self._faults.values())
        if not faults:
            return {}
        snap = lake.snapshot()
        now = time.monotonic()
        out: dict[str, str] = {}
        for fault in faults:
            served = {f for part in snap.by_dataset.get(fault.dataset, {}).values() for f in part.files}
            served |= {str(lake.root / f) for f in snap.pack_files.get(fault.dataset, {}).values()}
            reason = self._standing(fault, served, now)
            if reason is None:
                with self._lock:
                    if self._faults.get((fault.dataset, fault.path)) is fault:
                        del self._faults[(fault.dataset, fault.path)]
                continue
            out[fault.dataset] = reason if fault.dataset not in out else out[fault.dataset] + "; " + reason
        return out

    @staticmethod
    def _standing(fault: DatasetFault, served: set[str], now: float) -> str | None:
        if fault.path is None:
            return "a stored file is unreadable" if now - fault.seen_at < UNNAMED_FAULT_TTL_S else None
        if fault.path not in served and fault.path.removesuffix(".last.parquet") + ".parquet" not in served:
            return None  # the day was rewritten or removed since
        problem = file_fault(fault.path)
        return None if problem is None else f"{fault.day}: a stored file is {problem}"
