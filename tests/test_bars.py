"""Bar construction from trades, rollups and window alignment, checked against plain recomputation."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from cutemarkets_server.market.bars import (
    Bars,
    calendar_bucket,
    intraday_bucket,
    rollup,
    trades_to_bars,
    window_start_day,
)
from cutemarkets_server.market.conditions import rules, update_masks
from cutemarkets_server.market.timestamps import et_midnight_ns, et_ns

NY = ZoneInfo("America/New_York")
UTC = dt.UTC
NS_MIN = 60 * 10**9
NS_HOUR = 60 * NS_MIN
D = dt.date

STOCK_POOL = [[], [], [14], [3, 14], [37], [12], [12, 37], [2], [15], [16], [32], [38], [10, 14], [999], [29], [13]]
OPTION_POOL = [[209], [209], [227], [232], [204], [201], [246], [248], [219, 227], [], [777]]


# --- helpers --------------------------------------------------------------------------------------


def et_day(ns: int) -> dt.date:
    return dt.datetime.fromtimestamp(ns // 10**9, tz=UTC).astimezone(NY).date()


def local(ns: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ns / 1e9, tz=UTC).astimezone(NY)


def flags_of(asset: str, codes: list[int], intraday: bool) -> tuple[bool, bool, bool]:
    """A trade's (high/low, open/close, volume) eligibility from the rule table, one code at a time."""
    hl = oc = vol = True
    table = rules(asset)
    for c in codes:
        if c in table:
            h, o, v = table[c].updates(intraday=intraday)
            hl, oc, vol = hl and h, oc and o, vol and v
    return hl, oc, vol


def masks(asset: str, cond_lists: list[list[int]], intraday: bool) -> tuple[np.ndarray, ...]:
    offsets = np.zeros(len(cond_lists) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(c) for c in cond_lists])
    codes = np.array([c for cl in cond_lists for c in cl], dtype=np.int64)
    return update_masks(asset, codes, offsets, intraday=intraday)


def reference_bars(trades: dict, asset: str, intraday: bool, bucket_of) -> list[tuple]:
    """Straightforward per-trade aggregation: one row per (key, window) with an open/close trade."""
    groups: dict[tuple[int, int], dict] = {}
    for k, t, p, s, conds in zip(
        trades["key"], trades["ts"], trades["price"], trades["size"], trades["conds"], strict=True
    ):
        hl, oc, vol = flags_of(asset, conds, intraday)
        g = groups.setdefault(
            (int(k), bucket_of(int(t))),
            {"open": None, "close": None, "high": -np.inf, "low": np.inf, "v": 0.0, "pv": 0.0, "n": 0},
        )
        if oc:
            if g["open"] is None:
                g["open"] = float(p)
            g["close"] = float(p)
        if hl:
            g["high"] = max(g["high"], float(p))
            g["low"] = min(g["low"], float(p))
        if vol:
            g["v"] += float(s)
            g["pv"] += float(s) * float(p)
            g["n"] += 1
    rows = []
    for (k, b), g in sorted(groups.items()):
        if g["open"] is None:
            continue
        o, c = g["open"], g["close"]
        vwap = g["pv"] / g["v"] if g["v"] > 0 else (o + c) / 2
        rows.append((k, b, o, max(g["high"], o, c), min(g["low"], o, c), c, g["v"], vwap, g["n"]))
    return rows


def rows_of(bars: Bars) -> list[tuple]:
    return list(
        zip(
            bars.key.tolist(),
            bars.window_start.tolist(),
            bars.open.tolist(),
            bars.high.tolist(),
            bars.low.tolist(),
            bars.close.tolist(),
            bars.volume.tolist(),
            bars.vwap.tolist(),
            bars.transactions.tolist(),
            strict=True,
        )
    )


def assert_rows_equal(got: list[tuple], want: list[tuple]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g[:2] == w[:2]
        assert g[8] == w[8]
        np.testing.assert_allclose(g[2:8], w[2:8], rtol=1e-12)


def assert_bars_close(a: Bars, b: Bars) -> None:
    for name in ("key", "window_start", "transactions"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    for name in ("open", "high", "low", "close", "volume", "vwap"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-12)


def random_trades(seed: int, n: int, asset: str, start_ns: int, span_ns: int, keys: int = 4) -> dict:
    rng = np.random.default_rng(seed)
    pool = STOCK_POOL if asset == "stocks" else OPTION_POOL
    key = rng.integers(0, keys, n)
    ts = start_ns + rng.integers(0, span_ns, n)
    order = np.lexsort((ts, key))
    return {
        "key": key[order],
        "ts": ts[order],
        "price": np.round(rng.uniform(1.0, 50.0, n), 2),
        "size": rng.integers(1, 500, n).astype(np.float64),
        "conds": [list(pool[i]) for i in rng.integers(0, len(pool), n)],
    }


def ensure_open_close(trades: dict, asset: str, bucket_of, intraday: bool) -> dict:
    """Make every (key, window) that has trades hold at least one open/close trade."""
    seen: dict[tuple[int, int], int] = {}
    has_oc: set[tuple[int, int]] = set()
    for i, (k, t) in enumerate(zip(trades["key"], trades["ts"], strict=True)):
        g = (int(k), bucket_of(int(t)))
        seen.setdefault(g, i)
        if flags_of(asset, trades["conds"][i], intraday)[1]:
            has_oc.add(g)
    for g, i in seen.items():
        if g not in has_oc:
            trades["conds"][i] = []
    return trades


def build(trades: dict, asset: str, intraday: bool, bucket: np.ndarray) -> Bars:
    hl, oc, vol = masks(asset, trades["conds"], intraday)
    return trades_to_bars(trades["key"], trades["ts"], trades["price"], trades["size"], hl, oc, vol, bucket)


def minute_of(t: int) -> int:
    return t - t % NS_MIN


def day_start_of(t: int) -> int:
    return et_midnight_ns(et_day(t))


# --- trades_to_bars -------------------------------------------------------------------------------


@pytest.mark.parametrize("asset", ["stocks", "options"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_minute_bars_match_recomputation(asset: str, seed: int) -> None:
    day = D(2025, 11, 4)
    trades = random_trades(seed, 4000, asset, et_ns(day, 4), 16 * NS_HOUR // 8)  # dense 2 hours
    bars = build(trades, asset, True, intraday_bucket(trades["ts"], "minute", 1))
    assert_rows_equal(rows_of(bars), reference_bars(trades, asset, True, minute_of))
    assert len(bars) > 100


@pytest.mark.parametrize("asset", ["stocks", "options"])
def test_day_bars_match_recomputation(asset: str) -> None:
    # Five days of trades, including late-evening ET prints that are already the next UTC day.
    start = et_ns(D(2025, 10, 30), 4)
    trades = random_trades(7, 5000, asset, start, 5 * 24 * NS_HOUR)
    bucket = np.array([day_start_of(int(t)) for t in trades["ts"]], dtype=np.int64)
    bars = build(trades, asset, False, bucket)
    assert_rows_equal(rows_of(bars), reference_bars(trades, asset, False, day_start_of))
    assert {et_day(int(b)) for b in bars.window_start} <= {D(2025, 10, d) for d in (30, 31)} | {
        D(2025, 11, d) for d in (1, 2, 3, 4)
    }


def test_daily_excludes_form_t_but_minutes_keep_it() -> None:
    day = D(2025, 11, 4)
    ts = np.array([et_ns(day, 7, 0), et_ns(day, 9, 30), et_ns(day, 15, 59), et_ns(day, 17, 5)], dtype=np.int64)
    trades = {
        "key": np.zeros(4, dtype=np.int64),
        "ts": ts,
        "price": np.array([90.0, 100.0, 101.0, 120.0]),
        "size": np.array([10.0, 20.0, 30.0, 40.0]),
        "conds": [[12], [], [14], [12, 14]],
    }
    daily = build(trades, "stocks", False, np.full(4, et_midnight_ns(day)))
    assert len(daily) == 1
    assert (daily.open[0], daily.high[0], daily.low[0], daily.close[0]) == (100.0, 101.0, 100.0, 101.0)
    assert daily.volume[0] == 100.0 and daily.transactions[0] == 4
    minutes = build(trades, "stocks", True, intraday_bucket(ts, "minute", 1))
    assert minutes.window_start.tolist() == ts.tolist()
    assert minutes.open.tolist() == [90.0, 100.0, 101.0, 120.0]


def test_gaps_stay_gaps() -> None:
    day = D(2025, 11, 4)
    ts = np.array([et_ns(day, 10, 0), et_ns(day, 10, 0) + 5, et_ns(day, 10, 5), et_ns(day, 11, 59)])
    bars = trades_to_bars(
        np.zeros(4, dtype=np.int64),
        ts,
        np.array([1.0, 2.0, 3.0, 4.0]),
        np.ones(4),
        np.ones(4, bool),
        np.ones(4, bool),
        np.ones(4, bool),
        intraday_bucket(ts, "minute", 1),
    )
    assert bars.window_start.tolist() == [et_ns(day, 10, 0), et_ns(day, 10, 5), et_ns(day, 11, 59)]
    assert bars.transactions.tolist() == [2, 1, 1]
    assert np.all(bars.volume > 0)


def test_bar_needs_an_open_close_trade() -> None:
    day = D(2025, 11, 4)
    # Minute 10:00: average-price and odd-lot prints only; 10:01: sold out of sequence (sets high/low
    # only); 10:02: official close (nothing); 10:03: one regular trade among volume-only ones.
    spec = [(0, [2]), (0, [37]), (1, [32]), (2, [15]), (3, [37]), (3, []), (3, [2])]
    ts = np.array([et_ns(day, 10, m) + i for i, (m, _) in enumerate(spec)], dtype=np.int64)
    trades = {
        "key": np.zeros(len(spec), dtype=np.int64),
        "ts": ts,
        "price": np.array([50.0, 51.0, 52.0, 53.0, 40.0, 41.0, 70.0]),
        "size": np.array([100.0, 5.0, 10.0, 1000.0, 5.0, 10.0, 100.0]),
        "conds": [c for _, c in spec],
    }
    bars = build(trades, "stocks", True, intraday_bucket(ts, "minute", 1))
    assert bars.window_start.tolist() == [et_ns(day, 10, 3)]
    # The odd lot sets nothing but volume; the average-price print only volume; the bar is the regular one.
    assert (bars.open[0], bars.high[0], bars.low[0], bars.close[0]) == (41.0, 41.0, 41.0, 41.0)
    assert bars.volume[0] == 115.0 and bars.transactions[0] == 3
    assert bars.vwap[0] == pytest.approx((40 * 5 + 41 * 10 + 70 * 100) / 115)


def test_high_low_include_open_close() -> None:
    ts = np.arange(4, dtype=np.int64) + et_ns(D(2025, 11, 4), 10)
    price = np.array([10.0, 12.0, 11.0, 9.5])
    hl = np.array([False, True, True, False])
    oc = np.array([True, False, False, True])
    bars = trades_to_bars(np.zeros(4, np.int64), ts, price, np.ones(4), hl, oc, np.ones(4, bool), np.zeros(4, np.int64))
    assert (bars.open[0], bars.high[0], bars.low[0], bars.close[0]) == (10.0, 12.0, 9.5, 9.5)
    # No high/low-eligible trade at all: high and low come from open and close.
    bars = trades_to_bars(
        np.zeros(4, np.int64), ts, price, np.ones(4), np.zeros(4, bool), oc, np.ones(4, bool), np.zeros(4, np.int64)
    )
    assert (bars.high[0], bars.low[0]) == (10.0, 9.5)
    # Open and close are the first and last eligible trades, not the first and last trades.
    oc = np.array([False, True, True, False])
    bars = trades_to_bars(np.zeros(4, np.int64), ts, price, np.ones(4), hl, oc, np.ones(4, bool), np.zeros(4, np.int64))
    assert (bars.open[0], bars.close[0]) == (12.0, 11.0)


def test_first_and_last_per_window_with_many_groups() -> None:
    # Many keys and windows with several open/close trades each: open/close must be each group's own.
    rng = np.random.default_rng(5)
    n = 20000
    key = np.sort(rng.integers(0, 50, n))
    bucket = np.concatenate([np.sort(rng.integers(0, 30, (key == k).sum())) for k in range(50)])
    price = rng.uniform(1, 2, n)
    oc = rng.random(n) < 0.3
    bars = trades_to_bars(key, np.arange(n), price, np.ones(n), oc, oc, np.ones(n, bool), bucket)
    for k, b, o, c in zip(bars.key, bars.window_start, bars.open, bars.close, strict=True):
        idx = np.flatnonzero((key == k) & (bucket == b) & oc)
        assert (o, c) == (price[idx[0]], price[idx[-1]])


def test_zero_volume_bar_vwap_and_empty_input() -> None:
    # A corrected consolidated close (code 38) sets prices but no volume.
    day = D(2025, 11, 4)
    ts = np.array([et_ns(day, 16, 30), et_ns(day, 16, 31)], dtype=np.int64)
    trades = {
        "key": np.zeros(2, np.int64),
        "ts": ts,
        "price": np.array([10.0, 12.0]),
        "size": np.array([7.0, 3.0]),
        "conds": [[38], [38]],
    }
    bars = build(trades, "stocks", False, np.full(2, et_midnight_ns(day)))
    assert (bars.open[0], bars.close[0], bars.volume[0], bars.transactions[0]) == (10.0, 12.0, 0.0, 0)
    assert bars.vwap[0] == 11.0  # no volume to weight by: midpoint of open and close
    empty = trades_to_bars(*(np.empty(0) for _ in range(8)))
    assert len(empty) == 0 and len(rollup(empty, np.empty(0))) == 0


# --- rollup ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("timespan", "multiplier"), [("minute", 5), ("minute", 15), ("minute", 30), ("hour", 1), ("hour", 2)]
)
@pytest.mark.parametrize("asset", ["stocks", "options"])
def test_rollup_of_minutes_equals_direct_aggregation(asset: str, timespan: str, multiplier: int) -> None:
    day = D(2025, 11, 4)
    trades = random_trades(11, 6000, asset, et_ns(day, 4), 16 * NS_HOUR)
    trades = ensure_open_close(trades, asset, minute_of, True)
    minutes = build(trades, asset, True, intraday_bucket(trades["ts"], "minute", 1))
    rolled = rollup(minutes, intraday_bucket(minutes.window_start, timespan, multiplier))
    direct = build(trades, asset, True, intraday_bucket(trades["ts"], timespan, multiplier))
    assert_bars_close(rolled, direct)
    assert len(rolled) < len(minutes)


@pytest.mark.parametrize(
    ("timespan", "multiplier"), [("day", 3), ("week", 1), ("week", 2), ("month", 1), ("quarter", 1)]
)
def test_rollup_of_days_equals_direct_aggregation(timespan: str, multiplier: int) -> None:
    anchor = D(2025, 3, 5)
    trades = random_trades(12, 8000, "stocks", et_midnight_ns(anchor), 200 * 24 * NS_HOUR, keys=3)
    trades = ensure_open_close(trades, "stocks", day_start_of, False)
    day_starts = np.array([day_start_of(int(t)) for t in trades["ts"]], dtype=np.int64)
    days = build(trades, "stocks", False, day_starts)
    rolled = rollup(days, calendar_bucket(days.window_start, timespan, multiplier, anchor))
    direct = build(trades, "stocks", False, calendar_bucket(day_starts, timespan, multiplier, anchor))
    assert_bars_close(rolled, direct)


def test_rollup_fields() -> None:
    bars = Bars(
        key=np.array([0, 0, 0, 1]),
        window_start=np.array([0, 1, 2, 0]) * NS_MIN,
        open=np.array([1.0, 2.0, 3.0, 9.0]),
        high=np.array([1.5, 4.0, 3.5, 9.0]),
        low=np.array([0.5, 2.0, 1.0, 9.0]),
        close=np.array([1.2, 2.5, 3.1, 9.0]),
        volume=np.array([10.0, 0.0, 30.0, 5.0]),
        vwap=np.array([1.0, 2.25, 3.0, 9.0]),
        transactions=np.array([2, 0, 3, 1]),
    )
    out = rollup(bars, np.zeros(4, dtype=np.int64))
    assert out.key.tolist() == [0, 1]
    assert out.open.tolist() == [1.0, 9.0] and out.close.tolist() == [3.1, 9.0]
    assert out.high.tolist() == [4.0, 9.0] and out.low.tolist() == [0.5, 9.0]
    assert out.volume.tolist() == [40.0, 5.0] and out.transactions.tolist() == [5, 1]
    assert out.vwap[0] == pytest.approx((10 * 1.0 + 30 * 3.0) / 40)


# --- intraday windows -----------------------------------------------------------------------------


def test_minute_buckets() -> None:
    day = D(2025, 11, 4)
    t = et_ns(day, 9, 37, 59) + 999_999_999
    assert intraday_bucket(np.array([t]), "minute", 1)[0] == et_ns(day, 9, 37)
    assert intraday_bucket(np.array([t]), "minute", 5)[0] == et_ns(day, 9, 35)
    assert intraday_bucket(np.array([t]), "second", 10)[0] == et_ns(day, 9, 37, 50)
    # 30-minute windows line up with the 09:30 open in both EDT and EST.
    for d in (D(2025, 10, 31), D(2025, 11, 3)):
        ts = np.array([et_ns(d, 9, 30), et_ns(d, 9, 59, 59), et_ns(d, 10, 0)])
        assert intraday_bucket(ts, "minute", 30).tolist() == [et_ns(d, 9, 30), et_ns(d, 9, 30), et_ns(d, 10, 0)]


@pytest.mark.parametrize(("day", "hours"), [(D(2025, 11, 2), 25), (D(2025, 3, 9), 23), (D(2025, 11, 4), 24)])
def test_hour_buckets_across_dst(day: dt.date, hours: int) -> None:
    start, end = et_midnight_ns(day), et_midnight_ns(day + dt.timedelta(days=1))
    ts = np.arange(start, end, 7 * NS_MIN, dtype=np.int64)
    buckets = intraday_bucket(ts, "hour", 1)
    starts = np.unique(buckets)
    assert len(starts) == hours == (end - start) // NS_HOUR
    assert np.all((ts - buckets >= 0) & (ts - buckets < NS_HOUR))
    for b in starts:
        wall = local(int(b))
        assert (wall.minute, wall.second) == (0, 0)
        assert wall.date() == day
    if day == D(2025, 11, 2):
        # 01:00 happens twice: 01:00 EDT (05:00 UTC) and 01:00 EST (06:00 UTC) are separate hours.
        one_am = [b for b in starts if local(int(b)).hour == 1]
        assert [b % (24 * NS_HOUR) // NS_HOUR for b in one_am] == [5, 6]


@pytest.mark.parametrize("day", [D(2025, 10, 31), D(2025, 11, 3), D(2025, 7, 1), D(2025, 1, 15)])
def test_multi_hour_buckets_start_at_et_midnight(day: dt.date) -> None:
    start, end = et_midnight_ns(day), et_midnight_ns(day + dt.timedelta(days=1))
    ts = np.arange(start, end, 5 * NS_MIN, dtype=np.int64)
    for timespan, mult, width_h in (("hour", 4, 4), ("hour", 3, 3), ("minute", 120, 2)):
        starts = np.unique(intraday_bucket(ts, timespan, mult))
        assert [local(int(b)).hour for b in starts] == list(range(0, 24, width_h))
        assert all(local(int(b)).date() == day for b in starts)


@pytest.mark.parametrize("day", [D(2025, 11, 2), D(2025, 3, 9)])
def test_multi_hour_buckets_stay_inside_dst_days(day: dt.date) -> None:
    start, end = et_midnight_ns(day), et_midnight_ns(day + dt.timedelta(days=1))
    ts = np.arange(start - NS_HOUR, end + NS_HOUR, 5 * NS_MIN, dtype=np.int64)
    buckets = intraday_bucket(ts, "hour", 4)
    inside = (ts >= start) & (ts < end)
    assert buckets[inside].min() == start
    assert np.all(buckets[inside] >= start) and np.all(buckets[inside] < end)
    assert np.all(ts - buckets < 4 * NS_HOUR) and np.all(ts >= buckets)
    # Windows never straddle an ET midnight.
    assert np.all(buckets[ts >= end] >= end) and np.all(buckets[ts < start] < start)


# --- calendar windows -----------------------------------------------------------------------------


def test_window_start_day_examples() -> None:
    mon = D(2025, 11, 3)
    assert [window_start_day(mon + dt.timedelta(days=i), "day", 2, mon) for i in range(5)] == [
        mon,
        mon,
        D(2025, 11, 5),
        D(2025, 11, 5),
        D(2025, 11, 7),
    ]
    tue = D(2025, 11, 4)
    assert window_start_day(D(2025, 11, 5), "day", 2, tue) == tue
    assert window_start_day(D(2025, 11, 6), "day", 2, tue) == D(2025, 11, 6)
    assert window_start_day(D(2025, 11, 5), "week", 1, mon) == D(2025, 11, 2)  # Sunday
    assert window_start_day(D(2025, 11, 2), "week", 1, mon) == D(2025, 11, 2)
    assert window_start_day(D(2025, 11, 8), "week", 1, mon) == D(2025, 11, 2)  # Saturday
    assert window_start_day(D(2025, 11, 9), "week", 1, mon) == D(2025, 11, 9)
    assert window_start_day(D(2025, 11, 20), "week", 2, mon) == D(2025, 11, 16)
    assert window_start_day(D(2025, 11, 30), "month", 1, mon) == D(2025, 11, 1)
    assert window_start_day(D(2025, 6, 15), "month", 3, D(2025, 2, 10)) == D(2025, 5, 1)
    assert window_start_day(D(2025, 5, 20), "quarter", 1, mon) == D(2025, 4, 1)
    assert window_start_day(D(2025, 12, 31), "quarter", 1, mon) == D(2025, 10, 1)
    assert window_start_day(D(2025, 8, 1), "quarter", 2, D(2025, 1, 15)) == D(2025, 7, 1)
    assert window_start_day(D(2025, 7, 4), "year", 1, mon) == D(2025, 1, 1)
    assert window_start_day(D(2025, 7, 4), "year", 2, D(2024, 3, 1)) == D(2024, 1, 1)
    assert window_start_day(D(2026, 1, 2), "year", 2, D(2024, 3, 1)) == D(2026, 1, 1)


def _add_months(d: dt.date, n: int) -> dt.date:
    m = d.month - 1 + n
    return D(d.year + m // 12, m % 12 + 1, 1)


def ref_window_start(d: dt.date, timespan: str, mult: int, anchor: dt.date) -> dt.date:
    """Walk forward window by window from the first window of the anchor."""
    if timespan == "day":
        start, step = anchor, lambda s: s + dt.timedelta(days=mult)
    elif timespan == "week":
        start = anchor
        while start.isoweekday() != 7:
            start -= dt.timedelta(days=1)
        step = lambda s: s + dt.timedelta(days=7 * mult)  # noqa: E731
    else:
        months = {"month": 1, "quarter": 3, "year": 12}[timespan]
        start = D(anchor.year, 1, 1)
        while _add_months(start, months) <= anchor:
            start = _add_months(start, months)
        step = lambda s: _add_months(s, months * mult)  # noqa: E731
    while step(start) <= d:
        start = step(start)
    return start


@pytest.mark.parametrize("timespan", ["day", "week", "month", "quarter", "year"])
@pytest.mark.parametrize("mult", [1, 2, 3, 5])
def test_window_start_day_matches_walk(timespan: str, mult: int) -> None:
    rng = np.random.default_rng(mult)
    for _ in range(150):
        anchor = D(2019, 1, 1) + dt.timedelta(days=int(rng.integers(0, 1500)))
        d = anchor + dt.timedelta(days=int(rng.integers(0, 2000)))
        got = window_start_day(d, timespan, mult, anchor)
        assert got == ref_window_start(d, timespan, mult, anchor)
        assert got <= d


def test_calendar_bucket_returns_et_midnights() -> None:
    anchor = D(2025, 10, 27)
    days = [anchor + dt.timedelta(days=i) for i in range(40)]  # spans the November DST change
    starts = np.array([et_midnight_ns(d) for d in days], dtype=np.int64)
    for timespan, mult in (("day", 1), ("day", 3), ("week", 1), ("month", 1), ("quarter", 1), ("year", 1)):
        got = calendar_bucket(starts, timespan, mult, anchor)
        want = [et_midnight_ns(ref_window_start(d, timespan, mult, anchor)) for d in days]
        assert got.tolist() == want
    weeks = calendar_bucket(starts, "week", 1, anchor)
    assert {local(int(b)).strftime("%a %H:%M") for b in weeks} == {"Sun 00:00"}
