"""Where each ticker's rows sit in a Parquet file sorted by ticker: one run per (ticker, day).

A run is ``first_row``/``rows`` in file row numbers, with the smallest and largest value of the
dataset's time column, so a reader can open exactly the row groups of one ticker and know, without
reading them, whether a time bound falls inside the run.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


@dataclass(slots=True)
class Run:
    ticker: str
    day: dt.date
    first_row: int
    rows: int
    min_ts: int | None
    max_ts: int | None
    ordinal: int | None = None  # the run's row in the file's ``.last`` sidecar


def ticker_codes(tickers: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, pa.Array]:
    """(an int64 code per row, the tickers the codes index)."""
    if isinstance(tickers, pa.ChunkedArray):
        tickers = tickers.combine_chunks()
    encoded = pc.dictionary_encode(tickers)
    return encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64), encoded.dictionary


def run_starts(keys: np.ndarray, ordinals: np.ndarray | None = None) -> np.ndarray:
    """First row of each run of equal ``keys`` (and ``ordinals``, when given) in rows sorted by them."""
    change = np.diff(keys) != 0
    if ordinals is not None:
        change |= np.diff(ordinals) != 0
    return np.concatenate(([0], np.flatnonzero(change) + 1))


def table_runs(
    table: pa.Table, day: dt.date, time_col: str | None, offset: int = 0, ordinals: np.ndarray | None = None
) -> list[Run]:
    """Runs of a table sorted by ticker: all on ``day``, or (packs, which hold many days) on the day
    whose ordinal ``ordinals`` gives per row."""
    n = table.num_rows
    if n == 0 or "ticker" not in table.column_names:
        return []
    keys, dictionary = ticker_codes(table["ticker"])
    names = dictionary.to_pylist()
    ts = table[time_col].to_numpy() if time_col else None
    starts = run_starts(keys, ordinals)
    ends = np.concatenate((starts[1:], [n]))
    if ts is not None:
        lows = np.minimum.reduceat(ts, starts)
        highs = np.maximum.reduceat(ts, starts)
    runs = []
    for j, (s, e) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
        d = dt.date.fromordinal(int(ordinals[s])) if ordinals is not None else day
        runs.append(
            Run(
                names[keys[s]],
                d,  # type: ignore[arg-type]
                offset + s,
                e - s,
                int(lows[j]) if ts is not None else None,
                int(highs[j]) if ts is not None else None,
            )
        )
    return runs


def merge_runs(runs: list[Run], more: list[Run]) -> None:
    """Append ``more`` (the runs of the next chunk of the same file) to ``runs``, joining a run that
    continues across the chunk boundary."""
    if runs and more and runs[-1].ticker == more[0].ticker and runs[-1].day == more[0].day:
        head, tail = runs[-1], more[0]
        head.rows += tail.rows
        if head.min_ts is not None and tail.min_ts is not None and tail.max_ts is not None:
            head.min_ts = min(head.min_ts, tail.min_ts)
            head.max_ts = max(head.max_ts or tail.max_ts, tail.max_ts)
        more = more[1:]
    runs.extend(more)
