"""The paper-trading ledger in SQLite (WAL, synchronous=FULL): accounts, orders, fills, positions and equity
snapshots. Every change of an order, a fill, cash or a position is one immediate transaction, so a crash
(even ``kill -9``) can only lose what was never acknowledged, and concurrent writers are serialized."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..paper.rules import (
    FLAT,
    OPEN_STATUSES,
    FillEffect,
    PositionState,
    apply_fill,
    drawdown,
    money,
    quantity,
)
from .sqlite import ThreadLocalSQLite

_DDL = """
CREATE TABLE IF NOT EXISTS paper_accounts (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    id             TEXT NOT NULL UNIQUE,
    owner_key      INTEGER NOT NULL,
    owner_user     TEXT NOT NULL,
    name           TEXT NOT NULL,
    status         TEXT NOT NULL,
    currency       TEXT NOT NULL,
    initial_cash   TEXT NOT NULL,
    cash           TEXT NOT NULL,
    generation     INTEGER NOT NULL,
    realized_pl    TEXT NOT NULL,
    closed_trades  INTEGER NOT NULL,
    winning_trades INTEGER NOT NULL,
    peak_equity    TEXT NOT NULL,
    max_drawdown   TEXT NOT NULL,
    delay_ns       INTEGER NOT NULL,
    created_ns     INTEGER NOT NULL,
    updated_ns     INTEGER NOT NULL,
    reset_ns       INTEGER,
    archived_ns    INTEGER
);
CREATE INDEX IF NOT EXISTS paper_accounts_owner ON paper_accounts(owner_key, status);
CREATE TABLE IF NOT EXISTS paper_orders (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT NOT NULL UNIQUE,
    account_id      TEXT NOT NULL,
    generation      INTEGER NOT NULL,
    client_order_id TEXT NOT NULL,
    fingerprint     TEXT NOT NULL,
    symbol          TEXT NOT NULL,
    asset_class     TEXT NOT NULL,
    multiplier      INTEGER NOT NULL,
    qty             TEXT NOT NULL,
    filled_qty      TEXT NOT NULL,
    side            TEXT NOT NULL,
    type            TEXT NOT NULL,
    time_in_force   TEXT NOT NULL,
    limit_price     TEXT,
    status          TEXT NOT NULL,
    position_intent TEXT NOT NULL,
    delay_ns        INTEGER NOT NULL,
    session_day     TEXT NOT NULL,
    fill_price      TEXT,
    rejected_reason TEXT NOT NULL DEFAULT '',
    submitted_ns    INTEGER NOT NULL,
    updated_ns      INTEGER NOT NULL,
    filled_ns       INTEGER,
    canceled_ns     INTEGER,
    expired_ns      INTEGER,
    rejected_ns     INTEGER,
    extra           TEXT NOT NULL DEFAULT '{}',
    UNIQUE (account_id, generation, client_order_id)
);
CREATE INDEX IF NOT EXISTS paper_orders_open ON paper_orders(status);
CREATE TABLE IF NOT EXISTS paper_fills (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    account_id   TEXT NOT NULL,
    generation   INTEGER NOT NULL,
    order_id     TEXT,
    kind         TEXT NOT NULL,
    note         TEXT NOT NULL DEFAULT '',
    symbol       TEXT NOT NULL,
    asset_class  TEXT NOT NULL,
    side         TEXT NOT NULL,
    qty          TEXT NOT NULL,
    price        TEXT NOT NULL,
    gross_amount TEXT NOT NULL,
    realized_pl  TEXT NOT NULL,
    market_ns    INTEGER NOT NULL,
    created_ns   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS paper_fills_account ON paper_fills(account_id, generation);
CREATE UNIQUE INDEX IF NOT EXISTS paper_fills_order ON paper_fills(order_id) WHERE order_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS paper_positions (
    id              TEXT NOT NULL UNIQUE,
    account_id      TEXT NOT NULL,
    generation      INTEGER NOT NULL,
    symbol          TEXT NOT NULL,
    asset_class     TEXT NOT NULL,
    multiplier      INTEGER NOT NULL,
    qty             TEXT NOT NULL,
    avg_entry_price TEXT NOT NULL,
    realized_pl     TEXT NOT NULL,
    updated_ns      INTEGER NOT NULL,
    PRIMARY KEY (account_id, generation, symbol)
);
CREATE TABLE IF NOT EXISTS paper_snapshots (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id    TEXT NOT NULL,
    generation    INTEGER NOT NULL,
    ts_ns         INTEGER NOT NULL,
    equity        TEXT NOT NULL,
    cash          TEXT NOT NULL,
    market_value  TEXT NOT NULL,
    realized_pl   TEXT NOT NULL,
    unrealized_pl TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS paper_snapshots_account ON paper_snapshots(account_id, generation, seq);
"""

Row = dict[str, Any]


class LedgerRefusalError(Exception):
    """A change the ledger refuses (limit reached, conflicting client_order_id, …); ``field`` names the cause."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class _DurableSQLite(ThreadLocalSQLite):
    def con(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = super().con()
            con.row_factory = sqlite3.Row
            con.execute("PRAGMA synchronous=FULL")
        return con


def _dict(row: sqlite3.Row | None) -> Row | None:
    return dict(row) if row is not None else None


def _new_id() -> str:
    return str(uuid.uuid4())


class PaperLedger:
    def __init__(self, path: Path) -> None:
        self._db = _DurableSQLite(Path(path), _DDL)

    # -- accounts ----------------------------------------------------------------------------------
    def create_account(
        self,
        owner_key: int,
        owner_user: str,
        name: str,
        initial_cash: Decimal,
        now_ns: int,
        *,
        delay_ns: int,
        max_active: int,
    ) -> Row:
        with self._db.tx() as con:
            (active,) = con.execute(
                "SELECT count(*) FROM paper_accounts WHERE owner_user = ? AND status = 'active'", (owner_user,)
            ).fetchone()
            if active >= max_active:
                raise LedgerRefusalError("account", f"at most {max_active} active paper accounts; archive one first")
            account_id = _new_id()
            cash = money(initial_cash)
            con.execute(
                "INSERT INTO paper_accounts(id, owner_key, owner_user, name, status, currency, initial_cash, cash, "
                "generation, realized_pl, closed_trades, winning_trades, peak_equity, max_drawdown, delay_ns, "
                "created_ns, updated_ns) VALUES (?,?,?,?, 'active', 'USD', ?, ?, 1, '0', 0, 0, ?, '0', ?, ?, ?)",
                (account_id, owner_key, owner_user, name, cash, cash, cash, delay_ns, now_ns, now_ns),
            )
            return self._account(con, account_id)  # type: ignore[return-value]

    @staticmethod
    def _account(con: sqlite3.Connection, account_id: str) -> Row | None:
        return _dict(con.execute("SELECT * FROM paper_accounts WHERE id = ?", (account_id,)).fetchone())

    def account(self, owner_key: int, account_id: str) -> Row | None:
        row = self._account(self._db.con(), account_id)
        return row if row is not None and row["owner_key"] == owner_key else None

    def account_by_id(self, account_id: str) -> Row | None:
        return self._account(self._db.con(), account_id)

    def accounts(self, owner_key: int, *, include_archived: bool, after_seq: int, limit: int) -> list[Row]:
        sql = "SELECT * FROM paper_accounts WHERE owner_key = ? AND seq > ?"
        if not include_archived:
            sql += " AND status = 'active'"
        rows = self._db.con().execute(sql + " ORDER BY seq LIMIT ?", (owner_key, after_seq, limit)).fetchall()
        return [dict(r) for r in rows]

    def active_accounts(self) -> list[Row]:
        rows = self._db.con().execute("SELECT * FROM paper_accounts WHERE status = 'active' ORDER BY seq").fetchall()
        return [dict(r) for r in rows]

    def rename(self, account_id: str, name: str, now_ns: int) -> Row:
        with self._db.tx() as con:
            con.execute("UPDATE paper_accounts SET name = ?, updated_ns = ? WHERE id = ?", (name, now_ns, account_id))
            return self._account(con, account_id)  # type: ignore[return-value]

    def archive(self, account_id: str, now_ns: int) -> list[Row]:
        """Archive an account and cancel its open orders (returned)."""
        with self._db.tx() as con:
            canceled = self._cancel_open(con, account_id, now_ns)
            con.execute(
                "UPDATE paper_accounts SET status = 'archived', archived_ns = ?, updated_ns = ? "
                "WHERE id = ? AND status = 'active'",
                (now_ns, now_ns, account_id),
            )
            return canceled

    def reset(self, account_id: str, initial_cash: Decimal | None, now_ns: int) -> tuple[Row, list[Row]]:
        """A new generation: open orders canceled, positions and history left behind, cash back to the start."""
        with self._db.tx() as con:
            canceled = self._cancel_open(con, account_id, now_ns)
            account = self._account(con, account_id)
            assert account is not None
            cash = money(initial_cash) if initial_cash is not None else account["initial_cash"]
            con.execute(
                "UPDATE paper_accounts SET generation = generation + 1, initial_cash = ?, cash = ?, realized_pl = '0', "
                "closed_trades = 0, winning_trades = 0, peak_equity = ?, max_drawdown = '0', reset_ns = ?, "
                "updated_ns = ? WHERE id = ?",
                (cash, cash, cash, now_ns, now_ns, account_id),
            )
            return self._account(con, account_id), canceled  # type: ignore[return-value]

    def _cancel_open(self, con: sqlite3.Connection, account_id: str, now_ns: int) -> list[Row]:
        marks = ",".join("?" * len(OPEN_STATUSES))
        ids = [
            r[0]
            for r in con.execute(
                f"SELECT id FROM paper_orders WHERE account_id = ? AND status IN ({marks})",
                (account_id, *OPEN_STATUSES),
            ).fetchall()
        ]
        for order_id in ids:
            con.execute(
                "UPDATE paper_orders SET status = 'canceled', canceled_ns = ?, updated_ns = ? WHERE id = ?",
                (now_ns, now_ns, order_id),
            )
        return [self._order(con, i) for i in ids]  # type: ignore[misc]

    # -- orders ------------------------------------------------------------------------------------
    @staticmethod
    def _order(con: sqlite3.Connection, order_id: str) -> Row | None:
        return _dict(con.execute("SELECT * FROM paper_orders WHERE id = ?", (order_id,)).fetchone())

    def insert_order(self, account_id: str, fields: Row, now_ns: int) -> tuple[Row, bool]:
        """Insert an order (``created=True``) or return the order already sent with the same client_order_id and
        payload (``created=False``). A sell larger than the position not already promised to open sells, a
        reused client_order_id with another payload, or an archived account is refused."""
        with self._db.tx() as con:
            account = self._account(con, account_id)
            assert account is not None
            if account["status"] != "active":
                raise LedgerRefusalError("account", f"paper account {account_id} is archived")
            generation = account["generation"]
            existing = _dict(
                con.execute(
                    "SELECT * FROM paper_orders WHERE account_id = ? AND generation = ? AND client_order_id = ?",
                    (account_id, generation, fields["client_order_id"]),
                ).fetchone()
            )
            if existing is not None:
                if existing["fingerprint"] != fields["fingerprint"]:
                    raise LedgerRefusalError(
                        "client_order_id",
                        f"client_order_id {fields['client_order_id']!r} was already used with a different order",
                    )
                return existing, False
            if fields["side"] == "sell":
                held = self._position(con, account_id, generation, fields["symbol"]).qty
                marks = ",".join("?" * len(OPEN_STATUSES))
                promised = sum(
                    (
                        Decimal(r[0])
                        for r in con.execute(
                            f"SELECT qty FROM paper_orders WHERE account_id = ? AND generation = ? AND symbol = ? "
                            f"AND side = 'sell' AND status IN ({marks})",
                            (account_id, generation, fields["symbol"], *OPEN_STATUSES),
                        ).fetchall()
                    ),
                    Decimal(0),
                )
                available = held - promised
                if Decimal(fields["qty"]) > available:
                    raise LedgerRefusalError(
                        "qty",
                        f"sell of {fields['qty']} {fields['symbol']} exceeds the "
                        f"{quantity(max(available, Decimal(0)))} held and not already on open sell orders "
                        "(paper accounts cannot sell short)",
                    )
            order_id = _new_id()
            row = {
                **fields,
                "id": order_id,
                "account_id": account_id,
                "generation": generation,
                "filled_qty": quantity(Decimal(0)),
                "submitted_ns": now_ns,
                "updated_ns": now_ns,
            }
            cols = ",".join(row)
            con.execute(f"INSERT INTO paper_orders({cols}) VALUES ({','.join('?' * len(row))})", tuple(row.values()))
            return self._order(con, order_id), True  # type: ignore[return-value]

    def order(self, account_id: str, order_id: str) -> Row | None:
        row = self._order(self._db.con(), order_id)
        return row if row is not None and row["account_id"] == account_id else None

    def order_by_client_id(self, account_id: str, generation: int, client_order_id: str) -> Row | None:
        return _dict(
            self._db.con()
            .execute(
                "SELECT * FROM paper_orders WHERE account_id = ? AND generation = ? AND client_order_id = ?",
                (account_id, generation, client_order_id),
            )
            .fetchone()
        )

    def orders(
        self, account_id: str, generation: int, statuses: Sequence[str] | None, *, before_seq: int | None, limit: int
    ) -> list[Row]:
        sql = "SELECT * FROM paper_orders WHERE account_id = ? AND generation = ?"
        params: list[Any] = [account_id, generation]
        if statuses is not None:
            sql += f" AND status IN ({','.join('?' * len(statuses))})"
            params.extend(statuses)
        if before_seq is not None:
            sql += " AND seq < ?"
            params.append(before_seq)
        rows = self._db.con().execute(sql + " ORDER BY seq DESC LIMIT ?", (*params, limit)).fetchall()
        return [dict(r) for r in rows]

    def open_orders(self) -> list[Row]:
        """Every open order of an active account's current generation, oldest first."""
        marks = ",".join("?" * len(OPEN_STATUSES))
        rows = (
            self._db.con()
            .execute(
                f"SELECT o.* FROM paper_orders o JOIN paper_accounts a ON a.id = o.account_id "
                f"WHERE o.status IN ({marks}) AND a.status = 'active' AND a.generation = o.generation ORDER BY o.seq",
                OPEN_STATUSES,
            )
            .fetchall()
        )
        return [dict(r) for r in rows]

    def transition(
        self, order_id: str, from_statuses: Sequence[str], to_status: str, now_ns: int, **fields: Any
    ) -> Row | None:
        """Move an order from one of ``from_statuses`` to ``to_status`` (None when it was no longer there)."""
        stamp = {"canceled": "canceled_ns", "expired": "expired_ns", "rejected": "rejected_ns"}.get(to_status)
        sets = {"status": to_status, "updated_ns": now_ns, **fields}
        if stamp:
            sets[stamp] = now_ns
        with self._db.tx() as con:
            marks = ",".join("?" * len(from_statuses))
            cur = con.execute(
                f"UPDATE paper_orders SET {', '.join(f'{k} = ?' for k in sets)} WHERE id = ? AND status IN ({marks})",
                (*sets.values(), order_id, *from_statuses),
            )
            return self._order(con, order_id) if cur.rowcount else None

    # -- fills and positions -----------------------------------------------------------------------
    @staticmethod
    def _position(con: sqlite3.Connection, account_id: str, generation: int, symbol: str) -> PositionState:
        row = con.execute(
            "SELECT qty, avg_entry_price, realized_pl FROM paper_positions WHERE account_id = ? AND generation = ? "
            "AND symbol = ?",
            (account_id, generation, symbol),
        ).fetchone()
        if row is None:
            return FLAT
        return PositionState(Decimal(row[0]), Decimal(row[1]), Decimal(row[2]))

    def fill(self, order_id: str, price: Decimal, market_ns: int, now_ns: int) -> tuple[Row | None, Row | None]:
        """Fill an open order completely at ``price``: one transaction moves cash, the position, the order and
        writes the fill. Returns (order, fill); an order no longer open gives (None, None); a buy the cash cannot
        pay for, or a sell the position cannot cover, is rejected instead (order, None)."""
        with self._db.tx() as con:
            order = self._order(con, order_id)
            if order is None or order["status"] not in ("new", "partially_filled"):
                return None, None
            account = self._account(con, order["account_id"])
            assert account is not None
            generation = account["generation"]
            if account["status"] != "active" or order["generation"] != generation:
                return None, None
            qty = Decimal(order["qty"])
            position = self._position(con, account["id"], generation, order["symbol"])
            cash = Decimal(account["cash"])
            reason = None
            try:
                effect = apply_fill(position, order["side"], qty, price, order["multiplier"])
            except ValueError as exc:
                reason = f"insufficient position: {exc}"
            else:
                if cash + effect.cash_delta < 0:
                    reason = (
                        f"insufficient buying power: the fill costs {money(effect.gross_amount)}, cash is {money(cash)}"
                    )
            if reason is not None:
                con.execute(
                    "UPDATE paper_orders SET status = 'rejected', rejected_reason = ?, rejected_ns = ?, updated_ns = ? "
                    "WHERE id = ?",
                    (reason, now_ns, now_ns, order_id),
                )
                return self._order(con, order_id), None
            fill = self._book(con, account, order, effect, qty, price, market_ns, now_ns, kind="trade", note="")
            con.execute(
                "UPDATE paper_orders SET status = 'filled', filled_qty = ?, fill_price = ?, filled_ns = ?, "
                "updated_ns = ? WHERE id = ?",
                (quantity(qty), str(price), now_ns, now_ns, order_id),
            )
            return self._order(con, order_id), fill

    def _book(
        self,
        con: sqlite3.Connection,
        account: Row,
        order: Row,
        effect: FillEffect,
        qty: Decimal,
        price: Decimal,
        market_ns: int,
        now_ns: int,
        *,
        kind: str,
        note: str,
    ) -> Row:
        """Write one fill's effects: cash, account P&L counters, the position row and the fill row."""
        account_id, generation, symbol = account["id"], account["generation"], order["symbol"]
        closing = order["side"] == "sell"
        con.execute(
            "UPDATE paper_accounts SET cash = ?, realized_pl = ?, closed_trades = closed_trades + ?, "
            "winning_trades = winning_trades + ?, updated_ns = ? WHERE id = ?",
            (
                money(Decimal(account["cash"]) + effect.cash_delta),
                money(Decimal(account["realized_pl"]) + effect.realized_pl),
                1 if closing else 0,
                1 if closing and effect.realized_pl > 0 else 0,
                now_ns,
                account_id,
            ),
        )
        pos = effect.position
        if pos.qty == 0:
            con.execute(
                "DELETE FROM paper_positions WHERE account_id = ? AND generation = ? AND symbol = ?",
                (account_id, generation, symbol),
            )
        else:
            con.execute(
                "INSERT INTO paper_positions(id, account_id, generation, symbol, asset_class, multiplier, qty, "
                "avg_entry_price, realized_pl, updated_ns) VALUES (?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT(account_id, generation, symbol) DO UPDATE SET qty = excluded.qty, "
                "avg_entry_price = excluded.avg_entry_price, realized_pl = excluded.realized_pl, "
                "updated_ns = excluded.updated_ns",
                (
                    _new_id(),
                    account_id,
                    generation,
                    symbol,
                    order["asset_class"],
                    order["multiplier"],
                    str(pos.qty),
                    str(pos.avg_entry_price),
                    str(pos.realized_pl),
                    now_ns,
                ),
            )
        fill_id = _new_id()
        con.execute(
            "INSERT INTO paper_fills(id, account_id, generation, order_id, kind, note, symbol, asset_class, side, qty, "
            "price, gross_amount, realized_pl, market_ns, created_ns) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                fill_id,
                account_id,
                generation,
                order.get("id"),
                kind,
                note,
                symbol,
                order["asset_class"],
                order["side"],
                quantity(qty),
                str(price),
                money(effect.gross_amount),
                money(effect.realized_pl),
                market_ns,
                now_ns,
            ),
        )
        return _dict(con.execute("SELECT * FROM paper_fills WHERE id = ?", (fill_id,)).fetchone())  # type: ignore[return-value]

    def settle(
        self, account_id: str, generation: int, symbol: str, price: Decimal, note: str, market_ns: int, now_ns: int
    ) -> Row | None:
        """Close an expiring option position at ``price`` per unit with a fill of kind ``expiration``."""
        with self._db.tx() as con:
            account = self._account(con, account_id)
            if account is None or account["generation"] != generation or account["status"] != "active":
                return None
            row = con.execute(
                "SELECT asset_class, multiplier FROM paper_positions WHERE account_id = ? AND generation = ? "
                "AND symbol = ?",
                (account_id, generation, symbol),
            ).fetchone()
            if row is None:
                return None
            position = self._position(con, account_id, generation, symbol)
            effect = apply_fill(position, "sell", position.qty, price, row["multiplier"])
            pseudo = {"id": None, "symbol": symbol, "side": "sell", "asset_class": row["asset_class"]}
            return self._book(
                con, account, pseudo, effect, position.qty, price, market_ns, now_ns, kind="expiration", note=note
            )

    def positions(self, account_id: str, generation: int) -> list[Row]:
        rows = (
            self._db.con()
            .execute(
                "SELECT * FROM paper_positions WHERE account_id = ? AND generation = ? ORDER BY symbol",
                (account_id, generation),
            )
            .fetchall()
        )
        return [dict(r) for r in rows]

    def all_positions(self) -> list[Row]:
        rows = (
            self._db.con()
            .execute(
                "SELECT p.* FROM paper_positions p JOIN paper_accounts a ON a.id = p.account_id "
                "WHERE a.status = 'active' AND a.generation = p.generation ORDER BY p.account_id, p.symbol"
            )
            .fetchall()
        )
        return [dict(r) for r in rows]

    def fills(self, account_id: str, generation: int, *, before_seq: int | None, limit: int) -> list[Row]:
        sql = "SELECT * FROM paper_fills WHERE account_id = ? AND generation = ?"
        params: list[Any] = [account_id, generation]
        if before_seq is not None:
            sql += " AND seq < ?"
            params.append(before_seq)
        rows = self._db.con().execute(sql + " ORDER BY seq DESC LIMIT ?", (*params, limit)).fetchall()
        return [dict(r) for r in rows]

    # -- equity snapshots --------------------------------------------------------------------------
    def record_snapshot(self, account_id: str, generation: int, ts_ns: int, figures: dict[str, Decimal]) -> None:
        """Append an equity snapshot and carry the account's peak equity and maximum drawdown forward."""
        with self._db.tx() as con:
            account = self._account(con, account_id)
            if account is None or account["generation"] != generation:
                return
            equity = figures["equity"]
            peak = max(Decimal(account["peak_equity"]), equity)
            worst = max(Decimal(account["max_drawdown"]), drawdown(peak, equity))
            con.execute(
                "UPDATE paper_accounts SET peak_equity = ?, max_drawdown = ? WHERE id = ?",
                (money(peak), str(worst), account_id),
            )
            con.execute(
                "INSERT INTO paper_snapshots(account_id, generation, ts_ns, equity, cash, market_value, realized_pl, "
                "unrealized_pl) VALUES (?,?,?,?,?,?,?,?)",
                (
                    account_id,
                    generation,
                    ts_ns,
                    *(money(figures[k]) for k in ("equity", "cash", "market_value", "realized_pl", "unrealized_pl")),
                ),
            )

    def snapshots(self, account_id: str, generation: int, *, after_seq: int, limit: int) -> list[Row]:
        rows = (
            self._db.con()
            .execute(
                "SELECT * FROM paper_snapshots WHERE account_id = ? AND generation = ? AND seq > ? "
                "ORDER BY seq LIMIT ?",
                (account_id, generation, after_seq, limit),
            )
            .fetchall()
        )
        return [dict(r) for r in rows]

    def last_snapshot_ns(self, account_id: str, generation: int) -> int | None:
        row = (
            self._db.con()
            .execute(
                "SELECT max(ts_ns) FROM paper_snapshots WHERE account_id = ? AND generation = ?",
                (account_id, generation),
            )
            .fetchone()
        )
        return None if row is None or row[0] is None else int(row[0])
