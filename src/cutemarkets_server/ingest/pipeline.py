"""The one path into the lake: validate a day of records, quarantine rejects, write atomically,
and derive minute/day bars from trades. The built-in market and vendor importers both use it."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..market import conditions
from ..market.bars import Bars, intraday_bucket, trades_to_bars
from ..market.timestamps import et_midnight_ns
from ..store.lake import Lake, Partition, PartitionWriteError
from ..store.schemas import dataset
from .errors import DayAbortError
from .quarantine import QuarantineWriter
from .sorting import OrderCheck, rebatch
from .validate import REASON_COLUMN, validate

DERIVED_BARS = {
    "stock_trades": ("stocks", "stock_minute_aggs", "stock_day_aggs"),
    "option_trades": ("options", "option_minute_aggs", "option_day_aggs"),
}


@dataclass
class DayResult:
    dataset: str
    day: dt.date
    rows_read: int
    rows_stored: int
    rows_quarantined: int
    reasons: dict[str, int] = field(default_factory=dict)
    partition: Partition | None = None
    quarantine_file: Path | None = None


class Ingestor:
    """Writes validated day partitions into a lake; rejects go to ``quarantine_dir``."""

    def __init__(self, lake: Lake, quarantine_dir: Path) -> None:
        self.lake = lake
        self.quarantine_dir = Path(quarantine_dir)

    def write_day(
        self, name: str, day: dt.date, table: pa.Table, *, source: str, derive_bars: bool = True
    ) -> list[DayResult]:
        """Validate and store one day of ``name``; for trades also (re)build that day's bars."""
        valid, rejected = validate(name, day, table)
        qfile = self._quarantine(name, day, source, rejected) if rejected.num_rows else None
        part = self.lake.write_partition(name, day, valid, source=source)
        reasons = dict(Counter(rejected[REASON_COLUMN].to_pylist())) if rejected.num_rows else {}
        results = [DayResult(name, day, table.num_rows, valid.num_rows, rejected.num_rows, reasons, part, qfile)]
        if derive_bars and name in DERIVED_BARS:
            asset, minute_ds, day_ds = DERIVED_BARS[name]
            minute, daily = bars_from_trades(asset, day, valid)
            for ds_name, bars in ((minute_ds, minute), (day_ds, daily)):
                p = self.lake.write_partition(ds_name, day, bars, source=f"derived:{name}", presorted=True)
                results.append(DayResult(ds_name, day, bars.num_rows, bars.num_rows, 0, {}, p))
        return results

    def write_day_stream(
        self,
        name: str,
        day: dt.date,
        chunks: Iterable[pa.Table],
        *,
        source: str,
        quarantine: QuarantineWriter,
        workdir: Path,
        derive_bars: bool = True,
        bars_writer: BarsWriter | None = None,
        on_valid: Callable[[pa.Table], None] | None = None,
    ) -> list[DayResult]:
        """Like :meth:`write_day` for a day that arrives in chunks already in partition order.

        Each chunk is validated as it arrives; rejects stream to ``quarantine`` and valid rows stream
        into the partition file, so memory holds a few chunks whatever the size of the day. Raises
        :class:`~.sorting.UnsortedInputError` (before anything becomes visible) when a chunk breaks the
        order; any :class:`~.errors.DayAbortError` raised by ``chunks`` aborts the write the same way.
        Bars derived from trades are spilled to ``workdir`` and written afterwards, through
        ``bars_writer`` when given (it decides how they combine with existing partitions).
        ``on_valid`` sees every valid chunk (e.g. to note which tickers appeared).
        """
        ds = dataset(name)
        order = OrderCheck(ds.sort_keys)
        counts = {"read": 0, "stored": 0, "rejected": 0}
        derived = DerivedBars(DERIVED_BARS[name][0], day, workdir) if derive_bars and name in DERIVED_BARS else None

        def valid_chunks() -> Iterator[pa.Table]:
            for chunk in chunks:
                counts["read"] += chunk.num_rows
                valid, rejected = validate(name, day, chunk)
                quarantine.write(rejected)
                counts["rejected"] += rejected.num_rows
                if valid.num_rows:
                    order.check(valid)
                    if derived is not None:
                        derived.add(valid)
                    if on_valid is not None:
                        on_valid(valid)
                    counts["stored"] += valid.num_rows
                    yield valid

        try:
            part = self.lake.write_partition(
                name, day, rebatch(valid_chunks(), ds.row_group_size), source=source, presorted=True
            )
        except PartitionWriteError as exc:
            if derived is not None:
                derived.discard()
            if isinstance(exc.__cause__, DayAbortError):
                raise exc.__cause__ from None
            raise
        reasons = dict(quarantine.reasons)
        results = [
            DayResult(
                name, day, counts["stored"] + quarantine.rows, counts["stored"], quarantine.rows, reasons, part, None
            )
        ]
        if derived is not None:
            _, minute_ds, day_ds = DERIVED_BARS[name]
            minute_file, daily_file = derived.finish()
            try:
                for ds_name, path in ((minute_ds, minute_file), (day_ds, daily_file)):
                    bars = rebatch(_read_batches(path), dataset(ds_name).row_group_size)
                    if bars_writer is not None:
                        p = bars_writer(ds_name, day, bars, f"derived:{name}")
                    else:
                        p = self.lake.write_partition(ds_name, day, bars, source=f"derived:{name}", presorted=True)
                    results.append(DayResult(ds_name, day, p.rows, p.rows, 0, {}, p))
            finally:
                derived.discard()
        return results

    def _quarantine(self, name: str, day: dt.date, source: str, rejected: pa.Table) -> Path:
        directory = self.quarantine_dir / name
        directory.mkdir(parents=True, exist_ok=True)
        slug = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in source)[-80:]
        path = directory / f"{day.isoformat()}--{slug}.parquet"
        tmp = path.with_suffix(".parquet.tmp")
        pq.write_table(rejected, tmp, compression="zstd")
        tmp.replace(path)
        return path


def bars_from_trades(asset: str, day: dt.date, trades: pa.Table) -> tuple[pa.Table, pa.Table]:
    """Minute and daily bars of one day's trades (sorted by ticker, time), as agg tables."""
    schema = dataset("stock_minute_aggs").schema
    if trades.num_rows == 0:
        return schema.empty_table(), schema.empty_table()
    trades = trades.sort_by([("ticker", "ascending"), ("sip_timestamp", "ascending")])
    tickers = trades["ticker"].combine_chunks()
    dict_tickers = tickers.dictionary_encode()
    key = dict_tickers.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    # Keys must be non-decreasing in sort order: remap dictionary indices by first appearance.
    _, first = np.unique(key, return_index=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first)] = np.arange(len(first))
    key = rank[key]
    names = np.asarray(dict_tickers.dictionary.to_pylist(), dtype=object)[np.argsort(rank)]
    ts = trades["sip_timestamp"].to_numpy()
    price = trades["price"].to_numpy()
    size = trades["size"].to_numpy().astype(np.float64)
    conds = trades["conditions"].combine_chunks()
    conds = pc.fill_null(conds, pa.scalar([], conds.type)) if conds.null_count else conds
    codes = conds.flatten().to_numpy(zero_copy_only=False)
    offsets = conds.offsets.to_numpy()
    offsets = offsets - offsets[0]

    hl, oc, vol = conditions.update_masks(asset, codes, offsets, intraday=True)
    minute = trades_to_bars(key, ts, price, size, hl, oc, vol, intraday_bucket(ts, "minute", 1))
    hl, oc, vol = conditions.update_masks(asset, codes, offsets, intraday=False)
    midnight = np.full(len(ts), et_midnight_ns(day), dtype=np.int64)
    daily = trades_to_bars(key, ts, price, size, hl, oc, vol, midnight)
    return _bars_table(minute, names, schema), _bars_table(daily, names, schema)


def _bars_table(bars: Bars, names: np.ndarray, schema: pa.Schema) -> pa.Table:
    return pa.table(
        {
            "ticker": pa.array(names[bars.key] if len(bars) else [], pa.string()),
            "window_start": bars.window_start,
            "open": bars.open,
            "high": bars.high,
            "low": bars.low,
            "close": bars.close,
            "volume": bars.volume,
            "vwap": bars.vwap,
            "transactions": bars.transactions,
        },
        schema=schema,
    )


BarsWriter = Callable[[str, dt.date, Iterator[pa.Table], str], Partition]


class DerivedBars:
    """Bars of a sorted trade stream, computed per group of complete tickers and spilled to disk."""

    def __init__(self, asset: str, day: dt.date, workdir: Path) -> None:
        self.asset = asset
        self.day = day
        workdir.mkdir(parents=True, exist_ok=True)
        tag = uuid.uuid4().hex
        self.paths = (workdir / f"minute-{tag}.parquet", workdir / f"daily-{tag}.parquet")
        schema = dataset("stock_minute_aggs").schema
        self._writers = [pq.ParquetWriter(p, schema, compression="lz4") for p in self.paths]
        self._carry: pa.Table | None = None

    def add(self, trades: pa.Table) -> None:
        if self._carry is not None and self._carry.num_rows:
            trades = pa.concat_tables([self._carry, trades])
        tickers = trades["ticker"]
        last = tickers[trades.num_rows - 1]
        same = pc.equal(tickers, last).to_numpy(zero_copy_only=False)
        cut = int(np.argmax(same))  # the last ticker's rows form the suffix (trades are sorted)
        self._carry = trades.slice(cut)
        self._emit(trades.slice(0, cut))

    def _emit(self, trades: pa.Table) -> None:
        if trades.num_rows == 0:
            return
        minute, daily = bars_from_trades(self.asset, self.day, trades)
        self._writers[0].write_table(minute)
        self._writers[1].write_table(daily)

    def finish(self) -> tuple[Path, Path]:
        if self._carry is not None:
            self._emit(self._carry)
            self._carry = None
        for w in self._writers:
            w.close()
        self._writers = []
        return self.paths

    def discard(self) -> None:
        for w in self._writers:
            w.close()
        self._writers = []
        for p in self.paths:
            p.unlink(missing_ok=True)


def _read_batches(path: Path) -> Iterator[pa.Table]:
    for batch in pq.ParquetFile(path).iter_batches(batch_size=65_536):
        yield pa.Table.from_batches([batch])
