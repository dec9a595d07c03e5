"""Black-Scholes-Merton engine: prices, implied volatility and greeks against independent oracles.

Oracles used only here: ``py_vollib`` (Jäckel's "Let's Be Rational" prices/IV and its analytical greeks,
whose theta is per day /365 and vega and rho per 1 % — the same units as ours) and ``mpmath``
(50-digit evaluation of the closed form).
"""

from __future__ import annotations

import itertools
import threading
import warnings

import mpmath as mp
import numpy as np
import pytest

from cutemarkets_server.market import greeks as gk
from cutemarkets_server.market import greeks_kernels
from cutemarkets_server.market.greeks import (
    Greeks,
    IVGreeks,
    bsm_greeks,
    bsm_price,
    implied_volatility,
    iv_and_greeks,
    warm_up,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from py_vollib.black_scholes_merton import black_scholes_merton as vollib_price
    from py_vollib.black_scholes_merton.greeks import analytical as vollib_greeks
    from py_vollib.black_scholes_merton.implied_volatility import implied_volatility as vollib_iv

IV_TOL = 1e-6
EPS = float(np.finfo(np.float64).eps)
# A row is "well conditioned" when sigma +/- 1e-6 moves the price by this many float64 steps of the price.
COND_MARGIN = 64.0

MONEYNESS = [0.5, 0.6, 0.75, 0.9, 0.97, 1.0, 1.03, 1.1, 1.25, 1.5, 2.0]  # K / S
EXPIRIES = [1 / (365 * 24), 0.25 / 365, 1 / 365, 7 / 365, 30 / 365, 0.25, 1.0, 3.0]  # years
VOLS = [0.05, 0.1, 0.2, 0.4, 0.8, 1.2, 2.0]
RATES = [(0.0, 0.0), (0.05, 0.02), (0.1, 0.0), (-0.01, 0.03)]  # (r, q)


def _grid() -> dict[str, np.ndarray]:
    rows = list(itertools.product(MONEYNESS, EXPIRIES, VOLS, RATES, (True, False)))
    m, t, sig, rq, call = zip(*rows, strict=True)
    n = len(rows)
    return {
        "S": np.full(n, 100.0),
        "K": 100.0 * np.asarray(m),
        "T": np.asarray(t),
        "r": np.asarray([a for a, _ in rq]),
        "q": np.asarray([b for _, b in rq]),
        "sigma": np.asarray(sig),
        "call": np.asarray(call),
    }


GRID = _grid()


def _flag(call: bool) -> str:
    return "c" if call else "p"


def _bounds(g: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Discounted spot, discounted strike, intrinsic value and upper bound per row."""
    cs = g["S"] * np.expm1(-g["q"] * g["T"])
    ck = g["K"] * np.expm1(-g["r"] * g["T"])
    sq = g["S"] + cs
    kr = g["K"] + ck
    # Sq - Kr = (S - K) + (cs - ck) keeps the precision of S - K for deep in-the-money rows.
    forward_intrinsic = (g["S"] - g["K"]) + (cs - ck)
    intrinsic = np.where(g["call"], np.maximum(forward_intrinsic, 0.0), np.maximum(-forward_intrinsic, 0.0))
    upper = np.where(g["call"], sq, kr)
    return sq, kr, intrinsic, upper


def _resolution(price: np.ndarray) -> np.ndarray:
    """Float64 resolution of the information in a premium: its ulp (in the money too, since the time value
    is formed without further rounding)."""
    return np.spacing(price)


def _raw_vega(g: dict[str, np.ndarray]) -> np.ndarray:
    """dPrice/dsigma (per unit volatility) computed independently of the module."""
    s = g["sigma"] * np.sqrt(g["T"])
    d1 = (np.log(g["S"] / g["K"]) + (g["r"] - g["q"]) * g["T"]) / s + 0.5 * s
    return g["S"] * np.exp(-g["q"] * g["T"] - 0.5 * d1 * d1) / np.sqrt(2 * np.pi) * np.sqrt(g["T"])


def _well_conditioned(price: np.ndarray, g: dict[str, np.ndarray]) -> np.ndarray:
    _, _, intrinsic, upper = _bounds(g)
    inside = (price > intrinsic) & (price < upper) & (price > 0.0)
    return inside & (_raw_vega(g) * IV_TOL >= COND_MARGIN * _resolution(price))


def _mp_price(s: float, k: float, t: float, r: float, q: float, sigma: float, call: bool) -> mp.mpf:
    """The closed form evaluated with 50 significant digits from the exact float64 inputs."""
    with mp.workdps(50):
        s, k, t, r, q, sigma = (mp.mpf(float(v)) for v in (s, k, t, r, q, sigma))
        vol = sigma * mp.sqrt(t)
        d1 = (mp.log(s / k) + (r - q) * t) / vol + vol / 2
        d2 = d1 - vol
        sq = s * mp.exp(-q * t)
        kr = k * mp.exp(-r * t)
        if call:
            return sq * mp.ncdf(d1) - kr * mp.ncdf(d2)
        return kr * mp.ncdf(-d2) - sq * mp.ncdf(-d1)


def _args(g: dict[str, np.ndarray], *names: str) -> list[np.ndarray]:
    return [g[n] for n in names]


@pytest.fixture(scope="module", autouse=True)
def _compiled() -> None:
    warm_up()


# ---------------------------------------------------------------------------------------------- prices


def test_price_matches_vollib_on_grid() -> None:
    g = GRID
    ours = bsm_price(*_args(g, "S", "K", "T", "r", "q", "sigma", "call"))
    ref = np.array(
        [
            vollib_price(_flag(c), s, k, t, r, v, q)
            for s, k, t, r, q, v, c in zip(*_args(g, "S", "K", "T", "r", "q", "sigma", "call"), strict=True)
        ]
    )
    sq, kr, _, _ = _bounds(g)
    # Absolute agreement at the resolution of the quantities involved...
    assert np.max(np.abs(ours - ref) / (sq + kr)) < 1e-15
    # ...and relative agreement wherever the normalised premium is not astronomically small.
    sizeable = ref > 1e-8 * np.sqrt(sq * kr)
    assert sizeable.sum() > 0.6 * len(ref)
    assert np.max(np.abs(ours[sizeable] / ref[sizeable] - 1.0)) < 1e-11


def test_price_matches_50_digit_closed_form() -> None:
    rng = np.random.default_rng(11)
    n = 300
    g = {
        "S": np.exp(rng.uniform(np.log(1.0), np.log(5000.0), n)),
        "T": np.exp(rng.uniform(np.log(1e-4), np.log(5.0), n)),
        "sigma": np.exp(rng.uniform(np.log(0.02), np.log(3.0), n)),
        "r": rng.uniform(-0.02, 0.12, n),
        "q": rng.uniform(-0.01, 0.08, n),
        "call": rng.random(n) < 0.5,
    }
    g["K"] = g["S"] * np.exp(rng.uniform(-1.0, 1.0, n))
    exact = [_mp_price(*row) for row in zip(*_args(g, "S", "K", "T", "r", "q", "sigma", "call"), strict=True)]
    ours = bsm_price(*_args(g, "S", "K", "T", "r", "q", "sigma", "call"))
    sq, kr, _, _ = _bounds(g)
    x = np.log(g["S"] / g["K"]) + (g["r"] - g["q"]) * g["T"]
    s = g["sigma"] * np.sqrt(g["T"])
    for i, e in enumerate(exact):
        err = abs(mp.mpf(ours[i]) - e)
        assert err <= 4e-16 * (sq[i] + kr[i]), i
        if e > 1e-290 and (x[i] > 0) != bool(g["call"][i]):
            # Relative accuracy of an out-of-the-money normal-range premium: limited by the rounding of h = x / s (error
            # ~ eps h^2 in exp(-h^2 / 2), as for any float64 evaluation) and by the out-of-the-money
            # cancellation ~ |x| / s^2.
            h = x[i] / s[i]
            assert err / e <= 8 * EPS * (1 + h * h) * (1 + abs(x[i]) / s[i] ** 2), i


def test_put_call_parity() -> None:
    g = GRID
    base = _args(g, "S", "K", "T", "r", "q", "sigma")
    sq, kr, _, _ = _bounds(g)
    call = bsm_price(*base, True)
    put = bsm_price(*base, False)
    np.testing.assert_allclose(call - put, sq - kr, rtol=0, atol=4e-14 * 200)
    gc = bsm_greeks(*base, True)
    gp = bsm_greeks(*base, False)
    np.testing.assert_allclose(gc.delta - gp.delta, np.exp(-g["q"] * g["T"]), rtol=0, atol=1e-15)
    np.testing.assert_allclose(gc.gamma, gp.gamma, rtol=1e-15, atol=0)
    np.testing.assert_allclose(gc.vega, gp.vega, rtol=1e-15, atol=0)
    np.testing.assert_allclose(gc.theta - gp.theta, (g["q"] * sq - g["r"] * kr) / 365.0, rtol=0, atol=1e-13)
    np.testing.assert_allclose(gc.rho - gp.rho, kr * g["T"] / 100.0, rtol=0, atol=1e-13)
    # Implied volatilities of a call and a put at the same strike agree where both are well conditioned.
    iv_c = implied_volatility(call, *base[:5], True)
    iv_p = implied_volatility(put, *base[:5], False)
    both = _well_conditioned(call, {**g, "call": np.ones_like(g["call"])}) & _well_conditioned(
        put, {**g, "call": np.zeros_like(g["call"])}
    )
    assert both.sum() > 0.4 * len(call)
    assert np.max(np.abs(iv_c[both] - iv_p[both])) < 2 * IV_TOL


# ---------------------------------------------------------------------------------------------- greeks


@pytest.mark.parametrize("name", ["delta", "gamma", "theta", "vega", "rho"])
def test_greeks_match_vollib_in_snapshot_units(name: str) -> None:
    g = GRID
    ours = getattr(bsm_greeks(*_args(g, "S", "K", "T", "r", "q", "sigma", "call")), name)
    fn = getattr(vollib_greeks, name)
    ref = np.array(
        [
            fn(_flag(c), s, k, t, r, v, q)
            for s, k, t, r, q, v, c in zip(*_args(g, "S", "K", "T", "r", "q", "sigma", "call"), strict=True)
        ]
    )
    scale = np.max(np.abs(ref))
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-15 * scale)


def test_greek_units_by_finite_differences() -> None:
    """delta, gamma per $1; theta per calendar day (-dV/dT / 365); vega, rho per point (/100)."""
    s, k, t, r, q, v = 100.0, 105.0, 30 / 365, 0.045, 0.015, 0.35
    for call in (True, False):

        def p(s_: float = s, t_: float = t, r_: float = r, v_: float = v, c: bool = call) -> float:
            return float(bsm_price(s_, k, t_, r_, q, v_, c))

        gr = bsm_greeks(s, k, t, r, q, v, call)
        h = 1e-3
        assert float(gr.delta) == pytest.approx((p(s_=s + h) - p(s_=s - h)) / (2 * h), rel=1e-7)
        assert float(gr.gamma) == pytest.approx((p(s_=s + h) - 2 * p() + p(s_=s - h)) / h**2, rel=1e-4)
        dv = 1e-5
        assert float(gr.vega) == pytest.approx((p(v_=v + dv) - p(v_=v - dv)) / (2 * dv) / 100, rel=1e-7)
        dr = 1e-6
        assert float(gr.rho) == pytest.approx((p(r_=r + dr) - p(r_=r - dr)) / (2 * dr) / 100, rel=1e-6)
        one_day = 1 / 365
        # Theta is the value change for one calendar day passing (T shrinks), to first order.
        dt = 1e-6
        assert float(gr.theta) == pytest.approx(-(p(t_=t + dt) - p(t_=t - dt)) / (2 * dt) * one_day, rel=1e-6)


def test_greek_units_match_the_snapshot_sample() -> None:
    """SEED-004: NFLX 100 call, underlying 94.79, IV 0.6950, roughly half a day to expiry.

    The vendor's exact inputs (time, rate) are not published, so this pins the units only: a factor of
    100 or 365 anywhere would miss by orders of magnitude, while the model agrees within 15 %.
    """
    sample = {
        "delta": 0.02481795338171621,
        "gamma": 0.022072818287936315,
        "theta": -0.13121396656786571,
        "vega": 0.0019964356066287225,
    }
    gr = bsm_greeks(94.79, 100.0, 0.54 / 365, 0.0, 0.0, 0.6950024226241469, True)
    for name, value in sample.items():
        assert float(getattr(gr, name)) == pytest.approx(value, rel=0.15), name


# ---------------------------------------------------------------------------------------------- IV


def test_iv_round_trip_over_grid() -> None:
    g = GRID
    price = bsm_price(*_args(g, "S", "K", "T", "r", "q", "sigma", "call"))
    iv = implied_volatility(price, *_args(g, "S", "K", "T", "r", "q", "call"))
    _, _, intrinsic, upper = _bounds(g)
    well = _well_conditioned(price, g)
    assert well.sum() > 0.5 * len(price)
    err = np.abs(iv - g["sigma"])
    assert np.all(np.isfinite(iv[well]))
    assert np.max(err[well]) < IV_TOL
    # Typically the recovery is far better than the requirement.
    assert np.median(err[well]) < 1e-12
    # Beyond the conditioning limit: every price with a clearly positive time value is solved, and every
    # solved price reprices to the resolution of the input; a price that rounds to its intrinsic value
    # carries no volatility information and may be NaN.
    ill = ~well & (price > 0.0) & (price < upper)
    res = _resolution(price)
    assert ill.sum() > 0
    assert np.all(np.isfinite(iv[ill & (price - intrinsic > 4 * res)]))
    solved = ill & np.isfinite(iv)
    reprice = bsm_price(g["S"], g["K"], g["T"], g["r"], g["q"], np.where(solved, iv, 1.0), g["call"])
    assert np.all(np.abs(reprice[solved] - price[solved]) <= 2 * res[solved])
    assert np.all(np.isnan(iv[price <= 0.0]))


def test_iv_of_vollib_prices_recovers_sigma() -> None:
    """IV of prices from an independent pricer (Let's Be Rational) against the true volatility."""
    g = GRID
    price = np.array(
        [
            vollib_price(_flag(c), s, k, t, r, v, q)
            for s, k, t, r, q, v, c in zip(*_args(g, "S", "K", "T", "r", "q", "sigma", "call"), strict=True)
        ]
    )
    iv = implied_volatility(price, *_args(g, "S", "K", "T", "r", "q", "call"))
    well = _well_conditioned(price, g)
    assert well.sum() > 0.5 * len(price)
    assert np.max(np.abs(iv[well] - g["sigma"][well])) < IV_TOL


def test_iv_matches_vollib_iv() -> None:
    rng = np.random.default_rng(3)
    idx = rng.choice(len(GRID["S"]), size=600, replace=False)
    g = {k: v[idx] for k, v in GRID.items()}
    price = bsm_price(*_args(g, "S", "K", "T", "r", "q", "sigma", "call"))
    ours = implied_volatility(price, *_args(g, "S", "K", "T", "r", "q", "call"))
    well = _well_conditioned(price, g)
    checked = 0
    for i in np.flatnonzero(well):
        ref = vollib_iv(price[i], g["S"][i], g["K"][i], g["T"][i], g["r"][i], g["q"][i], _flag(g["call"][i]))
        assert abs(ours[i] - ref) < IV_TOL, i
        checked += 1
    assert checked > 250


def test_iv_from_exact_prices_random_and_extreme() -> None:
    """50-digit prices rounded once to float64, wide ranges incl. minutes to expiry and vol up to 400 %."""
    rng = np.random.default_rng(7)
    n = 500
    g = {
        "S": np.full(n, 100.0),
        "T": np.exp(rng.uniform(np.log(1e-5), np.log(10.0), n)),
        "sigma": np.exp(rng.uniform(np.log(0.01), np.log(4.0), n)),
        "r": rng.uniform(-0.02, 0.12, n),
        "q": rng.uniform(-0.01, 0.08, n),
        "call": rng.random(n) < 0.5,
    }
    g["K"] = 100.0 * np.exp(rng.uniform(-2.0, 2.0, n))
    price = np.array(
        [float(_mp_price(*row)) for row in zip(*_args(g, "S", "K", "T", "r", "q", "sigma", "call"), strict=True)]
    )
    iv = implied_volatility(price, *_args(g, "S", "K", "T", "r", "q", "call"))
    well = _well_conditioned(price, g)
    assert well.sum() > 150
    assert np.max(np.abs(iv[well] - g["sigma"][well])) < IV_TOL


@pytest.mark.parametrize(
    ("k", "t", "sigma", "call"),
    [
        (100.0, 1 / (365 * 24 * 6), 0.2, True),  # ten minutes, at the money
        (100.0, 1 / (365 * 24), 0.15, False),  # last hour, at the money
        (101.0, 1 / (365 * 24), 0.3, True),  # last hour, 1 % out of the money
        (99.0, 3 / (365 * 24), 0.25, False),  # last three hours
        (300.0, 2.0, 0.3, True),  # deep out of the money, premium ~ 1e-2
        (20.0, 1.0, 0.5, False),  # deep out of the money put, premium ~ 1e-4
        (130.0, 7 / 365, 0.4, True),  # one week, 30 % out of the money, premium ~ 1e-6
        (60.0, 0.5, 0.9, True),  # deep in the money, high vol (well conditioned)
        (150.0, 1.0, 0.6, False),  # deep in the money put
        (100.0, 3.0, 4.0, True),  # near the upper bound
    ],
)
def test_last_day_and_deep_moneyness_cases(k: float, t: float, sigma: float, call: bool) -> None:
    s, r, q = 100.0, 0.04, 0.01
    price = bsm_price(s, k, t, r, q, sigma, call)
    g = {
        "S": np.array([s]),
        "K": np.array([k]),
        "T": np.array([t]),
        "r": np.array([r]),
        "q": np.array([q]),
        "sigma": np.array([sigma]),
        "call": np.array([call]),
    }
    assert _well_conditioned(np.atleast_1d(price), g)[0]
    res = iv_and_greeks(price, s, k, t, r, q, call)
    assert bool(res.ok)
    assert abs(float(res.iv) - sigma) < IV_TOL
    direct = bsm_greeks(s, k, t, r, q, sigma, call)
    for name in ("delta", "gamma", "theta", "vega", "rho"):
        assert float(getattr(res, name)) == pytest.approx(float(getattr(direct, name)), rel=1e-6, abs=1e-12)


def test_solver_needs_at_most_three_evaluations() -> None:
    """Initial guesses plus Halley steps: <= 3 objective evaluations per option on the grid and on a wide
    random sample (subnormal premiums, which carry only a few bits, are exempt)."""
    rng = np.random.default_rng(17)
    n = 20_000
    wide = {
        "S": np.full(n, 100.0),
        "K": 100.0 * np.exp(rng.uniform(-3.0, 3.0, n)),
        "T": np.exp(rng.uniform(np.log(1e-5), np.log(10.0), n)),
        "sigma": np.exp(rng.uniform(np.log(0.01), np.log(5.0), n)),
        "r": rng.uniform(-0.02, 0.12, n),
        "q": rng.uniform(-0.01, 0.08, n),
        "call": rng.random(n) < 0.5,
    }
    for g in (GRID, wide):
        price = bsm_price(*_args(g, "S", "K", "T", "r", "q", "sigma", "call"))
        iv = np.empty_like(price)
        evaluations = np.empty(price.shape, dtype=np.int64)
        greeks_kernels._iv_loop(price, *_args(g, "S", "K", "T", "r", "q", "call"), iv, evaluations)
        normal = np.isfinite(iv) & (price >= np.finfo(np.float64).tiny)
        assert normal.sum() > 0.3 * len(price)
        assert evaluations[normal].max() <= 3
        assert evaluations[normal].mean() < 2.6


def test_tiny_deep_out_of_the_money_prices_converge_in_log_space() -> None:
    s, t, r, q = 100.0, 10 / 365, 0.03, 0.0
    for k, sigma in [(200.0, 0.25), (160.0, 0.2), (130.0, 0.05)]:
        price = float(bsm_price(s, k, t, r, q, sigma, True))
        assert 1e-300 < price < 1e-40
        iv = float(implied_volatility(price, s, k, t, r, q, True))
        assert abs(iv - sigma) < 1e-9


def test_ill_conditioned_deep_in_the_money_reprices() -> None:
    # One-day 50-strike call on a 100 stock at 20 % vol: the time value is far below ulp(100).
    s, k, t, r, q, sigma = 100.0, 50.0, 1 / 365, 0.05, 0.0, 0.2
    intrinsic = s - k * np.exp(-r * t)
    price = float(bsm_price(s, k, t, r, q, sigma, True))
    assert price == intrinsic
    assert np.isnan(implied_volatility(price, s, k, t, r, q, True))
    # A quoted premium one cent above intrinsic is solvable and reprices exactly.
    iv = float(implied_volatility(intrinsic + 0.01, s, k, t, r, q, True))
    assert np.isfinite(iv) and iv > 1.0
    assert float(bsm_price(s, k, t, r, q, iv, True)) == pytest.approx(intrinsic + 0.01, abs=1e-12)


# ---------------------------------------------------------------------------------------------- NaN rules


def _nan_everywhere(res: IVGreeks, mask: np.ndarray) -> None:
    for name in ("iv", "delta", "gamma", "theta", "vega", "rho"):
        assert np.all(np.isnan(getattr(res, name)[mask])), name
    assert not np.any(res.ok[mask])


def test_nan_outside_no_arbitrage_bounds() -> None:
    s, k, t, r, q = 100.0, 90.0, 0.5, 0.05, 0.02
    sq = s * np.exp(-q * t)
    kr = k * np.exp(-r * t)
    call_intrinsic = sq - kr
    put_s, put_k = 100.0, 110.0
    put_intrinsic = put_k * np.exp(-r * t) - put_s * np.exp(-q * t)
    price = np.array(
        [
            call_intrinsic - 0.01,  # call below discounted intrinsic
            call_intrinsic,  # call exactly at intrinsic
            sq,  # call at the upper bound
            sq + 1.0,  # call above the upper bound
            put_intrinsic - 0.01,  # put below discounted intrinsic
            put_k * np.exp(-r * t),  # put at its upper bound K e^{-rT}
            call_intrinsic + 1.0,  # a valid call
            put_intrinsic + 1.0,  # a valid put
        ]
    )
    spot = np.array([s, s, s, s, put_s, put_s, s, put_s])
    strike = np.array([k, k, k, k, put_k, put_k, k, put_k])
    call = np.array([True, True, True, True, False, False, True, False])
    res = iv_and_greeks(price, spot, strike, t, r, q, call)
    bad = np.array([True] * 6 + [False] * 2)
    _nan_everywhere(res, bad)
    assert np.all(res.ok[~bad])
    assert np.all(np.isfinite(res.iv[~bad]))
    np.testing.assert_array_equal(np.isnan(implied_volatility(price, spot, strike, t, r, q, call)), bad)


def test_nan_for_invalid_inputs() -> None:
    cases = [
        # price, S, K, T, r, q
        (5.0, 100.0, 100.0, 0.0, 0.01, 0.0),  # expired
        (5.0, 100.0, 100.0, -0.1, 0.01, 0.0),  # negative time
        (0.0, 100.0, 100.0, 0.5, 0.01, 0.0),  # zero price
        (-1.0, 100.0, 100.0, 0.5, 0.01, 0.0),  # negative price
        (np.nan, 100.0, 100.0, 0.5, 0.01, 0.0),
        (5.0, np.nan, 100.0, 0.5, 0.01, 0.0),
        (5.0, 100.0, np.inf, 0.5, 0.01, 0.0),
        (5.0, 100.0, 100.0, np.inf, 0.01, 0.0),
        (5.0, 100.0, 100.0, 0.5, np.nan, 0.0),
        (5.0, 100.0, 100.0, 0.5, 0.01, np.inf),
        (5.0, 0.0, 100.0, 0.5, 0.01, 0.0),
        (5.0, 100.0, -100.0, 0.5, 0.01, 0.0),
        (5.0, 100.0, 100.0, 0.5, 0.01, 0.0),  # the only valid row
    ]
    cols = [np.array(c, dtype=float) for c in zip(*cases, strict=True)]
    for call in (True, False):
        res = iv_and_greeks(*cols, call)
        bad = np.ones(len(cases), dtype=bool)
        bad[-1] = False
        _nan_everywhere(res, bad)
        assert res.ok[-1] and np.isfinite(res.iv[-1])


def test_price_and_greeks_nan_for_invalid_sigma_and_time() -> None:
    sigma = np.array([0.0, -0.2, np.nan, np.inf, 0.2, 0.2, 0.2])
    t = np.array([0.5, 0.5, 0.5, 0.5, 0.0, -1.0, 0.5])
    price = bsm_price(100.0, 100.0, t, 0.01, 0.0, sigma, True)
    gr = bsm_greeks(100.0, 100.0, t, 0.01, 0.0, sigma, False)
    expected = np.array([True] * 6 + [False])
    np.testing.assert_array_equal(np.isnan(price), expected)
    for name in ("delta", "gamma", "theta", "vega", "rho"):
        np.testing.assert_array_equal(np.isnan(getattr(gr, name)), expected)


def test_price_underflow_is_nan_not_zero_volatility() -> None:
    # A premium that underflows to 0 carries no information: NaN, not a made-up volatility.
    price = bsm_price(100.0, 200.0, 1 / (365 * 24), 0.0, 0.0, 0.05, True)
    assert float(price) == 0.0
    assert np.isnan(implied_volatility(price, 100.0, 200.0, 1 / (365 * 24), 0.0, 0.0, True))


# ---------------------------------------------------------------------------------------------- API shape


def test_vectorised_call_equals_scalar_loop() -> None:
    rng = np.random.default_rng(5)
    idx = rng.choice(len(GRID["S"]), size=200, replace=False)
    g = {k: v[idx] for k, v in GRID.items()}
    price = bsm_price(*_args(g, "S", "K", "T", "r", "q", "sigma", "call"))
    vec = iv_and_greeks(price, *_args(g, "S", "K", "T", "r", "q", "call"))
    vec_greeks = bsm_greeks(*_args(g, "S", "K", "T", "r", "q", "sigma", "call"))
    for i in range(len(idx)):
        row = [g[n][i] for n in ("S", "K", "T", "r", "q")]
        assert float(bsm_price(*row, g["sigma"][i], g["call"][i])) == price[i]
        one = iv_and_greeks(price[i], *row, g["call"][i])
        for name in ("iv", "delta", "gamma", "theta", "vega", "rho"):
            np.testing.assert_array_equal(getattr(one, name), getattr(vec, name)[i])
        assert bool(one.ok) == bool(vec.ok[i])
        single = bsm_greeks(*row, g["sigma"][i], g["call"][i])
        for name in ("delta", "gamma", "theta", "vega", "rho"):
            np.testing.assert_array_equal(getattr(single, name), getattr(vec_greeks, name)[i])


def test_parallel_path_equals_serial_path(monkeypatch: pytest.MonkeyPatch) -> None:
    reps = 8
    g = {k: np.tile(v, reps) for k, v in GRID.items()}
    assert len(g["S"]) >= gk.PARALLEL_MIN_ROWS
    args7 = _args(g, "S", "K", "T", "r", "q", "sigma", "call")
    price_par = bsm_price(*args7)
    res_par = iv_and_greeks(price_par, *_args(g, "S", "K", "T", "r", "q", "call"))
    greeks_par = bsm_greeks(*args7)
    iv_par = implied_volatility(price_par, *_args(g, "S", "K", "T", "r", "q", "call"))
    monkeypatch.setattr(gk, "PARALLEL_MIN_ROWS", 10**12)
    price_ser = bsm_price(*args7)
    np.testing.assert_array_equal(price_par, price_ser)
    res_ser = iv_and_greeks(price_ser, *_args(g, "S", "K", "T", "r", "q", "call"))
    for name in ("iv", "delta", "gamma", "theta", "vega", "rho", "ok"):
        np.testing.assert_array_equal(getattr(res_par, name), getattr(res_ser, name))
    greeks_ser = bsm_greeks(*args7)
    for name in ("delta", "gamma", "theta", "vega", "rho"):
        np.testing.assert_array_equal(getattr(greeks_par, name), getattr(greeks_ser, name))
    np.testing.assert_array_equal(iv_par, implied_volatility(price_ser, *_args(g, "S", "K", "T", "r", "q", "call")))
    np.testing.assert_array_equal(iv_par, res_par.iv)


def test_broadcasting_and_shapes() -> None:
    strikes = np.array([[90.0, 100.0, 110.0], [95.0, 105.0, 115.0]])
    price = bsm_price(100.0, strikes, 0.25, 0.03, 0.0, 0.3, True)
    assert price.shape == (2, 3)
    res = iv_and_greeks(price, 100.0, strikes, 0.25, 0.03, 0.0, np.array([True, True, True]))
    assert res.iv.shape == (2, 3) and res.ok.shape == (2, 3) and res.ok.dtype == np.bool_
    np.testing.assert_allclose(res.iv, 0.3, atol=1e-12)
    gr = bsm_greeks(100.0, strikes, 0.25, 0.03, 0.0, 0.3, True)
    assert isinstance(gr, Greeks) and gr.delta.shape == (2, 3)
    # Integer and list inputs are accepted and converted to float64.
    assert float(implied_volatility([price[0, 1]], [100], [100], 0.25, 0.03, 0, [True])[0]) == pytest.approx(0.3)


def test_concurrent_callers_get_identical_results() -> None:
    g = {k: np.tile(v, 4) for k, v in GRID.items()}
    price = bsm_price(*_args(g, "S", "K", "T", "r", "q", "sigma", "call"))
    expected = implied_volatility(price, *_args(g, "S", "K", "T", "r", "q", "call"))
    results: list[np.ndarray] = []

    def work() -> None:
        for _ in range(3):
            results.append(implied_volatility(price, *_args(g, "S", "K", "T", "r", "q", "call")))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(results) == 12
    for out in results:
        np.testing.assert_array_equal(out, expected)
