"""Vectorised Black-Scholes-Merton prices (continuous dividend yield) used to quote options."""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr


def bsm_price(
    is_call: np.ndarray,
    spot: np.ndarray,
    strike: np.ndarray,
    t_years: np.ndarray,
    rate: np.ndarray,
    dividend_yield: np.ndarray | float,
    vol: np.ndarray,
) -> np.ndarray:
    """European option value per share; ``t_years`` must be positive."""
    sd = vol * np.sqrt(t_years)
    d1 = (np.log(spot / strike) + (rate - dividend_yield) * t_years) / sd + 0.5 * sd
    d2 = d1 - sd
    fwd_disc = spot * np.exp(-dividend_yield * t_years)
    k_disc = strike * np.exp(-rate * t_years)
    call = fwd_disc * ndtr(d1) - k_disc * ndtr(d2)
    put = k_disc * ndtr(-d2) - fwd_disc * ndtr(-d1)
    return np.maximum(np.where(is_call, call, put), 0.0)
