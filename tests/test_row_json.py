"""Tick pages and bars are written to JSON by one compiled pass over their columns (``api/rowjson.py``); the
result must parse to exactly the rows the row-by-row shaping gives (left-out nulls, integral floats as
integers, NaN left out, lists, escaped strings), and real-looking columns must take that pass."""

from __future__ import annotations

import math

import numpy as np
import orjson
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from cutemarkets_server.api.rowjson import SPLIT_ROWS, rows_bytes
from cutemarkets_server.api.shapes import (
    BAR,
    OPTION_QUOTE,
    OPTION_TRADE,
    STOCK_QUOTE,
    STOCK_TRADE,
    bar_rows,
    rows_json,
    shape_rows,
)
from cutemarkets_server.market.bars import Bars

INT64 = st.integers(-(2**62), 2**62)
SIZES = st.integers(0, 2**53)  # a size's decimal string goes through a float on the row-by-row path
FLOATS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.integers(-(10**9), 10**9).map(float),
    st.sampled_from([0.0, -0.0, 24.8, 0.1 + 0.2, 1e-7, 2.5e20, 1e15]),
)
INT_LISTS = st.one_of(st.none(), st.lists(st.integers(0, 2**31 - 1), max_size=4))
TEXT = st.one_of(st.none(), st.text(max_size=6), st.sampled_from(['a"b', "c\\d", "e\nf", "84753", "é"]))

COLUMNS = {
    "conditions": (pa.list_(pa.int32()), INT_LISTS),
    "indicators": (pa.list_(pa.int32()), INT_LISTS),
    "id": (pa.string(), TEXT),
    "price": (pa.float64(), st.one_of(st.none(), FLOATS)),
    "ask_price": (pa.float64(), st.one_of(st.none(), FLOATS)),
    "bid_price": (pa.float64(), st.one_of(st.none(), FLOATS)),
    "size": (pa.int64(), SIZES),
    "ask_size": (pa.int64(), SIZES),
    "bid_size": (pa.int64(), SIZES),
    "sip_timestamp": (pa.int64(), INT64),
}
NULLABLE_INT = (pa.int64(), st.one_of(st.none(), INT64))


def _table(draw: st.DrawFn, spec: tuple[tuple[str, str, str], ...]) -> pa.Table:
    n = draw(st.integers(0, 12))
    columns = {}
    for _, col, kind in spec:
        if kind == "empty" or col in columns:
            continue
        typ, values = COLUMNS.get(col, NULLABLE_INT)
        columns[col] = pa.array([draw(values) for _ in range(n)], typ)
    return pa.table(columns)


@st.composite
def pages(draw: st.DrawFn) -> tuple[tuple[tuple[str, str, str], ...], pa.Table]:
    spec = draw(st.sampled_from([OPTION_TRADE, STOCK_TRADE, OPTION_QUOTE, STOCK_QUOTE]))
    table = _table(draw, spec)
    if table.num_rows > 2 and draw(st.booleans()):  # pages are slices of several day files
        cut = draw(st.integers(1, table.num_rows - 1))
        table = pa.concat_tables([table.slice(0, cut), table.slice(cut)]).slice(1)
    return spec, table


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(float(a), float(b), rel_tol=0, abs_tol=0) and float(a) == float(b)  # type: ignore[arg-type]
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b and type(a) is type(b)


@settings(max_examples=300, deadline=None)
@given(pages())
def test_written_rows_parse_to_the_shaped_rows(page: tuple[tuple[tuple[str, str, str], ...], pa.Table]) -> None:
    spec, table = page
    expected = orjson.loads(orjson.dumps(shape_rows(spec, table)))
    got = orjson.loads(orjson.dumps({"results": rows_json(spec, table)}))["results"]
    assert _same(got, expected), (got, expected)


def test_integral_prices_are_integers_and_nan_is_left_out() -> None:
    table = pa.table(
        {
            "ask_exchange": pa.array([1, None]),
            "ask_price": pa.array([24.0, float("nan")]),
            "ask_size": pa.array([5, 6]),
            "bid_exchange": pa.array([2, 3]),
            "bid_price": pa.array([0.1 + 0.2, 1.5]),
            "bid_size": pa.array([7, 8]),
            "sequence_number": pa.array([None, 9]),
            "sip_timestamp": pa.array([1_796_417_993_773_904_883, 2]),
        }
    )
    text = orjson.dumps(rows_json(OPTION_QUOTE, table)).decode()
    assert '"ask_price":24,' in text and "0.30000000000000004" in text and "nan" not in text.lower()
    rows = orjson.loads(text)
    assert "ask_price" not in rows[1] and "ask_exchange" not in rows[1] and "sequence_number" not in rows[0]
    assert rows[0]["sip_timestamp"] == 1_796_417_993_773_904_883


# Prices as feeds send them: decimals of up to 15 significant digits.
DECIMALS = st.builds(lambda m, e: float(f"{m}e-{e}"), st.integers(-(10**15) + 1, 10**15 - 1), st.integers(0, 15))


@settings(max_examples=300, deadline=None)
@given(st.lists(DECIMALS, min_size=1, max_size=50), st.lists(st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=50))
def test_decimal_prices_and_any_integer_take_the_compiled_pass(prices: list[float], stamps: list[int]) -> None:
    n = min(len(prices), len(stamps))
    columns = {"p": np.array(prices[:n]), "t": np.array(stamps[:n], dtype=np.int64)}
    written = rows_bytes((("p", "p", "num"), ("t", "t", "int")), columns, n)
    assert written is not None
    rows = orjson.loads(written)
    assert [r["t"] for r in rows] == stamps[:n]
    for row, price in zip(rows, prices, strict=False):
        assert row["p"] == price and isinstance(row["p"], int) == float(price).is_integer()


def test_labels_that_are_all_missing_are_left_out() -> None:
    labels = pa.array([None, None], pa.string()).dictionary_encode()  # an empty dictionary
    written = rows_bytes((("session", "s", "opt_str"), ("t", "t", "int")), {"s": labels, "t": np.arange(2)}, 2)
    assert written is not None and orjson.loads(written) == [{"t": 0}, {"t": 1}]


def test_a_float_without_a_short_decimal_form_falls_back_to_row_by_row() -> None:
    columns = {"p": np.array([0.1 + 0.2, 1e-300])}
    assert rows_bytes((("p", "p", "num"),), columns, 2) is None
    table = pa.table({"price": [0.1 + 0.2], "sip_timestamp": [1], "size": [2], "conditions": [[1]]})
    table = table.append_column("exchange", pa.array([None], pa.int64()))
    for col in ("sequence_number", "participant_timestamp", "correction"):
        table = table.append_column(col, pa.array([None], pa.int64()))
    assert orjson.loads(orjson.dumps(rows_json(OPTION_TRADE, table)))[0]["price"] == 0.1 + 0.2


@settings(max_examples=150, deadline=None)
@given(
    st.one_of(st.integers(0, 30), st.integers(SPLIT_ROWS, SPLIT_ROWS + 3)),  # long pages are written in halves
    st.booleans(),
    st.booleans(),
    st.randoms(use_true_random=False),
)
def test_bars_parse_to_the_shaped_bars(n: int, descending: bool, labelled: bool, rnd: object) -> None:
    rng = np.random.default_rng(rnd.randint(0, 2**32))  # type: ignore[attr-defined]
    close = rng.uniform(0.01, 900, n)
    vwap = np.where(rng.random(n) < 0.2, np.nan, close * 1.0001)
    bars = Bars(
        np.zeros(n, dtype=np.int64),
        np.sort(rng.integers(1_600_000_000_000_000_000, 1_800_000_000_000_000_000, n)),
        close * 0.999,
        close * 1.01,
        close * 0.98,
        close,
        np.round(rng.uniform(0, 1e6, n)),
        vwap,
        rng.integers(0, 5000, n),
    )
    session = [rnd.choice(["pre", "regular", "post", None]) for _ in range(n)] if labelled else None  # type: ignore[attr-defined]
    labels = None
    if session is not None:  # the stock routes send labels as a dictionary array
        plain = pa.array(session, pa.string())
        labels = plain.dictionary_encode() if rnd.random() < 0.5 else plain  # type: ignore[attr-defined]
    got = orjson.loads(orjson.dumps(bar_rows(bars, ticker="O:SPY", session=labels, descending=descending)))
    cols = {
        "c": np.round(bars.close, 6),
        "h": np.round(bars.high, 6),
        "l": np.round(bars.low, 6),
        "n": bars.transactions,
        "o": np.round(bars.open, 6),
        "t": bars.window_start // 1_000_000,
        "v": np.round(bars.volume, 4),
        "vw": np.round(bars.vwap, 4),
    }
    spec = (("T", "T", "str"), *BAR)
    table = pa.table({"T": ["O:SPY"] * n, **cols})
    if session is not None:
        table = table.append_column("session", pa.array(session, pa.string()))
        spec = (*spec, ("session", "session", "opt_str"))
    expected = orjson.loads(orjson.dumps(shape_rows(spec, table)))
    if descending:
        expected.reverse()
    assert _same(got, expected), (got, expected)
