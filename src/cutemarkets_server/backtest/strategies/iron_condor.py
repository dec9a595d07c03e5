"""An iron condor: short put and short call by delta, each protected by a wing, with the same exits as a short put."""

from __future__ import annotations

from ..context import Context
from ..orders import ExitRules
from ..selection import Criteria
from .base import Param, Strategy, hhmm


class IronCondor(Strategy):
    name = "iron_condor"
    description = "Sell a put spread and a call spread by delta in one package; exits on profit, stop or DTE."
    params = (
        Param("entry_time", "10:00", "Enter at the first bar ending at or after this time (HH:MM ET)"),
        Param("dte_min", 7, "Minimum days to expiration", 0, 365),
        Param("dte_max", 45, "Maximum days to expiration", 0, 365),
        Param("target_dte", 30, "Preferred days to expiration", 0, 365),
        Param("short_delta", 0.20, "Absolute delta of both short legs", 0.01, 0.99),
        Param("wing_width", 10.0, "Distance in dollars from each short strike to its long wing", 0.01),
        Param("quantity", 1, "Contracts per leg", 1),
        Param("max_spread_pct", 0.5, "Widest quoted spread accepted at selection, as a share of the mid", 0.0),
        Param("profit_target_pct", 0.5, "Buy back when this share of the credit is earned", 0.01),
        Param("stop_loss_pct", 1.0, "Buy back when the loss reaches this multiple of the credit", 0.01),
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
        common = {
            "dte_min": self.p["dte_min"],
            "dte_max": self.p["dte_max"],
            "target_dte": self.p["target_dte"],
            "max_spread_pct": self.p["max_spread_pct"],
        }
        short_put = ctx.select(Criteria(contract_type="put", delta=-self.p["short_delta"], **common))
        short_call = ctx.select(Criteria(contract_type="call", delta=self.p["short_delta"], **common))
        q = self.p["quantity"]
        legs = [(short_put, -q), (short_call, -q)]
        if short_put.ok and short_call.ok:
            if short_put.contract.expiration != short_call.contract.expiration:
                ctx.skip("sell_iron_condor", "mixed_expirations")
                return
            legs += [(ctx.pair(short_put, self.p["wing_width"]), q), (ctx.pair(short_call, self.p["wing_width"]), q)]
        ctx.enter(
            "sell_iron_condor",
            legs,
            ExitRules(
                profit_target_pct=self.p["profit_target_pct"],
                stop_loss_pct=self.p["stop_loss_pct"],
                exit_dte=self.p["exit_dte"],
            ),
        )
