"""Expiration: in-the-money contracts settle at intrinsic value against the underlying's close; others expire."""

from __future__ import annotations


def intrinsic_value(contract_type: str, strike: float, underlying_close: float) -> float:
    """Per-share value at expiration, with the close and the strike in the same (unadjusted) terms."""
    if contract_type == "call":
        return round(max(underlying_close - strike, 0.0), 6)
    return round(max(strike - underlying_close, 0.0), 6)
