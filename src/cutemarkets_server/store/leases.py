"""Connection leases in SQLite: at most one live holder per user, with an expiry so a dead holder frees it.

The table lives in the keys database, so every server process over the same data directory sees the
same leases. Times are wall-clock seconds (``time.time()``), shared by all processes of the machine.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .sqlite import ThreadLocalSQLite

_DDL = """
CREATE TABLE IF NOT EXISTS ws_leases (
    user       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    market     TEXT NOT NULL,
    acquired_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class Lease:
    user: str
    holder: str
    market: str
    acquired_at: float
    expires_at: float


class LeaseStore:
    """Acquire, refresh and release per-user leases atomically."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._con = ThreadLocalSQLite(self.path, _DDL).con

    def acquire(self, user: str, holder: str, market: str, now: float, ttl_s: float) -> Lease | None:
        """Take the user's lease for ``holder``; returns None while another holder's lease is unexpired."""
        con = self._con()
        con.execute("BEGIN IMMEDIATE")
        try:
            row = con.execute("SELECT holder, expires_at FROM ws_leases WHERE user = ?", (user,)).fetchone()
            if row is not None and row[0] != holder and row[1] > now:
                con.execute("ROLLBACK")
                return None
            con.execute(
                "INSERT OR REPLACE INTO ws_leases(user, holder, market, acquired_at, expires_at) VALUES (?,?,?,?,?)",
                (user, holder, market, now, now + ttl_s),
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return Lease(user, holder, market, now, now + ttl_s)

    def refresh(self, held: Iterable[tuple[str, str]], now: float, ttl_s: float) -> list[tuple[str, str]]:
        """Extend every (user, holder) lease; returns those that were no longer held (expired and taken)."""
        lost: list[tuple[str, str]] = []
        con = self._con()
        con.execute("BEGIN IMMEDIATE")
        try:
            for user, holder in held:
                cur = con.execute(
                    "UPDATE ws_leases SET expires_at = ? WHERE user = ? AND holder = ?", (now + ttl_s, user, holder)
                )
                if cur.rowcount == 0:
                    lost.append((user, holder))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return lost

    def release(self, user: str, holder: str) -> bool:
        cur = self._con().execute("DELETE FROM ws_leases WHERE user = ? AND holder = ?", (user, holder))
        return cur.rowcount > 0

    def release_all(self, holders: Sequence[str]) -> int:
        """Release every lease of the given holders (a process shutting down)."""
        if not holders:
            return 0
        con = self._con()
        n = 0
        for holder in holders:
            n += con.execute("DELETE FROM ws_leases WHERE holder = ?", (holder,)).rowcount
        return n

    def get(self, user: str) -> Lease | None:
        row = (
            self._con()
            .execute("SELECT user, holder, market, acquired_at, expires_at FROM ws_leases WHERE user = ?", (user,))
            .fetchone()
        )
        return Lease(*row) if row else None
