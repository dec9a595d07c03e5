"""The previous MarketStore (DuckDB over every day file), kept as an independent oracle for the store.

Times are integer UTC ns; a range is half-open [lo, hi). Tick tables are read from the day
partitions a range touches; DuckDB skips row groups by the (ticker, timestamp) statistics.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pyarrow as pa

from cutemarkets_server.market.timestamps import et_date
from cutemarkets_server.store.engine import DuckEngine, file_list
from cutemarkets_server.store.lake import Lake, ManifestSnapshot
from cutemarkets_server.store.market import Position
from cutemarkets_server.store.schemas import dataset

LOOKBACK_PARTITIONS = 10


def _order_columns(name: str) -> list[str]:
    ds = dataset(name)
    time_col = ds.time_column or "ticker"
    scalars = [
        f.name
        for f in ds.schema
        if f.name not in ("ticker", time_col) and not pa.types.is_list(f.type) and not pa.types.is_string(f.type)
    ]
    if "sequence_number" in scalars:
        scalars.remove("sequence_number")
        scalars.insert(0, "sequence_number")
    return [time_col, *scalars]


class LegacyMarketStore:
    """Read access to ticks, bars and reference data in the lake."""

    def __init__(self, lake: Lake, engine: DuckEngine) -> None:
        self.lake = lake
        self.engine = engine

    def snapshot(self) -> ManifestSnapshot:
        return self.lake.snapshot()

    # -- partitions ------------------------------------------------------------------------------
    def days(self, name: str) -> list[dt.date]:
        return self.snapshot().days(name)

    def _files(self, name: str, lo: int | None, hi: int | None) -> list[str]:
        first = et_date(lo) if lo is not None else None
        last = et_date(hi - 1) if hi is not None else None
        return self.snapshot().files_between(name, first, last)

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
        """Up to ``limit`` rows of one ticker in time order, continuing after ``after``."""
        time_col = dataset(name).time_column
        assert time_col is not None
        if after is not None:
            if descending:
                hi = after.ts + 1 if hi is None else min(hi, after.ts + 1)
            else:
                lo = after.ts if lo is None else max(lo, after.ts)
        if lo is not None and hi is not None and lo >= hi:
            return dataset(name).schema.empty_table()
        files = self._files(name, lo, hi)
        if not files:
            return dataset(name).schema.empty_table()
        where, params = ["ticker = ?"], [ticker]
        if lo is not None:
            where.append(f"{time_col} >= ?")
            params.append(lo)
        if hi is not None:
            where.append(f"{time_col} < ?")
            params.append(hi)
        direction = "DESC" if descending else "ASC"
        order = ", ".join(f"{c} {direction} NULLS LAST" for c in _order_columns(name))
        sql = (
            f"SELECT * FROM read_parquet({file_list(files)}) WHERE {' AND '.join(where)} "
            f"ORDER BY {order} LIMIT ? OFFSET ?"
        )
        return self.engine.arrow(sql, [*params, limit, after.skip if after else 0])

    def last_tick(self, name: str, ticker: str, before_ns: int) -> dict | None:
        """The newest row of ``ticker`` strictly before ``before_ns`` (searching back day by day)."""
        rows = self.last_ticks(name, [ticker], before_ns)
        return rows.to_pylist()[0] if rows.num_rows else None

    def last_ticks(
        self, name: str, tickers: Sequence[str], before_ns: int, *, max_partitions: int = LOOKBACK_PARTITIONS
    ) -> pa.Table:
        """The newest row before ``before_ns`` for each of ``tickers`` (missing tickers are absent).

        Looks at the partition of ``before_ns``'s day first, then further back (at most
        ``max_partitions`` partitions) only for tickers still missing.
        """
        time_col = dataset(name).time_column
        snap = self.snapshot()
        last_day = et_date(before_ns - 1)
        days = [d for d in snap.days(name) if d <= last_day][::-1][:max_partitions]
        wanted = sorted(set(tickers))
        found: list[pa.Table] = []
        batches = [days[:1], days[1:]] if days else []
        for group in batches:
            if not wanted or not group:
                continue
            files = snap.files(name, group)
            cols = ", ".join(f"arg_max({c}, {time_col}) AS {c}" for c in dataset(name).columns if c != "ticker")
            sql = (
                f"SELECT ticker, {cols} FROM read_parquet({file_list(files)}) "
                f"WHERE ticker >= ? AND ticker <= ? AND list_contains(?, ticker) AND {time_col} < ? GROUP BY ticker"
            )
            t = self.engine.arrow(sql, [wanted[0], wanted[-1], wanted, before_ns])
            if t.num_rows:
                found.append(t)
                got = set(t["ticker"].to_pylist())
                wanted = [w for w in wanted if w not in got]
        if not found:
            return dataset(name).schema.empty_table()
        return pa.concat_tables([f.select(dataset(name).columns).cast(dataset(name).schema) for f in found])

    def busiest_tickers(self, name: str, prefix: str = "", limit: int = 10) -> list[tuple[str, int]]:
        """Tickers with the most rows in a dataset over every partition (benchmarks pick their subjects)."""
        files = self.snapshot().files_between(name, None, None)
        if not files:
            return []
        sql = (
            f"SELECT ticker, count(*) AS n FROM read_parquet({file_list(files)}) WHERE starts_with(ticker, ?) "
            "GROUP BY ticker ORDER BY n DESC, ticker LIMIT ?"
        )
        return [(t, int(n)) for t, n in self.engine.rows(sql, [prefix, limit])]

    def quote_series(self, ticker: str, day: dt.date) -> pa.Table:
        """A stock's NBBO quotes on one day: time, bid and ask in time order."""
        files = self.snapshot().files("stock_quotes", [day])
        if not files:
            return pa.table({"sip_timestamp": [], "bid_price": [], "ask_price": []})
        sql = (
            f"SELECT sip_timestamp, bid_price, ask_price FROM read_parquet({file_list(files)}) "
            "WHERE ticker = ? ORDER BY sip_timestamp"
        )
        return self.engine.arrow(sql, [ticker])

    def ticks_between(self, name: str, tickers: Sequence[str], lo: int, hi: int) -> pa.Table:
        """Every row of ``tickers`` in [lo, hi), sorted by ticker then time."""
        files = self._files(name, lo, hi)
        if not files or not tickers:
            return dataset(name).schema.empty_table()
        wanted = sorted(set(tickers))
        time_col = dataset(name).time_column
        sql = (
            f"SELECT * FROM read_parquet({file_list(files)}) WHERE ticker >= ? AND ticker <= ? "
            f"AND list_contains(?, ticker) AND {time_col} >= ? AND {time_col} < ? ORDER BY ticker, {time_col}"
        )
        return self.engine.arrow(sql, [wanted[0], wanted[-1], wanted, lo, hi])

    # -- bars ------------------------------------------------------------------------------------
    def bars(self, name: str, ticker: str, lo: int, hi: int, *, limit: int | None = None) -> pa.Table:
        """Stored bars of one ticker with lo <= window_start < hi, oldest first."""
        files = self._files(name, lo, hi)
        if not files:
            return dataset(name).schema.empty_table()
        sql = (
            f"SELECT * FROM read_parquet({file_list(files)}) WHERE ticker = ? AND window_start >= ? "
            f"AND window_start < ? ORDER BY window_start"
        )
        params: list[object] = [ticker, lo, hi]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return self.engine.arrow(sql, params)

    def last_bars(
        self, name: str, tickers: Sequence[str], before_day: dt.date, *, max_partitions: int = LOOKBACK_PARTITIONS
    ) -> pa.Table:
        """Each ticker's newest stored bar from a partition strictly before ``before_day``."""
        snap = self.snapshot()
        days = [d for d in snap.days(name) if d < before_day][::-1][:max_partitions]
        if not days or not tickers:
            return dataset(name).schema.empty_table()
        wanted = sorted(set(tickers))
        cols = ", ".join(f"arg_max({c}, window_start) AS {c}" for c in dataset(name).columns if c != "ticker")
        sql = (
            f"SELECT ticker, {cols} FROM read_parquet({file_list(snap.files(name, days))}) "
            f"WHERE ticker >= ? AND ticker <= ? AND list_contains(?, ticker) GROUP BY ticker"
        )
        return self.engine.arrow(sql, [wanted[0], wanted[-1], wanted])

    def open_interest_before(self, tickers: Sequence[str], before_ns: int) -> pa.Table:
        """Each ticker's open interest from the newest report published before ``before_ns``."""
        snap = self.snapshot()
        days = [d for d in snap.days("option_open_interest") if d <= et_date(before_ns - 1)][::-1][:LOOKBACK_PARTITIONS]
        if not days or not tickers:
            return dataset("option_open_interest").schema.empty_table()
        wanted = sorted(set(tickers))
        sql = (
            "SELECT ticker, arg_max(open_interest, reported_timestamp) AS open_interest, "
            "arg_max(trading_date, reported_timestamp) AS trading_date, max(reported_timestamp) AS reported_timestamp "
            f"FROM read_parquet({file_list(snap.files('option_open_interest', days))}) "
            "WHERE ticker >= ? AND ticker <= ? AND list_contains(?, ticker) AND reported_timestamp < ? GROUP BY ticker"
        )
        return self.engine.arrow(sql, [wanted[0], wanted[-1], wanted, before_ns])

    def day_bars_on(self, name: str, day: dt.date, tickers: Sequence[str] | None = None) -> pa.Table:
        """Stored daily bars of one day (all tickers, or the given ones)."""
        files = self.snapshot().files(name, [day])
        if not files:
            return dataset(name).schema.empty_table()
        if tickers is None:
            return self.engine.arrow(f"SELECT * FROM read_parquet({file_list(files)}) ORDER BY ticker")
        wanted = sorted(set(tickers))
        if not wanted:
            return dataset(name).schema.empty_table()
        return self.engine.arrow(
            f"SELECT * FROM read_parquet({file_list(files)}) WHERE list_contains(?, ticker) ORDER BY ticker",
            [wanted],
        )

    def last_minute_bars(
        self, name: str, tickers: Sequence[str], last_start_ns: int, *, max_partitions: int = LOOKBACK_PARTITIONS
    ) -> pa.Table:
        """Each ticker's newest bar with ``window_start <= last_start_ns``, plus ``accumulated_volume``:
        the volume of that bar's ET day up to and including it. Searches back day by day only for
        tickers still missing (at most ``max_partitions`` partitions)."""
        snap = self.snapshot()
        days = [d for d in snap.days(name) if d <= et_date(last_start_ns)][::-1][:max_partitions]
        wanted = sorted(set(tickers))
        cols = ", ".join(f"arg_max({c}, window_start) AS {c}" for c in dataset(name).columns if c != "ticker")
        found: list[pa.Table] = []
        for day in days:
            if not wanted:
                break
            sql = (
                f"SELECT ticker, {cols}, sum(volume) AS accumulated_volume "
                f"FROM read_parquet({file_list(snap.files(name, [day]))}) "
                "WHERE ticker >= ? AND ticker <= ? AND list_contains(?, ticker) AND window_start <= ? GROUP BY ticker"
            )
            t = self.engine.arrow(sql, [wanted[0], wanted[-1], wanted, last_start_ns])
            if t.num_rows:
                found.append(t)
                got = set(t["ticker"].to_pylist())
                wanted = [w for w in wanted if w not in got]
        schema = dataset(name).schema.append(pa.field("accumulated_volume", pa.float64()))
        if not found:
            return schema.empty_table()
        return pa.concat_tables([f.select(schema.names).cast(schema) for f in found])

    def distinct_tickers(self, name: str) -> list[str]:
        """Every ticker that has at least one row in ``name`` (any partition), sorted."""
        snap = self.snapshot()
        files = snap.files(name, snap.days(name))
        if not files:
            return []
        rows = self.engine.rows(f"SELECT DISTINCT ticker FROM read_parquet({file_list(files)}) ORDER BY ticker")
        return [r[0] for r in rows]

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
