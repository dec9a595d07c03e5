"""Polygon-only wire shapes (where Polygon's keys differ from the ``/v1`` compact objects)."""

from __future__ import annotations

from typing import Any

from ..shapes import num


def _int(x: Any) -> int | None:
    return None if x is None else int(x)


def last_nbbo(ticker: str, q: dict[str, Any]) -> dict[str, Any]:
    """Polygon's last NBBO: ``P/S/X`` ask price/size/exchange, ``p/s/x`` bid, ``t`` SIP ns, ``y`` participant
    ns, ``f`` TRF ns, ``q`` sequence, ``c`` conditions, ``i`` indicators, ``z`` tape."""
    row: dict[str, Any] = {
        "T": ticker,
        "P": num(q["ask_price"]),
        "S": int(q["ask_size"]),
        "X": _int(q.get("ask_exchange")),
        "p": num(q["bid_price"]),
        "s": int(q["bid_size"]),
        "x": _int(q.get("bid_exchange")),
        "c": [int(c) for c in (q.get("conditions") or [])] or None,
        "i": [int(c) for c in (q.get("indicators") or [])] or None,
        "f": _int(q.get("trf_timestamp")),
        "q": _int(q.get("sequence_number")),
        "t": int(q["sip_timestamp"]),
        "y": _int(q.get("participant_timestamp")),
        "z": _int(q.get("tape")),
    }
    return {k: v for k, v in row.items() if v is not None}
