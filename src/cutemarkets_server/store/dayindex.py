"""One file's day of the row index as compact arrays, for look-ups of many tickers at once.

A chain or a snapshot of thousands of contracts asks, day by day, where each contract's rows sit. Held as
a dict of tuples, a busy options day (about 30,000 runs) costs about 11 MB of Python objects; as sorted
UTF-8 tickers beside five ``int64`` columns it costs under 2 MB, so the newest days of every dataset a chain
reads stay cached together, and a look-up of N tickers is one vectorised binary search.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Stand-ins for unknown bounds: an unknown first time may be before any instant, an unknown last one after.
NO_MIN_TS = np.iinfo(np.int64).min
NO_MAX_TS = np.iinfo(np.int64).max
NO_ORDINAL = -1


def encode_tickers(tickers: Sequence[str]) -> np.ndarray:
    """Tickers as a sorted, duplicate-free array of UTF-8 bytes (the key order of a :class:`DayIndex`)."""
    if not tickers:
        return np.empty(0, dtype="S1")
    return np.unique(np.array([t.encode() for t in tickers]))


def _column(values: tuple, missing: int) -> np.ndarray:
    """An ``int64`` column of index values, ``missing`` where a value is unknown (None)."""
    return np.fromiter((missing if v is None else v for v in values), dtype=np.int64, count=len(values))


@dataclass(frozen=True, slots=True)
class DayIndex:
    """Runs of one (file, day): ticker (sorted), first row, row count, first and last time, ``.last`` ordinal."""

    tickers: np.ndarray
    first_row: np.ndarray
    rows: np.ndarray
    min_ts: np.ndarray
    max_ts: np.ndarray
    ordinal: np.ndarray

    @classmethod
    def from_rows(cls, rows: Sequence[tuple]) -> DayIndex:
        """From ``(ticker, first_row, rows, min_ts, max_ts, ordinal)`` rows in any order (None where unknown)."""
        if not rows:
            empty = np.empty(0, dtype=np.int64)
            return cls(np.empty(0, dtype="S1"), empty, empty, empty, empty, empty)
        tickers, first, count, lo, hi, ordinal = zip(*rows, strict=True)
        keys = np.array([t.encode() for t in tickers])
        order = np.argsort(keys, kind="stable")
        return cls(
            keys[order],
            _column(first, 0)[order],
            _column(count, 0)[order],
            _column(lo, NO_MIN_TS)[order],
            _column(hi, NO_MAX_TS)[order],
            _column(ordinal, NO_ORDINAL)[order],
        )

    def __len__(self) -> int:
        return len(self.tickers)

    @property
    def nbytes(self) -> int:
        arrays = (self.tickers, self.first_row, self.rows, self.min_ts, self.max_ts, self.ordinal)
        return sum(a.nbytes for a in arrays)

    def find(self, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(position, found) for each of ``wanted`` (UTF-8 bytes); a position is meaningful only where found."""
        if len(self.tickers) == 0 or len(wanted) == 0:
            return np.zeros(len(wanted), dtype=np.int64), np.zeros(len(wanted), dtype=bool)
        keys = self.tickers
        if wanted.dtype.itemsize > keys.dtype.itemsize:  # longer keys must not be cut to the index's width
            keys = keys.astype(wanted.dtype)
        pos = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
        return pos, keys[pos] == wanted


@dataclass(frozen=True, slots=True)
class TickerRuns:
    """One ticker's runs of a dataset, one per stored day in ascending day order, each in the file that serves
    the day (its pack or its day file): a range of bars is a binary search and a few array operations."""

    days: np.ndarray  # day numbers (days since 1970-01-01)
    file_ids: np.ndarray
    first_row: np.ndarray
    rows: np.ndarray
    min_ts: np.ndarray
    max_ts: np.ndarray

    @classmethod
    def from_rows(cls, rows: Sequence[tuple]) -> TickerRuns:
        """From ``(day, file_id, first_row, rows, min_ts, max_ts)`` rows in day order (None where unknown)."""
        if not rows:
            empty = np.empty(0, dtype=np.int64)
            return cls(empty, empty, empty, empty, empty, empty)
        day, file_id, first, count, lo, hi = zip(*rows, strict=True)
        return cls(
            _column(day, 0),
            _column(file_id, 0),
            _column(first, 0),
            _column(count, 0),
            _column(lo, NO_MIN_TS),
            _column(hi, NO_MAX_TS),
        )

    def __len__(self) -> int:
        return len(self.days)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.days, self.file_ids, self.first_row, self.rows, self.min_ts, self.max_ts))

    def between(self, first: int, last: int) -> TickerRuns:
        """The runs of days ``first`` to ``last`` (day numbers, inclusive), as views."""
        a = int(np.searchsorted(self.days, first, "left"))
        b = int(np.searchsorted(self.days, last, "right"))
        columns = (self.days, self.file_ids, self.first_row, self.rows, self.min_ts, self.max_ts)
        return TickerRuns(*(col[a:b] for col in columns))
