"""Numba kernels behind :mod:`cutemarkets_server.market.greeks` (private; use that module's API).

Normalised coordinates
----------------------
With the discounted spot ``Sq = S e^{-qT}``, the discounted strike ``Kr = K e^{-rT}``, the log-moneyness
against the forward ``x = ln(Sq / Kr) = ln(S / K) + (r - q) T`` and the total volatility ``s = sigma sqrt(T)``,
every Black-Scholes-Merton price is ``sqrt(Sq Kr) * b`` with the normalised price

    b(x, s, call) = e^{x/2} Phi(x/s + s/2) - e^{-x/2} Phi(x/s - s/2),     b(x, s, put) = b(-x, s, call).

Put-call parity turns an in-the-money option into its intrinsic value plus the out-of-the-money option of
the other kind, so the solver only ever inverts an out-of-the-money call, ``x <= 0``, whose normalised price
lies in ``(0, e^{x/2})``. Its derivatives in ``s`` are

    b'(s) = phi*(s) = exp(-x^2 / (2 s^2) - s^2 / 8) / sqrt(2 pi),      b''(s) = b'(s) (x^2 / s^3 - s / 4),

so ``b`` is convex below the inflection point ``s_c = sqrt(-2x)`` and concave above it, where
``b(s_c) = e^{x/2}/2 - e^{-x/2} Phi(-s_c)`` and ``b'(s_c) = e^{x/2} / sqrt(2 pi)``.

Solver
------
* The time value ``price - intrinsic`` is formed as ``(price - (S - K)) - (cs - ck)`` with the
  discounting corrections ``cs = S (e^{-qT} - 1)``, ``ck = K (e^{-rT} - 1)`` from ``expm1``, so a deep
  in-the-money premium loses no information beyond its own rounding; the distance to the upper bound,
  ``e^{x/2} - beta``, is formed the same way from the raw price (``(S - price) + cs`` for calls).
* Below the inflection point the objective is ``ln b(s) - ln beta`` (log space keeps tiny deep
  out-of-the-money prices well scaled; ``ln b`` is evaluated through the Mills ratio when ``b`` itself
  would underflow).
* Above it the objective is ``ln(e^{x/2} - beta) - ln(e^{x/2} - b(s))``; ``e^{x/2} - b`` is evaluated as the
  sum ``e^{x/2} Phi(-x/s - s/2) + e^{-x/2} Phi(x/s - s/2)``, so there is no cancellation near the upper bound.
* Initial guesses: the tangent at the inflection point (exact to third order there, since ``b''(s_c) = 0``),
  a closed-form low-volatility asymptotic below it and a closed-form high-volatility asymptotic above it
  (the latter exact at the money forward up to the accuracy of the inverse normal approximation).
* Iterations are Halley steps on those objectives inside a bracket that only shrinks; a step leaving the
  bracket falls back to Newton, then to (geometric) bisection, so every solve terminates. A Halley step
  smaller than 1e-6 relative (a Newton step smaller than 1e-10) is the last one: the cubic (quadratic)
  convergence leaves an error of order 1e-18 (1e-20) after it.

Conditioning: rounding in the evaluation of ``b`` deep out of the money (relative error up to
``~1e-16 (1 + h^2)(1 + |x| / s^2)``, ``h = x / s``) moves the solution by only ``~1e-16 (s + |h|)`` in ``s``,
because ``d ln b / ds ~ h^2 / s`` there; the accuracy of the implied volatility is limited by the input's
own rounding, not by the evaluation.

All functions are scalar, allocation-free and compiled with ``fastmath=False``; the normal CDF is
``erfc``-based, which is accurate in relative terms far into the lower tail.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

INV_SQRT2 = 0.7071067811865476
SQRT_2PI = 2.5066282746310002
INV_SQRT_2PI = 0.3989422804014327
LN_SQRT_2PI = 0.9189385332046728
DAYS_PER_YEAR = 365.0
MAX_ABS_X = 700.0
MAX_ITER = 100
HALLEY_TOL = 1e-6
NEWTON_TOL = 1e-10
TINY_B = 1e-280
SQRT3 = 1.7320508075688772
LOW_ASYMPTOTIC_C = 1.2091995761561452  # 2 pi / 3^{3/2}
UPPER_W_LO = 0.2
UPPER_W_HI = 0.5

# AS 241 (PPND7) coefficients, Wichura (1988): inverse normal CDF to about 1e-7, used for initial guesses.
_A0, _A1, _A2, _A3 = 3.3871327179, 5.0434271938e01, 1.5929113202e02, 5.9109374720e01
_B1, _B2, _B3 = 1.7895169469e01, 7.8757757664e01, 6.7187563600e01
_C0, _C1, _C2, _C3 = 1.4234372777e00, 2.7568153900e00, 1.3067284816e00, 1.7023821103e-01
_D1, _D2 = 7.3700164250e-01, 1.2021132975e-01
_E0, _E1, _E2, _E3 = 6.6579051150e00, 3.0812263860e00, 4.2868294337e-01, 1.7337203997e-02
_F1, _F2 = 2.4197894225e-01, 1.2258202635e-02


@njit(cache=True, fastmath=False)
def norm_cdf(z: float) -> float:
    """Standard normal CDF via ``erfc`` (relative accuracy holds deep in the lower tail)."""
    return 0.5 * math.erfc(-z * INV_SQRT2)


@njit(cache=True, fastmath=False)
def norm_pdf(z: float) -> float:
    """Standard normal density."""
    return INV_SQRT_2PI * math.exp(-0.5 * z * z)


@njit(cache=True, fastmath=False)
def norm_inv_approx(p: float) -> float:
    """Inverse normal CDF for ``0 < p < 1`` to about 7 significant digits (Wichura's AS 241, PPND7)."""
    q = p - 0.5
    if abs(q) <= 0.425:
        r = 0.180625 - q * q
        num = ((_A3 * r + _A2) * r + _A1) * r + _A0
        den = ((_B3 * r + _B2) * r + _B1) * r + 1.0
        return q * num / den
    r = p if q < 0.0 else 1.0 - p
    r = math.sqrt(-math.log(r))
    if r <= 5.0:
        r -= 1.6
        z = (((_C3 * r + _C2) * r + _C1) * r + _C0) / ((_D2 * r + _D1) * r + 1.0)
    else:
        r -= 5.0
        z = (((_E3 * r + _E2) * r + _E1) * r + _E0) / ((_F2 * r + _F1) * r + 1.0)
    return -z if q < 0.0 else z


@njit(cache=True, fastmath=False)
def mills_lower(z: float) -> float:
    """``Phi(z) / phi(z)`` for ``z <= 0`` without underflow (asymptotic series beyond ``|z| = 20``)."""
    u = -z
    if u < 20.0:
        return SQRT_2PI * 0.5 * math.erfc(u * INV_SQRT2) * math.exp(0.5 * u * u)
    w = 1.0 / (u * u)
    term = 1.0
    total = 1.0
    for n in range(1, 14):
        term *= -(2.0 * n - 1.0) * w
        total += term
    return total / u


@njit(cache=True, fastmath=False)
def ln_phi_star(x: float, s: float) -> float:
    """``ln b'(s)`` for the normalised call: ``-x^2/(2 s^2) - s^2/8 - ln sqrt(2 pi)``."""
    h = x / s
    return -0.5 * (h * h + 0.25 * s * s) - LN_SQRT_2PI


@njit(cache=True, fastmath=False)
def ln_b_otm(x: float, s: float) -> float:
    """``ln b(x, s)`` for an out-of-the-money normalised call (``x <= 0``), ``-inf`` if not representable."""
    h = x / s
    t = 0.5 * s
    z1 = h + t
    z2 = h - t
    ex = math.exp(0.5 * x)
    b = ex * norm_cdf(z1) - norm_cdf(z2) / ex
    if b > TINY_B:
        return math.log(b)
    if z1 >= 0.0:
        return -math.inf
    d = mills_lower(z1) - mills_lower(z2)
    if d > 0.0:
        return ln_phi_star(x, s) + math.log(d)
    return -math.inf


@njit(cache=True, fastmath=False)
def ln_c_otm(x: float, s: float) -> float:
    """``ln(e^{x/2} - b(x, s))`` for an out-of-the-money normalised call, computed as a sum of tails."""
    h = x / s
    t = 0.5 * s
    ex = math.exp(0.5 * x)
    c = ex * norm_cdf(-(h + t)) + norm_cdf(h - t) / ex
    if c > 0.0:
        return math.log(c)
    return -math.inf


@njit(cache=True, fastmath=False)
def b_otm(x: float, s: float) -> float:
    """Normalised out-of-the-money call price ``b(x, s)``, ``x <= 0``."""
    h = x / s
    t = 0.5 * s
    ex = math.exp(0.5 * x)
    b = ex * norm_cdf(h + t) - norm_cdf(h - t) / ex
    return b if b > 0.0 else 0.0


@njit(cache=True, fastmath=False)
def _guess_lower(x: float, beta: float, s_c: float, b_c: float) -> float:
    """Initial total volatility below the inflection point (``beta < b(s_c)``).

    Two closed forms, both of which over-estimate the root: the tangent at the inflection point (exact
    to third order there; ``b`` is convex below ``s_c`` so the tangent under-estimates ``b``), and the
    low-volatility asymptotic ``b ~ (2 pi |x| / 3^{3/2}) Phi(-|x| / (sqrt(3) s))^3``, which has the exact
    leading behaviour ``exp(-x^2 / (2 s^2)) s^3 / (x^2 sqrt(2 pi))`` as ``s -> 0``. The smaller one wins.
    """
    ax = -x
    s_t = s_c + (beta - b_c) * SQRT_2PI * math.exp(-0.5 * x)
    p = math.exp(math.log(beta / (LOW_ASYMPTOTIC_C * ax)) / 3.0)
    if p < 0.5:
        s_a = ax / (SQRT3 * -norm_inv_approx(p))
        if s_a < s_t or not s_t > 0.0:
            s_t = s_a
    if s_t > 0.0 and s_t < s_c:
        return s_t
    return 0.5 * s_c


@njit(cache=True, fastmath=False)
def _guess_upper(x: float, beta: float, gamma: float, s_c: float, b_c: float) -> float:
    """Initial total volatility above the inflection point (``beta >= b(s_c)``).

    The tangent at the inflection point under-estimates the root (``b`` is concave above ``s_c``); the
    high-volatility asymptotic ``e^{x/2} - b ~ 2 e^{x/2} Phi(-x/s - s/2)``, solved as a quadratic in ``s``,
    is exact at the money and over-estimates the root elsewhere. Far from ``s_c`` the asymptotic is used,
    close to it the tangent, and in between their mean.
    """
    ex = math.exp(0.5 * x)
    w = gamma / ex
    y = -norm_inv_approx(0.5 * w)
    s_d = y + math.sqrt(y * y - 2.0 * x)
    if s_c == 0.0:
        return s_d
    s_t = s_c + (beta - b_c) * SQRT_2PI / ex
    if w < UPPER_W_LO:
        return s_d
    if w > UPPER_W_HI:
        return s_t
    return 0.5 * (s_t + s_d)


@njit(cache=True, fastmath=False)
def _objective(x: float, s: float, upper: bool, ln_target: float) -> tuple[float, float, float]:
    """Increasing objective ``f(s)`` and its first two derivatives.

    Lower branch: ``f = ln b(s) - ln beta``. Upper branch: ``f = ln(e^{x/2} - beta) - ln(e^{x/2} - b(s))``.
    """
    k = x * x / (s * s * s) - 0.25 * s
    lp = ln_phi_star(x, s)
    if upper:
        lnc = ln_c_otm(x, s)
        mu = math.exp(lp - lnc)
        return ln_target - lnc, mu, mu * k + mu * mu
    lnb = ln_b_otm(x, s)
    nu = math.exp(lp - lnb)
    return lnb - ln_target, nu, nu * k - nu * nu


@njit(cache=True, fastmath=False)
def solve_otm(x: float, beta: float, gamma: float) -> tuple[float, int]:
    """Total volatility ``s`` with ``b(x, s) = beta`` for ``x <= 0``, ``0 < beta < e^{x/2}``.

    ``gamma = e^{x/2} - beta`` is passed separately so it can be formed without cancellation. Returns
    ``(s, evaluations)``; ``s`` is NaN if no solution was found.
    """
    s_c = math.sqrt(-2.0 * x)
    ex = math.exp(0.5 * x)
    b_c = 0.5 * ex - norm_cdf(-s_c) / ex if s_c > 0.0 else 0.0
    upper = not beta < b_c
    if upper:
        ln_target = math.log(gamma)
        s = _guess_upper(x, beta, gamma, s_c, b_c)
        lo = s_c
        hi = math.inf
    else:
        ln_target = math.log(beta)
        s = _guess_lower(x, beta, s_c, b_c)
        lo = 0.0
        hi = s_c
    for it in range(MAX_ITER):
        f, f1, f2 = _objective(x, s, upper, ln_target)
        if f == 0.0:
            return s, it + 1
        if f < 0.0:
            lo = s
        elif f > 0.0:
            hi = s
        newton = -f / f1
        denom = 1.0 + 0.5 * newton * f2 / f1
        if denom > 0.5 and denom < 2.0:
            step = newton / denom
            if abs(step) <= HALLEY_TOL * s:
                return s + step, it + 1
        else:
            step = newton
            if abs(step) <= NEWTON_TOL * s:
                return s + step, it + 1
        s_new = s + step
        if not (s_new > lo and s_new < hi):
            s_new = s + newton
            if not (s_new > lo and s_new < hi):
                if hi == math.inf:
                    s_new = 2.0 * max(s, lo, 0.5)
                elif lo > 0.0:
                    s_new = math.sqrt(lo * hi)
                else:
                    s_new = 0.5 * hi
        if hi - lo <= 4e-16 * hi and hi < math.inf:
            return 0.5 * (lo + hi), it + 1
        s = s_new
    return math.nan, MAX_ITER


@njit(cache=True, fastmath=False)
def _valid_market(s_: float, k_: float, t_: float, r_: float, q_: float) -> bool:
    return (
        math.isfinite(s_)
        and math.isfinite(k_)
        and math.isfinite(t_)
        and math.isfinite(r_)
        and math.isfinite(q_)
        and s_ > 0.0
        and k_ > 0.0
        and t_ > 0.0
    )


@njit(cache=True, fastmath=False)
def _forward_parts(s_: float, k_: float, t_: float, r_: float, q_: float) -> tuple[float, float]:
    """``(S e^{-qT} - S, K e^{-rT} - K)`` via ``expm1``: the small discounting corrections, each accurate
    to its own ulp, so that ``Sq - Kr = (S - K) + (cs - ck)`` keeps the precision of ``S - K``."""
    return s_ * math.expm1(-q_ * t_), k_ * math.expm1(-r_ * t_)


@njit(cache=True, fastmath=False)
def price_row(s_: float, k_: float, t_: float, r_: float, q_: float, sigma: float, call: bool) -> float:
    """BSM price of one option (NaN for invalid inputs): intrinsic value plus out-of-the-money value."""
    if not (_valid_market(s_, k_, t_, r_, q_) and math.isfinite(sigma) and sigma > 0.0):
        return math.nan
    x = math.log(s_ / k_) + (r_ - q_) * t_
    if abs(x) > MAX_ABS_X:
        return math.nan
    cs, ck = _forward_parts(s_, k_, t_, r_, q_)
    tv = math.sqrt(s_ + cs) * math.sqrt(k_ + ck) * b_otm(-abs(x), sigma * math.sqrt(t_))
    if call and x > 0.0:
        return tv + ((s_ - k_) + (cs - ck))
    if not call and x < 0.0:
        return tv + ((k_ - s_) + (ck - cs))
    return tv


@njit(cache=True, fastmath=False)
def iv_row(p_: float, s_: float, k_: float, t_: float, r_: float, q_: float, call: bool) -> tuple[float, int]:
    """Implied volatility of one option and the solver's evaluation count (NaN, 0 when not solvable).

    The time value ``price - intrinsic`` and the distance to the upper bound are formed as
    ``(price - (S - K)) - (cs - ck)`` and ``(S - price) + cs`` (calls; puts alike), which are exact up to the
    input's own rounding for deep in-the-money options.
    """
    if not (_valid_market(s_, k_, t_, r_, q_) and math.isfinite(p_) and p_ > 0.0):
        return math.nan, 0
    x = math.log(s_ / k_) + (r_ - q_) * t_
    if abs(x) > MAX_ABS_X:
        return math.nan, 0
    cs, ck = _forward_parts(s_, k_, t_, r_, q_)
    if call:
        headroom = (s_ - p_) + cs
        tv = (p_ - (s_ - k_)) - (cs - ck) if x > 0.0 else p_
    else:
        headroom = (k_ - p_) + ck
        tv = (p_ - (k_ - s_)) - (ck - cs) if x < 0.0 else p_
    if not (tv > 0.0 and headroom > 0.0):
        return math.nan, 0
    scale = math.sqrt(s_ + cs) * math.sqrt(k_ + ck)
    beta = tv / scale
    gamma = headroom / scale
    xo = -abs(x)
    if not (beta > 0.0 and gamma > 0.0 and beta < math.exp(0.5 * xo)):
        return math.nan, 0
    s, n = solve_otm(xo, beta, gamma)
    return s / math.sqrt(t_), n


@njit(cache=True, fastmath=False)
def greeks_row(
    s_: float, k_: float, t_: float, r_: float, q_: float, sigma: float, call: bool
) -> tuple[float, float, float, float, float]:
    """(delta, gamma, theta per calendar day, vega per vol point, rho per rate point); NaN if invalid."""
    nan = math.nan
    if not (_valid_market(s_, k_, t_, r_, q_) and math.isfinite(sigma) and sigma > 0.0):
        return nan, nan, nan, nan, nan
    x = math.log(s_ / k_) + (r_ - q_) * t_
    if abs(x) > MAX_ABS_X:
        return nan, nan, nan, nan, nan
    sqrt_t = math.sqrt(t_)
    tot = sigma * sqrt_t
    d1 = x / tot + 0.5 * tot
    d2 = d1 - tot
    dq = math.exp(-q_ * t_)
    sq = s_ * dq
    kr = k_ * math.exp(-r_ * t_)
    pdf1 = norm_pdf(d1)
    gamma = dq * pdf1 / (s_ * tot)
    vega = sq * pdf1 * sqrt_t
    decay = -sq * pdf1 * sigma / (2.0 * sqrt_t)
    if call:
        n1 = norm_cdf(d1)
        n2 = norm_cdf(d2)
        delta = dq * n1
        theta = decay - r_ * kr * n2 + q_ * sq * n1
        rho = kr * t_ * n2
    else:
        n1 = norm_cdf(-d1)
        n2 = norm_cdf(-d2)
        delta = -dq * n1
        theta = decay + r_ * kr * n2 - q_ * sq * n1
        rho = -kr * t_ * n2
    return delta, gamma, theta / DAYS_PER_YEAR, vega / 100.0, rho / 100.0


@njit(cache=True, fastmath=False)
def _price_loop(
    s_: np.ndarray,
    k_: np.ndarray,
    t_: np.ndarray,
    r_: np.ndarray,
    q_: np.ndarray,
    sig: np.ndarray,
    call: np.ndarray,
    out: np.ndarray,
) -> None:
    for i in range(out.shape[0]):
        out[i] = price_row(s_[i], k_[i], t_[i], r_[i], q_[i], sig[i], call[i])


@njit(cache=True, fastmath=False, parallel=True)
def _price_loop_par(
    s_: np.ndarray,
    k_: np.ndarray,
    t_: np.ndarray,
    r_: np.ndarray,
    q_: np.ndarray,
    sig: np.ndarray,
    call: np.ndarray,
    out: np.ndarray,
) -> None:
    for i in prange(out.shape[0]):
        out[i] = price_row(s_[i], k_[i], t_[i], r_[i], q_[i], sig[i], call[i])


@njit(cache=True, fastmath=False)
def _iv_loop(
    p_: np.ndarray,
    s_: np.ndarray,
    k_: np.ndarray,
    t_: np.ndarray,
    r_: np.ndarray,
    q_: np.ndarray,
    call: np.ndarray,
    out: np.ndarray,
    iters: np.ndarray,
) -> None:
    for i in range(out.shape[0]):
        out[i], iters[i] = iv_row(p_[i], s_[i], k_[i], t_[i], r_[i], q_[i], call[i])


@njit(cache=True, fastmath=False, parallel=True)
def _iv_loop_par(
    p_: np.ndarray,
    s_: np.ndarray,
    k_: np.ndarray,
    t_: np.ndarray,
    r_: np.ndarray,
    q_: np.ndarray,
    call: np.ndarray,
    out: np.ndarray,
    iters: np.ndarray,
) -> None:
    for i in prange(out.shape[0]):
        out[i], iters[i] = iv_row(p_[i], s_[i], k_[i], t_[i], r_[i], q_[i], call[i])


@njit(cache=True, fastmath=False)
def _greeks_loop(
    s_: np.ndarray,
    k_: np.ndarray,
    t_: np.ndarray,
    r_: np.ndarray,
    q_: np.ndarray,
    sig: np.ndarray,
    call: np.ndarray,
    out: np.ndarray,
) -> None:
    for i in range(out.shape[1]):
        g = greeks_row(s_[i], k_[i], t_[i], r_[i], q_[i], sig[i], call[i])
        out[0, i], out[1, i], out[2, i], out[3, i], out[4, i] = g


@njit(cache=True, fastmath=False, parallel=True)
def _greeks_loop_par(
    s_: np.ndarray,
    k_: np.ndarray,
    t_: np.ndarray,
    r_: np.ndarray,
    q_: np.ndarray,
    sig: np.ndarray,
    call: np.ndarray,
    out: np.ndarray,
) -> None:
    for i in prange(out.shape[1]):
        g = greeks_row(s_[i], k_[i], t_[i], r_[i], q_[i], sig[i], call[i])
        out[0, i], out[1, i], out[2, i], out[3, i], out[4, i] = g


@njit(cache=True, fastmath=False)
def _iv_greeks_row_into(
    p_: float,
    s_: float,
    k_: float,
    t_: float,
    r_: float,
    q_: float,
    call: bool,
    out: np.ndarray,
    i: int,
) -> None:
    iv, _ = iv_row(p_, s_, k_, t_, r_, q_, call)
    out[0, i] = iv
    if iv == iv:
        g = greeks_row(s_, k_, t_, r_, q_, iv, call)
        out[1, i], out[2, i], out[3, i], out[4, i], out[5, i] = g
    else:
        for j in range(1, 6):
            out[j, i] = np.nan


@njit(cache=True, fastmath=False)
def _iv_greeks_loop(
    p_: np.ndarray,
    s_: np.ndarray,
    k_: np.ndarray,
    t_: np.ndarray,
    r_: np.ndarray,
    q_: np.ndarray,
    call: np.ndarray,
    out: np.ndarray,
) -> None:
    for i in range(out.shape[1]):
        _iv_greeks_row_into(p_[i], s_[i], k_[i], t_[i], r_[i], q_[i], call[i], out, i)


@njit(cache=True, fastmath=False, parallel=True)
def _iv_greeks_loop_par(
    p_: np.ndarray,
    s_: np.ndarray,
    k_: np.ndarray,
    t_: np.ndarray,
    r_: np.ndarray,
    q_: np.ndarray,
    call: np.ndarray,
    out: np.ndarray,
) -> None:
    for i in prange(out.shape[1]):
        _iv_greeks_row_into(p_[i], s_[i], k_[i], t_[i], r_[i], q_[i], call[i], out, i)
