"""The lake: immutable Parquet day partitions per dataset, and the manifest that points at them.

A partition is written to a temporary file, flushed to disk and renamed to a content-addressed name
(``{dataset}/{YYYY-MM-DD}/{sha256[:16]}.parquet``); only then does one SQLite transaction point the
manifest at it. Readers therefore never see a half-written day: until the switch they keep reading
the previous file, which stays on disk for a grace period after it is superseded.

The same transaction records the file's row index (``files`` gives the file an id that is never reused;
``runs``, keyed by (file id, ticker, day), says where each ticker's rows of the day sit, so a day's index is
appended at the end of one B-tree whatever the history), and tick files get a ``.last.parquet`` sidecar
with each ticker's last row of the day, so a reader opens only the row groups it returns. Bar datasets
are also kept in *packs*: one sorted file per month or year, built by :meth:`Lake.compact` beside the day
files and valid only while every member day is unchanged, so a long range of one ticker is one read.
"""

from __future__ import annotations

import bisect
import contextlib
import datetime as dt
import functools
import hashlib
import json
import multiprocessing
import os
import sqlite3
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .dayindex import NO_MAX_TS, NO_MIN_TS, NO_ORDINAL, DayIndex, TickerRuns
from .packlayout import EPOCH_ORDINAL, PackLayout, PackRuns, concat_runs
from .rowindex import Run, merge_runs, table_runs
from .rowreader import RowReader
from .schemas import ALL, Dataset, dataset

SUPERSEDED_GRACE_S = 600.0
PACK_CHUNK_ROWS = 1_000_000  # rows merged in memory at a time while building a pack
PACK_THREADS = 2  # packs written at once by compact()
FILE_RUNS_MIN_TICKERS = 32  # above this many tickers, a one-day look-up reads the file's whole index
DAY_INDEX_BUDGET_BYTES = 256 << 20  # cached day indexes (about 1.7 MB for a busy options day)
TICKER_RUNS_BUDGET_BYTES = 32 << 20  # cached whole-history runs of single tickers, Python overhead counted
_TICKER_RUNS_OVERHEAD = 1024  # bytes of Python objects per cached entry besides its arrays

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
CREATE TABLE IF NOT EXISTS files (
    file_id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused, so an id in an old snapshot never names another file
    dataset TEXT NOT NULL,
    day     TEXT,                               -- the day of a day file; NULL for a pack
    path    TEXT NOT NULL UNIQUE                -- relative to the lake root
);
CREATE TABLE IF NOT EXISTS packs (
    dataset    TEXT NOT NULL,
    period     TEXT NOT NULL,
    file       TEXT NOT NULL,
    members    TEXT NOT NULL,
    rows       INTEGER NOT NULL,
    bytes      INTEGER NOT NULL,
    written_at TEXT NOT NULL,
    PRIMARY KEY (dataset, period)
);
"""

# The row index, keyed by file so that a day's runs are appended at the end of the B-tree whatever the history
# (file ids only grow), and one ticker's runs of a file are one seek.
_RUNS_DDL = """
CREATE TABLE IF NOT EXISTS runs (
    file_id   INTEGER NOT NULL,
    ticker    TEXT NOT NULL,
    day       INTEGER NOT NULL,  -- days since 1970-01-01
    first_row INTEGER NOT NULL,
    rows      INTEGER NOT NULL,
    min_ts    INTEGER,
    max_ts    INTEGER,
    ordinal   INTEGER,
    PRIMARY KEY (file_id, ticker, day)
) WITHOUT ROWID;
"""

RUNS_VERSION = "2"  # 1: one TEXT row per run with two secondary indexes; 2: ``files`` + ``runs`` keyed by file
_EPOCH = EPOCH_ORDINAL


def day_number(day: dt.date) -> int:
    """Days since 1970-01-01: how the row index names a day."""
    return day.toordinal() - _EPOCH


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


@dataclass(frozen=True, slots=True)
class Pack:
    """A read-optimised copy of several day partitions of one dataset (one period), sorted by
    (ticker, time). It serves a member day only while that day still has the content it was built
    from (``days`` lists those); a replaced day is read from its day file until the next compaction."""

    dataset: str
    period: str
    file: str  # relative to the lake root
    days: tuple[dt.date, ...]


class RunRef(NamedTuple):
    """One ticker's rows of one day in one file (see :mod:`.rowindex`). A tuple: a page builds dozens, and a
    tuple is built in a third of a frozen dataclass's time."""

    ticker: str
    day: dt.date
    file: str  # absolute path
    first_row: int
    rows: int
    min_ts: int | None
    max_ts: int | None
    ordinal: int | None  # row of the run's last row in the file's ``.last`` sidecar, if it has one


@dataclass(frozen=True)
class ManifestSnapshot:
    """An immutable view of every partition (and every still-valid pack) at one moment."""

    generation: tuple[int, int]
    by_dataset: dict[str, dict[dt.date, Partition]]
    packs: dict[str, dict[dt.date, Pack]] = field(default_factory=dict)  # dataset → day → pack holding it
    day_files: dict[str, dict[str, str]] = field(default_factory=dict)  # dataset → ISO day → relative file
    pack_files: dict[str, dict[str, str]] = field(default_factory=dict)  # dataset → ISO day → relative pack
    # The row index's file ids: dataset → day number (days since 1970) → id of the day file / of the pack serving it
    day_file_ids: dict[str, dict[int, int]] = field(default_factory=dict)
    pack_file_ids: dict[str, dict[int, int]] = field(default_factory=dict)
    paths: dict[int, str] = field(default_factory=dict)  # file id → path relative to the lake root
    day_numbers: dict[str, list[int]] = field(default_factory=dict)  # dataset → its day numbers, ascending
    _sorted_days: dict[str, list[dt.date]] = field(default_factory=dict, compare=False, repr=False)

    def days(self, name: str) -> list[dt.date]:
        """The dataset's days in order (sorted once per snapshot; callers must not modify the list)."""
        found = self._sorted_days.get(name)
        if found is None:
            found = self._sorted_days[name] = sorted(self.by_dataset.get(name, {}))
        return found

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
        self._local = threading.local()
        # The whole row index of recently read files (content-addressed, so never stale).
        self._day_indexes: OrderedDict[tuple[str, str], DayIndex] = OrderedDict()
        self._cached_bytes = 0
        # Single tickers' runs on every day of the current manifest generation (tick pages and bars).
        self._ticker_runs: OrderedDict[tuple[str, str, bool], TickerRuns] = OrderedDict()
        self._ticker_runs_generation: tuple[int, int] | None = None
        self._ticker_runs_bytes = 0
        with self._connect() as con:
            con.executescript(_MANIFEST_DDL)
            if "dataset" in _columns(con, "runs"):
                self._migrate_runs(con)
            else:
                con.executescript(_RUNS_DDL)
        if self.get_meta("runs_version") != RUNS_VERSION:
            self._backfill_runs()

    # -- manifest ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.manifest_path, timeout=60.0, isolation_level=None)
        try:
            con.execute("PRAGMA journal_mode=DELETE")
            yield con
        finally:
            con.close()

    def _reader(self) -> sqlite3.Connection:
        """This thread's read-only connection to the manifest (index look-ups on the hot path)."""
        con = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(self.manifest_path, timeout=60.0, isolation_level=None, check_same_thread=False)
            con.execute("PRAGMA query_only=1")  # its page cache is SQLite's default (bounded, not mapped)
            self._local.con = con
        return con

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
            day_files: dict[str, dict[str, str]] = {}
            day_file_ids: dict[str, dict[int, int]] = {}
            paths: dict[int, str] = {}
            with self._connect() as con:
                # One read transaction, so the partitions, the packs and their file ids agree.
                con.execute("BEGIN")
                rows = con.execute(
                    "SELECT p.dataset, p.day, p.files, p.rows, p.bytes, p.sha256, p.source, p.written_at, f.file_id "
                    "FROM partitions p LEFT JOIN files f ON f.path = json_extract(p.files, '$[0]')"
                ).fetchall()
                pack_rows = con.execute(
                    "SELECT k.dataset, k.period, k.file, k.members, f.file_id FROM packs k "
                    "LEFT JOIN files f ON f.path = k.file"
                ).fetchall()
                con.execute("COMMIT")
            for name, day, files, nrows, nbytes, sha, source, written, file_id in rows:
                d = dt.date.fromisoformat(day)
                rel = json.loads(files)
                day_files.setdefault(name, {})[day] = rel[0]
                if file_id is not None:
                    day_file_ids.setdefault(name, {})[d.toordinal() - _EPOCH] = file_id
                    paths[file_id] = rel[0]
                abs_files = tuple(str(self.root / f) for f in rel)
                by_dataset.setdefault(name, {})[d] = Partition(name, d, abs_files, nrows, nbytes, sha, source, written)
            packs: dict[str, dict[dt.date, Pack]] = {}
            pack_files: dict[str, dict[str, str]] = {}
            pack_file_ids: dict[str, dict[int, int]] = {}
            for name, period, file, members, file_id in pack_rows:
                wanted = {dt.date.fromisoformat(k): v for k, v in json.loads(members).items()}
                parts = by_dataset.get(name, {})
                # A pack serves each member day whose content is still the one it was built from.
                served = tuple(sorted(d for d, sha in wanted.items() if d in parts and parts[d].sha256 == sha))
                pack = Pack(name, period, file, served)
                if file_id is not None:
                    paths[file_id] = file
                for d in served:
                    packs.setdefault(name, {})[d] = pack
                    pack_files.setdefault(name, {})[d.isoformat()] = file
                    if file_id is not None:
                        pack_file_ids.setdefault(name, {})[d.toordinal() - _EPOCH] = file_id
            day_numbers = {name: sorted(d.toordinal() - _EPOCH for d in parts) for name, parts in by_dataset.items()}
            self._snapshot = ManifestSnapshot(
                stamp, by_dataset, packs, day_files, pack_files, day_file_ids, pack_file_ids, paths, day_numbers
            )
            return self._snapshot

    def get_meta(self, key: str) -> str | None:
        with self._connect() as con:
            row = con.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._connect() as con:
            con.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    # -- the row index ---------------------------------------------------------------------------
    def runs(
        self,
        snap: ManifestSnapshot,
        name: str,
        tickers: Iterable[str],
        first: dt.date | None = None,
        last: dt.date | None = None,
        *,
        packed: bool = False,
    ) -> list[RunRef]:
        """Where ``tickers`` have rows of ``name`` on days in [first, last], one run per (ticker, day),
        ordered by ticker then day. With ``packed``, days held by a valid pack are read from the pack
        (one ticker over many days); otherwise from their day partition (many tickers on one day)."""
        wanted = sorted(set(tickers))
        if not wanted:
            return []
        if first is not None and first == last and len(wanted) > FILE_RUNS_MIN_TICKERS:
            return self._day_runs(snap, name, wanted, first, packed=packed)
        lo = first.toordinal() - _EPOCH if first else -(10**9)
        hi = last.toordinal() - _EPOCH if last else 10**9
        numbers = snap.day_numbers.get(name, [])
        span = numbers[bisect.bisect_left(numbers, lo) : bisect.bisect_right(numbers, hi)]
        if not span:
            return []
        files = snap.day_file_ids.get(name, {})
        packs = snap.pack_file_ids.get(name, {}) if packed else {}
        serving = {n: packs.get(n) or files.get(n) for n in span}
        ids = list(dict.fromkeys(f for f in serving.values() if f is not None))
        # One seek of the run index per (file, ticker): cost follows the files spanned and the runs returned.
        if len(wanted) == 1:
            sql = "r.ticker = ?"
            params: tuple = (json.dumps(ids), wanted[0], lo, hi)
        else:
            sql = "r.ticker IN (SELECT value FROM json_each(?))"
            params = (json.dumps(ids), json.dumps(wanted), lo, hi)
        rows = (
            self._reader()
            .execute(
                "SELECT r.ticker, r.day, r.file_id, r.first_row, r.rows, r.min_ts, r.max_ts, r.ordinal "
                f"FROM json_each(?) AS f CROSS JOIN runs AS r WHERE r.file_id = f.value AND {sql} "
                "AND r.day >= ? AND r.day <= ? ORDER BY r.ticker, r.day",
                params,
            )
            .fetchall()
        )
        root = str(self.root) + os.sep
        paths = snap.paths
        absolute: dict[int, str] = {}  # a pack serves many of the days
        out: list[RunRef] = []
        for ticker, day, file_id, first_row, nrows, min_ts, max_ts, ordinal in rows:
            if serving.get(day) != file_id:
                continue  # a day of a pack that the pack no longer serves (or outside the range)
            path = absolute.get(file_id)
            if path is None:
                path = absolute[file_id] = root + paths[file_id]
            out.append(RunRef(ticker, _date(day), path, first_row, nrows, min_ts, max_ts, ordinal))
        return out

    def file_path(self, snap: ManifestSnapshot, file_id: int) -> str:
        """The absolute path of a file of the row index."""
        return str(self.root) + os.sep + snap.paths[file_id]

    def ticker_runs(self, snap: ManifestSnapshot, name: str, ticker: str, *, packed: bool = True) -> TickerRuns:
        """``ticker``'s runs of ``name`` on every day of ``snap``, each from the file serving the day (a valid
        pack with ``packed``). Kept in an LRU of at most ``TICKER_RUNS_BUDGET_BYTES`` for the newest
        generation of the manifest: pages and bar ranges of the same tickers are asked again and again, and a whole
        history costs one seek per serving file (few, once the bars are packed)."""
        key = (name, ticker, packed)
        with self._lock:
            if self._ticker_runs_generation == snap.generation:
                found = self._ticker_runs.get(key)
                if found is not None:
                    self._ticker_runs.move_to_end(key)
                    return found
        files = snap.day_file_ids.get(name, {})
        packs = snap.pack_file_ids.get(name, {}) if packed else {}
        serving = {n: packs.get(n) or files.get(n) for n in snap.day_numbers.get(name, [])}
        ids = list(dict.fromkeys(f for f in serving.values() if f is not None))
        rows = (
            self._reader()
            .execute(
                "SELECT r.day, r.file_id, r.first_row, r.rows, r.min_ts, r.max_ts FROM json_each(?) AS f "
                "CROSS JOIN runs AS r WHERE r.file_id = f.value AND r.ticker = ? ORDER BY r.day",
                (json.dumps(ids), ticker),
            )
            .fetchall()
        )
        found = TickerRuns.from_rows([r for r in rows if serving.get(r[0]) == r[1]])
        with self._lock:
            if self._ticker_runs_generation != snap.generation:
                if self._ticker_runs_generation is not None and snap.generation < self._ticker_runs_generation:
                    return found  # an older snapshot still in use: answered, not cached
                self._ticker_runs.clear()
                self._ticker_runs_bytes = 0
                self._ticker_runs_generation = snap.generation
            old = self._ticker_runs.pop(key, None)
            if old is not None:
                self._ticker_runs_bytes -= old.nbytes + _TICKER_RUNS_OVERHEAD
            self._ticker_runs[key] = found
            self._ticker_runs_bytes += found.nbytes + _TICKER_RUNS_OVERHEAD
            while self._ticker_runs_bytes > TICKER_RUNS_BUDGET_BYTES and len(self._ticker_runs) > 1:
                _, dropped = self._ticker_runs.popitem(last=False)
                self._ticker_runs_bytes -= dropped.nbytes + _TICKER_RUNS_OVERHEAD
        return found

    def _day_runs(
        self, snap: ManifestSnapshot, name: str, wanted: list[str], day: dt.date, *, packed: bool
    ) -> list[RunRef]:
        """``runs`` of many tickers on one day, from that day's whole index of the file (read once)."""
        found = self.day_index(snap, name, day, packed=packed)
        if found is None:
            return []
        path, index = found
        pos, hit = index.find(np.array([t.encode() for t in wanted]))
        out = []
        for ticker, i, found in zip(wanted, pos.tolist(), hit.tolist(), strict=True):
            if found:
                lo, hi, ordinal = int(index.min_ts[i]), int(index.max_ts[i]), int(index.ordinal[i])
                out.append(
                    RunRef(
                        ticker, day, path, int(index.first_row[i]), int(index.rows[i]),
                        None if lo == NO_MIN_TS else lo, None if hi == NO_MAX_TS else hi,
                        None if ordinal == NO_ORDINAL else ordinal,
                    )
                )  # fmt: skip
        return out

    def day_index(
        self, snap: ManifestSnapshot, name: str, day: dt.date, *, packed: bool = False
    ) -> tuple[str, DayIndex] | None:
        """(absolute path, run index) of the file holding ``name``'s ``day`` (its pack with ``packed``), or
        None when the day is not stored. The index is read once and kept in an LRU of at most
        ``DAY_INDEX_BUDGET_BYTES`` (file ids are never reused, so a cached index is never stale)."""
        number = day.toordinal() - _EPOCH
        file_id = (snap.pack_file_ids.get(name, {}).get(number) if packed else None) or snap.day_file_ids.get(
            name, {}
        ).get(number)
        if file_id is None:
            return None
        return self.file_path(snap, file_id), self._day_index(file_id, number)

    def _day_index(self, file_id: int, number: int) -> DayIndex:
        key = (file_id, number)
        with self._lock:
            index = self._day_indexes.get(key)
            if index is not None:
                self._day_indexes.move_to_end(key)
                return index
        rows = (
            self._reader()
            .execute(
                "SELECT ticker, first_row, rows, min_ts, max_ts, ordinal FROM runs WHERE file_id = ? AND day = ?",
                key,
            )
            .fetchall()
        )
        index = DayIndex.from_rows(rows)
        with self._lock:
            old = self._day_indexes.pop(key, None)
            self._cached_bytes += index.nbytes - (old.nbytes if old is not None else 0)
            self._day_indexes[key] = index
            while self._cached_bytes > DAY_INDEX_BUDGET_BYTES and len(self._day_indexes) > 1:
                _, dropped = self._day_indexes.popitem(last=False)
                self._cached_bytes -= dropped.nbytes
        return index

    def load_day_indexes(self, snap: ManifestSnapshot, name: str, days: Iterable[dt.date]) -> None:
        """Read the run index of ``name``'s day files for ``days`` into the cache (a server warms up with it)."""
        for day in days:
            self.day_index(snap, name, day)

    def run_totals(self, snap: ManifestSnapshot, name: str, prefix: str = "") -> dict[str, int]:
        """Rows per ticker over every current day partition of ``name`` (tickers starting with ``prefix``)."""
        ids = sorted(set(snap.day_file_ids.get(name, {}).values()))
        rows = self._reader().execute(
            "SELECT r.ticker, sum(r.rows) FROM json_each(?) AS f CROSS JOIN runs AS r "
            "WHERE r.file_id = f.value AND r.ticker >= ? AND r.ticker < ? GROUP BY r.ticker",
            (json.dumps(ids), prefix, prefix + "\U0010ffff"),
        )
        return {ticker: int(total) for ticker, total in rows}

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
        token = uuid.uuid4().hex
        tmp = directory / f".tmp-{token}.parquet"
        tmp_last = directory / f".tmp-{token}.last.parquet"
        try:
            rows, digest, runs = self._write_file(ds, data, tmp, tmp_last, day=day, presorted=presorted)
            final = directory / f"{digest[:16]}.parquet"
            if tmp_last.exists():
                os.replace(tmp_last, sidecar_path(final))
            os.replace(tmp, final)
            _fsync_dir(directory)
        except BaseException as exc:
            for leftover in (tmp, tmp_last):
                with contextlib.suppress(FileNotFoundError):
                    leftover.unlink()
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
        self._commit(part, [rel], runs)
        return part

    def _write_file(
        self,
        ds: Dataset,
        data: pa.Table | Iterable[pa.Table],
        path: Path,
        last_path: Path,
        *,
        day: dt.date,
        presorted: bool,
    ) -> tuple[int, str, list[Run]]:
        tables = [data] if isinstance(data, pa.Table) else data
        rows = 0
        runs: list[Run] = []
        lasts: list[pa.Table] = []
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
                    more = table_runs(table, day, ds.time_column, offset=rows)
                    if ds.keeps_last:
                        ends = [r.first_row - rows + r.rows - 1 for r in more]
                        if runs and more and runs[-1].ticker == more[0].ticker:
                            lasts[-1] = lasts[-1].slice(0, lasts[-1].num_rows - 1)  # the run goes on
                        lasts.append(table.take(pa.array(ends, pa.int64())))
                    merge_runs(runs, more)
                rows += table.num_rows
            if writer is None:
                writer = _parquet_writer(path, ds)
        finally:
            if writer is not None:
                writer.close()
        if ds.keeps_last:
            for i, run in enumerate(runs):
                run.ordinal = i
            last = pa.concat_tables(lasts) if lasts else ds.schema.empty_table()
            pq.write_table(last, last_path, compression="zstd", compression_level=1, row_group_size=4096)
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
            os.fsync(fh.fileno())
        return rows, h.hexdigest(), runs

    def _commit(self, part: Partition, rel_files: list[str], runs: list[Run]) -> None:
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
                _record_runs(con, part.dataset, part.day.isoformat(), rel_files[0], runs)
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
        """Delete the files superseded before ``before`` that nothing points at any more, with their runs."""
        with self._connect() as con:
            if not con.execute("SELECT 1 FROM superseded WHERE at < ? LIMIT 1", (before,)).fetchone():
                return
            con.execute("BEGIN IMMEDIATE")
            try:
                stale = con.execute("SELECT path FROM superseded WHERE at < ?", (before,)).fetchall()
                live = {f for (fs,) in con.execute("SELECT files FROM partitions").fetchall() for f in json.loads(fs)}
                live |= {f for (f,) in con.execute("SELECT file FROM packs").fetchall()}
                for (path,) in stale:
                    if path not in live:
                        for victim in (self.root / path, sidecar_path(self.root / path)):
                            with contextlib.suppress(FileNotFoundError):
                                victim.unlink()
                        _forget_file(con, path)
                    con.execute("DELETE FROM superseded WHERE path = ?", (path,))
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise

    # -- packs -----------------------------------------------------------------------------------
    def compact(self, name: str | None = None, *, ticks: bool | None = None, processes: int = 0) -> int:
        """Build the packs that are missing or out of date (every bar dataset and the trades, the quotes too
        with ``ticks``, or just ``name``). Each pack covers one period, is written beside the day files and
        switched in by one transaction, so the work per step is bounded and readers never see a partial pack.
        With ``processes`` > 1 the packs are written by that many processes (worth their start-up on a
        market's worth of packs), else by ``PACK_THREADS`` threads.

        Trades are packed by month: a busy contract's page of 1,000 trades spans weeks of day files, one or two
        packs. Quote packs are off unless asked for (``ticks=True`` or ``CUTEMARKETS_PACK_TICKS=1``): a page of
        quotes fits in one day, and they would double the largest datasets' disk."""
        if ticks is None:
            ticks = os.environ.get("CUTEMARKETS_PACK_TICKS", "") == "1"
        if name:
            names = [name]
        else:
            names = [
                n for n, ds in ALL.items() if ds.pack_period and (ticks or not ds.keeps_last or ds.packed_by_default)
            ]
        snap = self.snapshot()
        work: list[tuple[Dataset, str, list[Partition]]] = []
        for n in names:
            ds = dataset(n)
            if not ds.pack_period:
                continue
            periods: dict[str, list[Partition]] = {}
            for day, part in sorted(snap.by_dataset.get(n, {}).items()):
                periods.setdefault(_period(day, ds.pack_period), []).append(part)
            held = snap.packs.get(n, {})
            for period, parts in periods.items():
                if len(parts) < 2 or all(p.day in held and held[p.day].period == period for p in parts):
                    continue
                work.append((ds, period, parts))
        # Packs are independent and their reading, taking and writing run in Arrow without the GIL: on a
        # build's many periods two threads take about half the time. Each switches itself in. The longest
        # start first: a pack of daily bars (by year) has a run per row, about ten times a tick row's work.
        work.sort(key=lambda job: -sum(p.rows for p in job[2]) * (10 if job[0].pack_period == "year" else 1))
        if processes > 1 and len(work) > 1:
            ctx = multiprocessing.get_context("spawn")
            jobs = [(str(self.root), ds.name, period, parts) for ds, period, parts in work]
            with ProcessPoolExecutor(min(processes, len(work)), mp_context=ctx) as pool:
                for _ in pool.map(_write_pack_in_process, jobs):
                    pass
            return len(work)
        threads = max(1, min(PACK_THREADS, len(work), os.cpu_count() or 1))
        if threads == 1:
            for job in work:
                self._write_pack(*job)
        else:
            with ThreadPoolExecutor(threads, thread_name_prefix="pack") as pool:
                for _ in pool.map(lambda job: self._write_pack(*job), work):
                    pass
        return len(work)

    def _write_pack(self, ds: Dataset, period: str, parts: list[Partition]) -> None:
        """Merge the period's day files into one file sorted by (ticker, time), a slice of tickers at a
        time (each day file is already sorted by ticker), so memory stays bounded by ``PACK_CHUNK_ROWS`` rows beside
        the period's runs."""
        assert ds.time_column is not None
        directory = self.root / ds.name / "_packs" / period
        directory.mkdir(parents=True, exist_ok=True)
        layout = PackLayout([p.files[0] for p in parts], [p.day.toordinal() for p in parts], ds.time_column)
        if not layout.names:
            return
        reader = RowReader(max_open=len(parts) + 1)
        tmp = directory / f".tmp-{uuid.uuid4().hex}.parquet"
        chunk_runs: list[PackRuns] = []
        offsets: list[int] = []
        written = 0
        try:
            writer = _parquet_writer(tmp, ds)
            try:
                for chunk in layout.chunks(PACK_CHUNK_ROWS):
                    # Each day's slice of the chunk's tickers is read whole; the day files' runs say where each
                    # (ticker, day) sits in it, so the pack's order (ticker, then day) is a take of whole runs
                    # and its runs are theirs, moved: no sort of the rows, no second pass over them.
                    if not chunk.spans:
                        continue
                    tables = [reader.spans(parts[f].files[0], [(a, b)])[0] for f, a, b in chunk.spans]
                    table = conform(ds, pa.concat_tables(tables).take(pa.array(chunk.order)))
                    chunk_runs.append(chunk.runs)
                    offsets.append(written)
                    writer.write_table(table, row_group_size=ds.row_group_size)
                    written += table.num_rows
            finally:
                writer.close()
            h = hashlib.sha256()
            with open(tmp, "rb") as fh:
                while chunk := fh.read(1 << 20):
                    h.update(chunk)
                os.fsync(fh.fileno())
            final = directory / f"{h.hexdigest()[:16]}.parquet"
            os.replace(tmp, final)
            _fsync_dir(directory)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise
        rel = str(final.relative_to(self.root))
        members = json.dumps({p.day.isoformat(): p.sha256 for p in parts}, sort_keys=True)
        now = time.time()
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                old = con.execute(
                    "SELECT file FROM packs WHERE dataset = ? AND period = ?", (ds.name, period)
                ).fetchone()
                con.execute(
                    "INSERT OR REPLACE INTO packs VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        ds.name,
                        period,
                        rel,
                        members,
                        written,
                        final.stat().st_size,
                        dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                    ),
                )
                _record_run_records(con, ds.name, None, rel, concat_runs(chunk_runs, offsets).records)
                if old and old[0] != rel:
                    con.execute("INSERT OR REPLACE INTO superseded VALUES (?, ?)", (old[0], now))
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise

    # -- upgrades --------------------------------------------------------------------------------
    def _migrate_runs(self, con: sqlite3.Connection) -> None:
        """Rewrite a version-1 row index (TEXT dataset, day and path in every run, two secondary indexes) as
        ``files`` + ``runs`` keyed by file, in one transaction: a crash leaves the old index, and a concurrent
        opener finds the work done. The freed pages are then returned to the file system (``VACUUM``)."""
        con.execute("BEGIN IMMEDIATE")
        try:
            if "dataset" not in _columns(con, "runs"):  # another process upgraded it first
                con.execute("COMMIT")
                return
            con.execute("ALTER TABLE runs RENAME TO runs_v1")
            con.execute(_RUNS_DDL)
            con.execute(
                "INSERT OR IGNORE INTO files(dataset, day, path) "
                "SELECT dataset, CASE WHEN min(day) = max(day) AND file NOT IN (SELECT file FROM packs) "
                "THEN min(day) END, file FROM runs_v1 GROUP BY file ORDER BY min(day), file"
            )
            con.execute(
                "INSERT OR IGNORE INTO runs SELECT f.file_id, r.ticker, "
                "CAST(round(julianday(r.day) - 2440587.5) AS INTEGER), r.first_row, r.rows, r.min_ts, r.max_ts, "
                "r.ordinal FROM runs_v1 r JOIN files f ON f.path = r.file ORDER BY 1, 2, 3"
            )
            con.execute("DROP TABLE runs_v1")  # and its indexes
            con.execute("UPDATE meta SET value = ? WHERE key = 'runs_version' AND value = '1'", (RUNS_VERSION,))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        with contextlib.suppress(sqlite3.OperationalError):  # busy: the space is reused by later writes instead
            con.execute("VACUUM")

    def _backfill_runs(self) -> None:
        """Index the day files of a lake written before the row index existed (once)."""
        with self._connect() as con:
            rows = con.execute(
                "SELECT p.dataset, p.day, p.files FROM partitions p WHERE NOT EXISTS "
                "(SELECT 1 FROM files f JOIN runs r ON r.file_id = f.file_id "
                "WHERE f.path = json_extract(p.files, '$[0]'))"
            ).fetchall()
        for name, day, files in rows:
            ds = ALL.get(name)
            if ds is None or "ticker" not in ds.schema.names:
                continue
            rel = json.loads(files)[0]
            columns = ["ticker"] + ([ds.time_column] if ds.time_column else [])
            table = pq.read_table(self.root / rel, columns=columns)
            runs = table_runs(table, dt.date.fromisoformat(day), ds.time_column)
            with self._connect() as con:
                con.execute("BEGIN IMMEDIATE")
                _record_runs(con, name, day, rel, runs)
                con.execute("COMMIT")
        self.set_meta("runs_version", RUNS_VERSION)


def sidecar_path(path: Path) -> Path:
    """The file holding the last row of each run of a day file (tick datasets)."""
    return path.with_name(path.name.removesuffix(".parquet") + ".last.parquet")


def _columns(con: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in con.execute(f"PRAGMA table_info({table})")]


def _write_pack_in_process(job: tuple[str, str, str, list[Partition]]) -> None:
    root, name, period, parts = job
    Lake(Path(root))._write_pack(dataset(name), period, parts)


def _record_runs(con: sqlite3.Connection, name: str, day: str | None, rel: str, runs: list[Run]) -> None:
    """Record the runs of file ``rel`` (a day file of ``day``, or a pack) inside the caller's transaction."""

    def records(file_id: int) -> Iterator[tuple]:
        for r in runs:
            yield (file_id, r.ticker, r.day.toordinal() - _EPOCH, r.first_row, r.rows, r.min_ts, r.max_ts, r.ordinal)

    _record_run_records(con, name, day, rel, records)


def _record_run_records(
    con: sqlite3.Connection, name: str, day: str | None, rel: str, records: Callable[[int], Iterable[tuple]]
) -> None:
    """Record the rows of the ``runs`` table that ``records(file_id)`` gives for file ``rel``. A new file gets the
    next id, so its runs (already in key order: the file is sorted by ticker) go at the end of the index; the
    same file written again keeps its id."""
    con.execute("INSERT INTO files(dataset, day, path) VALUES (?, ?, ?) ON CONFLICT(path) DO NOTHING", (name, day, rel))
    (file_id,) = con.execute("SELECT file_id FROM files WHERE path = ?", (rel,)).fetchone()
    con.execute("DELETE FROM runs WHERE file_id = ?", (file_id,))
    con.executemany("INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?)", records(file_id))


def _forget_file(con: sqlite3.Connection, rel: str) -> None:
    """Drop a deleted file's runs and its entry in ``files`` (inside the caller's transaction)."""
    row = con.execute("SELECT file_id FROM files WHERE path = ?", (rel,)).fetchone()
    if row is not None:
        con.execute("DELETE FROM runs WHERE file_id = ?", row)
        con.execute("DELETE FROM files WHERE file_id = ?", row)


@functools.lru_cache(maxsize=8192)
def _date(number: int) -> dt.date:
    return dt.date.fromordinal(number + _EPOCH)


def _period(day: dt.date, unit: str) -> str:
    return f"{day.year:04d}" if unit == "year" else f"{day.year:04d}-{day.month:02d}"


def conform(ds: Dataset, table: pa.Table) -> pa.Table:
    """Select and cast ``table``'s columns to the dataset schema (missing nullable columns become null)."""
    cols = []
    for f in ds.schema:
        if f.name in table.column_names:
            col = table[f.name]
            if col.type != f.type:
                col = col.cast(f.type)
        elif f.nullable:
            col = pa.nulls(table.num_rows, f.type)
        else:
            raise ValueError(f"{ds.name}: required column {f.name!r} is missing")
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
