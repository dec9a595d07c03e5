"""A session's ticks as one time-ordered tape, and the player that releases them as a clock advances.

The tape merges the four tick datasets of one day (stock quotes and trades, option quotes and trades) by
timestamp. The player hands what the clock has reached to a :class:`TickSink` in :class:`TickBatch` es that
never straddle a second boundary, so aggregates built from the released trades close exactly at their
window ends. Replays (stored sessions) and the live market clock (generated sessions) share it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pyarrow as pa

from ..market.timestamps import NS_PER_S
from ..store.lake import conform
from ..store.schemas import dataset

TICK_DATASETS = ("stock_quotes", "stock_trades", "option_quotes", "option_trades")
MAX_BATCH_EVENTS = 2_000


@dataclass
class TickBatch:
    """Ticks released together: everything before ``until_ns`` has now been released.

    ``order`` holds, for each released event in time order, the index in :data:`TICK_DATASETS` of the
    table it comes from (each table's rows are in time order). A ``silent`` batch is a catch-up: it
    updates state (day figures of aggregates) but is not sent to anyone.
    """

    day: dt.date
    until_ns: int
    tables: dict[str, pa.Table]
    order: np.ndarray
    silent: bool = False

    @property
    def size(self) -> int:
        return len(self.order)


class TickSink(Protocol):
    def publish(self, batch: TickBatch) -> None: ...

    def commit(self) -> None:
        """Everything published since the last commit goes out together."""

    async def wait_for_room(self) -> None: ...


def _sorted(name: str, table: pa.Table) -> pa.Table:
    """``table`` in the dataset's schema, sorted by time then sequence number."""
    ds = dataset(name)
    table = conform(ds, table)
    time_col = ds.time_column
    assert time_col is not None
    keys = [(time_col, "ascending")]
    if "sequence_number" in table.column_names:
        keys.append(("sequence_number", "ascending"))
    return table.sort_by(keys)


class SessionTape:
    """The tick datasets of one session merged into one time order."""

    def __init__(self, day: dt.date, tables: Mapping[str, pa.Table], start_ns: int, end_ns: int) -> None:
        self.day = day
        self.start_ns = start_ns
        self.end_ns = end_ns
        self.tables = {name: _sorted(name, tables[name]) for name in TICK_DATASETS if name in tables}
        times = []
        sources = []
        for i, name in enumerate(TICK_DATASETS):
            table = self.tables.get(name)
            if table is None:
                continue
            ts = table["sip_timestamp"].to_numpy()
            times.append(ts)
            sources.append(np.full(len(ts), i, dtype=np.int8))
        ts_all = np.concatenate(times) if times else np.empty(0, dtype=np.int64)
        src_all = np.concatenate(sources) if sources else np.empty(0, dtype=np.int8)
        order = np.argsort(ts_all, kind="stable")
        self.ts = ts_all[order]
        self.source = src_all[order]

    def __len__(self) -> int:
        return len(self.ts)

    def index_at(self, ns: int) -> int:
        """How many events happen before ``ns``."""
        return int(np.searchsorted(self.ts, ns, side="left"))

    def dataset_counts(self, lo: int, hi: int) -> np.ndarray:
        return np.bincount(self.source[lo:hi], minlength=len(TICK_DATASETS))


class TapePlayer:
    """Releases a tape's events to a sink in time order."""

    def __init__(self, tape: SessionTape, sink: TickSink) -> None:
        self.tape = tape
        self.sink = sink
        self.pos = 0
        self.until_ns = tape.start_ns
        self._offsets = np.zeros(len(TICK_DATASETS), dtype=np.int64)

    @property
    def done(self) -> bool:
        return self.until_ns >= self.tape.end_ns

    def _emit(self, lo: int, hi: int, until_ns: int, *, silent: bool) -> None:
        counts = self.tape.dataset_counts(lo, hi)
        tables: dict[str, pa.Table] = {}
        for i, name in enumerate(TICK_DATASETS):
            if counts[i]:
                tables[name] = self.tape.tables[name].slice(int(self._offsets[i]), int(counts[i]))
        self._offsets += counts
        self.pos = hi
        self.until_ns = max(self.until_ns, until_ns)
        self.sink.publish(TickBatch(self.tape.day, until_ns, tables, self.tape.source[lo:hi], silent))

    def release(self, until_ns: int, *, silent: bool = False) -> int:
        """Release every event before ``until_ns`` (split at second boundaries unless ``silent``)."""
        until_ns = min(until_ns, self.tape.end_ns)
        if until_ns <= self.until_ns:
            return 0
        lo, hi = self.pos, self.tape.index_at(until_ns)
        if silent or hi == lo:
            self._emit(lo, hi, until_ns, silent=silent)
            self.sink.commit()
            return hi - lo
        seconds = self.tape.ts[lo:hi] // NS_PER_S
        cuts = (np.flatnonzero(np.diff(seconds)) + 1 + lo).tolist()
        start = lo
        for cut in cuts:
            self._emit(start, cut, int(seconds[cut - lo]) * NS_PER_S, silent=False)
            start = cut
        self._emit(start, hi, until_ns, silent=False)
        self.sink.commit()
        return hi - lo

    def release_next(self, max_events: int = MAX_BATCH_EVENTS) -> int:
        """Release the next events at once (at most ``max_events``, never past a second boundary);
        returns the instant everything before which is now released."""
        tape = self.tape
        lo = self.pos
        if lo >= len(tape):
            self._emit(lo, lo, tape.end_ns, silent=False)
            self.sink.commit()
            return tape.end_ns
        second_end = (int(tape.ts[lo]) // NS_PER_S + 1) * NS_PER_S
        hi = min(tape.index_at(second_end), lo + max_events)
        if hi < len(tape):
            following = int(tape.ts[hi])
            until = second_end if following >= second_end else following
        else:
            until = tape.end_ns
        self._emit(lo, hi, until, silent=False)
        self.sink.commit()
        return until

    async def play_paced(self, now_ns: Callable[[], int], step_s: float) -> None:
        """Release what ``now_ns()`` has reached every ``step_s`` until the tape's end."""
        while not self.done:
            self.release(now_ns())
            if self.done:
                return
            await asyncio.sleep(step_s)

    async def play_unpaced(self, advance: Callable[[int], None]) -> None:
        """Release as fast as the sink takes it, moving the clock with the tape."""
        while not self.done:
            until = self.release_next()
            advance(until)
            await self.sink.wait_for_room()
            await asyncio.sleep(0)
