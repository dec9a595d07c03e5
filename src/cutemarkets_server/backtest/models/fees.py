"""Commissions: a fixed amount per contract per leg, on every fill (settlements are free)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PerContract:
    commission_per_contract: float

    def __post_init__(self) -> None:
        if self.commission_per_contract < 0:
            raise ValueError("commission_per_contract must not be negative")

    def commission(self, quantity: int) -> float:
        return round(self.commission_per_contract * abs(quantity), 6)
