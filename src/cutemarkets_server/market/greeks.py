"""Vectorised Black-Scholes-Merton prices, implied volatility and greeks for European options.

Model
-----
Black-Scholes-Merton with a continuously compounded risk-free rate ``r`` and a continuous dividend yield
``q`` (European exercise, lognormal underlying, constant volatility ``sigma``). With the discounted spot
``Sq = S e^{-qT}``, the discounted strike ``Kr = K e^{-rT}`` and ``d1,2 = (ln(S/K) + (r - q +/- sigma^2/2) T)
/ (sigma sqrt(T))``::

    call = Sq N(d1) - Kr N(d2)          put = Kr N(-d2) - Sq N(-d1)

Inputs (numpy arrays, or scalars, broadcast against each other; converted to float64)
-------------------------------------------------------------------------------------
``S`` underlying price, ``K`` strike, ``T`` time to expiry in years of calendar time (e.g. seconds to
expiry / (365 * 86400)), ``r`` risk-free rate and ``q`` dividend yield (decimals, continuously
compounded), ``sigma`` volatility (decimal, annualised), ``price`` option premium, ``is_call`` bool array
(True = call, False = put).

Output units (the Polygon/Massive snapshot convention)
------------------------------------------------------
* implied volatility: decimal (0.25 = 25 %),
* delta and gamma: per $1 of the underlying (ordinary Black-Scholes scale),
* theta: per calendar day, ``dV/dt / 365`` (negative for a long option that decays),
* vega: per 1 volatility point, ``dV/dsigma / 100``,
* rho: per 1 rate point, ``dV/dr / 100`` (not part of the snapshot; provided for the analytics rows).

Invalid rows are NaN, never a made-up number: any non-finite input, ``S <= 0``, ``K <= 0``, ``T <= 0``,
``sigma <= 0`` (prices and greeks), ``price <= 0``, a price at or below the discounted intrinsic value
``max(0, Sq - Kr)`` (calls) / ``max(0, Kr - Sq)`` (puts), a price at or above the upper no-arbitrage
bound (``Sq`` for calls, ``Kr`` for puts), and ``|ln(S/K) + (r - q) T| > 700``.

Accuracy of the implied volatility
----------------------------------
The solver (see :mod:`cutemarkets_server.market.greeks_kernels`) works on the out-of-the-money
(time-value) part of the premium in normalised coordinates, in log space, and iterates to a relative
accuracy of ~1e-15 in the total volatility ``sigma sqrt(T)`` (two to three function evaluations per
option). The implied volatility is therefore exact to 1e-6 (typically 1e-12) *wherever the price itself
determines it to that accuracy* (tested: every premium with ``vega * 1e-6 >= 64 ulp(price)``).

The conditioning limit: a float64 premium is only known to its resolution ``ulp(price)``, and an
in-the-money premium's time value (price minus intrinsic, formed here without extra rounding) is known
only to ``ulp(price)`` too, so volatilities closer than ``ulp(price) / vega`` give the same float64
premium. Where ``vega * 1e-6`` is not well above that resolution (deep in/out of the money, minutes to
expiry, subnormal premiums) no solver can recover sigma to 1e-6; the result there is still a volatility
that reprices the input to its float64 resolution, or NaN when the time value rounds to zero or below.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from . import greeks_kernels as _k

__all__ = [
    "Greeks",
    "IVGreeks",
    "bsm_greeks",
    "bsm_price",
    "implied_volatility",
    "iv_and_greeks",
    "warm_up",
]

# Arrays at least this long run on all cores (numba prange); shorter ones stay on the calling thread.
PARALLEL_MIN_ROWS = 8192

# Parallel kernels are launched one at a time: numba's "workqueue" threading layer (used when neither
# OpenMP nor TBB is available) aborts the process on concurrent launches from several Python threads.
_PARALLEL_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class Greeks:
    """BSM sensitivities in snapshot units (see module docstring); NaN where inputs are invalid."""

    delta: np.ndarray
    gamma: np.ndarray
    theta: np.ndarray
    vega: np.ndarray
    rho: np.ndarray


@dataclass(frozen=True, slots=True)
class IVGreeks:
    """Implied volatility and the greeks evaluated at it; ``ok`` marks rows where the IV was solved."""

    iv: np.ndarray
    delta: np.ndarray
    gamma: np.ndarray
    theta: np.ndarray
    vega: np.ndarray
    rho: np.ndarray
    ok: np.ndarray


def _prepare(values: tuple[ArrayLike, ...], is_call: ArrayLike) -> tuple[tuple[int, ...], list[np.ndarray]]:
    """Broadcast the inputs and return their shape plus flat C-contiguous float64 / bool copies."""
    arrays = [np.asarray(v, dtype=np.float64) for v in values]
    arrays.append(np.asarray(is_call, dtype=np.bool_))
    b = np.broadcast_arrays(*arrays)
    shape = b[0].shape
    flat = [np.ascontiguousarray(a).reshape(-1) for a in b]
    return shape, flat


def _run(serial: Callable[..., None], parallel: Callable[..., None], n: int, *args: np.ndarray) -> None:
    if n >= PARALLEL_MIN_ROWS:
        with _PARALLEL_LOCK:
            parallel(*args)
    else:
        serial(*args)


def bsm_price(
    S: ArrayLike,
    K: ArrayLike,
    T: ArrayLike,
    r: ArrayLike,
    q: ArrayLike,
    sigma: ArrayLike,
    is_call: ArrayLike,
) -> np.ndarray:
    """Black-Scholes-Merton premium of European calls/puts; NaN where inputs are invalid.

    Evaluated as the discounted intrinsic value ``(S - K) + (S (e^{-qT} - 1) - K (e^{-rT} - 1))`` plus the
    out-of-the-money value with an ``erfc``-based normal CDF. The absolute error is at the float64
    resolution of ``Sq + Kr``; an out-of-the-money premium is also accurate in relative terms, to about
    ``1e-16 (1 + h^2) (1 + |x| / s^2)`` with ``x = ln(Sq/Kr)``, ``s = sigma sqrt(T)``, ``h = x / s`` (about
    1e-12 for premiums above 1e-8 of the forward; premiums below ~1e-308 underflow to 0).
    """
    shape, (s_, k_, t_, r_, q_, sig, call) = _prepare((S, K, T, r, q, sigma), is_call)
    out = np.empty(s_.shape[0], dtype=np.float64)
    _run(_k._price_loop, _k._price_loop_par, out.shape[0], s_, k_, t_, r_, q_, sig, call, out)
    return out.reshape(shape)


def implied_volatility(
    price: ArrayLike,
    S: ArrayLike,
    K: ArrayLike,
    T: ArrayLike,
    r: ArrayLike,
    q: ArrayLike,
    is_call: ArrayLike,
) -> np.ndarray:
    """BSM implied volatility (decimal) of option premiums; NaN where no volatility reproduces the price.

    See the module docstring for the no-arbitrage bounds that yield NaN and for the accuracy limit.
    """
    shape, (p_, s_, k_, t_, r_, q_, call) = _prepare((price, S, K, T, r, q), is_call)
    n = p_.shape[0]
    out = np.empty(n, dtype=np.float64)
    evaluations = np.empty(n, dtype=np.int64)
    _run(_k._iv_loop, _k._iv_loop_par, n, p_, s_, k_, t_, r_, q_, call, out, evaluations)
    return out.reshape(shape)


def bsm_greeks(
    S: ArrayLike,
    K: ArrayLike,
    T: ArrayLike,
    r: ArrayLike,
    q: ArrayLike,
    sigma: ArrayLike,
    is_call: ArrayLike,
) -> Greeks:
    """Analytic BSM delta, gamma, theta (per day), vega (per vol point) and rho (per rate point).

    ``delta = +/- e^{-qT} N(+/- d1)``, ``gamma = e^{-qT} n(d1) / (S sigma sqrt(T))``,
    ``vega = S e^{-qT} n(d1) sqrt(T) / 100``,
    ``theta = (-S e^{-qT} n(d1) sigma / (2 sqrt(T)) -/+ r Kr N(+/- d2) +/- q Sq N(+/- d1)) / 365``,
    ``rho = +/- K T e^{-rT} N(+/- d2) / 100`` (upper signs for calls).
    """
    shape, (s_, k_, t_, r_, q_, sig, call) = _prepare((S, K, T, r, q, sigma), is_call)
    out = np.empty((5, s_.shape[0]), dtype=np.float64)
    _run(_k._greeks_loop, _k._greeks_loop_par, out.shape[1], s_, k_, t_, r_, q_, sig, call, out)
    return Greeks(*(row.reshape(shape) for row in out))


def iv_and_greeks(
    price: ArrayLike,
    S: ArrayLike,
    K: ArrayLike,
    T: ArrayLike,
    r: ArrayLike,
    q: ArrayLike,
    is_call: ArrayLike,
) -> IVGreeks:
    """Implied volatility and the greeks at that volatility in one pass (the snapshot's analytics).

    Rows whose IV cannot be solved have NaN in every field and ``ok = False``.
    """
    shape, (p_, s_, k_, t_, r_, q_, call) = _prepare((price, S, K, T, r, q), is_call)
    out = np.empty((6, p_.shape[0]), dtype=np.float64)
    _run(_k._iv_greeks_loop, _k._iv_greeks_loop_par, out.shape[1], p_, s_, k_, t_, r_, q_, call, out)
    iv = out[0].reshape(shape)
    return IVGreeks(iv, *(row.reshape(shape) for row in out[1:]), ok=np.isfinite(iv))


def warm_up() -> None:
    """Compile (or load from numba's on-disk cache) every kernel, serial and parallel, on tiny inputs."""
    one = np.ones(2, dtype=np.float64)
    z = np.zeros(2, dtype=np.float64)
    call = np.array([True, False])
    price = np.full(2, 0.1)
    out1 = np.empty(2, dtype=np.float64)
    evaluations = np.empty(2, dtype=np.int64)
    kernels = (
        (_k._price_loop, _k._price_loop_par, (one, one, one, z, z, one, call, out1)),
        (_k._iv_loop, _k._iv_loop_par, (price, one, one, one, z, z, call, out1, evaluations)),
        (_k._greeks_loop, _k._greeks_loop_par, (one, one, one, z, z, one, call, np.empty((5, 2)))),
        (_k._iv_greeks_loop, _k._iv_greeks_loop_par, (price, one, one, one, z, z, call, np.empty((6, 2)))),
    )
    for serial, parallel, args in kernels:
        serial(*args)
        with _PARALLEL_LOCK:
            parallel(*args)
