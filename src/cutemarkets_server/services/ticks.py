"""Keyset paging over tick tables (trades and quotes of both products)."""

from __future__ import annotations

import pyarrow as pa

from ..store.market import MarketStore, Position
from ..store.schemas import dataset


def page_ticks(
    store: MarketStore,
    name: str,
    ticker: str,
    lo: int | None,
    hi: int | None,
    *,
    descending: bool,
    limit: int,
    after: Position | None,
) -> tuple[pa.Table, Position | None]:
    """One page of rows and the position to continue from (None when this is the last page)."""
    table = store.tick_page(name, ticker, lo, hi, descending=descending, limit=limit + 1, after=after)
    if table.num_rows <= limit:
        return table, None
    table = table.slice(0, limit)
    time_col = dataset(name).time_column
    ts = table[time_col].to_numpy()
    last = int(ts[-1])
    trailing = int((ts == last).sum()) if ts[0] == last else int(len(ts) - _last_change(ts))
    skip = trailing + (after.skip if after is not None and int(ts[0]) == after.ts and ts[0] == last else 0)
    return table, Position(last, skip)


def _last_change(ts: object) -> int:
    """Index of the first element of the trailing run of equal values."""
    import numpy as np

    arr = np.asarray(ts)
    diff = np.flatnonzero(arr[1:] != arr[:-1])
    return int(diff[-1] + 1) if len(diff) else 0
