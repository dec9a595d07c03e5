"""Streaming settings: which producer feeds the gateway, and the limits of the fan-out."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from ..clock import ReplayClock
from ..market.calendar import xnys
from ..market.timestamps import et_ns

StreamMode = Literal["off", "live", "replay"]

PING_INTERVAL_S = 20.0
PING_TIMEOUT_S = 40.0  # a pong must arrive within 60 s of the previous one


@dataclass(frozen=True)
class StreamConfig:
    """``mode``: ``off`` (the gateway serves, nothing is produced), ``live`` (the built-in market clock)
    or ``replay`` (a stored session at ``replay_speed`` times real time; ``None`` = as fast as possible)."""

    mode: StreamMode = "off"
    replay_day: dt.date | None = None
    replay_speed: float | None = 1.0
    replay_start: dt.time | None = None  # ET; default the regular open
    queue_frames: int = 1024  # per connection; a consumer this far behind is disconnected
    warn_fraction: float = 0.5  # the slow-consumer warning is sent at this share of the queue
    drain_wait_s: float = 2.0  # unpaced replays wait this long for a lagging consumer before dropping it
    auth_timeout_s: float = 10.0
    lease_ttl_s: float = 30.0
    lease_refresh_s: float = 10.0
    option_quote_cap: int = 1000
    step_s: float = 0.02  # how often the producer releases what the clock has reached
    lake_batch_s: float = 60.0  # live mode: ticks are appended to the lake once per this many seconds
    replay_anchor: float | None = None  # wall-clock instant (time.time()) a paced replay started; None: when it runs

    def replay_clock(self) -> ReplayClock:
        """The clock of a replay: from the start instant to the end of the day's stock session."""
        if self.replay_day is None:
            raise ValueError("a replay needs a day")
        cal = xnys()
        if not cal.is_session(self.replay_day):
            raise ValueError(f"{self.replay_day} is not an XNYS session")
        hours = cal.hours(self.replay_day)
        start = self.replay_start or dt.time(9, 30)
        start_ns = et_ns(self.replay_day, start.hour, start.minute, start.second)
        start_ns = min(max(start_ns, hours.premarket_open_ns), hours.after_hours_close_ns)
        clock = ReplayClock(start_ns, hours.after_hours_close_ns, self.replay_speed)
        if self.replay_anchor is not None and clock.paced:
            clock.start(self.replay_anchor)  # worker processes: every process's clock tells the same time
        return clock
