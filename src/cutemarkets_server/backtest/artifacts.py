"""The artifacts of a run, whose names and columns are the contract:

``manifest.json``, ``decisions.parquet``, ``fills.parquet``, ``equity.parquet``, ``trades.parquet``,
``summary.json`` and ``report.html``. Same inputs give the same bytes (``created_at`` aside).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from .columns import column
from .records import Decision, EquityPoint, Fill, Trade

I64, F64, STR = pa.int64(), pa.float64(), pa.string()

SCHEMAS: dict[str, pa.Schema] = {
    "decisions": pa.schema(
        [
            ("decision_id", I64),
            ("signal_bar_start", I64),
            ("signal_bar_end", I64),
            ("decision_timestamp", I64),
            ("session_label", STR),
            ("underlying", STR),
            ("action", STR),
            ("contract", STR),
            ("reject_reason", STR),
            ("position_id", I64),
            ("detail", STR),
        ]
    ),
    "fills": pa.schema(
        [
            ("order_id", I64),
            ("decision_id", I64),
            ("position_id", I64),
            ("contract", STR),
            ("side", STR),
            ("quantity", I64),
            ("order_type", STR),
            ("limit_price", F64),
            ("decision_timestamp", I64),
            ("next_quote_timestamp", I64),
            ("quote_age_ms", F64),
            ("bid", F64),
            ("ask", F64),
            ("fill_timestamp", I64),
            ("fill_price", F64),
            ("commission", F64),
            ("fill_policy", STR),
            ("reject_reason", STR),
            ("event_timestamp_utc", STR),
            ("event_timestamp_et", STR),
            ("session_label", STR),
            ("market", STR),
            ("source", STR),
        ]
    ),
    "equity": pa.schema(
        [
            ("session", STR),
            ("timestamp", I64),
            ("cash", F64),
            ("positions_value", F64),
            ("positions_value_bid_ask", F64),
            ("equity", F64),
            ("equity_bid_ask", F64),
            ("open_positions", I64),
        ]
    ),
    "trades": pa.schema(
        [
            ("position_id", I64),
            ("action", STR),
            ("contracts", STR),
            ("opened_timestamp", I64),
            ("closed_timestamp", I64),
            ("entry_value", F64),
            ("exit_value", F64),
            ("commissions", F64),
            ("pnl", F64),
            ("exit_reason", STR),
        ]
    ),
}


def table(name: str, rows: list[Decision] | list[Fill] | list[EquityPoint] | list[Trade]) -> pa.Table:
    schema = SCHEMAS[name]
    cols: dict[str, list] = {f.name: [] for f in schema}
    for r in rows:
        d = dataclasses.asdict(r)
        for k in cols:
            cols[k].append(d[k])
    return pa.Table.from_arrays([column(cols[f.name], f.type) for f in schema], schema=schema)


def write_parquet(path: Path, t: pa.Table) -> None:
    """Deterministic Parquet: fixed compression, no statistics that depend on write order, no pandas metadata."""
    tmp = path.with_suffix(".tmp")
    pq.write_table(t, tmp, compression="zstd", compression_level=3, store_schema=False, write_statistics=True)
    tmp.replace(path)


def dumps(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_json(path: Path, value: Any) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(dumps(value), encoding="utf-8")
    tmp.replace(path)
