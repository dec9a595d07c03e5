"""Read rows of lake files by row number: only the row groups that hold them are decoded.

Open files (with their parsed footers) are kept in a small LRU, so a request pays neither the
open nor the footer parse again. Decoded row groups are kept in an LRU bounded in bytes: a backtest
that asks about one session over and over (chains minute after minute) decodes its rows once.
Files are content-addressed, so a cached group can never be stale. Memory is bounded by the two
limits, not by history.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .errors import DatasetUnavailable, dataset_of

MAX_OPEN_FILES = 512
DEFAULT_CACHE_BYTES = 256 << 20


@dataclass
class _OpenFile:
    handle: pq.ParquetFile
    starts: np.ndarray  # first row of each row group, plus the row count at the end
    lock: threading.Lock = field(default_factory=threading.Lock)


GroupKey = tuple[str, int, tuple[str, ...] | None]


class RowReader:
    def __init__(self, max_open: int = MAX_OPEN_FILES, cache_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self.max_open = max_open
        self.cache_bytes = cache_bytes
        self._files: OrderedDict[str, _OpenFile] = OrderedDict()
        self._groups: OrderedDict[GroupKey, tuple[pa.Table, int]] = OrderedDict()
        self._cached = 0
        self._lock = threading.Lock()

    def _open(self, path: str) -> _OpenFile:
        with self._lock:
            hit = self._files.get(path)
            if hit is not None:
                self._files.move_to_end(path)
                return hit
        with self._faults(path):
            handle = pq.ParquetFile(path, memory_map=False, pre_buffer=False)
        md = handle.metadata
        sizes = [md.row_group(i).num_rows for i in range(md.num_row_groups)]
        entry = _OpenFile(handle, np.concatenate(([0], np.cumsum(sizes, dtype=np.int64))))
        with self._lock:
            self._files[path] = entry
            while len(self._files) > self.max_open:
                self._files.popitem(last=False)
        return entry

    @contextmanager
    def _faults(self, path: str) -> Iterator[None]:
        """A missing or unreadable file becomes :class:`DatasetUnavailable`; its handle is dropped so a
        repaired file is opened afresh."""
        try:
            yield
        except (OSError, pa.ArrowException) as exc:
            self.forget(path)
            detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise DatasetUnavailable(dataset_of(path), path, detail) from exc

    def forget(self, path: str) -> None:
        with self._lock:
            self._files.pop(path, None)

    def cached_bytes(self) -> int:
        return self._cached

    def _read_groups(self, path: str, entry: _OpenFile, groups: list[int], columns: Sequence[str] | None) -> pa.Table:
        """Row groups ``groups`` (ascending) concatenated, decoded once and then served from the cache."""
        cols = None if columns is None else tuple(columns)
        found: dict[int, pa.Table] = {}
        with self._lock:
            for g in groups:
                hit = self._groups.get((path, g, cols))
                if hit is not None:
                    self._groups.move_to_end((path, g, cols))
                    found[g] = hit[0]
                elif cols is not None and (whole := self._groups.get((path, g, None))) is not None:
                    found[g] = whole[0].select(list(cols))
        missing = [g for g in groups if g not in found]
        if missing:
            with entry.lock, self._faults(path):
                batch = entry.handle.read_row_groups(missing, columns=columns, use_threads=False)
            per_row = batch.nbytes / max(batch.num_rows, 1)
            at = 0
            with self._lock:
                for g in missing:
                    n = int(entry.starts[g + 1] - entry.starts[g])
                    found[g] = batch.slice(at, n)
                    at += n
                    size = int(per_row * n) + 256
                    if self.cache_bytes <= 0 or size > self.cache_bytes // 4:
                        continue
                    old = self._groups.pop((path, g, cols), None)
                    self._cached += size - (old[1] if old else 0)
                    self._groups[(path, g, cols)] = (found[g], size)
                while self._cached > self.cache_bytes and self._groups:
                    _, (_, dropped) = self._groups.popitem(last=False)
                    self._cached -= dropped
        parts = [found[g] for g in groups]
        return parts[0] if len(parts) == 1 else pa.concat_tables(parts)

    @staticmethod
    def _take(table: pa.Table, positions: np.ndarray) -> pa.Table:
        """``table.take(positions)``; a few rows out of many chunks are taken chunk by chunk."""
        chunks = table.column(0).chunks if table.num_columns else []
        if len(chunks) <= 1 or len(positions) * 8 > table.num_rows or np.any(np.diff(positions) < 0):
            return table.take(pa.array(positions))
        bounds = np.concatenate(([0], np.cumsum([len(c) for c in chunks])))
        which = np.searchsorted(bounds, positions, side="right") - 1
        batches = table.to_batches()
        pieces = []
        for k in np.unique(which).tolist():
            local = positions[which == k] - bounds[k]
            pieces.append(pa.Table.from_batches([batches[k].take(pa.array(local))]))
        return pa.concat_tables(pieces)

    def take(self, path: str, rows: np.ndarray, columns: Sequence[str] | None = None) -> pa.Table:
        """The rows with these file row numbers (any order, repeats allowed), in that order."""
        entry = self._open(path)
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) == 0:
            schema = entry.handle.schema_arrow
            return schema.empty_table() if columns is None else schema.empty_table().select(list(columns))
        groups = np.unique(np.searchsorted(entry.starts, rows, side="right") - 1)
        table = self._read_groups(path, entry, groups.tolist(), columns)
        # Row numbers within the concatenation of the groups read.
        base = np.zeros(len(entry.starts), dtype=np.int64)
        sizes = np.diff(entry.starts)[groups]
        base[groups] = np.concatenate(([0], np.cumsum(sizes)[:-1]))
        local = rows - entry.starts[np.searchsorted(entry.starts, rows, side="right") - 1]
        positions = base[np.searchsorted(entry.starts, rows, side="right") - 1] + local
        if len(positions) == table.num_rows and np.array_equal(positions, np.arange(table.num_rows)):
            return table
        return table.take(pa.array(positions))

    def ranges(
        self, path: str, starts: np.ndarray, stops: np.ndarray, columns: Sequence[str] | None = None
    ) -> pa.Table:
        """Rows ``starts[i]`` to ``stops[i]`` (exclusive) of a file for each i, concatenated in that
        order; each row group they touch is decoded once (or served from the cache)."""
        entry = self._open(path)
        if len(starts) == 1 and stops[0] > starts[0]:  # one run of one ticker: the common case, kept short
            a, b = int(starts[0]), int(stops[0])
            g0 = int(np.searchsorted(entry.starts, a, side="right")) - 1
            g1 = int(np.searchsorted(entry.starts, b - 1, side="right")) - 1
            table = self._read_groups(path, entry, list(range(g0, g1 + 1)), columns)
            return table.slice(a - int(entry.starts[g0]), b - a)
        starts = np.asarray(starts, dtype=np.int64)
        stops = np.asarray(stops, dtype=np.int64)
        keep = stops > starts
        starts, stops = starts[keep], stops[keep]
        if len(starts) == 0:
            empty = entry.handle.schema_arrow.empty_table()
            return empty if columns is None else empty.select(list(columns))
        g0 = np.searchsorted(entry.starts, starts, side="right") - 1
        g1 = np.searchsorted(entry.starts, stops - 1, side="right") - 1
        groups = np.unique(ranges_to_rows(g0, g1 + 1))
        table = self._read_groups(path, entry, groups.tolist(), columns)
        # Where each group starts inside ``table``; a range's groups are consecutive there.
        base = np.zeros(len(entry.starts), dtype=np.int64)
        sizes = np.diff(entry.starts)[groups]
        base[groups] = np.concatenate(([0], np.cumsum(sizes)[:-1]))
        local = base[g0] + (starts - entry.starts[g0])
        if len(local) == 1:
            return table.slice(int(local[0]), int(stops[0] - starts[0]))
        positions = ranges_to_rows(local, local + (stops - starts))
        if len(positions) == table.num_rows and np.array_equal(positions, np.arange(table.num_rows)):
            return table
        return self._take(table, positions)

    def values(self, path: str, starts: np.ndarray, stops: np.ndarray, column: str) -> np.ndarray:
        """One column's values over several row ranges of a file, concatenated in range order."""
        return self.ranges(path, starts, stops, [column])[column].to_numpy()

    def spans(
        self, path: str, ranges: Sequence[tuple[int, int]], columns: Sequence[str] | None = None
    ) -> list[pa.Table]:
        """Rows ``start`` to ``stop`` (exclusive) of a file for each range, as separate tables."""
        starts = np.array([a for a, _ in ranges], dtype=np.int64)
        stops = np.array([max(a, b) for a, b in ranges], dtype=np.int64)
        table = self.ranges(path, starts, stops, columns)
        out, at = [], 0
        for a, b in zip(starts.tolist(), stops.tolist(), strict=True):
            out.append(table.slice(at, b - a))
            at += b - a
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
