"""The lake: atomic, content-addressed day partitions and the manifest that points at them."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet
import pytest

from cutemarkets_server.ingest.pipeline import Ingestor
from cutemarkets_server.market.timestamps import et_ns
from cutemarkets_server.store.lake import Lake, PartitionWriteError, sidecar_path

DAY = dt.date(2025, 11, 26)


def trades(prices: list[float]) -> pa.Table:
    t0 = et_ns(DAY, 10)
    n = len(prices)
    return pa.table(
        {
            "ticker": ["AAPL"] * n,
            "sip_timestamp": [t0 + i * 1_000_000 for i in range(n)],
            "price": prices,
            "size": [100] * n,
            "conditions": [[] for _ in range(n)],
        }
    )


def read(lake: Lake, name: str) -> list[float]:
    files = lake.snapshot().files(name, [DAY])
    return duckdb.sql(f"SELECT price FROM read_parquet({files}) ORDER BY sip_timestamp").fetchnumpy()["price"].tolist()


def test_write_is_recorded_in_manifest_and_readable(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    part = lake.write_partition("stock_trades", DAY, trades([1.0, 2.0]), source="unit")
    assert part.rows == 2 and part.bytes > 0 and len(part.sha256) == 64
    assert Path(part.files[0]).name == part.sha256[:16] + ".parquet"
    assert read(lake, "stock_trades") == [1.0, 2.0]
    # A second Lake object over the same directory sees the same manifest.
    assert Lake(tmp_path).snapshot().partition("stock_trades", DAY) == lake.snapshot().partition("stock_trades", DAY)


def test_failure_mid_write_leaves_the_old_partition_served(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    old = lake.write_partition("stock_trades", DAY, trades([1.0, 2.0]), source="first")

    def broken() -> Iterator[pa.Table]:
        yield trades([5.0, 6.0])
        raise OSError("disk vanished")

    with pytest.raises(PartitionWriteError):
        lake.write_partition("stock_trades", DAY, broken(), source="second", presorted=True)
    assert lake.snapshot().partition("stock_trades", DAY) == old
    assert read(lake, "stock_trades") == [1.0, 2.0]
    leftovers = sorted(p.name for p in (tmp_path / "stock_trades" / DAY.isoformat()).iterdir())
    kept = Path(old.files[0])
    assert leftovers == sorted([kept.name, sidecar_path(kept).name]), "no temporary file may be left behind"


def test_replacing_a_day_switches_atomically_and_keeps_the_old_file_for_readers(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    old = lake.write_partition("stock_trades", DAY, trades([1.0]), source="first")
    new = lake.write_partition("stock_trades", DAY, trades([3.0]), source="second")
    assert new.files != old.files
    assert read(lake, "stock_trades") == [3.0]
    # The superseded file stays for the grace period so that queries already planned can finish.
    assert Path(old.files[0]).exists()


def test_same_content_gives_the_same_file(tmp_path: Path) -> None:
    a = Lake(tmp_path / "a").write_partition("stock_trades", DAY, trades([1.0, 2.0]), source="x")
    b = Lake(tmp_path / "b").write_partition("stock_trades", DAY, trades([1.0, 2.0]), source="y")
    assert a.sha256 == b.sha256
    assert Path(a.files[0]).read_bytes() == Path(b.files[0]).read_bytes()


def test_ingestor_quarantines_rejects_and_reconciles(tmp_path: Path) -> None:
    ing = Ingestor(Lake(tmp_path / "lake"), tmp_path / "q")
    table = trades([10.0, -1.0, 11.0])
    results = ing.write_day("stock_trades", DAY, table, source="unit")
    main = results[0]
    assert (main.rows_read, main.rows_stored, main.rows_quarantined) == (3, 2, 1)
    assert main.rows_read == main.rows_stored + main.rows_quarantined
    assert main.reasons == {"price must be positive": 1}
    assert main.quarantine_file is not None and main.quarantine_file.exists()
    rejected = duckdb.sql(f"SELECT price, reject_reason FROM read_parquet('{main.quarantine_file}')").fetchall()
    assert rejected == [(-1.0, "price must be positive")]
    # Bars are derived from the stored trades through the same path.
    assert {r.dataset for r in results} == {"stock_trades", "stock_minute_aggs", "stock_day_aggs"}


def test_rows_outside_the_day_and_crossed_quotes_are_rejected(tmp_path: Path) -> None:
    ing = Ingestor(Lake(tmp_path / "lake"), tmp_path / "q")
    t0 = et_ns(DAY, 10)
    quotes = pa.table(
        {
            "ticker": ["O:SPY251128C00600000", "O:SPY251128C00600000", "BAD", "O:SPY251128C00600000"],
            "sip_timestamp": [t0, t0 + 1, t0 + 2, et_ns(DAY + dt.timedelta(days=1), 0)],
            "bid_price": [1.0, 2.0, 1.0, 1.0],
            "bid_size": [1, 1, 1, 1],
            "ask_price": [1.1, 1.5, 1.1, 1.1],
            "ask_size": [1, 1, 1, 1],
        }
    )
    res = ing.write_day("option_quotes", DAY, quotes, source="unit")[0]
    assert res.rows_stored == 1
    assert res.reasons == {
        "crossed quote (bid above ask)": 1,
        "bad OCC option symbol": 1,
        f"timestamp outside {DAY.isoformat()} (America/New_York)": 1,
    }


# -- the row index and packs ------------------------------------------------------------------------


def day_trades(day: dt.date, tickers: dict[str, list[float]]) -> pa.Table:
    rows = [(t, et_ns(day, 10) + i * 1_000_000, p) for t, prices in tickers.items() for i, p in enumerate(prices)]
    return pa.table(
        {
            "ticker": [r[0] for r in rows],
            "sip_timestamp": [r[1] for r in rows],
            "price": [r[2] for r in rows],
            "size": [100] * len(rows),
            "conditions": [[] for _ in rows],
        }
    )


def page(lake: Lake, ticker: str, *, descending: bool, limit: int = 100) -> list[float]:
    from cutemarkets_server.store.engine import DuckEngine
    from cutemarkets_server.store.market import MarketStore

    store = MarketStore(lake, DuckEngine())
    return store.tick_page("stock_trades", ticker, None, None, descending=descending, limit=limit)["price"].to_pylist()


def test_runs_locate_each_tickers_rows_of_each_day(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    lake.write_partition("stock_trades", DAY, day_trades(DAY, {"MSFT": [3.0], "AAPL": [1.0, 2.0]}), source="u")
    runs = lake.runs(lake.snapshot(), "stock_trades", ["AAPL", "MSFT", "NONE"])
    assert [(r.ticker, r.first_row, r.rows, r.ordinal) for r in runs] == [("AAPL", 0, 2, 0), ("MSFT", 2, 1, 1)]
    assert runs[0].min_ts == et_ns(DAY, 10) and runs[0].max_ts == et_ns(DAY, 10) + 1_000_000
    # The sidecar holds each ticker's last row of the day, in run order.
    last = pa.parquet.read_table(sidecar_path(Path(runs[0].file)))
    assert last["ticker"].to_pylist() == ["AAPL", "MSFT"] and last["price"].to_pylist() == [2.0, 3.0]


def test_a_pack_serves_its_days_until_one_is_replaced(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    d1, d2 = dt.date(2025, 11, 24), dt.date(2025, 11, 25)
    lake.write_partition("stock_trades", d1, day_trades(d1, {"AAPL": [1.0, 2.0], "MSFT": [9.0]}), source="u")
    lake.write_partition("stock_trades", d2, day_trades(d2, {"AAPL": [3.0]}), source="u")
    assert lake.compact("stock_trades") == 1
    assert lake.compact("stock_trades") == 0, "an up-to-date period is not rewritten"
    snap = lake.snapshot()
    pack = snap.packs["stock_trades"][d1]
    assert pack.days == (d1, d2)
    runs = lake.runs(snap, "stock_trades", ["AAPL"], packed=True)
    assert {r.file for r in runs} == {str(tmp_path / pack.file)}
    assert [(r.first_row, r.rows) for r in runs] == [(0, 2), (2, 1)], "one ticker's days sit back to back"
    assert page(lake, "AAPL", descending=False) == [1.0, 2.0, 3.0]
    assert page(lake, "AAPL", descending=True, limit=2) == [3.0, 2.0]
    # Replacing a member day is visible at once; the pack keeps serving the other day.
    lake.write_partition("stock_trades", d2, day_trades(d2, {"AAPL": [4.0, 5.0]}), source="u")
    snap = lake.snapshot()
    assert snap.packs["stock_trades"][d1].days == (d1,)
    assert page(lake, "AAPL", descending=False) == [1.0, 2.0, 4.0, 5.0]
    assert lake.compact("stock_trades") == 1
    assert lake.snapshot().packs["stock_trades"][d2].days == (d1, d2)
    assert page(lake, "AAPL", descending=True) == [5.0, 4.0, 2.0, 1.0]


def test_packs_take_whole_runs_in_ticker_then_day_order_whether_threads_or_processes_write_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pack holds its days' rows by (ticker, day), each day's rows of a ticker in their order, with a run per
    (ticker, day). Written on threads in many small chunks or by processes (a market build), the same."""
    import random

    import cutemarkets_server.store.lake as lake_module

    rng = random.Random(5)
    days = [dt.date(2025, 10, 30), dt.date(2025, 10, 31), dt.date(2025, 11, 3), dt.date(2025, 11, 4)]
    tables = {
        d: day_trades(
            d,
            {
                t: [round(rng.uniform(1, 100), 2) for _ in range(rng.randint(1, 6))]
                for t in ("AAPL", "MSFT", "NVDA", "SPY", "TSLA")
                if rng.random() < 0.7
            },
        )
        for d in days
    }
    expected = sorted(
        (t, d, ts, p)
        for d, table in tables.items()
        for t, ts, p in zip(*(table[c].to_pylist() for c in ("ticker", "sip_timestamp", "price")), strict=True)
    )

    def packed(root: Path, processes: int) -> tuple[list, list]:
        lake = Lake(root)
        for d, table in tables.items():
            lake.write_partition("stock_trades", d, table, source="u")
        assert lake.compact("stock_trades", processes=processes) == 2
        snap = lake.snapshot()
        files = sorted({str(root / pack.file) for pack in snap.packs["stock_trades"].values()})
        rows = []
        for f in files:
            t = pa.parquet.read_table(f)
            rows += zip(*(t[c].to_pylist() for c in ("ticker", "sip_timestamp", "price")), strict=True)
        tickers = sorted({r[0] for r in expected})
        runs = [
            (r.file, r.ticker, r.day, r.first_row, r.rows, r.min_ts, r.max_ts)
            for r in lake.runs(snap, "stock_trades", tickers, packed=True)
        ]
        return rows, [(Path(r[0]).name, *r[1:]) for r in runs]

    import cutemarkets_server.store.packlayout as packlayout

    monkeypatch.setattr(lake_module, "PACK_CHUNK_ROWS", 7)
    monkeypatch.setattr(packlayout, "RUN_BATCH_ROWS", 3)  # runs cross the batches the day files are read in
    threads = packed(tmp_path / "threads", 0)
    monkeypatch.undo()
    processes = packed(tmp_path / "processes", 2)
    by_month = sorted(expected, key=lambda r: (r[1].month, r[0], r[1], r[2]))
    assert threads[0] == processes[0] == [(t, ts, p) for t, _d, ts, p in by_month]
    assert [r[1:] for r in threads[1]] == [r[1:] for r in processes[1]]
    for _file, ticker, day, _first, n, lo, hi in processes[1]:
        mine = [ts for t, d, ts, _p in expected if t == ticker and d == day]
        assert (n, lo, hi) == (len(mine), min(mine), max(mine))


def test_a_lake_without_an_index_is_indexed_when_opened(tmp_path: Path) -> None:
    import sqlite3

    lake = Lake(tmp_path)
    lake.write_partition("stock_trades", DAY, day_trades(DAY, {"AAPL": [1.0, 2.0]}), source="u")
    con = sqlite3.connect(tmp_path / "manifest.sqlite")
    con.execute("DELETE FROM runs")
    con.execute("DELETE FROM meta WHERE key = 'runs_version'")
    con.commit()
    con.close()
    assert page(Lake(tmp_path), "AAPL", descending=False) == [1.0, 2.0]


# -- the run index's layout -------------------------------------------------------------------------------

_V1_RUNS = """
CREATE TABLE runs (
    dataset TEXT NOT NULL, ticker TEXT NOT NULL, day TEXT NOT NULL, file TEXT NOT NULL, first_row INTEGER NOT NULL,
    rows INTEGER NOT NULL, min_ts INTEGER, max_ts INTEGER, ordinal INTEGER
);
CREATE INDEX runs_by_ticker ON runs(dataset, ticker, day);
CREATE INDEX runs_by_file ON runs(file);
"""


def answers(lake: Lake) -> list:
    """Every ``runs`` question a reader asks, over every dataset, ticker and day of the lake."""
    snap = lake.snapshot()
    out = []
    for name, parts in sorted(snap.by_dataset.items()):
        days = sorted(parts)
        tickers = sorted(lake.run_totals(snap, name))
        for packed in (False, True):
            out.append(lake.runs(snap, name, tickers, packed=packed))
            out.append(lake.runs(snap, name, tickers, days[0], days[-1], packed=packed))
            for t in tickers:
                out.append(lake.runs(snap, name, [t], days[1] if len(days) > 1 else None, packed=packed))
            for d in days:
                out.append(lake.runs(snap, name, tickers, d, d, packed=packed))
                out.append(lake._day_runs(snap, name, tickers, d, packed=packed))
        out.append(sorted(lake.run_totals(snap, name).items()))
        out.append(sorted(lake.run_totals(snap, name, "A").items()))
    return out


def test_a_lake_with_the_version_1_index_is_upgraded_once_when_opened(tmp_path: Path) -> None:
    import sqlite3

    days = [dt.date(2025, 11, 24), dt.date(2025, 11, 25), dt.date(2025, 11, 26)]
    lake = Lake(tmp_path)
    for i, d in enumerate(days):
        lake.write_partition("stock_trades", d, day_trades(d, {"AAPL": [1.0 + i, 2.0], "MSFT": [9.0 + i]}), source="u")
        lake.write_partition("stock_quotes", d, quotes_of(d, ["AAPL", "ZZZ"][: 1 + i % 2]), source="u")
    assert lake.compact("stock_trades") == 1
    lake.write_partition("stock_trades", days[1], day_trades(days[1], {"AAPL": [7.0]}), source="u")  # pack stale
    before = answers(lake)
    served = {r.file for a in before if isinstance(a, list) for r in a if hasattr(r, "file")}
    assert any("_packs" in f for f in served) and len(served) > 3

    # Rewrite the manifest's index in the version-1 layout, as the previous code stored it.
    con = sqlite3.connect(tmp_path / "manifest.sqlite", isolation_level=None)
    old = con.execute(
        "SELECT f.dataset, r.ticker, date(r.day * 86400, 'unixepoch'), f.path, r.first_row, r.rows, r.min_ts, "
        "r.max_ts, r.ordinal FROM runs r JOIN files f USING (file_id)"
    ).fetchall()
    con.executescript("DROP TABLE runs; DROP TABLE files;" + _V1_RUNS)
    con.executemany("INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", old)
    con.execute("UPDATE meta SET value = '1' WHERE key = 'runs_version'")
    con.close()

    upgraded = Lake(tmp_path)
    assert answers(upgraded) == before
    con = sqlite3.connect(tmp_path / "manifest.sqlite")
    columns = [row[1] for row in con.execute("PRAGMA table_info(runs)")]
    indexes = {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    version = con.execute("SELECT value FROM meta WHERE key = 'runs_version'").fetchone()[0]
    con.close()
    assert columns[:3] == ["file_id", "ticker", "day"] and not {"runs_by_ticker", "runs_by_file"} & indexes
    assert version == "2"
    assert answers(Lake(tmp_path)) == answers(upgraded), "opening again changes nothing"
    assert page(upgraded, "AAPL", descending=False) == [1.0, 2.0, 7.0, 3.0, 2.0]


def quotes_of(day: dt.date, tickers: list[str]) -> pa.Table:
    t0 = et_ns(day, 10)
    n = len(tickers)
    return pa.table(
        {
            "ticker": tickers,
            "sip_timestamp": [t0 + i for i in range(n)],
            "bid_price": [1.0] * n,
            "ask_price": [1.1] * n,
            "bid_size": [1] * n,
            "ask_size": [1] * n,
        }
    )


def test_superseded_files_leave_the_index_when_collected(tmp_path: Path) -> None:
    import sqlite3

    lake = Lake(tmp_path)
    lake.write_partition("stock_trades", DAY, day_trades(DAY, {"AAPL": [1.0]}), source="u")
    first = lake.snapshot().day_file_ids["stock_trades"]
    lake.write_partition("stock_trades", DAY, day_trades(DAY, {"AAPL": [2.0], "MSFT": [3.0]}), source="u")
    second = lake.snapshot().day_file_ids["stock_trades"]
    assert first != second
    con = sqlite3.connect(tmp_path / "manifest.sqlite")

    def indexed() -> dict[int, int]:
        return dict(
            con.execute("SELECT f.file_id, count(r.ticker) FROM files f LEFT JOIN runs r USING (file_id) GROUP BY 1")
        )

    assert indexed() == {**{i: 1 for i in first.values()}, **{i: 2 for i in second.values()}}
    lake._collect_garbage(time.time() + 1)
    assert indexed() == {i: 2 for i in second.values()}, "the old file's runs and entry are gone"
    # A file written again later gets a new id: an old snapshot's id never names another file.
    lake.write_partition("stock_trades", DAY, day_trades(DAY, {"AAPL": [1.0]}), source="u")
    third = lake.snapshot().day_file_ids["stock_trades"]
    assert min(third.values()) > max(second.values())
    assert [r.rows for r in lake.runs(lake.snapshot(), "stock_trades", ["AAPL", "MSFT"])] == [1]
    # The same content written again keeps its file and its runs, once.
    lake.write_partition("stock_trades", DAY, day_trades(DAY, {"AAPL": [1.0]}), source="u")
    assert lake.snapshot().day_file_ids["stock_trades"] == third
    assert indexed()[min(third.values())] == 1
    con.close()


# -- bars from a ticker's cached runs -----------------------------------------------------------------


def minute_bars(day: dt.date, tickers: dict[str, int], close: float = 1.0) -> pa.Table:
    rows = [(t, et_ns(day, 9, 30) + m * 60_000_000_000) for t, n in tickers.items() for m in range(n)]
    n = len(rows)
    return pa.table(
        {
            "ticker": [r[0] for r in rows],
            "window_start": [r[1] for r in rows],
            "open": [close] * n,
            "high": [close] * n,
            "low": [close] * n,
            "close": [close] * n,
            "volume": [1.0] * n,
            "vwap": [close] * n,
            "transactions": [1] * n,
        }
    )


def test_bar_ranges_follow_packs_replacements_and_new_days(tmp_path: Path) -> None:
    from cutemarkets_server.store.engine import DuckEngine
    from cutemarkets_server.store.market import MarketStore

    lake = Lake(tmp_path)
    store = MarketStore(lake, DuckEngine())
    days = [dt.date(2025, 11, 24), dt.date(2025, 11, 25), dt.date(2025, 11, 26), dt.date(2025, 12, 1)]
    for d in days[:3]:
        lake.write_partition("stock_minute_aggs", d, minute_bars(d, {"AAPL": 5, "SPY": 7}), source="u")
    lake.compact("stock_minute_aggs")

    def starts(lo: int, hi: int, **kw: int) -> list[int]:
        return store.bars("stock_minute_aggs", "SPY", lo, hi, **kw)["window_start"].to_pylist()

    every = [et_ns(d, 9, 30) + m * 60_000_000_000 for d in days[:3] for m in range(7)]
    bounds = [every[0], every[3], every[6] + 1, every[7], every[12], every[-1], every[-1] + 1]
    for lo in bounds:
        for hi in bounds:
            assert starts(lo, hi) == [t for t in every if lo <= t < hi], (lo, hi)
    assert starts(every[0], every[-1] + 1, limit=9) == every[:9]
    # A replaced day and a new day are served at once, the cached runs of the old manifest notwithstanding.
    lake.write_partition("stock_minute_aggs", days[1], minute_bars(days[1], {"SPY": 2}, 2.0), source="u")
    lake.write_partition("stock_minute_aggs", days[3], minute_bars(days[3], {"SPY": 3}, 3.0), source="u")
    table = store.bars("stock_minute_aggs", "SPY", every[0], et_ns(days[3], 20))
    assert table["close"].to_pylist() == [1.0] * 7 + [2.0] * 2 + [1.0] * 7 + [3.0] * 3
    assert store.bars("stock_minute_aggs", "NONE", every[0], et_ns(days[3], 20)).num_rows == 0


def test_packs_written_on_two_threads_serve_what_one_thread_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cutemarkets_server.store import lake as lake_module
    from cutemarkets_server.store.engine import DuckEngine
    from cutemarkets_server.store.market import MarketStore

    days = [dt.date(2025, 10, 30), dt.date(2025, 10, 31), dt.date(2025, 11, 24), dt.date(2025, 11, 25)]
    answers = []
    for threads in (1, 2):
        monkeypatch.setattr(lake_module, "PACK_THREADS", threads)
        lake = Lake(tmp_path / str(threads))
        for i, d in enumerate(days):
            trades_of_day = day_trades(d, {"AAPL": [1.0 + i, 2.0 + i], "MSFT": [9.0]})
            lake.write_partition("stock_trades", d, trades_of_day, source="u")
            lake.write_partition("stock_minute_aggs", d, minute_bars(d, {"SPY": 3 + i}, float(i)), source="u")
        assert lake.compact() == 4, "two months of two datasets"
        snap = lake.snapshot()
        assert {(n, p.period) for n in ("stock_trades", "stock_minute_aggs") for p in snap.packs[n].values()} == {
            (n, p) for n in ("stock_trades", "stock_minute_aggs") for p in ("2025-10", "2025-11")
        }
        bars = MarketStore(lake, DuckEngine()).bars("stock_minute_aggs", "SPY", et_ns(days[0], 0), et_ns(days[-1], 23))
        answers.append((page(lake, "AAPL", descending=False), bars["close"].to_pylist()))
    assert answers[0] == answers[1]
    assert answers[0][0] == [1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 4.0, 5.0]
