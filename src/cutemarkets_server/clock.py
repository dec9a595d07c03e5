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


class ReplayClock:
    """The instant of a replayed session: it starts at ``start_ns`` and runs ``speed`` times faster than the
    wall clock from :meth:`start` on, never past ``end_ns``. With ``speed=None`` (as fast as possible) it
    stands at whatever instant the replay has reached (:meth:`advance_to`)."""

    def __init__(self, start_ns: int, end_ns: int, speed: float | None = 1.0) -> None:
        if speed is not None and speed <= 0:
            raise ValueError("speed must be positive (or None for as fast as possible)")
        self.start_ns = int(start_ns)
        self.end_ns = int(end_ns)
        self.speed = speed
        self._anchor: float | None = None
        self._reached = self.start_ns

    @property
    def paced(self) -> bool:
        return self.speed is not None

    def start(self, at_wall_s: float | None = None) -> None:
        """Start the clock now, or as if it had started at the wall-clock instant ``at_wall_s`` (``time.time()``
        seconds; several processes given the same instant tell the same time). A started clock stays started."""
        if self._anchor is None:
            now = time.monotonic()
            self._anchor = now if at_wall_s is None else now - (time.time() - at_wall_s)

    def advance_to(self, now_ns: int) -> None:
        """Move an unpaced clock forward (never backward, never past the end)."""
        self._reached = min(max(self._reached, int(now_ns)), self.end_ns)

    def now_ns(self) -> int:
        if self.speed is None or self._anchor is None:
            return self._reached
        elapsed = time.monotonic() - self._anchor
        return min(self.start_ns + int(elapsed * self.speed * 1e9), self.end_ns)
