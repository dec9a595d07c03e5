"""Replay a stored session from the lake through the stream, with its original timestamps.

The replay clock (:class:`~cutemarkets_server.clock.ReplayClock`) is the server's "now" during a replay, so
REST answers follow the stream. Events before the start instant are released silently first, so the day
figures of the first aggregates (accumulated volume, day VWAP, official open) are those of the whole day.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from ..clock import ReplayClock
from ..market.calendar import xnys
from ..store.market import MarketStore
from .tape import TICK_DATASETS, SessionTape, TapePlayer, TickSink


def stored_sessions(store: MarketStore) -> list[dt.date]:
    """Days with stored ticks of any tick dataset."""
    days: set[dt.date] = set()
    for name in TICK_DATASETS:
        days.update(store.days(name))
    return sorted(days)


def load_session(store: MarketStore, day: dt.date) -> SessionTape:
    """The stored ticks of ``day`` as a tape spanning the day's stock session (04:00 to the after-hours close)."""
    if day not in stored_sessions(store):
        known = ", ".join(d.isoformat() for d in stored_sessions(store)[-10:]) or "none"
        raise LookupError(f"no stored ticks for {day}; the latest stored sessions are: {known}")
    hours = xnys().hours(day)
    tables: dict[str, pa.Table] = {name: store.partition_table(name, day) for name in TICK_DATASETS}
    return SessionTape(day, tables, hours.premarket_open_ns, hours.after_hours_close_ns)


async def replay(tape: SessionTape, clock: ReplayClock, sink: TickSink, *, step_s: float) -> None:
    """Play ``tape`` from the clock's start: paced at the clock's speed, or as fast as the sink takes it."""
    player = TapePlayer(tape, sink)
    player.release(clock.start_ns, silent=True)
    clock.start()
    if clock.paced:
        await player.play_paced(clock.now_ns, step_s)
    else:
        await player.play_unpaced(clock.advance_to)
