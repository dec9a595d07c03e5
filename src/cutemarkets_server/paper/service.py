"""The paper desk: accounts, orders and what they are worth, over the ledger and the market as a key may see it.

Everything an order does happens in the market's time: "now" is the server clock (live or replayed), and an
account opened with a delayed plan's key lives 15 minutes behind it (it sees, fills and expires on the
market of 15 minutes ago)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..clock import Clock
from ..market.calendar import MarketCalendar
from ..market.timestamps import NS_PER_MIN, et_date
from ..store.paper import LedgerRefusalError, PaperLedger
from . import wire
from .events import PaperEvents
from .market import PaperMarket
from .rules import (
    OPEN_STATUSES,
    STATUSES,
    OrderRequest,
    PaperInputError,
    classify_symbol,
    drawdown,
    fill_price,
    money,
    parse_decimal,
    parse_name,
    parse_order,
    quantity,
    settlement_price,
    usable,
)

log = logging.getLogger("cutemarkets.paper")

MAX_ACTIVE_ACCOUNTS = 20
DEFAULT_NAME = "Paper Account"
DEFAULT_CASH = "100000"
SNAPSHOT_EVERY_NS = NS_PER_MIN


class PaperNotFoundError(LookupError):
    """An account or order that does not exist for this key (never told apart from another key's)."""


@dataclass(frozen=True)
class Owner:
    """The key acting on the desk: its id scopes the accounts, its name is the user the account limit counts."""

    key_id: int
    user: str
    delay_ns: int


@dataclass(frozen=True)
class Session:
    day: dt.date
    open_now: bool


class PaperDesk:
    def __init__(self, ledger: PaperLedger, market: PaperMarket, calendar: MarketCalendar, clock: Clock) -> None:
        self.ledger = ledger
        self.market = market
        self.calendar = calendar
        self.clock = clock
        self.events = PaperEvents()
        self._unsettled: set[tuple[str, dt.date]] = set()  # expirations without an underlying close (warned once)

    # -- time --------------------------------------------------------------------------------------
    def view_ns(self, delay_ns: int) -> int:
        """The instant an account of this delay sees."""
        return self.clock.now_ns() - delay_ns

    def working_session(self, at_ns: int) -> Session:
        """The regular session an order sent at ``at_ns`` works in: today's until its close, else the next."""
        today = et_date(at_ns)
        if self.calendar.is_session(today):
            hours = self.calendar.hours(today)
            if at_ns < hours.close_ns:
                return Session(today, hours.open_ns <= at_ns)
        following = self.calendar.next_session(today)
        if following is None:
            raise PaperInputError("order", "no upcoming session in the market calendar")
        return Session(following, False)

    # -- accounts ----------------------------------------------------------------------------------
    def create_account(self, owner: Owner, body: Any) -> dict[str, Any]:
        body = _object(body)
        name = parse_name(body.get("name"), default=DEFAULT_NAME)
        cash = parse_decimal("initial_cash", body.get("initial_cash", DEFAULT_CASH))
        try:
            row = self.ledger.create_account(
                owner.key_id,
                owner.user,
                name,
                cash,
                self.clock.now_ns(),
                delay_ns=owner.delay_ns,
                max_active=MAX_ACTIVE_ACCOUNTS,
            )
        except LedgerRefusalError as exc:
            raise PaperInputError(exc.field, str(exc)) from None
        self.record_snapshot(row)
        return row

    def account(self, owner: Owner, account_id: str) -> dict[str, Any]:
        row = self.ledger.account(owner.key_id, account_id)
        if row is None:
            raise PaperNotFoundError(f"Unknown paper account {account_id}.")
        return row

    def accounts(self, owner: Owner, *, include_archived: bool, after_seq: int, limit: int) -> list[dict[str, Any]]:
        return self.ledger.accounts(owner.key_id, include_archived=include_archived, after_seq=after_seq, limit=limit)

    def rename(self, owner: Owner, account_id: str, body: Any) -> dict[str, Any]:
        self._writable(owner, account_id)
        name = parse_name(_object(body).get("name"))
        return self.ledger.rename(account_id, name, self.clock.now_ns())

    def archive(self, owner: Owner, account_id: str) -> None:
        self.account(owner, account_id)
        for order in self.ledger.archive(account_id, self.clock.now_ns()):
            self.publish(owner.key_id, "canceled", order)

    def reset(self, owner: Owner, account_id: str, body: Any) -> dict[str, Any]:
        self._writable(owner, account_id)
        body = _object(body)
        confirm = body.get("confirm")
        if confirm is not True:
            raise PaperInputError("confirm", 'a reset discards positions and open orders; send "confirm": true')
        reason = body.get("reason")
        if reason is not None and not isinstance(reason, str):
            raise PaperInputError("reason", "expected a string")
        raw_cash = body.get("initial_cash")
        cash = None if raw_cash is None else parse_decimal("initial_cash", raw_cash)
        row, canceled = self.ledger.reset(account_id, cash, self.clock.now_ns())
        for order in canceled:
            self.publish(owner.key_id, "canceled", order)
        self.record_snapshot(row)
        log.info("paper account %s reset to generation %s (%s)", account_id, row["generation"], reason or "no reason")
        return row

    def _writable(self, owner: Owner, account_id: str) -> dict[str, Any]:
        row = self.account(owner, account_id)
        if row["status"] != "active":
            raise PaperInputError("account", f"paper account {account_id} is archived")
        return row

    # -- valuation ---------------------------------------------------------------------------------
    def marks(self, positions: list[dict[str, Any]], at_ns: int) -> dict[str, Decimal | None]:
        return {p["symbol"]: self.market.mark(p["asset_class"], p["symbol"], at_ns) for p in positions}

    def valuation(self, account: dict[str, Any], at_ns: int) -> dict[str, Any]:
        """Cash, market value, equity and P&L of the account's current generation as of ``at_ns``."""
        positions = self.ledger.positions(account["id"], account["generation"])
        marks = self.marks(positions, at_ns)
        market_value = Decimal(0)
        unrealized = Decimal(0)
        for p in positions:
            qty, avg = Decimal(p["qty"]), Decimal(p["avg_entry_price"])
            mark = marks[p["symbol"]]
            price = mark if mark is not None else avg
            market_value += qty * price * p["multiplier"]
            unrealized += qty * (price - avg) * p["multiplier"]
        cash = Decimal(account["cash"])
        equity = cash + market_value
        peak = max(Decimal(account["peak_equity"]), equity)
        closed, won = account["closed_trades"], account["winning_trades"]
        return {
            "equity": equity,
            "cash": cash,
            "market_value": market_value,
            "initial_cash": Decimal(account["initial_cash"]),
            "realized_pl": Decimal(account["realized_pl"]),
            "unrealized_pl": unrealized,
            "drawdown": max(Decimal(account["max_drawdown"]), drawdown(peak, equity)),
            "closed_trades": closed,
            "winning_trades": won,
            "win_rate": Decimal(won) / Decimal(closed) if closed else Decimal(0),
            "as_of_ns": at_ns,
        }

    def summary(self, account: dict[str, Any]) -> dict[str, Any]:
        return self.valuation(account, self.view_ns(account["delay_ns"]))

    def positions(self, account: dict[str, Any]) -> list[dict[str, Any]]:
        rows = self.ledger.positions(account["id"], account["generation"])
        marks = self.marks(rows, self.view_ns(account["delay_ns"]))
        return [wire.position(r, marks[r["symbol"]]) for r in rows]

    def record_snapshot(self, account: dict[str, Any], at_ns: int | None = None) -> None:
        at = self.view_ns(account["delay_ns"]) if at_ns is None else at_ns
        figures = self.valuation(account, at)
        self.ledger.record_snapshot(account["id"], account["generation"], at, figures)

    # -- orders ------------------------------------------------------------------------------------
    def submit(self, owner: Owner, account_id: str, body: Any) -> tuple[dict[str, Any], bool]:
        """Accept an order (or return the one already sent under its client_order_id) and try to fill it at once."""
        account = self._writable(owner, account_id)
        request = parse_order(body)
        session = self.working_session(self.view_ns(account["delay_ns"]))
        self.market.resolve(request.instrument, session.day)
        fields = self._order_fields(request, account, session)
        try:
            row, created = self.ledger.insert_order(account_id, fields, self.clock.now_ns())
        except LedgerRefusalError as exc:
            raise PaperInputError(exc.field, str(exc)) from None
        if not created:
            return row, False
        self.publish(owner.key_id, row["status"], row)
        if row["status"] == "new":
            row = self.evaluate(row) or row
        return row, True

    @staticmethod
    def _order_fields(request: OrderRequest, account: dict[str, Any], session: Session) -> dict[str, Any]:
        return {
            "client_order_id": request.client_order_id or str(uuid.uuid4()),
            "fingerprint": request.fingerprint(),
            "symbol": request.instrument.symbol,
            "asset_class": request.instrument.asset_class,
            "multiplier": request.instrument.multiplier,
            "qty": quantity(request.qty),
            "side": request.side,
            "type": request.type,
            "time_in_force": request.time_in_force,
            "limit_price": None if request.limit_price is None else str(request.limit_price),
            "status": "new" if session.open_now else "accepted",
            "position_intent": request.position_intent,
            "delay_ns": account["delay_ns"],
            "session_day": session.day.isoformat(),
            "extra": json.dumps(request.extra, sort_keys=True),
        }

    def order(self, owner: Owner, account_id: str, order_id: str) -> dict[str, Any]:
        self.account(owner, account_id)
        row = self.ledger.order(account_id, order_id)
        if row is None:
            raise PaperNotFoundError(f"Unknown order {order_id}.")
        return row

    def order_by_client_id(self, owner: Owner, account_id: str, client_order_id: str) -> dict[str, Any]:
        account = self.account(owner, account_id)
        row = self.ledger.order_by_client_id(account_id, account["generation"], client_order_id)
        if row is None:
            raise PaperNotFoundError(f"No order with client_order_id {client_order_id!r}.")
        return row

    def cancel(self, owner: Owner, account_id: str, order_id: str) -> dict[str, Any]:
        current = self.order(owner, account_id, order_id)
        row = self.ledger.transition(order_id, OPEN_STATUSES, "canceled", self.clock.now_ns())
        if row is None:
            latest = self.ledger.order(account_id, order_id) or current
            raise PaperInputError(
                "order_id",
                f"order {order_id} is {latest['status']}; only new, accepted or partially_filled orders "
                "can be canceled",
            )
        self.publish(owner.key_id, "canceled", row)
        return row

    @staticmethod
    def status_filter(value: str | None) -> tuple[str, ...] | None:
        """``open``, ``closed``, ``all`` (default) or one status name."""
        text = (value or "all").strip().lower()
        if text == "all":
            return None
        if text == "open":
            return OPEN_STATUSES
        if text == "closed":
            return tuple(s for s in STATUSES if s not in OPEN_STATUSES)
        if text in STATUSES:
            return (text,)
        raise PaperInputError(
            "status", f"{value!r} is not open, closed, all or an order status ({', '.join(STATUSES)})"
        )

    # -- the fill engine's work on one order -------------------------------------------------------
    def evaluate(self, order: dict[str, Any]) -> dict[str, Any] | None:
        """Advance one open order as of its account's view of the market: activate it when its session opens,
        expire it at the close, fill it when the NBBO makes it marketable. Returns the order when it changed."""
        view = self.view_ns(order["delay_ns"])
        session_day = dt.date.fromisoformat(order["session_day"])
        hours = self.calendar.hours(session_day)
        owner_key = self._owner_key(order["account_id"])
        changed = None
        if view >= hours.close_ns:
            row = self.ledger.transition(order["id"], OPEN_STATUSES, "expired", self.clock.now_ns())
            if row is not None:
                self.publish(owner_key, "expired", row)
            return row
        if view < hours.open_ns:
            return None
        if order["status"] == "accepted":
            order = self.ledger.transition(order["id"], ("accepted",), "new", self.clock.now_ns())
            if order is None:
                return None
            self.publish(owner_key, "new", order)
            changed = order
        quote = self.market.session_quote(order["asset_class"], order["symbol"], view)
        if not usable(quote):
            return changed
        assert quote is not None
        limit = None if order["limit_price"] is None else Decimal(order["limit_price"])
        price = fill_price(order["side"], order["type"], limit, quote)
        if price is None:
            return changed
        row, fill = self.ledger.fill(order["id"], price, quote.timestamp_ns, self.clock.now_ns())
        if row is None:
            return changed
        if fill is None:
            self.publish(owner_key, "rejected", row)
            return row
        self.publish(owner_key, "fill", row, fill)
        account = self.ledger.account_by_id(row["account_id"])
        if account is not None:
            self.record_snapshot(account)
        return row

    def settle_expired(self, position: dict[str, Any], account: dict[str, Any]) -> dict[str, Any] | None:
        """Settle an option position whose expiration session has closed (as the account sees the market):
        in the money at intrinsic value from the underlying's close, out of the money at zero."""
        instrument = classify_symbol(position["symbol"])
        assert instrument.expiration is not None
        last_day = self.calendar.session_on_or_before(instrument.expiration)
        if last_day is None:
            return None
        view = self.view_ns(account["delay_ns"])
        close_ns = self.calendar.hours(last_day).close_ns
        if view < close_ns:
            return None
        underlying, shares = self.market.deliverable(instrument)
        close = self.market.close_price(underlying, last_day)
        if close is None:
            if (position["symbol"], last_day) not in self._unsettled:
                self._unsettled.add((position["symbol"], last_day))
                log.warning("no close of %s on %s: %s stays open", underlying, last_day, position["symbol"])
            return None
        underlying_close, close_trade_ns = close
        price = settlement_price(instrument, underlying_close, shares)
        state = "in the money, settled at intrinsic value" if price > 0 else "out of the money, expired worthless"
        note = (
            f"expired {instrument.expiration}: {state} {money(price)} "
            f"(strike {instrument.strike}, {shares} shares of {underlying} closing at {underlying_close} on {last_day})"
        )
        fill = self.ledger.settle(
            account["id"], account["generation"], position["symbol"], price, note, close_trade_ns, self.clock.now_ns()
        )
        if fill is not None:
            self.events.publish(
                account["owner_key"],
                {"ev": "paper.settlement", "account_id": account["id"], "fill": wire.fill(fill)},
            )
            fresh = self.ledger.account_by_id(account["id"])
            if fresh is not None:
                self.record_snapshot(fresh, close_ns)
        return fill

    # -- updates -----------------------------------------------------------------------------------
    def _owner_key(self, account_id: str) -> int:
        account = self.ledger.account_by_id(account_id)
        return int(account["owner_key"]) if account else -1

    def publish(self, key_id: int, event: str, order: dict[str, Any], fill: dict[str, Any] | None = None) -> None:
        payload: dict[str, Any] = {
            "ev": "paper.order",
            "event": event,
            "account_id": order["account_id"],
            "order": wire.order(order),
            "timestamp": wire.rfc3339(self.clock.now_ns()),
        }
        if fill is not None:
            payload["fill"] = wire.fill(fill)
        self.events.publish(key_id, payload)


def _object(body: Any) -> dict[str, Any]:
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise PaperInputError("body", "expected a JSON object")
    return body
