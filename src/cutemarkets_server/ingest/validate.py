"""Row validation shared by every source (vendor files and the built-in market).

Each rule names the reason a row is rejected; a row gets the first reason that applies. Nothing is
dropped silently: callers store valid rows and quarantine the rest with their reasons.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..market.timestamps import et_midnight_ns
from ..store.lake import conform
from ..store.schemas import dataset

OCC_TICKER_RE = r"^O:[A-Z0-9]{1,6}[0-9]{6}[CP][0-9]{8}$"

REASON_COLUMN = "reject_reason"


def _np(col: pa.ChunkedArray | pa.Array, fill: float | int) -> np.ndarray:
    if col.null_count:
        col = pc.fill_null(col, fill)
    return col.to_numpy(zero_copy_only=False)


def _matches(col: pa.ChunkedArray, pattern: str) -> np.ndarray:
    """Regex match per row, evaluated once per distinct value (tickers repeat a lot)."""
    encoded = col.combine_chunks().dictionary_encode()
    ok = pc.fill_null(pc.match_substring_regex(encoded.dictionary, pattern), False)
    return pc.fill_null(pc.take(ok, encoded.indices), False).to_numpy(zero_copy_only=False)


def validate(name: str, day: dt.date, table: pa.Table) -> tuple[pa.Table, pa.Table]:
    """Split ``table`` into (valid rows in the dataset schema, rejected rows plus ``reject_reason``)."""
    ds = dataset(name)
    table = conform(ds, table)
    n = table.num_rows
    code = np.zeros(n, dtype=np.int16)  # 0 = valid, k = the k-th reason below
    reasons: list[str] = []

    def reject(mask: np.ndarray, why: str) -> None:
        sel = mask & (code == 0)
        if sel.any():
            reasons.append(why)
            code[sel] = len(reasons)

    cols = set(table.column_names)
    for f in ds.schema:
        if n and not f.nullable and table[f.name].null_count:
            reject(table[f.name].is_null().to_numpy(zero_copy_only=False), f"missing value for {f.name}")
    if n and ds.time_column in cols and ds.time_column in ("sip_timestamp", "window_start"):
        ts = _np(table[ds.time_column], 0)
        lo, hi = et_midnight_ns(day), et_midnight_ns(day + dt.timedelta(days=1))
        reject((ts < lo) | (ts >= hi), f"timestamp outside {day.isoformat()} (America/New_York)")
    if n and name.startswith("option_") and "ticker" in cols and name != "option_open_interest":
        reject(~_matches(table["ticker"], OCC_TICKER_RE), "bad OCC option symbol")
    if n and "price" in cols:
        reject(~(_np(table["price"], 0.0) > 0), "price must be positive")
        reject(~(_np(table["size"], 0) > 0), "size must be positive")
    if n and "bid_price" in cols:
        bid, ask = _np(table["bid_price"], -1.0), _np(table["ask_price"], -1.0)
        reject((bid < 0) | (ask < 0), "negative or missing bid/ask price")
        reject((_np(table["bid_size"], -1) < 0) | (_np(table["ask_size"], -1) < 0), "negative quote size")
        reject((bid > 0) & (ask > 0) & (bid > ask), "crossed quote (bid above ask)")
    if n and "open" in cols and "window_start" in cols:
        o, h = _np(table["open"], 0.0), _np(table["high"], 0.0)
        lo_, c = _np(table["low"], 0.0), _np(table["close"], 0.0)
        reject(~((o > 0) & (h > 0) & (lo_ > 0) & (c > 0)), "bar price must be positive")
        reject((h < lo_) | (h < np.maximum(o, c)) | (lo_ > np.minimum(o, c)), "inconsistent bar high/low")
        reject(_np(table["volume"], -1.0) < 0, "negative bar volume")
    if n and name == "option_open_interest":
        reject(_np(table["open_interest"], -1) < 0, "negative open interest")
    if n and name == "option_contracts":
        reject(~(_np(table["strike_price"], 0.0) > 0), "strike must be positive")

    bad = code != 0
    if not bad.any():
        return table, _empty_rejects(table.schema)
    good_mask = pa.array(~bad)
    why = np.asarray(reasons, dtype=object)[code[bad] - 1]
    rejected = table.filter(pa.array(bad)).append_column(REASON_COLUMN, pa.array(why, pa.string()))
    return table.filter(good_mask), rejected


def _empty_rejects(schema: pa.Schema) -> pa.Table:
    return schema.append(pa.field(REASON_COLUMN, pa.string())).empty_table()
