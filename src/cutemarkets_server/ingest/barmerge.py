"""How vendor aggregate files and bars derived from trades combine for one day.

Massive aggregate files are the vendor's own bars and are stored as they are, but they carry no
VWAP. When the same day's trades are ingested too (before or after), the VWAP of each vendor bar is
taken from the bar derived from those trades for the same (ticker, window). Without a vendor file,
bars derived from trades are stored. The result does not depend on the order files are ingested in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..store.lake import Lake, Partition
from ..store.schemas import dataset
from .pipeline import DERIVED_BARS, BarsWriter, DerivedBars
from .sorting import rebatch

VENDOR_PREFIX = "flatfiles:"
BAR_SOURCES = {minute: trades for trades, (_, minute, _) in DERIVED_BARS.items()} | {
    daily: trades for trades, (_, _, daily) in DERIVED_BARS.items()
}


def is_vendor(part: Partition | None) -> bool:
    return part is not None and part.source.startswith(VENDOR_PREFIX)


def fill_vwap(vendor: pa.Table, derived: pa.Table) -> pa.Table:
    """``vendor`` bars (order kept) with the VWAP of the derived bar of the same ticker and window."""
    if vendor.num_rows == 0 or derived.num_rows == 0:
        return vendor
    left = vendor.select(["ticker", "window_start"]).append_column(
        "__i", pa.array(np.arange(vendor.num_rows, dtype=np.int64))
    )
    right = derived.select(["ticker", "window_start", "vwap"]).rename_columns(["ticker", "window_start", "__vwap"])
    joined = left.join(right, keys=["ticker", "window_start"], join_type="left outer").sort_by("__i")
    vwap = pc.coalesce(joined["__vwap"], vendor["vwap"])
    return vendor.set_column(vendor.schema.get_field_index("vwap"), "vwap", vwap.cast(pa.float64()))


def read_partition(part: Partition, name: str) -> pa.Table:
    return pa.concat_tables([pq.read_table(f, schema=dataset(name).schema) for f in part.files])


def derived_from_stored_trades(lake: Lake, bars_name: str, day: dt.date, workdir: Path) -> pa.Table | None:
    """The bars of ``bars_name`` derived from the day's stored trades (None when none are stored)."""
    trades_name = BAR_SOURCES[bars_name]
    part = lake.snapshot().partition(trades_name, day)
    if part is None:
        return None
    asset, minute_name, _ = DERIVED_BARS[trades_name]
    derived = DerivedBars(asset, day, workdir)
    try:
        for f in part.files:
            for batch in pq.ParquetFile(f).iter_batches(batch_size=262_144):
                if batch.num_rows:
                    derived.add(pa.Table.from_batches([batch]).cast(dataset(trades_name).schema))
        minute_path, daily_path = derived.finish()
        return pq.read_table(minute_path if bars_name == minute_name else daily_path)
    finally:
        derived.discard()


def fill_stream(chunks: Iterable[pa.Table], derived: pa.Table | None) -> Iterator[pa.Table]:
    for chunk in chunks:
        yield chunk if derived is None else fill_vwap(chunk, derived)


def vendor_aware_bars_writer(lake: Lake) -> BarsWriter:
    """Writes derived bars, or fills their VWAP into a vendor partition already stored for the day."""

    def write(name: str, day: dt.date, tables: Iterator[pa.Table], derived_source: str) -> Partition:
        part = lake.snapshot().partition(name, day)
        if not is_vendor(part):
            return lake.write_partition(name, day, tables, source=derived_source, presorted=True)
        assert part is not None
        schema = dataset(name).schema
        parts = [t.cast(schema) for t in tables]
        derived = pa.concat_tables(parts) if parts else schema.empty_table()
        filled = fill_vwap(read_partition(part, name), derived)
        return lake.write_partition(
            name, day, rebatch([filled], dataset(name).row_group_size), source=part.source, presorted=True
        )

    return write
