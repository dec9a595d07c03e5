"""The lake: immutable Parquet day partitions per dataset, and the manifest that points at them.

A partition is written to a temporary file, flushed to disk and renamed to a content-addressed name
(``{dataset}/{YYYY-MM-DD}/{sha256[:16]}.parquet``); only then does one SQLite transaction point the
manifest at it. Readers therefore never see a half-written day: until the switch they keep reading
the previous file, which stays on disk for a grace period after it is superseded.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .schemas import Dataset, dataset

SUPERSEDED_GRACE_S = 600.0

_MANIFEST_DDL = """
CREATE TABLE IF NOT EXISTS partitions (
    dataset    TEXT NOT NULL,
    day        TEXT NOT NULL,
    files      TEXT NOT NULL,
    rows       INTEGER NOT NULL,
    bytes      INTEGER NOT NULL,
    sha256     TEXT NOT NULL,
    source     TEXT NOT NULL,
    written_at TEXT NOT NULL,
    PRIMARY KEY (dataset, day)
);
CREATE TABLE IF NOT EXISTS superseded (
    path TEXT PRIMARY KEY,
    at   REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class Partition:
    dataset: str
    day: dt.date
    files: tuple[str, ...]
    rows: int
    bytes: int
    sha256: str
    source: str
    written_at: str


@dataclass(frozen=True)
class ManifestSnapshot:
    """An immutable view of every partition at one moment."""

    generation: tuple[int, int]
    by_dataset: dict[str, dict[dt.date, Partition]]

    def days(self, name: str) -> list[dt.date]:
        return sorted(self.by_dataset.get(name, {}))

    def partition(self, name: str, day: dt.date) -> Partition | None:
        return self.by_dataset.get(name, {}).get(day)

    def files(self, name: str, days: Iterable[dt.date]) -> list[str]:
        parts = self.by_dataset.get(name, {})
        out: list[str] = []
        for d in days:
            p = parts.get(d)
            if p is not None:
                out.extend(p.files)
        return out

    def files_between(self, name: str, first: dt.date | None, last: dt.date | None) -> list[str]:
        parts = self.by_dataset.get(name, {})
        days = sorted(d for d in parts if (first is None or d >= first) and (last is None or d <= last))
        return self.files(name, days)


class PartitionWriteError(RuntimeError):
    """A partition could not be written; the previous version stays in place."""


class Lake:
    """Layout, atomic writes and the manifest of the Parquet lake under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.manifest_path = self.root / "manifest.sqlite"
        self._lock = threading.Lock()
        self._snapshot: ManifestSnapshot | None = None
        with self._connect() as con:
            con.executescript(_MANIFEST_DDL)

    # -- manifest ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.manifest_path, timeout=60.0, isolation_level=None)
        try:
            con.execute("PRAGMA journal_mode=DELETE")
            yield con
        finally:
            con.close()

    def _stamp(self) -> tuple[int, int]:
        try:
            st = os.stat(self.manifest_path)
        except FileNotFoundError:
            return (0, 0)
        return (st.st_mtime_ns, st.st_size)

    def snapshot(self) -> ManifestSnapshot:
        """The current manifest, re-read only when the manifest file changed."""
        stamp = self._stamp()
        snap = self._snapshot
        if snap is not None and snap.generation == stamp:
            return snap
        with self._lock:
            stamp = self._stamp()
            if self._snapshot is not None and self._snapshot.generation == stamp:
                return self._snapshot
            by_dataset: dict[str, dict[dt.date, Partition]] = {}
            with self._connect() as con:
                rows = con.execute(
                    "SELECT dataset, day, files, rows, bytes, sha256, source, written_at FROM partitions"
                ).fetchall()
            for name, day, files, nrows, nbytes, sha, source, written in rows:
                d = dt.date.fromisoformat(day)
                abs_files = tuple(str(self.root / f) for f in json.loads(files))
                by_dataset.setdefault(name, {})[d] = Partition(name, d, abs_files, nrows, nbytes, sha, source, written)
            self._snapshot = ManifestSnapshot(stamp, by_dataset)
            return self._snapshot

    def get_meta(self, key: str) -> str | None:
        with self._connect() as con:
            row = con.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._connect() as con:
            con.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    # -- writes --------------------------------------------------------------------------------
    def partition_dir(self, name: str, day: dt.date) -> Path:
        return self.root / name / day.isoformat()

    def write_partition(
        self,
        name: str,
        day: dt.date,
        data: pa.Table | Iterable[pa.Table],
        *,
        source: str,
        presorted: bool = False,
    ) -> Partition:
        """Write (or replace) one day of a dataset atomically and record it in the manifest.

        ``data`` is one table, or an iterable of tables already in sort order (streamed to disk).
        """
        ds = dataset(name)
        directory = self.partition_dir(name, day)
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / f".tmp-{uuid.uuid4().hex}.parquet"
        try:
            rows, digest = self._write_file(ds, data, tmp, presorted=presorted)
            final = directory / f"{digest[:16]}.parquet"
            os.replace(tmp, final)
            _fsync_dir(directory)
        except BaseException as exc:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            if isinstance(exc, Exception):
                raise PartitionWriteError(f"writing {name} {day}: {exc}") from exc
            raise
        rel = str(final.relative_to(self.root))
        part = Partition(
            name,
            day,
            (str(final),),
            rows,
            final.stat().st_size,
            digest,
            source,
            dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        )
        self._commit(part, [rel])
        return part

    def _write_file(
        self, ds: Dataset, data: pa.Table | Iterable[pa.Table], path: Path, *, presorted: bool
    ) -> tuple[int, str]:
        tables = [data] if isinstance(data, pa.Table) else data
        rows = 0
        writer: pq.ParquetWriter | None = None
        try:
            for table in tables:
                table = conform(ds, table)
                if not presorted and ds.sort_keys:
                    table = table.sort_by([(k, "ascending") for k in ds.sort_keys])
                if writer is None:
                    writer = _parquet_writer(path, ds)
                if table.num_rows:
                    writer.write_table(table, row_group_size=ds.row_group_size)
                rows += table.num_rows
            if writer is None:
                writer = _parquet_writer(path, ds)
        finally:
            if writer is not None:
                writer.close()
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
            os.fsync(fh.fileno())
        return rows, h.hexdigest()

    def _commit(self, part: Partition, rel_files: list[str]) -> None:
        now = time.time()
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                old = con.execute(
                    "SELECT files FROM partitions WHERE dataset = ? AND day = ?",
                    (part.dataset, part.day.isoformat()),
                ).fetchone()
                con.execute(
                    "INSERT OR REPLACE INTO partitions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        part.dataset,
                        part.day.isoformat(),
                        json.dumps(rel_files),
                        part.rows,
                        part.bytes,
                        part.sha256,
                        part.source,
                        part.written_at,
                    ),
                )
                if old:
                    for f in json.loads(old[0]):
                        if f not in rel_files:
                            con.execute("INSERT OR REPLACE INTO superseded VALUES (?, ?)", (f, now))
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        self._collect_garbage(now - SUPERSEDED_GRACE_S)

    def delete_partition(self, name: str, day: dt.date) -> bool:
        """Remove a day from the manifest (its file is deleted after the grace period)."""
        now = time.time()
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")
            row = con.execute(
                "SELECT files FROM partitions WHERE dataset = ? AND day = ?", (name, day.isoformat())
            ).fetchone()
            if row:
                con.execute("DELETE FROM partitions WHERE dataset = ? AND day = ?", (name, day.isoformat()))
                for f in json.loads(row[0]):
                    con.execute("INSERT OR REPLACE INTO superseded VALUES (?, ?)", (f, now))
            con.execute("COMMIT")
        return row is not None

    def _collect_garbage(self, before: float) -> None:
        with self._connect() as con:
            stale = con.execute("SELECT path FROM superseded WHERE at < ?", (before,)).fetchall()
            live = {f for (files,) in con.execute("SELECT files FROM partitions").fetchall() for f in json.loads(files)}
            for (path,) in stale:
                if path not in live:
                    with contextlib.suppress(FileNotFoundError):
                        (self.root / path).unlink()
                con.execute("DELETE FROM superseded WHERE path = ?", (path,))


def conform(ds: Dataset, table: pa.Table) -> pa.Table:
    """Select and cast ``table``'s columns to the dataset schema (missing nullable columns become null)."""
    cols = []
    for field in ds.schema:
        if field.name in table.column_names:
            col = table[field.name]
            if col.type != field.type:
                col = col.cast(field.type)
        elif field.nullable:
            col = pa.nulls(table.num_rows, field.type)
        else:
            raise ValueError(f"{ds.name}: required column {field.name!r} is missing")
        cols.append(col)
    return pa.Table.from_arrays(cols, schema=ds.schema)


def _parquet_writer(path: Path, ds: Dataset) -> pq.ParquetWriter:
    return pq.ParquetWriter(
        path,
        ds.schema,
        compression="zstd",
        compression_level=1,
        use_dictionary=["ticker"] if "ticker" in ds.schema.names else False,
        write_statistics=True,
    )


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
