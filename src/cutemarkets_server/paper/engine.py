"""The fill engine: as the market clock moves (live or replayed), it works every open order against the NBBO,
expires day orders at the close, settles expiring options and records equity snapshots."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from ..market.timestamps import et_date
from .rules import classify_symbol
from .service import SNAPSHOT_EVERY_NS, PaperDesk

log = logging.getLogger("cutemarkets.paper.engine")

STEP_S = 0.25


class FillEngine:
    def __init__(self, desk: PaperDesk, *, step_s: float = STEP_S) -> None:
        self.desk = desk
        self.step_s = step_s
        self._task: asyncio.Task[None] | None = None
        self._last: tuple[int, object] | None = None

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.step)
            except Exception:  # one bad step must not stop the desk; the next step retries
                log.exception("paper fill engine step failed")
            await asyncio.sleep(self.step_s)

    def step(self) -> None:
        """One pass over the ledger at the clock's current instant; skipped while neither the clock nor the
        lake has moved since the last pass (nothing could have changed)."""
        now = (self.desk.clock.now_ns(), self.desk.market.generation())
        if now == self._last:
            return
        for order in self.desk.ledger.open_orders():
            try:
                self.desk.evaluate(order)
            except Exception:  # one order that cannot be worked must not hold up the others
                log.exception("paper order %s could not be evaluated", order["id"])
        self._settle()
        self._snapshots()
        self._last = now

    def _settle(self) -> None:
        accounts = {a["id"]: a for a in self.desk.ledger.active_accounts()}
        for position in self.desk.ledger.all_positions():
            if position["asset_class"] != "us_option":
                continue
            account = accounts.get(position["account_id"])
            if account is None:
                continue
            expiration = classify_symbol(position["symbol"]).expiration
            assert expiration is not None
            if expiration <= et_date(self.desk.view_ns(account["delay_ns"])):
                self.desk.settle_expired(position, account)

    def _snapshots(self) -> None:
        """Every account gets a snapshot per minute of its regular session and one at the close."""
        calendar = self.desk.calendar
        for account in self.desk.ledger.active_accounts():
            view = self.desk.view_ns(account["delay_ns"])
            day = et_date(view)
            if not calendar.is_session(day):
                continue
            hours = calendar.hours(day)
            last = self.desk.ledger.last_snapshot_ns(account["id"], account["generation"])
            if hours.open_ns <= view < hours.close_ns:
                if last is None or view - last >= SNAPSHOT_EVERY_NS:
                    self.desk.record_snapshot(account, view)
            elif view >= hours.close_ns and (last is None or last < hours.close_ns):
                self.desk.record_snapshot(account, hours.close_ns)
