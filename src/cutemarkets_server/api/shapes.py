"""Wire shapes of rows: Arrow/record values in, JSON-ready dicts out (integers stay integers)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import orjson
import pyarrow as pa

from ..market.bars import Bars
from .rowjson import rows_bytes


def num(x: Any) -> Any:
    """Numbers as JSON likes them: integral floats become ints; None stays None."""
    if x is None:
        return None
    f = float(x)
    if f != f:  # NaN
        return None
    return int(f) if f.is_integer() and abs(f) < 2**53 else f


def _opt_int(x: Any) -> int | None:
    return None if x is None else int(x)


# A tick row's wire shape: (JSON key, source column, kind). Values that come out None are left out.
#   int / opt_int: integers; num: integral floats as ints, NaN as null; list: integer lists ([] when null);
#   list_or_absent: integer lists, left out when empty; str: strings ("" when null); opt_str: strings (left
#   out when null); empty: always "";
#   decimal: a size as a one-decimal string.
Spec = tuple[tuple[str, str, str], ...]

OPTION_TRADE: Spec = (
    ("conditions", "conditions", "list"),
    ("exchange", "exchange", "opt_int"),
    ("id", "", "empty"),
    ("price", "price", "num"),
    ("sequence_number", "sequence_number", "opt_int"),
    ("sip_timestamp", "sip_timestamp", "int"),
    ("size", "size", "int"),
    ("decimal_size", "size", "decimal"),
    ("participant_timestamp", "participant_timestamp", "opt_int"),
    ("correction", "correction", "opt_int"),
)
STOCK_TRADE: Spec = (
    ("conditions", "conditions", "list"),
    ("correction", "correction", "opt_int"),
    ("exchange", "exchange", "opt_int"),
    ("id", "id", "str"),
    ("participant_timestamp", "participant_timestamp", "opt_int"),
    ("price", "price", "num"),
    ("sequence_number", "sequence_number", "opt_int"),
    ("sip_timestamp", "sip_timestamp", "int"),
    ("size", "size", "int"),
    ("tape", "tape", "opt_int"),
    ("trf_id", "trf_id", "opt_int"),
    ("trf_timestamp", "trf_timestamp", "opt_int"),
)
OPTION_QUOTE: Spec = (
    ("ask_exchange", "ask_exchange", "opt_int"),
    ("ask_price", "ask_price", "num"),
    ("ask_size", "ask_size", "int"),
    ("bid_exchange", "bid_exchange", "opt_int"),
    ("bid_price", "bid_price", "num"),
    ("bid_size", "bid_size", "int"),
    ("sequence_number", "sequence_number", "opt_int"),
    ("sip_timestamp", "sip_timestamp", "int"),
)
# An option quote's NBBO fields plus the SIP fields stocks carry.
STOCK_QUOTE: Spec = (
    *OPTION_QUOTE,
    ("conditions", "conditions", "list_or_absent"),
    ("indicators", "indicators", "list_or_absent"),
    ("participant_timestamp", "participant_timestamp", "opt_int"),
    ("tape", "tape", "opt_int"),
    ("trf_timestamp", "trf_timestamp", "opt_int"),
)


def _nums(values: list[Any] | np.ndarray) -> list[Any]:
    """``num`` over a column at once."""
    if isinstance(values, np.ndarray):
        a = values.astype(np.float64, copy=False)
    else:
        a = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    out: list[Any] = a.tolist()
    whole = np.isfinite(a) & (a == np.floor(a)) & (np.abs(a) < 2**53)
    for i, v in zip(np.flatnonzero(whole).tolist(), a[whole].astype(np.int64).tolist(), strict=True):
        out[i] = v
    for i in np.flatnonzero(np.isnan(a)).tolist():
        out[i] = None
    return out


def _column(values: list[Any], kind: str) -> list[Any]:
    if kind in ("int", "opt_int"):
        return values
    if kind == "num":
        return _nums(values)
    if kind == "list":
        return [v if v is not None else [] for v in values]
    if kind == "list_or_absent":
        return [v if v else None for v in values]
    if kind == "str":
        return [v or "" for v in values]
    if kind == "opt_str":
        return values
    if kind == "decimal":
        return [f"{float(v):.1f}" for v in values]
    raise ValueError(kind)


def shape_rows(spec: Spec, table: pa.Table) -> list[dict[str, Any]]:
    """JSON-ready rows of a table, built a column at a time."""
    n = table.num_rows
    if n == 0:
        return []
    cols = [[""] * n if kind == "empty" else _column(table[col].to_pylist(), kind) for _, col, kind in spec]
    return _rows([key for key, _, _ in spec], cols)


def _rows(keys: list[str], cols: list[list[Any]]) -> list[dict[str, Any]]:
    """Row dicts from equally long columns, leaving out None values."""
    if not any(None in col for col in cols):
        return [dict(zip(keys, vals, strict=True)) for vals in zip(*cols, strict=True)]
    return [{k: v for k, v in zip(keys, vals, strict=True) if v is not None} for vals in zip(*cols, strict=True)]


def rows_json(spec: Spec, table: pa.Table) -> orjson.Fragment:
    """The JSON array ``shape_rows`` would give, written by one compiled pass over the columns
    (:mod:`.rowjson`); row by row when a column is of a kind that pass does not write."""
    if table.num_columns and table.column(0).num_chunks > 1:  # a page of several days: one buffer per column
        table = table.combine_chunks()
    written = rows_bytes(spec, {col: table[col] for _, col, kind in spec if kind != "empty"}, table.num_rows)
    if written is None:
        return orjson.Fragment(orjson.dumps(shape_rows(spec, table)))
    return orjson.Fragment(written)


def shape_row(spec: Spec, record: dict[str, Any]) -> dict[str, Any]:
    """One record (a dict of column values) in the same shape."""
    columns = {col for _, col, kind in spec if kind != "empty"}
    table = pa.Table.from_pylist([{c: record.get(c) for c in columns}])
    return shape_rows(spec, table)[0]


def option_trade_rows(table: pa.Table) -> orjson.Fragment:
    return rows_json(OPTION_TRADE, table)


def stock_trade_rows(table: pa.Table) -> orjson.Fragment:
    return rows_json(STOCK_TRADE, table)


def option_quote_row(r: dict[str, Any]) -> dict[str, Any]:
    return shape_row(OPTION_QUOTE, r)


def option_quote_rows(table: pa.Table) -> orjson.Fragment:
    return rows_json(OPTION_QUOTE, table)


def stock_quote_row(r: dict[str, Any]) -> dict[str, Any]:
    return shape_row(STOCK_QUOTE, r)


def stock_quote_rows(table: pa.Table) -> orjson.Fragment:
    return rows_json(STOCK_QUOTE, table)


def last_trade_compact(ticker: str, r: dict[str, Any]) -> dict[str, Any]:
    """The compact last-trade object (``T, p, s, t, x, c, y, f, r, i, q, e, z, ds``)."""
    row = {
        "T": ticker,
        "c": [int(c) for c in (r.get("conditions") or [])],
        "ds": f"{float(r['size']):.1f}",
        "e": _opt_int(r.get("correction")),
        "f": _opt_int(r.get("trf_timestamp")),
        "i": r.get("id") or "",
        "p": num(r["price"]),
        "q": _opt_int(r.get("sequence_number")),
        "r": _opt_int(r.get("trf_id")),
        "s": int(r["size"]),
        "t": int(r["sip_timestamp"]),
        "x": _opt_int(r.get("exchange")),
        "y": _opt_int(r.get("participant_timestamp")),
        "z": _opt_int(r.get("tape")),
    }
    return {k: v for k, v in row.items() if v is not None}


BAR: Spec = (
    ("c", "c", "num"),
    ("h", "h", "num"),
    ("l", "l", "num"),
    ("n", "n", "int"),
    ("o", "o", "num"),
    ("t", "t", "int"),
    ("v", "v", "num"),
    ("vw", "vw", "num"),  # left out when the source gave no VWAP (NaN)
)


def bar_rows(
    bars: Bars,
    *,
    ticker: str | None = None,
    stamp_ms: list[int] | None = None,
    session: pa.Array | None = None,
    descending: bool = False,
) -> orjson.Fragment:
    """Aggregate rows ``{o,h,l,c,v,vw,t,n}`` (``t`` in ms; ``T`` when a ticker is given; ``session`` where a
    label is given: a string or dictionary array, null where the bar has none), oldest first or newest
    first."""
    n = len(bars)
    if n == 0:
        return orjson.Fragment(b"[]")
    t_ms = np.asarray(stamp_ms, dtype=np.int64) if stamp_ms is not None else bars.window_start // 1_000_000
    cols: dict[str, Any] = {
        "c": np.round(bars.close, 6),
        "h": np.round(bars.high, 6),
        "l": np.round(bars.low, 6),
        "n": bars.transactions.astype(np.int64),
        "o": np.round(bars.open, 6),
        "t": t_ms,
        "v": np.round(bars.volume, 4),
        "vw": np.round(bars.vwap, 4),
    }
    spec: Spec = BAR
    if ticker is not None:  # one label for every row
        cols["T"] = pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int8)), pa.array([ticker]))
        spec = (("T", "T", "str"), *spec)
    if session is not None:
        cols["session"] = session[::-1] if descending else session
        spec = (*spec, ("session", "session", "opt_str"))
    if descending:
        cols = {k: v[::-1] if isinstance(v, np.ndarray) else v for k, v in cols.items()}
    written = rows_bytes(spec, cols, n)
    if written is None:
        return orjson.Fragment(orjson.dumps(shape_rows(spec, pa.table(cols))))
    return orjson.Fragment(written)


def contract_row(c: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "cfi": c.get("cfi"),
        "contract_type": c["contract_type"],
        "exercise_style": c["exercise_style"],
        "expiration_date": c["expiration_date"].isoformat(),
        "primary_exchange": c.get("primary_exchange"),
        "shares_per_contract": int(c["shares_per_contract"]),
        "strike_price": num(c["strike_price"]),
        "ticker": c["ticker"],
        "underlying_ticker": c["underlying_ticker"],
    }
    if c.get("correction") is not None:
        row["correction"] = int(c["correction"])
    extra = c.get("additional_underlyings")
    if extra:
        row["additional_underlyings"] = [
            {"type": d["type"], "underlying": d["underlying"], "amount": num(d["amount"])} for d in extra
        ]
    return {k: v for k, v in row.items() if v is not None}


# -- stocks ------------------------------------------------------------------------------------------


def _ohlcv(bar: dict[str, Any]) -> dict[str, Any]:
    """Compact bar keys with their long-form aliases (``o``/``open`` … ``vw``/``vwap``); a price not set
    yet (volume from extended-hours trades only) is 0, as on Polygon."""
    o, h, lo, c = (num(round(bar[k] or 0.0, 6)) for k in ("open", "high", "low", "close"))
    v = num(round(bar["volume"], 4))
    vw = num(round(bar["vwap"], 4)) if bar.get("vwap") is not None else None
    out = {"o": o, "h": h, "l": lo, "c": c, "v": v, "vw": vw}
    out.update({"open": o, "high": h, "low": lo, "close": c, "volume": v, "vwap": vw})
    return {k: x for k, x in out.items() if x is not None}


EMPTY_DAY = {"open": 0.0, "high": 0.0, "low": 0.0, "close": 0.0, "volume": 0.0, "vwap": 0.0}


def stock_snapshot_row(s: Any, timeframe: str, stamp_ms: Callable[[Any], int]) -> dict[str, Any]:
    """A StockSnapshot (Polygon shape plus long-form aliases). ``s`` is a ``services.stocks.StockSnapshot``;
    ``stamp_ms`` gives a session's 16:00 ET stamp for ``prevDay.t``."""
    row: dict[str, Any] = {"ticker": s.ticker}
    if s.todays_change is not None:
        row["todaysChange"] = num(round(s.todays_change, 6))
        row["todaysChangePerc"] = num(round(s.todays_change_perc, 6))
    day = _ohlcv(s.day or EMPTY_DAY)
    if s.day and s.day.get("last_updated") is not None:
        day["last_updated"] = int(s.day["last_updated"])
    row["day"] = day
    if s.prev_day is not None:
        row["prevDay"] = {**_ohlcv(s.prev_day), "t": stamp_ms(s.prev_day["day"])}
    if s.minute is not None:
        m = s.minute
        row["min"] = {
            **_ohlcv(m),
            "av": round(float(m["accumulated_volume"])),
            "n": int(m["transactions"]),
            "t": int(m["window_start"]) // 1_000_000,
            **({"session": m["session"]} if m.get("session") else {}),
        }
    tr = s.last_trade
    if tr is not None:
        conds = [int(c) for c in (tr.get("conditions") or [])]
        trade = {
            "c": conds,
            "i": tr.get("id") or "",
            "p": num(tr["price"]),
            "s": int(tr["size"]),
            "t": int(tr["sip_timestamp"]),
            "x": _opt_int(tr.get("exchange")),
            "conditions": conds,
            "exchange": _opt_int(tr.get("exchange")),
            "id": tr.get("id") or "",
            "price": num(tr["price"]),
            "size": int(tr["size"]),
            "sip_timestamp": int(tr["sip_timestamp"]),
            "timeframe": timeframe,
        }
        row["lastTrade"] = {k: v for k, v in trade.items() if v is not None}
    q = s.last_quote
    if q is not None:
        row["lastQuote"] = {
            "P": num(q["ask_price"]),
            "S": int(q["ask_size"]),
            "p": num(q["bid_price"]),
            "s": int(q["bid_size"]),
            "t": int(q["sip_timestamp"]),
            "ask_price": num(q["ask_price"]),
            "ask_size": int(q["ask_size"]),
            "bid_price": num(q["bid_price"]),
            "bid_size": int(q["bid_size"]),
            "sip_timestamp": int(q["sip_timestamp"]),
            "timeframe": timeframe,
        }
    if s.updated is not None:
        row["updated"] = int(s.updated)
    if s.otc:
        row["otc"] = True
    return row


def stock_last_quote_compact(ticker: str, q: dict[str, Any]) -> dict[str, Any]:
    """The compact StockLastQuote: ``x`` is the bid exchange and ``y`` (and ``X``) the ask exchange."""
    row = {
        "T": ticker,
        "P": num(q["ask_price"]),
        "S": int(q["ask_size"]),
        "p": num(q["bid_price"]),
        "s": int(q["bid_size"]),
        "t": int(q["sip_timestamp"]),
        "q": _opt_int(q.get("sequence_number")),
        "z": _opt_int(q.get("tape")),
        "x": _opt_int(q.get("bid_exchange")),
        "y": _opt_int(q.get("ask_exchange")),
        "X": _opt_int(q.get("ask_exchange")),
    }
    return {k: v for k, v in row.items() if v is not None}


STOCK_TICKER_FIELDS = (
    "ticker",
    "name",
    "market",
    "locale",
    "primary_exchange",
    "type",
    "active",
    "currency_name",
    "cik",
    "composite_figi",
    "share_class_figi",
    "last_updated_utc",
)
STOCK_TICKER_DETAIL_FIELDS = (
    "market_cap",
    "share_class_shares_outstanding",
    "weighted_shares_outstanding",
    "list_date",
    "description",
    "homepage_url",
    "sic_code",
    "round_lot",
)


def stock_ticker_row(rec: dict[str, Any], *, detail: bool = False) -> dict[str, Any]:
    """A StockTicker (list row, or with ``detail`` the Polygon detail fields as well); nulls are omitted."""
    row: dict[str, Any] = {}
    for k in STOCK_TICKER_FIELDS + (STOCK_TICKER_DETAIL_FIELDS if detail else ()):
        v = rec.get(k)
        if v is None:
            continue
        if k == "active":
            row[k] = bool(v)
        elif k == "list_date":
            row[k] = v.isoformat()
        elif k in ("market_cap", "share_class_shares_outstanding", "weighted_shares_outstanding", "round_lot"):
            row[k] = num(round(float(v), 2))
        else:
            row[k] = v
    return row


def grouped_daily_row(r: dict[str, Any], stamp_ms: int) -> dict[str, Any]:
    """One grouped-daily row ``{T, o, h, l, c, v, vw, t, n}`` (``otc`` only when true)."""
    row = {
        "T": r["ticker"],
        "c": num(round(r["close"], 6)),
        "h": num(round(r["high"], 6)),
        "l": num(round(r["low"], 6)),
        "n": int(r["transactions"]),
        "o": num(round(r["open"], 6)),
        "t": stamp_ms,
        "v": num(round(r["volume"], 4)),
    }
    if r.get("vwap") is not None:
        row["vw"] = num(round(r["vwap"], 4))
    if r.get("otc"):
        row["otc"] = True
    return row
