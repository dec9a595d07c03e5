"""Quarantine files: every rejected row with the reason it was rejected, written as it streams.

One Parquet file per (dataset, day, source) under ``{quarantine_dir}/{dataset}/``, named like the
pipeline's (``{day}--{source slug}.parquet``). Columns: the dataset's columns (as far as the row could
be parsed), ``reject_reason``, and ``raw_line`` (the source text of rows that could not be parsed at
all). The file appears atomically when the day is finished; a clean re-import removes a stale one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ..store.schemas import dataset
from .validate import REASON_COLUMN

RAW_COLUMN = "raw_line"


def quarantine_schema(name: str) -> pa.Schema:
    fields = [pa.field(f.name, f.type, nullable=True) for f in dataset(name).schema]
    return pa.schema([*fields, pa.field(REASON_COLUMN, pa.string()), pa.field(RAW_COLUMN, pa.string())])


def quarantine_path(directory: Path, name: str, day: dt.date | None, source: str) -> Path:
    slug = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in source)[-80:]
    return Path(directory) / name / (f"{day.isoformat()}--{slug}.parquet" if day else f"{slug}.parquet")


class QuarantineWriter:
    """Streams rejected rows of one (dataset, day, source) to a quarantine file."""

    def __init__(self, directory: Path, name: str, day: dt.date | None, source: str) -> None:
        self.name = name
        self.day = day
        self.path = quarantine_path(directory, name, day, source)
        self.schema = quarantine_schema(name)
        self.reasons: Counter[str] = Counter()
        self._tmp = self.path.with_name(f".tmp-{uuid.uuid4().hex}-{self.path.name}")
        self._writer: pq.ParquetWriter | None = None

    @property
    def rows(self) -> int:
        return sum(self.reasons.values())

    def write(self, rejected: pa.Table) -> None:
        """Add rows carrying ``reject_reason`` (and any dataset columns; the rest become null)."""
        if rejected.num_rows == 0:
            return
        cols = []
        for f in self.schema:
            if f.name in rejected.column_names:
                col = rejected[f.name]
                cols.append(col if col.type == f.type else col.cast(f.type))
            else:
                cols.append(pa.nulls(rejected.num_rows, f.type))
        table = pa.Table.from_arrays(cols, schema=self.schema)
        self.reasons.update(table[REASON_COLUMN].to_pylist())
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(self._tmp, self.schema, compression="zstd")
        self._writer.write_table(table)

    def write_raw(self, lines: list[str], reasons: list[str]) -> None:
        """Rows that could not be parsed into columns: their text and why."""
        if lines:
            self.write(
                pa.table({RAW_COLUMN: pa.array(lines, pa.string()), REASON_COLUMN: pa.array(reasons, pa.string())})
            )

    def close(self) -> Path | None:
        """Publish the file (or remove a stale one when nothing was rejected this time)."""
        if self._writer is None:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            return None
        self._writer.close()
        self._writer = None
        self._tmp.replace(self.path)
        return self.path

    def abort(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
            self._writer = None
        with contextlib.suppress(FileNotFoundError):
            self._tmp.unlink()
