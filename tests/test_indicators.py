"""SMA, EMA, MACD and RSI against independent references (pandas and TA-Lib) and hand-worked cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import talib

from cutemarkets_server.market.indicators import ema, macd, rsi, sma

# --- independent references (pandas) ------------------------------------------------------------


def ref_sma(x: np.ndarray, w: int) -> np.ndarray:
    return pd.Series(x).rolling(w).mean().to_numpy()


def _ref_seeded_ewm(x: pd.Series, w: int, alpha: float, seed_from: int = 0) -> np.ndarray:
    """Exponential smoothing seeded with the mean of ``x[seed_from : seed_from + w]``."""
    s = x.astype(float).copy()
    s.iloc[: seed_from + w - 1] = np.nan
    if len(x) >= seed_from + w:
        s.iloc[seed_from + w - 1] = x.iloc[seed_from : seed_from + w].mean()
    return s.ewm(alpha=alpha, adjust=False).mean().to_numpy()


def ref_ema(x: np.ndarray, w: int) -> np.ndarray:
    return _ref_seeded_ewm(pd.Series(x), w, 2.0 / (w + 1))


def ref_rsi(x: np.ndarray, w: int) -> np.ndarray:
    delta = pd.Series(x).diff()
    gain = _ref_seeded_ewm(delta.clip(lower=0), w, 1.0 / w, seed_from=1)
    loss = _ref_seeded_ewm(-delta.clip(upper=0), w, 1.0 / w, seed_from=1)
    with np.errstate(invalid="ignore"):
        out = 100.0 * gain / (gain + loss)
    out[(gain + loss == 0) & ~np.isnan(gain)] = 50.0
    return out


def ref_macd(x: np.ndarray, s: int, lw: int, g: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    line = ref_ema(x, s) - ref_ema(x, lw)
    first = max(s, lw) - 1
    sig = _ref_seeded_ewm(pd.Series(line), g, 2.0 / (g + 1), seed_from=first)
    return line, sig, line - sig


# --- series ---------------------------------------------------------------------------------------


def random_walk(seed: int, n: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 100.0 + np.cumsum(rng.normal(0.0, 1.0, n))


def option_like(seed: int, n: int) -> np.ndarray:
    """Penny-rounded prices with flat stretches and a jump, as thin option bars look."""
    rng = np.random.default_rng(seed)
    logp = np.log(3.0) + np.cumsum(rng.normal(0.0, 0.04, n))
    p = np.round(np.exp(logp), 2)
    p[n // 4 : n // 4 + 20] = p[n // 4]
    p[n // 2 :] = np.round(p[n // 2 :] * 1.8, 2)
    return np.maximum(p, 0.01)


SERIES = [random_walk(1, 400), random_walk(2, 60), option_like(3, 500), option_like(4, 90)]


def assert_same(got: np.ndarray, want: np.ndarray, rtol: float = 1e-10, atol: float = 1e-9) -> None:
    assert got.shape == want.shape
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got[~np.isnan(got)], want[~np.isnan(want)], rtol=rtol, atol=atol)


# --- against the references -----------------------------------------------------------------------


@pytest.mark.parametrize("x", SERIES, ids=range(len(SERIES)))
@pytest.mark.parametrize("w", [1, 2, 3, 10, 14, 26, 50])
def test_sma_ema_match_pandas_and_talib(x: np.ndarray, w: int) -> None:
    assert_same(sma(x, w), ref_sma(x, w))
    assert_same(ema(x, w), ref_ema(x, w))
    assert_same(sma(x, w), talib.SMA(x, timeperiod=w))
    assert_same(ema(x, w), talib.EMA(x, timeperiod=w))


@pytest.mark.parametrize("x", SERIES, ids=range(len(SERIES)))
@pytest.mark.parametrize("w", [2, 5, 14, 30])
def test_rsi_matches_pandas_and_talib(x: np.ndarray, w: int) -> None:
    got = rsi(x, w)
    assert_same(got, ref_rsi(x, w))
    want = talib.RSI(x, timeperiod=w)
    # TA-Lib reports 0 where there were neither gains nor losses; here that is 50 (checked below).
    flat = ~np.isnan(want) & (got == 50.0) & (want == 0.0)
    assert_same(got[~flat], want[~flat])


@pytest.mark.parametrize("x", SERIES, ids=range(len(SERIES)))
@pytest.mark.parametrize(("s", "lw", "g"), [(12, 26, 9), (5, 10, 3), (3, 7, 1), (10, 4, 2)])
def test_macd_matches_reference(x: np.ndarray, s: int, lw: int, g: int) -> None:
    line, sig, hist = macd(x, s, lw, g)
    r_line, r_sig, r_hist = ref_macd(x, s, lw, g)
    assert_same(line, r_line)
    assert_same(sig, r_sig)
    assert_same(hist, r_hist)
    # The line is exactly the difference of the two EMAs the EMA endpoint would serve.
    assert_same(line, talib.EMA(x, s) - talib.EMA(x, lw))
    np.testing.assert_array_equal(np.isnan(hist), np.isnan(sig))


def test_macd_converges_to_talib() -> None:
    # TA-Lib seeds its short EMA later; the seeds' influence decays, so the tails agree.
    x = random_walk(9, 600)
    line, sig, hist = macd(x, 12, 26, 9)
    t_line, t_sig, t_hist = talib.MACD(x, 12, 26, 9)
    np.testing.assert_allclose(line[-200:], t_line[-200:], atol=1e-9)
    np.testing.assert_allclose(sig[-200:], t_sig[-200:], atol=1e-9)
    np.testing.assert_allclose(hist[-200:], t_hist[-200:], atol=1e-9)


# --- first defined value and edge cases -----------------------------------------------------------


def first_valid(a: np.ndarray) -> int:
    idx = np.flatnonzero(~np.isnan(a))
    return int(idx[0]) if len(idx) else -1


def test_first_value_positions() -> None:
    x = random_walk(5, 100)
    assert first_valid(sma(x, 20)) == 19
    assert first_valid(ema(x, 20)) == 19
    assert first_valid(rsi(x, 14)) == 14
    line, sig, hist = macd(x, 12, 26, 9)
    assert (first_valid(line), first_valid(sig), first_valid(hist)) == (25, 33, 33)
    assert not np.isnan(line[25:]).any() and not np.isnan(sig[33:]).any()
    # EMA starts at the SMA of the first window.
    assert ema(x, 20)[19] == pytest.approx(x[:20].mean(), rel=1e-14)


def test_window_larger_than_series() -> None:
    x = random_walk(6, 10)
    for f in (sma, ema):
        assert np.isnan(f(x, 11)).all() and len(f(x, 11)) == 10
        assert np.flatnonzero(~np.isnan(f(x, 10))).tolist() == [9]
    assert np.isnan(rsi(x, 10)).all()
    assert np.flatnonzero(~np.isnan(rsi(x, 9))).tolist() == [9]
    line, sig, hist = macd(x, 3, 10, 2)
    assert np.flatnonzero(~np.isnan(line)).tolist() == [9]
    assert np.isnan(sig).all() and np.isnan(hist).all()
    for f in (sma, ema, rsi):
        assert len(f(np.array([]), 3)) == 0
    assert all(len(a) == 0 for a in macd(np.array([]), 2, 3, 2))


def test_window_one() -> None:
    x = random_walk(7, 50)
    np.testing.assert_array_equal(ema(x, 1), x)
    np.testing.assert_allclose(sma(x, 1), x, rtol=1e-13)
    r = rsi(x, 1)
    assert np.isnan(r[0])
    change = np.diff(x)
    np.testing.assert_array_equal(r[1:], np.where(change > 0, 100.0, np.where(change < 0, 0.0, 50.0)))


def test_constant_series() -> None:
    x = np.full(40, 7.25)
    np.testing.assert_array_equal(sma(x, 10)[9:], 7.25)
    np.testing.assert_array_equal(ema(x, 10)[9:], 7.25)
    r = rsi(x, 14)
    assert np.isnan(r[:14]).all()
    np.testing.assert_array_equal(r[14:], 50.0)
    line, _, hist = macd(x, 12, 26, 9)
    np.testing.assert_array_equal(line[25:], 0.0)
    np.testing.assert_array_equal(hist[33:], 0.0)


def test_monotone_series_rsi_bounds() -> None:
    up = np.arange(1.0, 41.0)
    assert np.all(rsi(up, 14)[14:] == 100.0)
    assert np.all(rsi(up[::-1], 14)[14:] == 0.0)
    # Flat then rising: losses stay zero, so RSI is 100 as soon as any gain appears.
    x = np.r_[np.full(20, 5.0), np.linspace(5.0, 6.0, 10)]
    r = rsi(x, 14)
    assert np.all(r[14:21] == 50.0) and np.all(r[21:] == 100.0)


def test_hand_worked_values() -> None:
    e = ema(np.array([1.0, 2.0, 3.0, 4.0, 5.0]), 3)
    np.testing.assert_allclose(e[2:], [2.0, 3.0, 4.0])
    assert np.isnan(e[:2]).all()
    r = rsi(np.array([1.0, 2.0, 1.0, 2.0, 3.0]), 2)
    np.testing.assert_allclose(r[2:], [50.0, 75.0, 87.5])
    s = sma(np.array([1.0, 2.0, 3.0, 10.0]), 2)
    np.testing.assert_allclose(s[1:], [1.5, 2.5, 6.5])


def test_inputs_validated() -> None:
    x = random_walk(8, 30)
    for bad in (0, -3, 2.5, True):
        for f in (sma, ema, rsi):
            with pytest.raises(ValueError):
                f(x, bad)
        with pytest.raises(ValueError):
            macd(x, 12, bad, 9)
    with pytest.raises(ValueError):
        sma(np.ones((3, 3)), 2)
    # Integer-valued floats and lists are accepted.
    np.testing.assert_allclose(sma(list(x), 5.0), ref_sma(x, 5), equal_nan=True)


def test_long_series_is_stable() -> None:
    x = random_walk(10, 200_000) + 1000.0
    assert_same(sma(x, 200), ref_sma(x, 200), rtol=1e-9)
    assert_same(ema(x, 200), ref_ema(x, 200), rtol=1e-9)
    assert_same(rsi(x, 14), talib.RSI(x, 14), rtol=1e-8, atol=1e-8)
