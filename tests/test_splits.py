"""Split adjustment factors: which days a split touches and how factors compound."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from cutemarkets_server.market.splits import (
    Split,
    adjust_prices,
    adjust_volumes,
    price_factor,
    price_factors,
    price_factors_at,
    volume_factor,
)
from cutemarkets_server.market.timestamps import et_midnight_ns, et_ns

D = dt.date
AAPL_2020 = Split(D(2020, 8, 31), 1, 4)  # 4-for-1
TSLA_2022 = Split(D(2022, 8, 25), 1, 3)  # 3-for-1
REVERSE = Split(D(2023, 5, 1), 10, 1)  # 1-for-10


def test_no_splits() -> None:
    assert price_factor([], D(2020, 1, 2)) == 1.0
    assert volume_factor([], D(2020, 1, 2)) == 1.0
    days = [D(2019, 1, 2), D(2024, 6, 3)]
    np.testing.assert_array_equal(price_factors([], days), [1.0, 1.0])
    np.testing.assert_array_equal(price_factors_at([], np.array([0, 10**18])), [1.0, 1.0])


def test_single_split() -> None:
    s = [AAPL_2020]
    assert price_factor(s, D(2020, 8, 28)) == 0.25  # last pre-split session
    assert price_factor(s, D(2020, 8, 30)) == 0.25
    assert price_factor(s, D(2020, 8, 31)) == 1.0  # execution date: already post-split
    assert price_factor(s, D(2020, 9, 1)) == 1.0
    assert volume_factor(s, D(2020, 8, 28)) == 4.0
    assert volume_factor(s, D(2020, 8, 31)) == 1.0
    # The raw 2020-08-28 close of 499.23 reads 124.8075 in post-split terms.
    assert adjust_prices(np.array([499.23]), price_factors(s, [D(2020, 8, 28)]))[0] == pytest.approx(124.8075)


def test_two_splits_compound() -> None:
    s = [TSLA_2022, Split(D(2020, 8, 31), 1, 5)]  # unsorted on purpose
    days = [D(2020, 8, 28), D(2020, 8, 31), D(2022, 8, 24), D(2022, 8, 25), D(2023, 1, 3)]
    expected = [1 / 15, 1 / 3, 1 / 3, 1.0, 1.0]
    np.testing.assert_allclose(price_factors(s, days), expected, rtol=1e-15)
    for d, e in zip(days, expected, strict=True):
        assert price_factor(s, d) == pytest.approx(e, rel=1e-15)
        assert volume_factor(s, d) == pytest.approx(1 / e, rel=1e-15)


def test_reverse_split_and_same_day_events() -> None:
    assert price_factor([REVERSE], D(2023, 4, 28)) == 10.0
    assert volume_factor([REVERSE], D(2023, 4, 28)) == pytest.approx(0.1)
    # Two events on one execution date both apply to the days before it.
    s = [Split(D(2021, 3, 1), 1, 2), Split(D(2021, 3, 1), 1, 3)]
    assert price_factor(s, D(2021, 2, 26)) == pytest.approx(1 / 6)
    np.testing.assert_allclose(price_factors(s, [D(2021, 2, 26), D(2021, 3, 1)]), [1 / 6, 1.0])


def test_vectorised_matches_scalar() -> None:
    rng = np.random.default_rng(3)
    base = D(2015, 1, 1)
    splits = [
        Split(base + dt.timedelta(days=int(k)), float(a), float(b))
        for k, a, b in zip(rng.integers(0, 3000, 6), rng.integers(1, 10, 6), rng.integers(1, 10, 6), strict=True)
    ]
    days = [base + dt.timedelta(days=int(k)) for k in rng.integers(-50, 3100, 500)]
    days += [s.execution_date for s in splits] + [s.execution_date - dt.timedelta(days=1) for s in splits]
    want = [price_factor(splits, d) for d in days]
    np.testing.assert_allclose(price_factors(splits, days), want, rtol=1e-12)
    as_dt64 = np.array([np.datetime64(d, "D") for d in days])
    np.testing.assert_allclose(price_factors(splits, as_dt64), want, rtol=1e-12)
    # Day-start timestamps give the same answer as the days themselves.
    starts = np.array([et_midnight_ns(d) for d in days], dtype=np.int64)
    np.testing.assert_allclose(price_factors_at(splits, starts), want, rtol=1e-12)


def test_instants_use_the_eastern_time_day() -> None:
    s = [AAPL_2020]
    midnight = et_midnight_ns(D(2020, 8, 31))  # 04:00 UTC (EDT)
    ts = np.array(
        [
            et_ns(D(2020, 8, 28), 15, 59),
            et_ns(D(2020, 8, 30), 23, 59),  # already 2020-08-31 in UTC, still the 30th in New York
            midnight - 1,
            midnight,
            et_ns(D(2020, 8, 31), 9, 30),
        ],
        dtype=np.int64,
    )
    np.testing.assert_array_equal(price_factors_at(s, ts), [0.25, 0.25, 0.25, 1.0, 1.0])


def test_adjusting_keeps_notional() -> None:
    s = [AAPL_2020, TSLA_2022]
    days = [D(2020, 1, 2), D(2021, 1, 4), D(2023, 1, 3)]
    f = price_factors(s, days)
    prices = np.array([300.0, 130.0, 125.0])
    volumes = np.array([1_000.0, 2_000.0, 3_000.0])
    adj_p, adj_v = adjust_prices(prices, f), adjust_volumes(volumes, f)
    np.testing.assert_allclose(adj_p, [300.0 / 12, 130.0 / 3, 125.0])
    np.testing.assert_allclose(adj_v, [12_000.0, 6_000.0, 3_000.0])
    np.testing.assert_allclose(adj_p * adj_v, prices * volumes)


@pytest.mark.parametrize(("a", "b"), [(0, 1), (1, 0), (-1, 2)])
def test_invalid_split(a: float, b: float) -> None:
    with pytest.raises(ValueError):
        Split(D(2020, 1, 2), a, b)
