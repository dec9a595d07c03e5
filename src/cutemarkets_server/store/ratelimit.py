"""Sliding-window request limits shared by every server process over the same data directory.

Each admitted request is one row ``(key_id, at_ns)`` in ``usage.sqlite``. Admission counts the rows inside
each window and inserts a row only when every window has room, all inside one ``BEGIN IMMEDIATE``
transaction: SQLite serialises those across processes, so the limit is exact with any number of workers,
and a refused request is never counted. A request that turns out not to be served is refunded.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from .sqlite import ThreadLocalSQLite

_DDL = """
CREATE TABLE IF NOT EXISTS admitted (
    id     INTEGER PRIMARY KEY,
    key_id INTEGER NOT NULL,
    at_ns  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS admitted_by_key ON admitted(key_id, at_ns);
"""


@dataclass(frozen=True, slots=True)
class Window:
    """At most ``limit`` requests in any ``span_ns`` interval."""

    span_ns: int
    limit: int


@dataclass(frozen=True, slots=True)
class Admission:
    """The outcome of one admission: per window the requests still allowed, and the charge to refund."""

    admitted: bool
    remaining: tuple[int, ...]
    retry_after_ns: int = 0  # when refused: until the blocking window has room again
    blocked: int | None = None  # when refused: the index of the window that is full
    charge_id: int | None = None


class RateLimitStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._db = ThreadLocalSQLite(self.path, _DDL)

    def admit(self, key_id: int, now_ns: int, windows: tuple[Window, ...]) -> Admission:
        """Charge one request if every window has room; otherwise refuse without charging."""
        longest = max(w.span_ns for w in windows)
        with self._db.tx() as con:
            con.execute("DELETE FROM admitted WHERE key_id = ? AND at_ns <= ?", (key_id, now_ns - longest))
            counts = [self._count(con, key_id, now_ns, w) for w in windows]
            for i, (w, n) in enumerate(zip(windows, counts, strict=True)):
                if n >= w.limit:
                    # The window has room again once its (n - limit + 1)-th oldest request leaves it.
                    row = con.execute(
                        "SELECT at_ns FROM admitted WHERE key_id = ? AND at_ns > ? ORDER BY at_ns LIMIT 1 OFFSET ?",
                        (key_id, now_ns - w.span_ns, n - w.limit),
                    ).fetchone()
                    retry = max(1, row[0] + w.span_ns - now_ns) if row else w.span_ns
                    remaining = tuple(max(0, x.limit - c) for x, c in zip(windows, counts, strict=True))
                    return Admission(False, remaining, retry, i)
            cur = con.execute("INSERT INTO admitted(key_id, at_ns) VALUES (?, ?)", (key_id, now_ns))
            remaining = tuple(max(0, w.limit - c - 1) for w, c in zip(windows, counts, strict=True))
            return Admission(True, remaining, charge_id=int(cur.lastrowid or 0))

    def peek(self, key_id: int, now_ns: int, windows: tuple[Window, ...]) -> tuple[int, ...]:
        """The requests each window still allows, without charging."""
        con = self._db.con()
        return tuple(max(0, w.limit - self._count(con, key_id, now_ns, w)) for w in windows)

    def refund(self, charge_id: int) -> None:
        with self._db.tx() as con:
            con.execute("DELETE FROM admitted WHERE id = ?", (charge_id,))

    @staticmethod
    def _count(con: sqlite3.Connection, key_id: int, now_ns: int, w: Window) -> int:
        row = con.execute(
            "SELECT count(*) FROM admitted WHERE key_id = ? AND at_ns > ?", (key_id, now_ns - w.span_ns)
        ).fetchone()
        return int(row[0])
