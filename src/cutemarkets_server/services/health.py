"""Health of the parts a request depends on, with measured latencies."""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..runtime import Runtime


@dataclass(frozen=True)
class ServiceHealth:
    status: str
    latency_ms: float | None = None
    message: str | None = None

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"status": self.status}
        if self.latency_ms is not None:
            out["latency_ms"] = round(self.latency_ms, 3)
        if self.message:
            out["message"] = self.message
        return out


def _timed(check: object) -> ServiceHealth:
    started = time.perf_counter()
    try:
        message = check()  # type: ignore[operator]
    except Exception as exc:
        return ServiceHealth("degraded", (time.perf_counter() - started) * 1e3, f"{type(exc).__name__}: {exc}")
    elapsed = (time.perf_counter() - started) * 1e3
    if message:
        return ServiceHealth("degraded", elapsed, str(message))
    return ServiceHealth("ok", elapsed)


def check_database(rt: Runtime) -> ServiceHealth:
    """The query engine answers, the lake manifest is readable and holds data, and the key store answers."""

    def probe() -> str | None:
        rt.engine.ping()
        rt.keys.ping()
        snap = rt.lake.snapshot()
        if not any(snap.by_dataset.values()):
            return "the lake holds no data yet; run `cutemarkets demo` or `cutemarkets ingest`"
        return None

    return _timed(probe)


def check_cache(rt: Runtime) -> ServiceHealth:
    """A write and read round trip through the in-process cache."""

    def probe() -> str | None:
        token = time.perf_counter_ns()
        rt.cache.put(("health", "probe"), token)
        return None if rt.cache.get(("health", "probe")) == token else "cache read back a different value"

    return _timed(probe)


def check_lake(rt: Runtime) -> tuple[ServiceHealth, dict[str, str]]:
    """Datasets whose files failed to read and still fail: the lake is degraded while any remains."""
    started = time.perf_counter()
    degraded = rt.faults.degraded(rt.lake)
    elapsed = (time.perf_counter() - started) * 1e3
    if not degraded:
        return ServiceHealth("ok", elapsed), {}
    return ServiceHealth("degraded", elapsed, "unavailable datasets: " + ", ".join(sorted(degraded))), degraded
