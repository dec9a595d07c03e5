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
    trailing = int((ts == last).sum())  # rows are in time order, so equal stamps are one trailing run
    # A page made only of rows at the position's own instant continues that instant's count.
    if after is not None and int(ts[0]) == after.ts == last:
        trailing += after.skip
    return table, Position(last, trailing)
