"""Book-keeping of vendor-file ingest, kept beside the lake in ``ingest.sqlite``.

* ``files``: one row per completed source file, keyed by its checksum and the import options, with
  the row counts it produced; a re-run skips files recorded here (resumable, idempotent).
* ``seen``: the first (and last) day every ticker appeared in an ingested file, and which file
  established the first sighting. Updates keep the minimum, so the table does not depend on the
  order files are processed in.
* ``definitions`` / ``delistings``: contract terms from vendor definition records (Databento), one
  row per distinct set of terms with the first and last day it was published.
* ``instruments``: numeric vendor instrument ids resolved to tickers, per dataset and day.
* ``contributions``: the time span of the rows each source file gave a day partition, for datasets
  whose days may be spread over several files (Databento splits files by UTC day).

This is separate from the lake manifest so that ingest book-keeping never touches the file servers
watch for new partitions.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

_DDL = """
CREATE TABLE IF NOT EXISTS files (
    key          TEXT PRIMARY KEY,
    path         TEXT NOT NULL,
    kind         TEXT NOT NULL,
    checksum     TEXT NOT NULL,
    size         INTEGER NOT NULL,
    dataset      TEXT NOT NULL,
    days         TEXT NOT NULL,
    rows_read    INTEGER NOT NULL,
    rows_stored  INTEGER NOT NULL,
    rows_quarantined INTEGER NOT NULL,
    reasons      TEXT NOT NULL,
    finished_at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS seen (
    asset        TEXT NOT NULL,
    ticker       TEXT NOT NULL,
    first_day    TEXT NOT NULL,
    first_source TEXT NOT NULL,
    last_day     TEXT NOT NULL,
    PRIMARY KEY (asset, ticker)
);
CREATE TABLE IF NOT EXISTS definitions (
    ticker     TEXT NOT NULL,
    terms      TEXT NOT NULL,
    first_day  TEXT NOT NULL,
    last_day   TEXT NOT NULL,
    source     TEXT NOT NULL,
    PRIMARY KEY (ticker, terms)
);
CREATE TABLE IF NOT EXISTS delistings (
    ticker  TEXT NOT NULL,
    day     TEXT NOT NULL,
    source  TEXT NOT NULL,
    PRIMARY KEY (ticker, day)
);
CREATE TABLE IF NOT EXISTS contributions (
    label   TEXT NOT NULL,
    day     TEXT NOT NULL,
    path    TEXT NOT NULL,
    min_ts  INTEGER NOT NULL,
    max_ts  INTEGER NOT NULL,
    PRIMARY KEY (label, day, path)
);
CREATE TABLE IF NOT EXISTS instruments (
    dataset       TEXT NOT NULL,
    day           TEXT NOT NULL,
    instrument_id INTEGER NOT NULL,
    ticker        TEXT NOT NULL,
    PRIMARY KEY (dataset, day, instrument_id)
);
"""


@dataclass(frozen=True)
class FileRecord:
    key: str
    path: str
    kind: str
    checksum: str
    size: int
    dataset: str
    days: tuple[str, ...]
    rows_read: int
    rows_stored: int
    rows_quarantined: int
    reasons: dict[str, int]
    finished_at: str


@dataclass(frozen=True)
class Sighting:
    ticker: str
    first_day: dt.date
    first_source: str
    last_day: dt.date


@dataclass(frozen=True)
class Definition:
    ticker: str
    terms: dict
    first_day: dt.date
    last_day: dt.date
    source: str


class IngestState:
    """SQLite book-keeping for ingest (one writer at a time; see the runner's lock)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as con:
            con.executescript(_DDL)

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
        try:
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=FULL")
            yield con
        finally:
            con.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    # -- completed files -------------------------------------------------------------------------
    def file_done(self, key: str) -> FileRecord | None:
        with self._connect() as con:
            row = con.execute("SELECT * FROM files WHERE key = ?", (key,)).fetchone()
        return _file_record(row) if row else None

    def record_file(self, rec: FileRecord) -> None:
        with self._transaction() as con:
            con.execute(
                "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    rec.key,
                    rec.path,
                    rec.kind,
                    rec.checksum,
                    rec.size,
                    rec.dataset,
                    json.dumps(list(rec.days)),
                    rec.rows_read,
                    rec.rows_stored,
                    rec.rows_quarantined,
                    json.dumps(rec.reasons, sort_keys=True),
                    rec.finished_at,
                ),
            )

    def files(self) -> list[FileRecord]:
        with self._connect() as con:
            rows = con.execute("SELECT * FROM files ORDER BY path, key").fetchall()
        return [_file_record(r) for r in rows]

    # -- sightings -------------------------------------------------------------------------------
    def record_seen(self, asset: str, tickers: Iterable[str], day: dt.date, source: str) -> int:
        """Note that ``tickers`` appeared on ``day`` in ``source``; returns how many first sightings moved."""
        d = day.isoformat()
        rows = [(asset, t, d, source, d) for t in tickers]
        with self._transaction() as con:
            before = con.total_changes
            con.executemany(
                "INSERT INTO seen VALUES (?, ?, ?, ?, ?) ON CONFLICT(asset, ticker) DO UPDATE SET "
                "first_source = CASE WHEN excluded.first_day < first_day "
                "  OR (excluded.first_day = first_day AND excluded.first_source < first_source) "
                "  THEN excluded.first_source ELSE first_source END, "
                "first_day = MIN(first_day, excluded.first_day), "
                "last_day = MAX(last_day, excluded.last_day) "
                "WHERE excluded.first_day < first_day "
                "  OR (excluded.first_day = first_day AND excluded.first_source < first_source) "
                "  OR excluded.last_day > last_day",
                rows,
            )
            return con.total_changes - before

    def sightings(self, asset: str) -> list[Sighting]:
        with self._connect() as con:
            rows = con.execute(
                "SELECT ticker, first_day, first_source, last_day FROM seen WHERE asset = ? ORDER BY ticker", (asset,)
            ).fetchall()
        return [Sighting(t, dt.date.fromisoformat(f), s, dt.date.fromisoformat(last)) for t, f, s, last in rows]

    # -- definitions -----------------------------------------------------------------------------
    def record_definitions(self, items: Iterable[tuple[str, dict, dt.date, str]]) -> int:
        """Upsert (ticker, terms, day, source); returns the number of rows that changed."""
        rows = [(t, json.dumps(terms, sort_keys=True), d.isoformat(), d.isoformat(), s) for t, terms, d, s in items]
        with self._transaction() as con:
            before = con.total_changes
            con.executemany(
                "INSERT INTO definitions VALUES (?, ?, ?, ?, ?) ON CONFLICT(ticker, terms) DO UPDATE SET "
                "source = CASE WHEN excluded.first_day < first_day "
                "  OR (excluded.first_day = first_day AND excluded.source < source) "
                "  THEN excluded.source ELSE source END, "
                "first_day = MIN(first_day, excluded.first_day), last_day = MAX(last_day, excluded.last_day) "
                "WHERE excluded.first_day < first_day OR excluded.last_day > last_day "
                "  OR (excluded.first_day = first_day AND excluded.source < source)",
                rows,
            )
            return con.total_changes - before

    def record_delistings(self, items: Iterable[tuple[str, dt.date, str]]) -> int:
        rows = [(t, d.isoformat(), s) for t, d, s in items]
        with self._transaction() as con:
            before = con.total_changes
            con.executemany(
                "INSERT INTO delistings VALUES (?, ?, ?) ON CONFLICT(ticker, day) "
                "DO UPDATE SET source = excluded.source WHERE excluded.source < source",
                rows,
            )
            return con.total_changes - before

    def definitions(self) -> list[Definition]:
        with self._connect() as con:
            rows = con.execute(
                "SELECT ticker, terms, first_day, last_day, source FROM definitions ORDER BY ticker, first_day, terms"
            ).fetchall()
        return [
            Definition(t, json.loads(terms), dt.date.fromisoformat(f), dt.date.fromisoformat(last), s)
            for t, terms, f, last, s in rows
        ]

    def delistings(self) -> list[tuple[str, dt.date, str]]:
        with self._connect() as con:
            rows = con.execute("SELECT ticker, day, source FROM delistings ORDER BY ticker, day").fetchall()
        return [(t, dt.date.fromisoformat(d), s) for t, d, s in rows]

    # -- per-file contributions to a day ---------------------------------------------------------
    def record_contribution(self, label: str, day: dt.date, path: str, span: tuple[int, int]) -> None:
        with self._transaction() as con:
            con.execute(
                "INSERT OR REPLACE INTO contributions VALUES (?, ?, ?, ?, ?)",
                (label, day.isoformat(), path, int(span[0]), int(span[1])),
            )

    def contributions(self, label: str, day: dt.date) -> list[tuple[str, int, int]]:
        """(path, first, last timestamp) of every file that gave rows to ``day`` of ``label``."""
        with self._connect() as con:
            rows = con.execute(
                "SELECT path, min_ts, max_ts FROM contributions WHERE label = ? AND day = ? ORDER BY path",
                (label, day.isoformat()),
            ).fetchall()
        return [(p, int(lo), int(hi)) for p, lo, hi in rows]

    # -- instrument ids --------------------------------------------------------------------------
    def record_instruments(self, dataset: str, items: Iterable[tuple[dt.date, int, str]]) -> None:
        rows = [(dataset, d.isoformat(), int(i), t) for d, i, t in items]
        with self._transaction() as con:
            con.executemany("INSERT OR REPLACE INTO instruments VALUES (?, ?, ?, ?)", rows)

    def instruments(self, dataset: str, first: dt.date, last: dt.date) -> dict[dt.date, dict[int, str]]:
        """Instrument id -> ticker per day for ``first <= day <= last``."""
        with self._connect() as con:
            rows = con.execute(
                "SELECT day, instrument_id, ticker FROM instruments WHERE dataset = ? AND day >= ? AND day <= ?",
                (dataset, first.isoformat(), last.isoformat()),
            ).fetchall()
        out: dict[dt.date, dict[int, str]] = {}
        for d, i, t in rows:
            out.setdefault(dt.date.fromisoformat(d), {})[int(i)] = t
        return out


def _file_record(row: tuple) -> FileRecord:
    key, path, kind, checksum, size, ds, days, read, stored, quarantined, reasons, finished = row
    return FileRecord(
        key,
        path,
        kind,
        checksum,
        size,
        ds,
        tuple(json.loads(days)),
        read,
        stored,
        quarantined,
        json.loads(reasons),
        finished,
    )
