"""Opening-range breakout: buy a short-dated call when the underlying closes above the opening range,
a put when it closes below; exit on a premium target or stop (proven by quotes) or at a fixed time."""

from __future__ import annotations

import math

from ..context import Context
from ..orders import ExitRules
from ..selection import Criteria
from .base import Param, Strategy, hhmm


class OpeningRangeBreakout(Strategy):
    name = "orb"
    description = "Short-DTE opening-range breakout buying calls or puts (one trade a day)."
    params = (
        Param("range_minutes", 15, "Opening range length in minutes after the open", 1, 120),
        Param("last_entry", "15:00", "No entries after this time (HH:MM ET)"),
        Param("dte_min", 0, "Minimum days to expiration", 0, 365),
        Param("dte_max", 3, "Maximum days to expiration", 0, 365),
        Param("target_delta", 0.5, "Absolute delta to aim for", 0.01, 0.99),
        Param("max_spread_pct", 0.25, "Widest quoted spread accepted at selection, as a share of the mid", 0.0),
        Param("min_open_interest", 0, "Minimum open interest at selection", 0),
        Param("risk_pct", 0.02, "Share of cash spent on premium per trade", 0.0001, 1.0),
        Param("profit_target_pct", 0.5, "Close when the bid shows this gain on the premium", 0.01),
        Param("stop_loss_pct", 0.5, "Close when the bid shows this loss on the premium", 0.01),
        Param("exit_time", "15:45", "Close open positions at this time (HH:MM ET)"),
        Param(
            "order_type",
            "market",
            "Entry order: market, or limit at the chain mid plus limit_offset",
            choices=("market", "limit"),
        ),
        Param("limit_offset", 0.0, "Limit entries: share of the quoted spread added to the mid", -0.5, 0.5),
        Param("limit_minutes", 5, "Limit entries rest this many minutes", 1, 390),
    )

    def __init__(self, **values: object) -> None:
        super().__init__(**values)
        if self.p["dte_max"] < self.p["dte_min"]:
            raise ValueError("dte_max must be >= dte_min")
        self.last_entry = hhmm(self.p["last_entry"])
        self.exit_minute = hhmm(self.p["exit_time"])

    def on_bar(self, ctx: Context) -> None:
        if ctx.minutes_since_open < self.p["range_minutes"] or ctx.state.get("traded") or ctx.busy:
            return
        if ctx.minute_et >= self.last_entry:
            return
        opening = [b for b in ctx.bars() if b.start_ns < ctx.open_ns + self.p["range_minutes"] * 60_000_000_000]
        high = max(b.high for b in opening)
        low = min(b.low for b in opening)
        close = ctx.spot
        if low <= close <= high:
            return
        call = close > high
        ctx.state["traded"] = True
        sel = ctx.select(
            Criteria(
                contract_type="call" if call else "put",
                dte_min=self.p["dte_min"],
                dte_max=self.p["dte_max"],
                target_dte=self.p["dte_min"],
                delta=self.p["target_delta"] if call else -self.p["target_delta"],
                min_open_interest=self.p["min_open_interest"],
                max_spread_pct=self.p["max_spread_pct"],
            )
        )
        action = "buy_call" if call else "buy_put"
        quantity = 1
        if sel.ok:
            ask = sel.contract.ask or 0.0
            quantity = math.floor(ctx.cash * self.p["risk_pct"] / (ask * sel.contract.shares_per_contract))
            if quantity < 1:
                ctx.skip(action, "size_below_one")
                return
        limit = None
        if sel.ok and self.p["order_type"] == "limit":
            c = sel.contract
            limit = round((c.mid or 0.0) + self.p["limit_offset"] * (c.spread or 0.0), 2)
        ctx.enter(
            action,
            [(sel, quantity)],
            ExitRules(
                profit_target_pct=self.p["profit_target_pct"],
                stop_loss_pct=self.p["stop_loss_pct"],
                exit_minute_et=self.exit_minute,
            ),
            limit=limit,
            valid_minutes=self.p["limit_minutes"] if limit is not None else None,
        )
