"""Fill policies: how a quote becomes a price, and when a quote cannot be used at all.

A policy is named and versioned (``name@version``) and recorded in the manifest. It never sees trades
or bars: only the NBBO quote the engine hands it (the first quote at or after the order's arrival).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..data.base import Quote


@dataclass(frozen=True)
class QuoteLimits:
    """Which quotes are usable: age (arrival to quote), absolute and relative spread."""

    stale_quote_ms: int
    max_spread: float  # dollars per share; 0 = no limit
    max_spread_pct: float  # of the mid; 0 = no limit

    def __post_init__(self) -> None:
        if self.stale_quote_ms <= 0:
            raise ValueError("stale_quote_ms must be positive")
        if self.max_spread < 0 or self.max_spread_pct < 0:
            raise ValueError("max_spread and max_spread_pct must not be negative")

    def reject_reason(self, quote: Quote, side: str) -> str | None:
        """Why this quote cannot fill an order on ``side`` ("buy" or "sell"), or None."""
        if quote.ask > 0 and quote.bid > 0 and quote.ask < quote.bid:
            return "crossed_quote"
        if side == "sell" and quote.bid <= 0:
            return "no_bid"
        if side == "buy" and quote.ask <= 0:
            return "no_ask"
        if quote.bid <= 0 or quote.ask <= 0:
            # A one-sided market has no spread to check; the side that trades exists.
            return None
        spread = quote.ask - quote.bid
        if self.max_spread and spread > self.max_spread + 1e-12:
            return "spread_too_wide"
        if self.max_spread_pct and spread > self.max_spread_pct * quote.mid + 1e-12:
            return "spread_too_wide"
        return None


class FillPolicy:
    name: str
    version: int

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"

    def price(self, quote: Quote, side: str) -> float:
        raise NotImplementedError


@dataclass(frozen=True)
class CrossSpread(FillPolicy):
    """Buy at the ask, sell at the bid."""

    name: str = "cross_spread"
    version: int = 1

    def price(self, quote: Quote, side: str) -> float:
        return quote.ask if side == "buy" else quote.bid


@dataclass(frozen=True)
class MidPlusFraction(FillPolicy):
    """The mid moved against the trader by a fraction of the spread (0 = mid, 0.5 = the far side)."""

    fraction: float = 0.25
    name: str = "mid_fraction"
    version: int = 1

    def __post_init__(self) -> None:
        if not 0.0 <= self.fraction <= 0.5:
            raise ValueError("spread_fraction must be between 0 and 0.5")

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}(fraction={self.fraction})"

    def price(self, quote: Quote, side: str) -> float:
        if quote.bid <= 0 or quote.ask <= 0:
            return quote.ask if side == "buy" else quote.bid
        half = self.fraction * (quote.ask - quote.bid)
        return round(quote.mid + half if side == "buy" else quote.mid - half, 6)


FILL_POLICIES = ("cross_spread", "mid_fraction")


def make_fill_policy(name: str, fraction: float) -> FillPolicy:
    if name == "cross_spread":
        return CrossSpread()
    if name == "mid_fraction":
        return MidPlusFraction(fraction)
    raise ValueError(f"unknown fill_policy {name!r}; known: {', '.join(FILL_POLICIES)}")
