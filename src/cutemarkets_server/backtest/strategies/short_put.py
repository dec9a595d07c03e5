"""A short put (cash-secured) or a put credit spread, chosen by delta, with profit-take, stop and DTE exits."""

from __future__ import annotations

from ..context import Context
from ..orders import ExitRules
from ..selection import Criteria
from .base import Param, Strategy, hhmm


class ShortPut(Strategy):
    name = "short_put"
    description = "Sell a put by delta (a put credit spread when width > 0); exits on profit, stop or DTE."
    params = (
        Param("entry_time", "10:00", "Enter at the first bar ending at or after this time (HH:MM ET)"),
        Param("dte_min", 7, "Minimum days to expiration", 0, 365),
        Param("dte_max", 45, "Maximum days to expiration", 0, 365),
        Param("target_dte", 30, "Preferred days to expiration", 0, 365),
        Param("short_delta", 0.20, "Absolute delta of the short put", 0.01, 0.99),
        Param("width", 0.0, "Distance in dollars to the long put; 0 sells a cash-secured put", 0.0),
        Param("quantity", 1, "Contracts per leg", 1),
        Param("max_spread_pct", 0.5, "Widest quoted spread accepted at selection, as a share of the mid", 0.0),
        Param("min_open_interest", 0, "Minimum open interest of the short put at selection", 0),
        Param("profit_target_pct", 0.5, "Buy back when this share of the credit is earned", 0.01),
        Param("stop_loss_pct", 2.0, "Buy back when the loss reaches this multiple of the credit", 0.01),
        Param("exit_dte", 2, "Buy back when this many days to expiration remain", 0, 365),
    )

    def __init__(self, **values: object) -> None:
        super().__init__(**values)
        if self.p["dte_max"] < self.p["dte_min"]:
            raise ValueError("dte_max must be >= dte_min")
        self.entry_minute = hhmm(self.p["entry_time"])

    def on_bar(self, ctx: Context) -> None:
        if ctx.busy or ctx.state.get("tried") or ctx.minute_et < self.entry_minute:
            return
        ctx.state["tried"] = True
        short = ctx.select(
            Criteria(
                contract_type="put",
                dte_min=self.p["dte_min"],
                dte_max=self.p["dte_max"],
                target_dte=self.p["target_dte"],
                delta=-self.p["short_delta"],
                min_open_interest=self.p["min_open_interest"],
                max_spread_pct=self.p["max_spread_pct"],
            )
        )
        q = self.p["quantity"]
        legs = [(short, -q)]
        action = "sell_put"
        if self.p["width"] > 0 and short.ok:
            legs.append((ctx.pair(short, self.p["width"]), q))
            action = "sell_put_spread"
        ctx.enter(
            action,
            legs,
            ExitRules(
                profit_target_pct=self.p["profit_target_pct"],
                stop_loss_pct=self.p["stop_loss_pct"],
                exit_dte=self.p["exit_dte"],
            ),
        )
