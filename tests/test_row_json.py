"""Tick pages are written to JSON by Arrow a column at a time; the result must parse to exactly the rows the
row-by-row shaping gives (left-out nulls, integral floats as integers, NaN left out, lists, escaped strings)."""

from __future__ import annotations

import math

import orjson
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from cutemarkets_server.api.shapes import OPTION_QUOTE, OPTION_TRADE, STOCK_QUOTE, STOCK_TRADE, rows_json, shape_rows

INT64 = st.integers(-(2**62), 2**62)
SIZES = st.integers(0, 2**53)  # a size's decimal string goes through a float on the row-by-row path
FLOATS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=False, width=64),
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
    return spec, _table(draw, spec)


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
def test_arrow_written_rows_parse_to_the_shaped_rows(page: tuple[tuple[tuple[str, str, str], ...], pa.Table]) -> None:
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
