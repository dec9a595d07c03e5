"""Read rows of lake files by row number: only the row groups that hold them are decoded.

Open files (with their parsed footers) are kept in a small LRU, so a request pays neither the
open nor the footer parse again; memory is bounded by the number of files kept, not by history.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

MAX_OPEN_FILES = 512


@dataclass
class _OpenFile:
    handle: pq.ParquetFile
    starts: np.ndarray  # first row of each row group, plus the row count at the end
    lock: threading.Lock = field(default_factory=threading.Lock)


class RowReader:
    def __init__(self, max_open: int = MAX_OPEN_FILES) -> None:
        self.max_open = max_open
        self._files: OrderedDict[str, _OpenFile] = OrderedDict()
        self._lock = threading.Lock()

    def _open(self, path: str) -> _OpenFile:
        with self._lock:
            hit = self._files.get(path)
            if hit is not None:
                self._files.move_to_end(path)
                return hit
        handle = pq.ParquetFile(path, memory_map=False, pre_buffer=False)
        md = handle.metadata
        sizes = [md.row_group(i).num_rows for i in range(md.num_row_groups)]
        entry = _OpenFile(handle, np.concatenate(([0], np.cumsum(sizes, dtype=np.int64))))
        with self._lock:
            self._files[path] = entry
            while len(self._files) > self.max_open:
                self._files.popitem(last=False)
        return entry

    def forget(self, path: str) -> None:
        with self._lock:
            self._files.pop(path, None)

    def take(self, path: str, rows: np.ndarray, columns: Sequence[str] | None = None) -> pa.Table:
        """The rows with these file row numbers (any order, repeats allowed), in that order."""
        entry = self._open(path)
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) == 0:
            schema = entry.handle.schema_arrow
            return schema.empty_table() if columns is None else schema.empty_table().select(list(columns))
        groups = np.unique(np.searchsorted(entry.starts, rows, side="right") - 1)
        with entry.lock:
            table = entry.handle.read_row_groups(groups.tolist(), columns=columns, use_threads=False)
        # Row numbers within the concatenation of the groups read.
        base = np.zeros(len(entry.starts), dtype=np.int64)
        sizes = np.diff(entry.starts)[groups]
        base[groups] = np.concatenate(([0], np.cumsum(sizes)[:-1]))
        local = rows - entry.starts[np.searchsorted(entry.starts, rows, side="right") - 1]
        positions = base[np.searchsorted(entry.starts, rows, side="right") - 1] + local
        if len(positions) == table.num_rows and np.array_equal(positions, np.arange(table.num_rows)):
            return table
        return table.take(pa.array(positions))

    def values(self, path: str, starts: np.ndarray, stops: np.ndarray, column: str) -> np.ndarray:
        """One column's values over several row ranges of a file, concatenated in range order."""
        rows = ranges_to_rows(starts, stops)
        if len(rows) == 0:
            return np.empty(0, dtype=np.int64)
        return self.take(path, rows, [column])[column].to_numpy()

    def spans(
        self, path: str, ranges: Sequence[tuple[int, int]], columns: Sequence[str] | None = None
    ) -> list[pa.Table]:
        """Rows ``start`` to ``stop`` (exclusive) of a file for each range, in file order; the row
        groups they touch are decoded once."""
        entry = self._open(path)
        wanted = [(a, b) for a, b in ranges if b > a]
        if not wanted:
            empty = entry.handle.schema_arrow.empty_table()
            empty = empty if columns is None else empty.select(list(columns))
            return [empty for _ in ranges]
        groups: set[int] = set()
        for a, b in wanted:
            first = int(np.searchsorted(entry.starts, a, side="right") - 1)
            last = int(np.searchsorted(entry.starts, b - 1, side="right") - 1)
            groups.update(range(first, last + 1))
        order = sorted(groups)
        with entry.lock:
            table = entry.handle.read_row_groups(order, columns=columns, use_threads=False)
        base = {}
        at = 0
        for g in order:
            base[g] = at
            at += int(entry.starts[g + 1] - entry.starts[g])
        out = []
        for a, b in ranges:
            if b <= a:
                out.append(table.slice(0, 0))
                continue
            g = int(np.searchsorted(entry.starts, a, side="right") - 1)
            out.append(table.slice(base[g] + a - int(entry.starts[g]), b - a))
        return out


def ranges_to_rows(starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """The row numbers of half-open ranges, concatenated (``[2, 7), [9, 11)`` → 2..6, 9, 10)."""
    starts = np.asarray(starts, dtype=np.int64)
    lengths = np.asarray(stops, dtype=np.int64) - starts
    keep = lengths > 0
    starts, lengths = starts[keep], lengths[keep]
    if len(lengths) == 0:
        return np.empty(0, dtype=np.int64)
    offsets = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    return np.repeat(starts - offsets, lengths) + np.arange(int(lengths.sum()), dtype=np.int64)
