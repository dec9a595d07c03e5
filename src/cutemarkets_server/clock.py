"""What "now" means for the server: the wall clock, a fixed instant (tests), or a replay clock."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now_ns(self) -> int: ...


class WallClock:
    def now_ns(self) -> int:
        return time.time_ns()


class FixedClock:
    """A clock that stays where it is set (tests and deterministic benchmarks)."""

    def __init__(self, now_ns: int) -> None:
        self._now = int(now_ns)

    def now_ns(self) -> int:
        return self._now

    def set(self, now_ns: int) -> None:
        self._now = int(now_ns)
