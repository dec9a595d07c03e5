"""The long-lived objects a running server shares: settings, clock, lake, query engine, keys, calendar."""

from __future__ import annotations

from dataclasses import dataclass, field

from .clock import Clock, WallClock
from .config import Settings
from .market.calendar import MarketCalendar, xnys
from .services.cache import TTLCache
from .services.faults import DatasetFaults
from .store.engine import DuckEngine
from .store.keys import KeyStore
from .store.lake import Lake


@dataclass
class Runtime:
    settings: Settings
    clock: Clock
    lake: Lake
    engine: DuckEngine
    keys: KeyStore
    calendar: MarketCalendar
    cache: TTLCache = field(default_factory=lambda: TTLCache(maxsize=4096, ttl_s=3600.0))
    faults: DatasetFaults = field(default_factory=DatasetFaults)

    @classmethod
    def open(cls, settings: Settings, clock: Clock | None = None) -> Runtime:
        layout = settings.layout
        layout.root.mkdir(parents=True, exist_ok=True)
        return cls(
            settings=settings,
            clock=clock or WallClock(),
            lake=Lake(layout.lake),
            engine=DuckEngine(),
            keys=KeyStore(layout.keys_db),
            calendar=xnys(),
        )
