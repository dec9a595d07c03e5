"""Sort order helpers for day partitions: order checks, fixed-size batches and an external merge sort.

A partition is sorted by its dataset's sort keys (nulls last, ties in arrival order). Input that is
already in that order streams straight through; other input is cut into sorted runs spilled to
temporary Parquet files and merged back in bounded memory.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .errors import DayAbortError

ARRIVAL = "__arrival"
RUN_ROWS = 1_000_000  # rows sorted in memory before a run is spilled to disk
INT_MAX = np.iinfo(np.int64).max


class UnsortedInputError(DayAbortError):
    """Rows arrived out of partition order (the caller falls back to an external sort)."""


def _key_column(table: pa.Table, name: str) -> np.ndarray | pa.Array:
    col = table[name].combine_chunks() if isinstance(table[name], pa.ChunkedArray) else table[name]
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        return col
    return pc.fill_null(col.cast(pa.int64()), INT_MAX).to_numpy(zero_copy_only=False)


def _less(a: np.ndarray | pa.Array, b: np.ndarray | pa.Array) -> np.ndarray:
    if isinstance(a, np.ndarray):
        return a < b
    return pc.less(a, b).to_numpy(zero_copy_only=False)


def _equal(a: np.ndarray | pa.Array, b: np.ndarray | pa.Array) -> np.ndarray:
    if isinstance(a, np.ndarray):
        return a == b
    return pc.equal(a, b).to_numpy(zero_copy_only=False)


def first_key(table: pa.Table, keys: tuple[str, ...]) -> tuple:
    return row_key(table, keys, 0)


def last_key(table: pa.Table, keys: tuple[str, ...]) -> tuple:
    return row_key(table, keys, table.num_rows - 1)


def row_key(table: pa.Table, keys: tuple[str, ...], i: int) -> tuple:
    out = []
    for k in keys:
        v = table[k][i].as_py()
        out.append(INT_MAX if v is None else v)
    return tuple(out)


def is_sorted(table: pa.Table, keys: tuple[str, ...]) -> bool:
    """Whether consecutive rows are non-decreasing in ``keys`` (nulls count as largest)."""
    n = table.num_rows
    if n < 2:
        return True
    head, tail = table.slice(0, n - 1), table.slice(1)
    lt = np.zeros(n - 1, dtype=bool)
    eq = np.ones(n - 1, dtype=bool)
    for k in keys:
        a, b = _key_column(head, k), _key_column(tail, k)
        lt |= eq & _less(a, b)
        eq &= _equal(a, b)
        if not eq.any():
            break
    return bool((lt | eq).all())


class OrderCheck:
    """Raises :class:`UnsortedInputError` as soon as a table breaks the running order."""

    def __init__(self, keys: tuple[str, ...]) -> None:
        self.keys = keys
        self._last: tuple | None = None

    def check(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        if self._last is not None and first_key(table, self.keys) < self._last:
            raise UnsortedInputError()
        if not is_sorted(table, self.keys):
            raise UnsortedInputError()
        self._last = last_key(table, self.keys)


def rebatch(tables: Iterable[pa.Table], rows: int) -> Iterator[pa.Table]:
    """The same rows in tables of exactly ``rows`` rows (the last one shorter), so that the Parquet
    row groups of a partition depend on its content only, never on how the input was chunked."""
    pending: list[pa.Table] = []
    count = 0
    for table in tables:
        if table.num_rows == 0:
            continue
        pending.append(table)
        count += table.num_rows
        if count >= rows:
            merged = pa.concat_tables(pending).combine_chunks()
            start = 0
            while count - start >= rows:
                yield merged.slice(start, rows)
                start += rows
            rest = merged.slice(start)
            pending, count = ([rest] if rest.num_rows else []), rest.num_rows
    if count:
        yield pa.concat_tables(pending).combine_chunks()


def _count_at_most(table: pa.Table, keys: tuple[str, ...], bound: tuple) -> int:
    """Rows of a sorted table whose key is <= ``bound`` (they form a prefix)."""
    n = table.num_rows
    lt = np.zeros(n, dtype=bool)
    eq = np.ones(n, dtype=bool)
    for k, b in zip(keys, bound, strict=True):
        col = _key_column(table, k)
        scalar = b if isinstance(col, np.ndarray) else pa.scalar(b, col.type)
        lt |= eq & _less(col, scalar)
        eq &= _equal(col, scalar)
    return int((lt | eq).sum())


class ExternalSorter:
    """Collects tables in any order and yields them sorted by ``keys`` in bounded memory.

    Every row gets an arrival number as the final key, so ties keep their input order. Buffers of
    ``run_rows`` rows are sorted and spilled to ``workdir``; :meth:`sorted` merges the runs.
    """

    def __init__(self, keys: tuple[str, ...], workdir: Path, *, run_rows: int | None = None, batch_rows: int = 65_536):
        self.keys = (*keys, ARRIVAL)
        self.workdir = Path(workdir)
        self.run_rows = run_rows or RUN_ROWS
        self.batch_rows = batch_rows
        self._buffer: list[pa.Table] = []
        self._buffered = 0
        self._arrived = 0
        self._runs: list[Path] = []
        self._schema: pa.Schema | None = None

    @property
    def rows(self) -> int:
        return self._arrived

    def add(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        arrival = pa.array(np.arange(self._arrived, self._arrived + table.num_rows, dtype=np.int64))
        self._arrived += table.num_rows
        table = table.append_column(ARRIVAL, arrival)
        if self._schema is None:  # nullable everywhere: missing values are rejected later, by validation
            self._schema = pa.schema([f.with_nullable(True) for f in table.schema])
        self._buffer.append(table.cast(self._schema))
        self._buffered += table.num_rows
        if self._buffered >= self.run_rows:
            self._spill()

    def _sorted_buffer(self) -> pa.Table:
        table = pa.concat_tables(self._buffer)
        self._buffer, self._buffered = [], 0
        return table.sort_by([(k, "ascending") for k in self.keys])

    def _spill(self) -> None:
        table = self._sorted_buffer()
        self.workdir.mkdir(parents=True, exist_ok=True)
        path = self.workdir / f"run-{uuid.uuid4().hex}.parquet"
        pq.write_table(table, path, row_group_size=self.batch_rows, compression="lz4")
        self._runs.append(path)

    def sorted(self) -> Iterator[pa.Table]:
        """The collected rows in key order (without the arrival column); removes the spill files."""
        try:
            if not self._runs:
                if self._buffer:
                    table = self._sorted_buffer()
                    for start in range(0, table.num_rows, self.batch_rows):
                        yield table.slice(start, self.batch_rows).drop_columns([ARRIVAL])
                return
            if self._buffer:
                self._spill()
            for table in _merge(self._runs, self.keys, self.batch_rows):
                yield table.drop_columns([ARRIVAL])
        finally:
            self.discard()

    def discard(self) -> None:
        self._buffer, self._buffered = [], 0
        for path in self._runs:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        self._runs = []


def _merge(paths: list[Path], keys: tuple[str, ...], batch_rows: int) -> Iterator[pa.Table]:
    """K-way merge of sorted Parquet runs whose keys are unique (the arrival number is the last key).

    Each step takes the smallest "last key" among the runs' current batches as a bound, emits every
    buffered row up to it (sorted), and refills the run that was emptied, so memory stays at about
    one batch per run.
    """
    readers = [pq.ParquetFile(p).iter_batches(batch_size=batch_rows) for p in paths]

    def refill(i: int) -> pa.Table | None:
        for batch in readers[i]:
            if batch.num_rows:
                return pa.Table.from_batches([batch])
        return None

    buffers: list[pa.Table | None] = [refill(i) for i in range(len(readers))]
    while True:
        active = [i for i, b in enumerate(buffers) if b is not None]
        if not active:
            return
        lasts = {i: last_key(buffers[i], keys) for i in active}  # type: ignore[arg-type]
        bound = min(lasts.values())
        parts = []
        for i in active:
            buf = buffers[i]
            assert buf is not None
            n = buf.num_rows if lasts[i] <= bound else _count_at_most(buf, keys, bound)
            if n:
                parts.append(buf.slice(0, n))
                buf = buf.slice(n)
            buffers[i] = buf if buf.num_rows else refill(i)
        yield pa.concat_tables(parts).sort_by([(k, "ascending") for k in keys])
