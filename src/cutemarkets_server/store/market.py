"""Market-data reads over the lake. All SQL of the system lives in store/.

Times are integer UTC ns; a range is half-open [lo, hi). Every read starts from the row index
(:meth:`Lake.runs`: where each ticker's rows of a day sit) and decodes only the row groups that
hold the rows it returns, so its cost follows the answer, not the history stored:

- a tick page walks the ticker's days from the requested end and stops when the page is full;
- "the last row before an instant" comes from the day files' ``.last`` sidecars for finished days,
  and from a search of the ticker's own rows on the instant's day;
- one ticker's bars over many days come from a pack (one sorted file per month or year).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..market.timestamps import et_date
from .engine import DuckEngine, file_list
from .lake import Lake, ManifestSnapshot, RunRef, sidecar_path
from .rowreader import RowReader
from .schemas import dataset

LOOKBACK_PARTITIONS = 10


@dataclass(frozen=True, slots=True)
class Position:
    """Where a keyset page ends: the last timestamp and how many rows at exactly it were returned."""

    ts: int
    skip: int


@dataclass(frozen=True, slots=True)
class _Span:
    file: str
    start: int
    stop: int


class MarketStore:
    """Read access to ticks, bars and reference data in the lake."""

    def __init__(self, lake: Lake, engine: DuckEngine, reader: RowReader | None = None) -> None:
        self.lake = lake
        self.engine = engine
        self.reader = reader or RowReader()

    def snapshot(self) -> ManifestSnapshot:
        return self.lake.snapshot()

    # -- partitions ------------------------------------------------------------------------------
    def days(self, name: str) -> list[dt.date]:
        return self.snapshot().days(name)

    # -- reading spans -----------------------------------------------------------------------------
    def _read(self, name: str, spans: Sequence[_Span], columns: Sequence[str] | None = None) -> pa.Table:
        """The rows of ``spans`` concatenated in the order given (each file's row groups decoded once)."""
        schema = dataset(name).schema
        if columns is not None:
            schema = pa.schema([schema.field(c) for c in columns])
        by_file: dict[str, list[int]] = defaultdict(list)
        for i, s in enumerate(spans):
            by_file[s.file].append(i)
        parts: list[pa.Table | None] = [None] * len(spans)
        for file, idx in by_file.items():
            tables = self.reader.spans(file, [(spans[i].start, spans[i].stop) for i in idx], columns)
            for i, t in zip(idx, tables, strict=True):
                parts[i] = t
        tables = [t.cast(schema) for t in parts if t is not None and t.num_rows]
        return pa.concat_tables(tables) if tables else schema.empty_table()

    def _times(self, name: str, runs: Sequence[RunRef]) -> list[np.ndarray]:
        """The time column of each run (rows in file order)."""
        col = dataset(name).time_column
        assert col is not None
        by_file: dict[str, list[int]] = defaultdict(list)
        for i, r in enumerate(runs):
            by_file[r.file].append(i)
        out: list[np.ndarray] = [np.empty(0, dtype=np.int64)] * len(runs)
        for file, idx in by_file.items():
            ranges = [(runs[i].first_row, runs[i].first_row + runs[i].rows) for i in idx]
            for i, t in zip(idx, self.reader.spans(file, ranges, [col]), strict=True):
                out[i] = t[col].to_numpy()
        return out

    def _trim(self, name: str, runs: Sequence[RunRef], lo: int | None, hi: int | None) -> list[_Span]:
        """Each run narrowed to its rows with lo <= time < hi (runs are sorted by time)."""
        keep = [r for r in runs if not _outside(r, lo, hi)]
        inside = [
            r.min_ts is not None
            and r.max_ts is not None
            and (lo is None or r.min_ts >= lo)
            and (hi is None or r.max_ts < hi)
            for r in keep
        ]
        partial = [r for r, whole in zip(keep, inside, strict=True) if not whole]
        times = dict(zip((id(r) for r in partial), self._times(name, partial), strict=True)) if partial else {}
        spans = []
        for r, whole in zip(keep, inside, strict=True):
            if whole:
                spans.append(_Span(r.file, r.first_row, r.first_row + r.rows))
                continue
            ts = times[id(r)]
            a = int(np.searchsorted(ts, lo, side="left")) if lo is not None else 0
            b = int(np.searchsorted(ts, hi, side="left")) if hi is not None else len(ts)
            if b > a:
                spans.append(_Span(r.file, r.first_row + a, r.first_row + b))
        return spans

    @staticmethod
    def _day_bounds(lo: int | None, hi: int | None) -> tuple[dt.date | None, dt.date | None]:
        return (et_date(lo) if lo is not None else None, et_date(hi - 1) if hi is not None else None)

    # -- ticks -----------------------------------------------------------------------------------
    def tick_page(
        self,
        name: str,
        ticker: str,
        lo: int | None,
        hi: int | None,
        *,
        descending: bool,
        limit: int,
        after: Position | None = None,
    ) -> pa.Table:
        """Up to ``limit`` rows of one ticker in time order, continuing after ``after``.

        Walks the ticker's days from the requested end and stops as soon as the page is full."""
        ds = dataset(name)
        if after is not None:
            if descending:
                hi = after.ts + 1 if hi is None else min(hi, after.ts + 1)
            else:
                lo = after.ts if lo is None else max(lo, after.ts)
        if lo is not None and hi is not None and lo >= hi:
            return ds.schema.empty_table()
        skip = after.skip if after else 0
        need = limit + skip
        first, last = self._day_bounds(lo, hi)
        runs = self.lake.runs(self.snapshot(), name, [ticker], first, last, packed=True)
        if descending:
            runs.reverse()
        spans: list[_Span] = []
        got = 0
        for run in runs:
            if got >= need:
                break
            for span in self._trim(name, [run], lo, hi):
                take = min(span.stop - span.start, need - got)
                if descending:
                    spans.append(_Span(span.file, span.stop - take, span.stop))
                else:
                    spans.append(_Span(span.file, span.start, span.start + take))
                got += take
        if not spans:
            return ds.schema.empty_table()
        if descending:
            pieces = [self._read(name, [s]) for s in spans]
            table = pa.concat_tables([p.take(pa.array(np.arange(p.num_rows - 1, -1, -1))) for p in pieces])
        else:
            table = self._read(name, spans)
        return table.slice(skip, limit)

    def last_tick(self, name: str, ticker: str, before_ns: int) -> dict | None:
        """The newest row of ``ticker`` strictly before ``before_ns`` (searching back day by day)."""
        rows = self.last_ticks(name, [ticker], before_ns)
        return rows.to_pylist()[0] if rows.num_rows else None

    def last_ticks(
        self, name: str, tickers: Sequence[str], before_ns: int, *, max_partitions: int = LOOKBACK_PARTITIONS
    ) -> pa.Table:
        """The newest row before ``before_ns`` for each of ``tickers`` (missing tickers are absent),
        from the newest ``max_partitions`` partitions up to ``before_ns``'s day."""
        snap = self.snapshot()
        days = [d for d in snap.days(name) if d <= et_date(before_ns - 1)][::-1][:max_partitions]
        return self._last_rows(snap, name, tickers, days, before_ns)

    def _last_rows(
        self,
        snap: ManifestSnapshot,
        name: str,
        tickers: Sequence[str],
        days: Sequence[dt.date],
        before_ns: int | None,
        *,
        inclusive: bool = False,
    ) -> pa.Table:
        """Each ticker's last row in the newest of ``days`` that has one before ``before_ns`` (or at it,
        with ``inclusive``; any time when ``before_ns`` is None)."""
        ds = dataset(name)
        if not days or not tickers:
            return ds.schema.empty_table()
        wanted_days = set(days)
        bound = None if before_ns is None else (before_ns + 1 if inclusive else before_ns)
        newest: dict[str, RunRef] = {}
        for run in self.lake.runs(snap, name, tickers, min(days), max(days)):
            if run.day not in wanted_days or (bound is not None and run.min_ts is not None and run.min_ts >= bound):
                continue
            newest[run.ticker] = run  # runs come oldest day first
        whole = [r for r in newest.values() if bound is None or r.max_ts is None or r.max_ts < bound]
        partial = [r for r in newest.values() if not (bound is None or r.max_ts is None or r.max_ts < bound)]
        spans = [_Span(r.file, r.first_row + r.rows - 1, r.first_row + r.rows) for r in whole if r.ordinal is None]
        sidecar = [r for r in whole if r.ordinal is not None]
        for r, ts in zip(partial, self._times(name, partial), strict=True):
            k = int(np.searchsorted(ts, bound, side="left"))
            spans.append(_Span(r.file, r.first_row + k - 1, r.first_row + k))
        tables = [self._read(name, spans)] if spans else []
        by_side: dict[str, list[int]] = defaultdict(list)
        for r in sidecar:
            by_side[str(sidecar_path_of(r.file))].append(int(r.ordinal or 0))
        for file, rows in by_side.items():
            tables.append(self.reader.take(file, np.sort(np.array(rows))).cast(ds.schema))
        tables = [t for t in tables if t.num_rows]
        return pa.concat_tables(tables) if tables else ds.schema.empty_table()

    def busiest_tickers(self, name: str, prefix: str = "", limit: int = 10) -> list[tuple[str, int]]:
        """Tickers with the most rows in a dataset over every partition (benchmarks pick their subjects)."""
        totals = self.lake.run_totals(self.snapshot(), name, prefix)
        return sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]

    def quote_series(self, ticker: str, day: dt.date) -> pa.Table:
        """A stock's NBBO quotes on one day: time, bid and ask in time order."""
        columns = ["sip_timestamp", "bid_price", "ask_price"]
        runs = self.lake.runs(self.snapshot(), "stock_quotes", [ticker], day, day)
        spans = [_Span(r.file, r.first_row, r.first_row + r.rows) for r in runs]
        return self._read("stock_quotes", spans, columns)

    def ticks_between(self, name: str, tickers: Sequence[str], lo: int, hi: int) -> pa.Table:
        """Every row of ``tickers`` in [lo, hi), sorted by ticker then time."""
        if lo >= hi or not tickers:
            return dataset(name).schema.empty_table()
        first, last = self._day_bounds(lo, hi)
        runs = self.lake.runs(self.snapshot(), name, tickers, first, last, packed=True)
        return self._read(name, self._trim(name, runs, lo, hi))

    # -- bars ------------------------------------------------------------------------------------
    def bars(self, name: str, ticker: str, lo: int, hi: int, *, limit: int | None = None) -> pa.Table:
        """Stored bars of one ticker with lo <= window_start < hi, oldest first."""
        if lo >= hi:
            return dataset(name).schema.empty_table()
        first, last = self._day_bounds(lo, hi)
        runs = self.lake.runs(self.snapshot(), name, [ticker], first, last, packed=True)
        spans = _joined(self._trim(name, runs, lo, hi))
        if limit is not None:
            kept, total = [], 0
            for s in spans:
                if total >= limit:
                    break
                take = min(s.stop - s.start, limit - total)
                kept.append(_Span(s.file, s.start, s.start + take))
                total += take
            spans = kept
        return self._read(name, spans)

    def last_bars(
        self, name: str, tickers: Sequence[str], before_day: dt.date, *, max_partitions: int = LOOKBACK_PARTITIONS
    ) -> pa.Table:
        """Each ticker's newest stored bar from a partition strictly before ``before_day``."""
        snap = self.snapshot()
        days = [d for d in snap.days(name) if d < before_day][::-1][:max_partitions]
        return self._last_rows(snap, name, tickers, days, None)

    def open_interest_before(self, tickers: Sequence[str], before_ns: int) -> pa.Table:
        """Each ticker's open interest from the newest report published before ``before_ns``."""
        name = "option_open_interest"
        snap = self.snapshot()
        days = [d for d in snap.days(name) if d <= et_date(before_ns - 1)][::-1][:LOOKBACK_PARTITIONS]
        rows = self._last_rows(snap, name, tickers, days, before_ns)
        return rows.select(["ticker", "open_interest", "trading_date", "reported_timestamp"])

    def day_bars_on(self, name: str, day: dt.date, tickers: Sequence[str] | None = None) -> pa.Table:
        """Stored daily bars of one day (all tickers, or the given ones)."""
        snap = self.snapshot()
        part = snap.partition(name, day)
        if part is None:
            return dataset(name).schema.empty_table()
        if tickers is None:
            return pq.read_table(part.files[0]).cast(dataset(name).schema)
        runs = self.lake.runs(snap, name, tickers, day, day)
        return self._read(name, [_Span(r.file, r.first_row, r.first_row + r.rows) for r in runs])

    def last_minute_bars(
        self, name: str, tickers: Sequence[str], last_start_ns: int, *, max_partitions: int = LOOKBACK_PARTITIONS
    ) -> pa.Table:
        """Each ticker's newest bar with ``window_start <= last_start_ns``, plus ``accumulated_volume``:
        the volume of that bar's ET day up to and including it. Searches back day by day only for
        tickers still missing (at most ``max_partitions`` partitions)."""
        snap = self.snapshot()
        days = set([d for d in snap.days(name) if d <= et_date(last_start_ns)][::-1][:max_partitions])
        schema = dataset(name).schema.append(pa.field("accumulated_volume", pa.float64()))
        newest: dict[str, RunRef] = {}
        if days and tickers:
            for run in self.lake.runs(snap, name, tickers, min(days), max(days)):
                if run.day in days and (run.min_ts is None or run.min_ts <= last_start_ns):
                    newest[run.ticker] = run
        if not newest:
            return schema.empty_table()
        runs = list(newest.values())
        heads = self._read(
            name, [_Span(r.file, r.first_row, r.first_row + r.rows) for r in runs], ["window_start", "volume"]
        )
        starts, volumes = heads["window_start"].to_numpy(), heads["volume"].to_numpy()
        spans, accumulated, at = [], [], 0
        for r in runs:
            ts = starts[at : at + r.rows]
            k = int(np.searchsorted(ts, last_start_ns, side="right"))
            spans.append(_Span(r.file, r.first_row + k - 1, r.first_row + k))
            accumulated.append(float(volumes[at : at + k].sum()))
            at += r.rows
        rows = self._read(name, spans)
        return rows.append_column(schema.field("accumulated_volume"), pa.array(accumulated, pa.float64()))

    def distinct_tickers(self, name: str) -> list[str]:
        """Every ticker that has at least one row in ``name`` (any partition), sorted."""
        return sorted(self.lake.run_totals(self.snapshot(), name))

    # -- reference -------------------------------------------------------------------------------
    def events(self, name: str, last_day: dt.date | None = None) -> pa.Table:
        """Every record of an event-log dataset with its ``effective_date`` (= partition day)."""
        snap = self.snapshot()
        parts = [p for d, p in sorted(snap.by_dataset.get(name, {}).items()) if last_day is None or d <= last_day]
        if not parts:
            return dataset(name).schema.append(pa.field("effective_date", pa.date32())).empty_table()
        sql_parts = []
        for p in parts:
            sql_parts.append(
                f"SELECT *, DATE '{p.day.isoformat()}' AS effective_date FROM read_parquet({file_list(p.files)})"
            )
        return self.engine.arrow(" UNION ALL ".join(sql_parts))

    def partition_table(self, name: str, day: dt.date) -> pa.Table:
        files = self.snapshot().files(name, [day])
        if not files:
            return dataset(name).schema.empty_table()
        return self.engine.arrow(f"SELECT * FROM read_parquet({file_list(files)})")

    def latest_partition_on_or_before(self, name: str, day: dt.date) -> dt.date | None:
        days = [d for d in self.days(name) if d <= day]
        return days[-1] if days else None


def _outside(run: RunRef, lo: int | None, hi: int | None) -> bool:
    if run.min_ts is None or run.max_ts is None:
        return False
    return (hi is not None and run.min_ts >= hi) or (lo is not None and run.max_ts < lo)


def sidecar_path_of(file: str) -> str:
    from pathlib import Path

    return str(sidecar_path(Path(file)))


def _joined(spans: list[_Span]) -> list[_Span]:
    """Adjacent spans of the same file merged (a pack holds one ticker's days back to back)."""
    out: list[_Span] = []
    for s in spans:
        if out and out[-1].file == s.file and out[-1].stop == s.start:
            out[-1] = _Span(s.file, out[-1].start, s.stop)
        else:
            out.append(s)
    return out
