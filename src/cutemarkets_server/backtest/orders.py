"""Orders, multi-leg packages, positions and exit rules.

Quantities are signed per leg (+ long, - short) and multiplied by the contract's shares. A package
fills all its legs or none. Margin is the worst settlement liability of a position over every
underlying price (unbounded for a net short call, which is then refused).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

from .data.base import ChainRow
from .models.expiration import intrinsic_value


@dataclass(frozen=True)
class ExitRules:
    """When the engine closes a position by itself (each rule optional)."""

    profit_target_pct: float | None = None  # of the entry premium, proven by a quote after entry
    stop_loss_pct: float | None = None  # of the entry premium
    exit_minute_et: int | None = None  # minutes after midnight ET: close at the first bar ending at or after it
    exit_dte: int | None = None  # close once the days to expiration fall to this many

    def __post_init__(self) -> None:
        for name in ("profit_target_pct", "stop_loss_pct"):
            v = getattr(self, name)
            if v is not None and v <= 0:
                raise ValueError(f"{name} must be positive")
        if self.exit_dte is not None and self.exit_dte < 0:
            raise ValueError("exit_dte must not be negative")


@dataclass(frozen=True)
class LegOrder:
    contract: ChainRow
    quantity: int  # signed: + buys, - sells (when opening)

    @property
    def side(self) -> str:
        return "buy" if self.quantity > 0 else "sell"


@dataclass
class Leg:
    contract: ChainRow
    quantity: int  # signed, + long
    entry_price: float
    open: bool = True

    @property
    def multiplier(self) -> int:
        return self.contract.shares_per_contract


@dataclass
class Position:
    position_id: int
    action: str
    legs: list[Leg]
    exits: ExitRules
    opened_ns: int
    entry_decision_id: int
    commissions: float = 0.0
    closing: bool = False
    closed_ns: int | None = None
    exit_reason: str | None = None
    exit_value: float = 0.0  # cash received (+) or paid (-) to close or settle, before commissions

    @property
    def expiration(self) -> dt.date:
        return self.legs[0].contract.expiration

    @property
    def entry_value(self) -> float:
        """What opening cost: + a debit paid, - a credit received (before commissions)."""
        return sum(leg.quantity * leg.entry_price * leg.multiplier for leg in self.legs)

    @property
    def is_open(self) -> bool:
        return self.closed_ns is None

    @property
    def pnl(self) -> float:
        return round(self.exit_value - self.entry_value - self.commissions, 6)

    def tickers(self) -> str:
        return ",".join(leg.contract.ticker for leg in self.legs)


def settlement_liability(legs: list[tuple[ChainRow, int]]) -> float:
    """The largest amount the legs can owe at expiration (0 for long-only packages; inf if unbounded)."""
    strikes = sorted({c.strike for c, _ in legs})
    call_slope = sum(q * c.shares_per_contract for c, q in legs if c.contract_type == "call")
    if call_slope < 0:
        return math.inf

    def payoff(s: float) -> float:
        return sum(q * c.shares_per_contract * intrinsic_value(c.contract_type, c.strike, s) for c, q in legs)

    worst = min(payoff(s) for s in [0.0, *strikes])
    return max(0.0, -worst)


@dataclass
class Book:
    """Cash and positions."""

    cash: float
    positions: list[Position] = field(default_factory=list)
    next_position_id: int = 1

    def open_positions(self) -> list[Position]:
        return [p for p in self.positions if p.is_open]

    def reserved(self) -> float:
        return sum(
            settlement_liability([(leg.contract, leg.quantity) for leg in p.legs if leg.open])
            for p in self.open_positions()
        )
