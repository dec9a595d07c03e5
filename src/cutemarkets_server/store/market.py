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

import bisect
import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..market.timestamps import et_date
from .dayindex import NO_MAX_TS, NO_MIN_TS, NO_ORDINAL, DayIndex, TickerRuns, encode_tickers
from .engine import DuckEngine, file_list
from .lake import FILE_RUNS_MIN_TICKERS, Lake, ManifestSnapshot, RunRef, day_number
from .rowreader import RowReader, ranges_to_rows
from .schemas import dataset

LOOKBACK_PARTITIONS = 10


@dataclass(frozen=True, slots=True)
class Position:
    """Where a keyset page ends: the last timestamp and how many rows at exactly it were returned."""

    ts: int
    skip: int


class _Span(NamedTuple):
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
        return list(self.snapshot().days(name))

    # -- reading spans -----------------------------------------------------------------------------
    def _read(self, name: str, spans: Sequence[_Span], columns: Sequence[str] | None = None) -> pa.Table:
        """The rows of ``spans`` concatenated in the order given (one gather per file)."""
        schema = dataset(name).schema
        if columns is not None:
            schema = pa.schema([schema.field(c) for c in columns])
        spans = [sp for sp in spans if sp.stop > sp.start]
        if not spans:
            return schema.empty_table()
        if len({sp.file for sp in spans}) == len(spans):  # a file each (a ticker's days): read in the order given
            tables = [_conformed(self.reader.ranges(sp.file, [sp.start], [sp.stop], columns), schema) for sp in spans]
            return pa.concat_tables(tables) if len(tables) > 1 else tables[0]
        by_file: dict[str, list[int]] = defaultdict(list)
        for i, sp in enumerate(spans):
            by_file[sp.file].append(i)
        tables, where = [], np.zeros(len(spans), dtype=np.int64)
        at = 0
        for file, idx in by_file.items():
            starts = np.array([spans[i].start for i in idx], dtype=np.int64)
            stops = np.array([spans[i].stop for i in idx], dtype=np.int64)
            tables.append(_conformed(self.reader.ranges(file, starts, stops, columns), schema))
            where[idx] = at + np.concatenate(([0], np.cumsum(stops - starts)[:-1]))
            at += int((stops - starts).sum())
        table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
        lengths = np.array([sp.stop - sp.start for sp in spans], dtype=np.int64)
        order = ranges_to_rows(where, where + lengths)
        if np.array_equal(order, np.arange(len(order))):
            return table
        return table.take(pa.array(order))

    def _counts_below(self, name: str, runs: Sequence[RunRef], bound: int) -> np.ndarray:
        """How many rows of each run have a time below ``bound`` (runs are sorted by time)."""
        col = dataset(name).time_column
        assert col is not None
        out = np.zeros(len(runs), dtype=np.int64)
        by_file: dict[str, list[int]] = defaultdict(list)
        for i, r in enumerate(runs):
            by_file[r.file].append(i)
        for file, idx in by_file.items():
            starts = np.array([runs[i].first_row for i in idx], dtype=np.int64)
            lengths = np.array([runs[i].rows for i in idx], dtype=np.int64)
            out[idx] = self._counts_below_in(name, file, starts, lengths, bound)
        return out

    def _counts_below_in(self, name: str, file: str, starts: np.ndarray, lengths: np.ndarray, bound: int) -> np.ndarray:
        """``_counts_below`` for runs of one file given as arrays (every length at least 1)."""
        col = dataset(name).time_column
        assert col is not None
        values = self.reader.values(file, starts, starts + lengths, col)
        offsets = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        return np.add.reduceat((values < bound).astype(np.int64), offsets)

    def _trim(self, name: str, runs: Sequence[RunRef], lo: int | None, hi: int | None) -> list[_Span]:
        """Each run narrowed to its rows with lo <= time < hi (runs are sorted by time), in run order."""
        keep = [r for r in runs if not _outside(r, lo, hi)]
        if not keep:
            return []
        first = np.array([r.first_row for r in keep], dtype=np.int64)
        start, stop = first.copy(), first + np.array([r.rows for r in keep], dtype=np.int64)
        if lo is not None:
            cut = [i for i, r in enumerate(keep) if r.min_ts is None or r.min_ts < lo]
            if cut:
                start[cut] = first[cut] + self._counts_below(name, [keep[i] for i in cut], lo)
        if hi is not None:
            cut = [i for i, r in enumerate(keep) if r.max_ts is None or r.max_ts >= hi]
            if cut:
                stop[cut] = first[cut] + self._counts_below(name, [keep[i] for i in cut], hi)
        return [_Span(r.file, a, b) for r, a, b in zip(keep, start.tolist(), stop.tolist(), strict=True) if b > a]

    def _ticker_rows(
        self, snap: ManifestSnapshot, name: str, runs: TickerRuns, lo: int | None, hi: int | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(file id, first row, end row) of each of one ticker's runs narrowed to lo <= time < hi (None: no
        bound), runs left empty dropped. Only a run that straddles a bound is searched in its file."""
        lo_ = NO_MIN_TS if lo is None else lo
        hi_ = NO_MAX_TS if hi is None else hi
        keep = np.flatnonzero((runs.min_ts < hi_) & (runs.max_ts >= lo_))
        files = runs.file_ids[keep]
        first = runs.first_row[keep]
        start, stop = first.copy(), first + runs.rows[keep]
        for bound, cut, edge in (
            (lo, np.flatnonzero(runs.min_ts[keep] < lo_) if lo is not None else None, start),
            (hi, np.flatnonzero(runs.max_ts[keep] >= hi_) if hi is not None else None, stop),
        ):
            if bound is None or cut is None or len(cut) == 0:
                continue
            for fid in np.unique(files[cut]).tolist():
                at = cut[files[cut] == fid]
                lengths = runs.rows[keep][at]
                counts = self._counts_below_in(name, self.lake.file_path(snap, fid), first[at], lengths, bound)
                edge[at] = first[at] + counts
        full = stop > start
        return files[full], start[full], stop[full]

    def _spans_of(self, snap: ManifestSnapshot, files: np.ndarray, start: np.ndarray, stop: np.ndarray) -> list[_Span]:
        """Row ranges as spans, those that continue each other in one file (a pack holds a ticker's days back
        to back) merged into one."""
        if len(files) == 0:
            return []
        heads = np.flatnonzero(np.r_[True, (files[1:] != files[:-1]) | (start[1:] != stop[:-1])])
        tails = np.r_[heads[1:] - 1, len(files) - 1]
        return [
            _Span(self.lake.file_path(snap, f), a, b)
            for f, a, b in zip(files[heads].tolist(), start[heads].tolist(), stop[tails].tolist(), strict=True)
        ]

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

        From the ticker's runs (cached, see :meth:`Lake.ticker_runs`), the days from the requested end up to the
        one that fills the page are read, and no others."""
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
        snap = self.snapshot()
        runs = self.lake.ticker_runs(snap, name, ticker)
        if first is not None or last is not None:
            runs = runs.between(
                day_number(first) if first is not None else -(10**9), day_number(last) if last is not None else 10**9
            )
        files, start, stop = self._ticker_rows(snap, name, runs, lo, hi)
        sizes = stop - start
        filled = np.cumsum(sizes[::-1] if descending else sizes)  # rows counted from the requested end
        used = int(np.searchsorted(filled, need, "left")) + 1  # runs that fill the page (all, if it stays short)
        if used <= len(files):
            over = int(filled[used - 1]) - need
            if descending:
                files, start, stop = files[-used:], start[-used:].copy(), stop[-used:]
                start[0] += over
            else:
                files, start, stop = files[:used], start[:used], stop[:used].copy()
                stop[-1] -= over
        table = self._read(name, self._spans_of(snap, files, start, stop))
        if descending:
            table = table.take(pa.array(np.arange(table.num_rows - 1, -1, -1)))
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
        days = _newest_days(snap, name, et_date(before_ns - 1), max_partitions)
        return self._last_rows(snap, name, tickers, days, before_ns)

    def _newest_runs(
        self, snap: ManifestSnapshot, name: str, tickers: Sequence[str], days: Sequence[dt.date], bound: int | None
    ) -> list[RunRef]:
        """Each ticker's run on the newest of ``days`` (newest first) that has a row before ``bound``:
        a day at a time, each older day only for the tickers still missing."""
        chosen: dict[str, RunRef] = {}
        remaining = sorted(set(tickers))
        for day in days:
            if not remaining:
                break
            for run in self.lake.runs(snap, name, remaining, day, day):
                if bound is None or run.min_ts is None or run.min_ts < bound:
                    chosen[run.ticker] = run
            remaining = [t for t in remaining if t not in chosen]
        return list(chosen.values())

    def _last_rows(
        self,
        snap: ManifestSnapshot,
        name: str,
        tickers: Sequence[str],
        days: Sequence[dt.date],
        before_ns: int | None,
    ) -> pa.Table:
        """Each ticker's last row before ``before_ns`` (any time when None) in the newest of ``days``
        (newest first) that has one."""
        ds = dataset(name)
        if not days or not tickers:
            return ds.schema.empty_table()
        if len(tickers) > FILE_RUNS_MIN_TICKERS:
            return self._last_rows_many(snap, name, tickers, days, before_ns)
        runs = self._newest_runs(snap, name, tickers, days, before_ns)
        ends = np.array([r.first_row + r.rows for r in runs], dtype=np.int64)
        partial = (
            [] if before_ns is None else [i for i, r in enumerate(runs) if r.max_ts is None or r.max_ts >= before_ns]
        )
        if partial:
            assert before_ns is not None
            ends[partial] = [runs[i].first_row for i in partial] + self._counts_below(
                name, [runs[i] for i in partial], before_ns
            )
        exact = set(partial)
        spans: list[_Span] = []
        by_side: dict[str, list[int]] = defaultdict(list)
        for i, r in enumerate(runs):
            if r.ordinal is not None and i not in exact:
                by_side[sidecar_path_of(r.file)].append(r.ordinal)
            else:
                spans.append(_Span(r.file, int(ends[i]) - 1, int(ends[i])))
        tables = [self._read(name, spans)] if spans else []
        for file, rows in by_side.items():
            tables.append(_conformed(self.reader.take(file, np.array(rows, dtype=np.int64)), ds.schema))
        tables = [t for t in tables if t.num_rows]
        return pa.concat_tables(tables) if tables else ds.schema.empty_table()

    def _last_rows_many(
        self,
        snap: ManifestSnapshot,
        name: str,
        tickers: Sequence[str],
        days: Sequence[dt.date],
        before_ns: int | None,
    ) -> pa.Table:
        """``_last_rows`` of many tickers: each day's whole run index searched for all of them at once, newest
        day first, each older day only for the tickers still missing."""
        remaining = encode_tickers(tickers)
        tables: list[pa.Table] = []
        for day in days:
            if len(remaining) == 0:
                break
            found = self.lake.day_index(snap, name, day)
            if found is None:
                continue
            path, index = found
            pos, hit = index.find(remaining)
            if before_ns is not None:
                hit &= index.min_ts[pos] < before_ns
            if hit.any():
                remaining = remaining[~hit]
                tables.extend(self._last_of_runs(name, path, index, pos[hit], before_ns))
        tables = [t for t in tables if t.num_rows]
        return pa.concat_tables(tables) if tables else dataset(name).schema.empty_table()

    def _last_of_runs(
        self, name: str, path: str, index: DayIndex, pos: np.ndarray, before_ns: int | None
    ) -> list[pa.Table]:
        """The last row before ``before_ns`` of each run at ``pos`` of one file's index: from the file's
        ``.last`` sidecar where the whole run is before the instant, else from the file itself."""
        schema = dataset(name).schema
        first = index.first_row[pos]
        lengths = index.rows[pos]
        ends = first + lengths
        partial = np.zeros(len(pos), dtype=bool) if before_ns is None else index.max_ts[pos] >= before_ns
        if before_ns is not None and partial.any():
            ends[partial] = first[partial] + self._counts_below_in(
                name, path, first[partial], lengths[partial], before_ns
            )
        side = (index.ordinal[pos] != NO_ORDINAL) & ~partial
        out = []
        if side.any():
            out.append(_conformed(self.reader.take(sidecar_path_of(path), index.ordinal[pos][side]), schema))
        direct = ~side & (ends > first)
        if direct.any():
            out.append(_conformed(self.reader.ranges(path, ends[direct] - 1, ends[direct]), schema))
        return out

    def warm(self, names: Sequence[str], before_ns: int, days: int = LOOKBACK_PARTITIONS + 1) -> None:
        """Load the run indexes of the newest ``days`` partitions of ``names`` up to ``before_ns``'s day, which
        point-in-time look-ups of many tickers read first (one more than a look-up's reach: the bars before a
        session's day reach back from the day before it)."""
        snap = self.snapshot()
        for name in names:
            newest = _newest_days(snap, name, et_date(before_ns - 1), days)
            self.lake.load_day_indexes(snap, name, newest)

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
        # Many tickers on one day (a chain's trades so far) sit together in the day file; one ticker over many
        # days, in its pack.
        runs = self.lake.runs(self.snapshot(), name, tickers, first, last, packed=first != last)
        return self._read(name, self._trim(name, runs, lo, hi))

    # -- bars ------------------------------------------------------------------------------------
    def bars(self, name: str, ticker: str, lo: int, hi: int, *, limit: int | None = None) -> pa.Table:
        """Stored bars of one ticker with lo <= window_start < hi, oldest first."""
        if lo >= hi:
            return dataset(name).schema.empty_table()
        first, last = self._day_bounds(lo, hi)
        assert first is not None and last is not None
        snap = self.snapshot()
        runs = self.lake.ticker_runs(snap, name, ticker).between(day_number(first), day_number(last))
        spans = self._spans_of(snap, *self._ticker_rows(snap, name, runs, lo, hi))
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
        days = _newest_days(snap, name, before_day - dt.timedelta(days=1), max_partitions)
        return self._last_rows(snap, name, tickers, days, None)

    def open_interest_before(self, tickers: Sequence[str], before_ns: int) -> pa.Table:
        """Each ticker's open interest from the newest report published before ``before_ns``."""
        name = "option_open_interest"
        snap = self.snapshot()
        days = _newest_days(snap, name, et_date(before_ns - 1), LOOKBACK_PARTITIONS)
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
        days = _newest_days(snap, name, et_date(last_start_ns), max_partitions)
        schema = dataset(name).schema.append(pa.field("accumulated_volume", pa.float64()))
        runs = self._newest_runs(snap, name, tickers, days, last_start_ns + 1)
        if not runs:
            return schema.empty_table()
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


def _conformed(table: pa.Table, schema: pa.Schema) -> pa.Table:
    return table if table.schema == schema else table.cast(schema)


def _outside(run: RunRef, lo: int | None, hi: int | None) -> bool:
    if run.min_ts is None or run.max_ts is None:
        return False
    return (hi is not None and run.min_ts >= hi) or (lo is not None and run.max_ts < lo)


def sidecar_path_of(file: str) -> str:
    return file.removesuffix(".parquet") + ".last.parquet"


def _newest_days(snap: ManifestSnapshot, name: str, last: dt.date, count: int) -> list[dt.date]:
    """The newest ``count`` days of ``name`` on or before ``last``, newest first."""
    days = snap.days(name)
    end = bisect.bisect_right(days, last)
    return days[max(0, end - count) : end][::-1]
