"""Wire shapes of rows: Arrow/record values in, JSON-ready dicts out (integers stay integers)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from ..market.bars import Bars


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


def option_trade_row(r: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "conditions": [int(c) for c in (r["conditions"] or [])],
        "exchange": _opt_int(r["exchange"]),
        "id": "",
        "price": num(r["price"]),
        "sequence_number": _opt_int(r["sequence_number"]),
        "sip_timestamp": int(r["sip_timestamp"]),
        "size": int(r["size"]),
        "decimal_size": f"{float(r['size']):.1f}",
    }
    if r.get("participant_timestamp") is not None:
        row["participant_timestamp"] = int(r["participant_timestamp"])
    if r.get("correction") is not None:
        row["correction"] = int(r["correction"])
    return {k: v for k, v in row.items() if v is not None}


def option_trade_rows(table: pa.Table) -> list[dict[str, Any]]:
    return [option_trade_row(r) for r in table.to_pylist()]


def stock_trade_row(r: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "conditions": [int(c) for c in (r["conditions"] or [])],
        "correction": _opt_int(r["correction"]),
        "exchange": _opt_int(r["exchange"]),
        "id": r["id"] or "",
        "participant_timestamp": _opt_int(r["participant_timestamp"]),
        "price": num(r["price"]),
        "sequence_number": _opt_int(r["sequence_number"]),
        "sip_timestamp": int(r["sip_timestamp"]),
        "size": int(r["size"]),
        "tape": _opt_int(r["tape"]),
        "trf_id": _opt_int(r["trf_id"]),
        "trf_timestamp": _opt_int(r["trf_timestamp"]),
    }
    return {k: v for k, v in row.items() if v is not None}


def stock_trade_rows(table: pa.Table) -> list[dict[str, Any]]:
    return [stock_trade_row(r) for r in table.to_pylist()]


def option_quote_row(r: dict[str, Any]) -> dict[str, Any]:
    row = {
        "ask_exchange": _opt_int(r["ask_exchange"]),
        "ask_price": num(r["ask_price"]),
        "ask_size": int(r["ask_size"]),
        "bid_exchange": _opt_int(r["bid_exchange"]),
        "bid_price": num(r["bid_price"]),
        "bid_size": int(r["bid_size"]),
        "sequence_number": _opt_int(r["sequence_number"]),
        "sip_timestamp": int(r["sip_timestamp"]),
    }
    return {k: v for k, v in row.items() if v is not None}


def option_quote_rows(table: pa.Table) -> list[dict[str, Any]]:
    return [option_quote_row(r) for r in table.to_pylist()]


def stock_quote_row(r: dict[str, Any]) -> dict[str, Any]:
    row = {
        "ask_exchange": _opt_int(r["ask_exchange"]),
        "ask_price": num(r["ask_price"]),
        "ask_size": int(r["ask_size"]),
        "bid_exchange": _opt_int(r["bid_exchange"]),
        "bid_price": num(r["bid_price"]),
        "bid_size": int(r["bid_size"]),
        "conditions": [int(c) for c in (r["conditions"] or [])] or None,
        "indicators": [int(c) for c in (r["indicators"] or [])] or None,
        "participant_timestamp": _opt_int(r["participant_timestamp"]),
        "sequence_number": _opt_int(r["sequence_number"]),
        "sip_timestamp": int(r["sip_timestamp"]),
        "tape": _opt_int(r["tape"]),
        "trf_timestamp": _opt_int(r["trf_timestamp"]),
    }
    return {k: v for k, v in row.items() if v is not None}


def stock_quote_rows(table: pa.Table) -> list[dict[str, Any]]:
    return [stock_quote_row(r) for r in table.to_pylist()]


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


def bar_rows(bars: Bars, *, ticker: str | None = None, stamp_ms: list[int] | None = None) -> list[dict[str, Any]]:
    """Aggregate rows ``{o,h,l,c,v,vw,t,n}`` (``t`` in ms; ``T`` when a ticker is given)."""
    n = len(bars)
    if n == 0:
        return []
    t_ms = stamp_ms if stamp_ms is not None else (bars.window_start // 1_000_000).tolist()
    o, h, lo, c = bars.open.tolist(), bars.high.tolist(), bars.low.tolist(), bars.close.tolist()
    v, vw, cnt = bars.volume.tolist(), np.round(bars.vwap, 4).tolist(), bars.transactions.tolist()
    out = []
    for i in range(n):
        row: dict[str, Any] = {}
        if ticker is not None:
            row["T"] = ticker
        row.update(
            {
                "c": num(round(c[i], 6)),
                "h": num(round(h[i], 6)),
                "l": num(round(lo[i], 6)),
                "n": int(cnt[i]),
                "o": num(round(o[i], 6)),
                "t": int(t_ms[i]),
                "v": num(round(v[i], 4)),
                "vw": num(vw[i]),
            }
        )
        out.append(row)
    return out


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
