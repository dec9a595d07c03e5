"""API keys in SQLite. Keys are stored as SHA-256 hashes, never in clear."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path

from .sqlite import ThreadLocalSQLite

_DDL = """
CREATE TABLE IF NOT EXISTS api_keys (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL,
    key_hash   TEXT NOT NULL UNIQUE,
    key_prefix TEXT NOT NULL,
    plan       TEXT NOT NULL,
    products   TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
"""

KEY_PREFIX = "cm_"


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: int
    name: str
    key_prefix: str
    plan: str
    products: tuple[str, ...]
    created_at: str
    revoked_at: str | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_hex(16)


class KeyStore:
    """Create, look up and revoke keys (request counting lives in :mod:`.ratelimit`)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._db = ThreadLocalSQLite(self.path, _DDL)
        self._con = self._db.con
        self._tx = self._db.tx

    def create(self, name: str, plan: str, products: tuple[str, ...]) -> tuple[str, ApiKey]:
        """A new key; the clear-text secret is returned once and never stored."""
        secret = generate_key()
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        with self._tx() as con:
            cur = con.execute(
                "INSERT INTO api_keys(name, key_hash, key_prefix, plan, products, created_at) VALUES (?,?,?,?,?,?)",
                (name, hash_key(secret), secret[:7], plan, ",".join(products), now),
            )
            key_id = int(cur.lastrowid or 0)
        return secret, ApiKey(key_id, name, secret[:7], plan, products, now, None)

    def lookup(self, secret: str) -> ApiKey | None:
        """The key whose hash matches ``secret`` (found by the hash's index, confirmed in constant time)."""
        digest = hash_key(secret)
        row = (
            self._con()
            .execute(
                "SELECT id, name, key_prefix, plan, products, created_at, revoked_at, key_hash "
                "FROM api_keys WHERE key_hash = ?",
                (digest,),
            )
            .fetchone()
        )
        if row is None or not hmac.compare_digest(row[7].encode(), digest.encode()):
            return None
        return _row(row[:7])

    def list(self) -> list[ApiKey]:
        rows = (
            self._con()
            .execute("SELECT id, name, key_prefix, plan, products, created_at, revoked_at FROM api_keys ORDER BY id")
            .fetchall()
        )
        return [_row(r) for r in rows]

    def revoke(self, ident: str) -> int:
        """Revoke by numeric id, name, or clear-text key; returns how many keys were revoked."""
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        with self._tx() as con:
            if ident.isdigit():
                cur = con.execute(
                    "UPDATE api_keys SET revoked_at=? WHERE id=? AND revoked_at IS NULL", (now, int(ident))
                )
            elif ident.startswith(KEY_PREFIX) and len(ident) > 12:
                cur = con.execute(
                    "UPDATE api_keys SET revoked_at=? WHERE key_hash=? AND revoked_at IS NULL", (now, hash_key(ident))
                )
            else:
                cur = con.execute("UPDATE api_keys SET revoked_at=? WHERE name=? AND revoked_at IS NULL", (now, ident))
            return cur.rowcount

    def ping(self) -> None:
        self._con().execute("SELECT 1").fetchone()


def _row(row: tuple) -> ApiKey:
    kid, name, prefix, plan, products, created, revoked = row
    return ApiKey(kid, name, prefix, plan, tuple(p for p in products.split(",") if p), created, revoked)
