"""Where a pack's rows come from: the runs of its day files as columns.

A pack holds a period's rows sorted by (ticker, day). Each day file is already sorted by ticker, so its
runs (one per ticker) say where each (ticker, day) sits in it, and a pack is assembled by taking whole
runs in that order - no sort of the rows. Bar datasets have a run per row (one bar per contract and
day), millions in a year's pack, so the runs are found with array operations on the files' ticker and
time columns and handled as arrays, not one object each.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .rowindex import run_starts, ticker_codes
from .rowreader import ranges_to_rows

EPOCH_ORDINAL = 719_163  # date(1970, 1, 1).toordinal(): run days are stored as days since 1970-01-01
RUN_BATCH_ROWS = 65_536  # rows of a day file's ticker and time columns read at a time to find its runs


@dataclass
class PackRuns:
    """Runs of the pack being written, in its row order (columns for the ``runs`` table)."""

    tickers: list[str]
    days: np.ndarray  # days since 1970-01-01
    first_rows: np.ndarray
    rows: np.ndarray
    min_ts: np.ndarray
    max_ts: np.ndarray

    def records(self, file_id: int) -> Iterator[tuple]:
        """Rows of the ``runs`` table (a pack's runs have no ``.last`` ordinal)."""
        cols = (self.days, self.first_rows, self.rows, self.min_ts, self.max_ts)
        return zip(
            itertools.repeat(file_id), self.tickers, *(c.tolist() for c in cols), itertools.repeat(None), strict=False
        )


@dataclass
class Chunk:
    """A slice of tickers: the span of rows to read from each day file and the order to take them in."""

    spans: list[tuple[int, int, int]]  # (day file, first row, end row) per day file holding some of them
    order: np.ndarray  # rows of the spans' concatenation, in (ticker, day) order
    runs: PackRuns  # their runs, first rows counted from the chunk's start


def file_runs(path: str, time_column: str) -> tuple[pa.Array, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The runs of a file sorted by ticker: (ticker, first row, rows, min time, max time) per run, read a batch of
    its ticker and time columns at a time, so memory follows the runs, not the rows."""
    tickers: list[pa.Array] = []
    cols: list[list[np.ndarray]] = [[], [], [], []]
    offset = 0
    last: str | None = None
    for batch in pq.ParquetFile(path).iter_batches(batch_size=RUN_BATCH_ROWS, columns=["ticker", time_column]):
        n = batch.num_rows
        if n == 0:
            continue
        codes, dictionary = ticker_codes(batch.column(0))
        ts = batch.column(1).to_numpy()
        starts = run_starts(codes)
        names = dictionary.take(pa.array(codes[starts]))
        first, size = starts + offset, np.diff(np.append(starts, n))
        lo, hi = np.minimum.reduceat(ts, starts), np.maximum.reduceat(ts, starts)
        if last is not None and names[0].as_py() == last:  # the previous batch's last run goes on here
            cols[1][-1][-1] += size[0]
            cols[2][-1][-1] = min(cols[2][-1][-1], lo[0])
            cols[3][-1][-1] = max(cols[3][-1][-1], hi[0])
            names, first, size, lo, hi = names[1:], first[1:], size[1:], lo[1:], hi[1:]
        if len(names):
            tickers.append(names)
            for col, values in zip(cols, (first, size, lo, hi), strict=True):
                col.append(values.astype(np.int64))
            last = names[-1].as_py()
        offset += n
    if not tickers:
        empty = np.empty(0, dtype=np.int64)
        return pa.array([], pa.string()), empty, empty, empty, empty
    first, size, lo, hi = (np.concatenate(col) for col in cols)
    return pa.concat_arrays(tickers), first, size, lo, hi


class PackLayout:
    """The runs of ``files`` (day files of one dataset sorted by ticker, oldest first, on the ordinal days
    ``days``) with their tickers ranked. The runs are found in the files' ticker and time columns, which
    costs less than reading them back from the row index when there are millions."""

    def __init__(self, files: Sequence[str], days: Sequence[int], time_column: str) -> None:
        per_file = [file_runs(f, time_column) for f in files]
        counts = [len(r[1]) for r in per_file]
        tickers = pa.concat_arrays([r[0] for r in per_file]) if per_file else pa.array([], pa.string())
        codes, dictionary = ticker_codes(tickers)
        by_name = pc.sort_indices(dictionary)
        self.names = dictionary.take(by_name).to_pylist()
        rank_of = np.empty(len(self.names), dtype=np.int64)
        rank_of[by_name.to_numpy()] = np.arange(len(self.names))
        self.rank = rank_of[codes]
        empty = np.empty(0, dtype=np.int64)
        self.first, self.rows, self.min_ts, self.max_ts = (
            np.concatenate([r[i] for r in per_file]) if per_file else empty for i in range(1, 5)
        )
        self.bounds = np.concatenate(([0], np.cumsum(counts))).astype(np.int64).tolist()
        self.days = np.asarray(days, dtype=np.int64)

    def chunks(self, max_rows: int) -> Iterator[Chunk]:
        """The pack in slices of whole tickers of about ``max_rows`` rows (at least one ticker each)."""
        per_ticker = np.bincount(self.rank, weights=self.rows, minlength=len(self.names))
        lo = 0
        total = 0.0
        for r, n in enumerate(per_ticker.tolist()):
            total += n
            if total >= max_rows or r == len(self.names) - 1:
                yield self._chunk(lo, r)
                lo, total = r + 1, 0.0

    def _chunk(self, lo: int, hi: int) -> Chunk:
        spans: list[tuple[int, int, int]] = []
        picked: list[np.ndarray] = []
        starts: list[np.ndarray] = []
        base = 0
        for f in range(len(self.bounds) - 1):
            a, b = self.bounds[f], self.bounds[f + 1]
            ranks = self.rank[a:b]  # increasing: the day file is sorted by ticker
            i0 = a + int(np.searchsorted(ranks, lo, side="left"))
            i1 = a + int(np.searchsorted(ranks, hi, side="right"))
            if i0 == i1:
                continue
            first, end = int(self.first[i0]), int(self.first[i1 - 1] + self.rows[i1 - 1])
            spans.append((f, first, end))
            picked.append(np.arange(i0, i1))
            starts.append(base + self.first[i0:i1] - first)
            base += end - first
        if not picked:
            empty = np.empty(0, dtype=np.int64)
            return Chunk([], empty, PackRuns([], empty, empty, empty, empty, empty))
        idx = np.concatenate(picked)
        start = np.concatenate(starts)
        file_of = np.repeat(np.arange(len(picked)), [len(p) for p in picked])
        day = self.days[np.array([f for f, _first, _end in spans])][file_of]
        order = np.lexsort((day, self.rank[idx]))
        idx, start, day = idx[order], start[order], day[order]
        sizes = self.rows[idx]
        at = np.concatenate(([0], np.cumsum(sizes)[:-1]))
        runs = PackRuns(
            [self.names[r] for r in self.rank[idx].tolist()],
            day - EPOCH_ORDINAL,
            at,
            sizes,
            self.min_ts[idx],
            self.max_ts[idx],
        )
        return Chunk(spans, ranges_to_rows(start, start + sizes), runs)


def concat_runs(parts: list[PackRuns], offsets: list[int]) -> PackRuns:
    """The runs of consecutive chunks written at ``offsets`` in the pack, as one."""
    if not parts:
        empty = np.empty(0, dtype=np.int64)
        return PackRuns([], empty, empty, empty, empty, empty)
    return PackRuns(
        [t for p in parts for t in p.tickers],
        np.concatenate([p.days for p in parts]),
        np.concatenate([p.first_rows + off for p, off in zip(parts, offsets, strict=True)]),
        np.concatenate([p.rows for p in parts]),
        np.concatenate([p.min_ts for p in parts]),
        np.concatenate([p.max_ts for p in parts]),
    )
