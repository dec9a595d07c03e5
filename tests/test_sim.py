"""The built-in market checked against market rules and against the generator's own truth.

Everything is read back from the Parquet files through the lake manifest, with DuckDB.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import duckdb
import numpy as np
import pyarrow.compute as pc
import pytest
from vollib.black_scholes_merton import black_scholes_merton
from vollib.black_scholes_merton.implied_volatility import implied_volatility

from cutemarkets_server.market.calendar import xnys
from cutemarkets_server.market.occ import parse_option_symbol
from cutemarkets_server.market.timestamps import et_date, et_ns
from cutemarkets_server.sim.build import build_market, resolve_end
from cutemarkets_server.sim.surface import expiry_ns, load_surface_states, year_fraction
from cutemarkets_server.store.lake import Lake

TEST_MARKET_END = dt.date(2025, 12, 2)  # the end the shared ``market_dir`` fixture is built with
HOLIDAY = dt.date(2025, 11, 27)
EARLY_CLOSE = dt.date(2025, 11, 28)
TICK_DATASETS = ("stock_quotes", "stock_trades", "option_quotes", "option_trades")


TINY_SEED = 11


def _meta(data_dir: Path) -> dict:
    raw = Lake(data_dir / "lake").get_meta("market")
    assert raw is not None
    return json.loads(raw)


def _connect(data_dir: Path) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with one view per dataset over the manifest's files."""
    con = duckdb.connect()
    snap = Lake(data_dir / "lake").snapshot()
    for name in snap.by_dataset:
        files = snap.files_between(name, None, None)
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet({files!r}, filename = true)")
    con.execute("CREATE MACRO et_day(ns) AS CAST(timezone('America/New_York', to_timestamp(ns / 1e9)) AS DATE)")
    con.execute("CREATE MACRO underlying(t) AS regexp_extract(t, '^O:([A-Z]+?)1?[0-9]{6}[CP]', 1)")
    return con


@pytest.fixture(scope="module")
def meta(market_dir: Path) -> dict:
    return _meta(market_dir)


@pytest.fixture(scope="module")
def db(market_dir: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = _connect(market_dir)
    yield con
    con.close()


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The smallest profile: fewer tickers and sessions than the test market, but $1 SPY strikes."""
    root = tmp_path_factory.mktemp("tiny")
    build_market(root, seed=TINY_SEED, end=TEST_MARKET_END, profile="tiny")
    return root


def scalar(con: duckdb.DuckDBPyConnection, sql: str) -> object:
    row = con.execute(sql).fetchone()
    assert row is not None
    return row[0]


# -- calendar ----------------------------------------------------------------------------------------


def test_tick_window_is_the_last_eight_sessions(meta: dict) -> None:
    days = [dt.date.fromisoformat(d) for d in meta["tick_days"]]
    assert days == xnys().last_sessions(TEST_MARKET_END, 8)
    assert EARLY_CLOSE in days and HOLIDAY not in days
    assert meta["daily_days"]["count"] == 80


def test_every_partition_is_a_session(market_dir: Path) -> None:
    snap = Lake(market_dir / "lake").snapshot()
    cal = xnys()
    days = {(name, d) for name, parts in snap.by_dataset.items() for d in parts}
    assert days
    assert [(n, d) for n, d in days if not cal.is_session(d)] == []
    assert all(snap.partition(name, HOLIDAY) is None for name in snap.by_dataset)


def test_no_tick_on_a_holiday_or_weekend(db: duckdb.DuckDBPyConnection) -> None:
    for name in TICK_DATASETS:
        days = [r[0] for r in db.execute(f"SELECT DISTINCT et_day(sip_timestamp) FROM {name}").fetchall()]
        assert len(days) == 8, name
        assert all(xnys().is_session(d) for d in days), name


def test_nothing_was_quarantined(market_dir: Path) -> None:
    quarantine = market_dir / "quarantine"
    assert not quarantine.exists() or not any(quarantine.rglob("*.parquet"))


def test_early_close_is_honoured(db: duckdb.DuckDBPyConnection) -> None:
    day = EARLY_CLOSE.isoformat()
    close, after_hours = et_ns(EARLY_CLOSE, 13), et_ns(EARLY_CLOSE, 17)
    for name in ("option_quotes", "option_trades"):
        last = scalar(db, f"SELECT max(sip_timestamp) FROM {name} WHERE et_day(sip_timestamp) = '{day}'")
        assert last is not None and last < close, name
    for name in ("stock_quotes", "stock_trades"):
        last = scalar(db, f"SELECT max(sip_timestamp) FROM {name} WHERE et_day(sip_timestamp) = '{day}'")
        assert last is not None and close < last < after_hours, name


def test_option_ticks_only_in_regular_hours(db: duckdb.DuckDBPyConnection) -> None:
    cal = xnys()
    for name in ("option_quotes", "option_trades"):
        rows = db.execute(
            f"SELECT et_day(sip_timestamp), min(sip_timestamp), max(sip_timestamp) FROM {name} GROUP BY 1"
        ).fetchall()
        for day, first, last in rows:
            hours = cal.hours(day)
            assert hours.open_ns <= first and last < hours.close_ns, (name, day)


def test_stocks_trade_in_extended_hours_with_form_t(db: duckdb.DuckDBPyConnection) -> None:
    cal = xnys()
    bounds = ", ".join(
        f"('{d}', {cal.hours(d).open_ns}, {cal.hours(d).close_ns})"
        for d in cal.sessions_in_range(dt.date(2025, 11, 20), TEST_MARKET_END)
    )
    db.execute(
        "CREATE OR REPLACE TEMP TABLE regular AS "
        f"SELECT CAST(day AS DATE) AS day, open_ns, close_ns FROM (VALUES {bounds}) v(day, open_ns, close_ns)"
    )
    rows = db.execute(
        """
        SELECT t.sip_timestamp >= r.open_ns AND t.sip_timestamp < r.close_ns AS in_regular,
               list_contains(t.conditions, 12) AS form_t, count(*)
        FROM stock_trades t JOIN regular r ON et_day(t.sip_timestamp) = r.day
        GROUP BY ALL
        """
    ).fetchall()
    counts = {(bool(a), bool(b)): n for a, b, n in rows}
    assert counts.get((False, True), 0) > 100
    assert counts.get((True, False), 0) > 1000
    assert counts.get((False, False), 0) == 0
    assert counts.get((True, True), 0) == 0
    first = scalar(db, "SELECT min(sip_timestamp) FROM stock_trades")
    assert first < et_ns(dt.date(2025, 11, 20), 9, 30)


# -- quotes and trades -----------------------------------------------------------------------------------


def test_stock_quotes_are_never_crossed(db: duckdb.DuckDBPyConnection) -> None:
    assert scalar(db, "SELECT count(*) FROM stock_quotes") > 10_000
    assert scalar(db, "SELECT count(*) FROM stock_quotes WHERE NOT (0 < bid_price AND bid_price < ask_price)") == 0
    assert scalar(db, "SELECT count(*) FROM stock_quotes WHERE bid_size <= 0 OR ask_size <= 0") == 0


def test_option_quotes_are_never_crossed(db: duckdb.DuckDBPyConnection) -> None:
    assert scalar(db, "SELECT count(*) FROM option_quotes WHERE NOT (bid_price <= ask_price AND ask_price > 0)") == 0
    no_bid = db.execute("SELECT count(*), max(ask_price) FROM option_quotes WHERE bid_price = 0").fetchone()
    assert no_bid is not None and no_bid[0] > 0 and no_bid[1] <= 0.05


def test_option_quotes_sit_on_the_tick_grid(db: duckdb.DuckDBPyConnection) -> None:
    off_penny = scalar(
        db,
        "SELECT count(*) FROM option_quotes WHERE abs(bid_price * 100 - round(bid_price * 100)) > 1e-6 "
        "OR abs(ask_price * 100 - round(ask_price * 100)) > 1e-6",
    )
    assert off_penny == 0
    off_nickel = scalar(
        db,
        "SELECT count(*) FROM option_quotes WHERE underlying(ticker) <> 'SPY' AND ask_price > 3.0001 "
        "AND (abs(ask_price * 20 - round(ask_price * 20)) > 1e-6 "
        "OR abs(bid_price * 20 - round(bid_price * 20)) > 1e-6)",
    )
    assert off_nickel == 0
    spy_pennies = scalar(
        db,
        "SELECT count(*) FROM option_quotes WHERE ticker LIKE 'O:SPY%' AND ask_price > 3 "
        "AND abs(ask_price * 20 - round(ask_price * 20)) > 1e-6",
    )
    assert spy_pennies > 0


def _trades_against_nbbo(db: duckdb.DuckDBPyConnection, trades: str, quotes: str) -> tuple[int, int, int, int]:
    row = db.execute(
        f"""
        SELECT count(*),
               count(*) FILTER (WHERE q.sip_timestamp IS NULL),
               count(*) FILTER (WHERE q.bid_price <= 0),
               count(*) FILTER (WHERE t.price < q.bid_price - 1e-9 OR t.price > q.ask_price + 1e-9)
        FROM {trades} t ASOF LEFT JOIN {quotes} q
          ON t.ticker = q.ticker AND t.sip_timestamp >= q.sip_timestamp
        """
    ).fetchone()
    assert row is not None
    return row


def test_option_trades_print_at_or_inside_the_prevailing_nbbo(db: duckdb.DuckDBPyConnection) -> None:
    n, no_quote, no_bid, outside = _trades_against_nbbo(db, "option_trades", "option_quotes")
    assert n > 1_000
    assert (no_quote, no_bid, outside) == (0, 0, 0)


def test_stock_trades_print_at_or_inside_the_prevailing_nbbo(db: duckdb.DuckDBPyConnection) -> None:
    n, no_quote, _, outside = _trades_against_nbbo(db, "stock_trades", "stock_quotes")
    assert n > 10_000
    assert (no_quote, outside) == (0, 0)


def test_timestamps_and_sequence_numbers(db: duckdb.DuckDBPyConnection) -> None:
    for name in ("stock_trades", "option_trades", "stock_quotes"):
        assert scalar(db, f"SELECT count(*) FROM {name} WHERE participant_timestamp > sip_timestamp") == 0, name
    for name in TICK_DATASETS:
        bad = scalar(
            db,
            f"""
            SELECT count(*) FROM (
              SELECT sequence_number <= lag(sequence_number) OVER w AS back
              FROM {name} WINDOW w AS (PARTITION BY ticker, et_day(sip_timestamp) ORDER BY sip_timestamp)
            ) WHERE back
            """,
        )
        assert bad == 0, name


def test_trf_prints_and_trade_conditions(db: duckdb.DuckDBPyConnection) -> None:
    trf = db.execute(
        "SELECT count(*), count(*) FILTER (WHERE trf_id IS NULL OR trf_timestamp IS NULL "
        "OR trf_timestamp > sip_timestamp) FROM stock_trades WHERE exchange = 4"
    ).fetchone()
    assert trf is not None and trf[0] > 1_000 and trf[1] == 0
    assert scalar(db, "SELECT count(*) FROM stock_trades WHERE exchange <> 4 AND trf_id IS NOT NULL") == 0
    odd = scalar(db, "SELECT count(*) FROM stock_trades WHERE (size < 100) <> list_contains(conditions, 37)")
    assert odd == 0
    codes = {r[0] for r in db.execute("SELECT DISTINCT unnest(conditions) FROM option_trades").fetchall()}
    assert 209 in codes and codes <= {209, 219, 227, 228, 229, 230, 232, 233}


def test_chains_are_coherent_across_strikes(tiny_dir: Path) -> None:
    """At any instant hardly any vertical spread can be bought for a credit from the quotes on display.

    Checked on the tiny market, whose $1 SPY strikes are close enough for stale quotes to cross. Whole
    expirations are re-priced together, so their quotes are coherent; near the money, contracts are also
    re-priced more often than the wings, and only where such a fresh quote meets a lagging neighbour at
    the edge of that band can a pair cross, rarely.
    """
    db = _connect(tiny_dir)
    day = dt.date.fromisoformat(_meta(tiny_dir)["tick_days"][-2])
    crossed = pairs = 0
    for hour in (10, 11, 12, 13, 14, 15):
        row = db.execute(
            f"""
            WITH last AS (
                SELECT ticker, arg_max(bid_price, sip_timestamp) AS bid, arg_max(ask_price, sip_timestamp) AS ask
                FROM option_quotes WHERE sip_timestamp <= {et_ns(day, hour)} AND et_day(sip_timestamp) = '{day}'
                GROUP BY 1),
            chain AS (
                SELECT c.root, c.expiration_date, c.contract_type, c.strike_price, l.bid, l.ask
                FROM last l JOIN option_contracts c ON c.ticker = l.ticker AND c.action = 'list'),
            nxt AS (
                SELECT *, lead(bid) OVER w AS next_bid, lead(ask) OVER w AS next_ask FROM chain
                WINDOW w AS (PARTITION BY root, expiration_date, contract_type ORDER BY strike_price))
            SELECT count(*),
                   count(*) FILTER (WHERE contract_type = 'call' AND next_bid > ask
                                       OR contract_type = 'put' AND bid > next_ask)
            FROM nxt
            """
        ).fetchone()
        assert row is not None and row[0] > 200, (hour, row)
        pairs += row[0]
        crossed += row[1]
        assert row[1] <= max(2, 0.012 * row[0]), (hour, row)
    assert crossed <= 0.005 * pairs, (crossed, pairs)


def test_quotes_are_busier_near_the_money_and_near_expiry(db: duckdb.DuckDBPyConnection, meta: dict) -> None:
    day = meta["tick_days"][-1]
    rows = db.execute(
        f"""
        WITH n AS (SELECT ticker, count(*) AS quotes FROM option_quotes WHERE et_day(sip_timestamp) = '{day}'
                   GROUP BY 1),
             spot AS (SELECT close FROM stock_day_aggs WHERE ticker = 'SPY' AND et_day(window_start) = '{day}')
        SELECT abs(ln(c.strike_price / spot.close)) < 0.01, c.expiration_date - DATE '{day}' <= 7, avg(n.quotes)
        FROM n JOIN option_contracts c ON c.ticker = n.ticker AND c.action = 'list', spot
        WHERE c.underlying_ticker = 'SPY' AND abs(ln(c.strike_price / spot.close)) NOT BETWEEN 0.01 AND 0.05
        GROUP BY ALL
        """
    ).fetchall()
    avg = {(bool(near), bool(front)): v for near, front, v in rows}
    assert avg[(True, True)] > 1.3 * avg[(False, True)]
    assert avg[(True, True)] > 1.3 * avg[(True, False)]


# -- contracts ------------------------------------------------------------------------------------------------


def test_listing_dates_precede_the_first_tick(db: duckdb.DuckDBPyConnection) -> None:
    assert (
        scalar(
            db,
            "SELECT count(*) FROM option_contracts WHERE list_date <> CAST(regexp_extract(filename, "
            "'(\\d{4}-\\d{2}-\\d{2})', 1) AS DATE) AND action = 'list'",
        )
        == 0
    )
    early = scalar(
        db,
        """
        WITH first_tick AS (SELECT ticker, min(et_day(sip_timestamp)) AS day FROM option_quotes GROUP BY 1)
        SELECT count(*) FROM first_tick f LEFT JOIN option_contracts c ON c.ticker = f.ticker AND c.action = 'list'
        WHERE c.list_date IS NULL OR c.list_date > f.day
        """,
    )
    assert early == 0
    assert scalar(db, "SELECT min(list_date) FROM option_contracts") < dt.date(2025, 11, 1)


def test_expirations_are_sessions_and_nothing_trades_after_expiry(db: duckdb.DuckDBPyConnection) -> None:
    expirations = [r[0] for r in db.execute("SELECT DISTINCT expiration_date FROM option_contracts").fetchall()]
    assert len(expirations) > 5
    assert all(xnys().is_session(d) for d in expirations)
    rows = db.execute(
        "SELECT c.expiration_date, max(q.sip_timestamp) FROM option_quotes q JOIN option_contracts c "
        "ON c.ticker = q.ticker AND c.action = 'list' GROUP BY 1"
    ).fetchall()
    assert all(last < expiry_ns(exp) for exp, last in rows)


def test_ticks_only_while_listed(db: duckdb.DuckDBPyConnection) -> None:
    for name in ("option_quotes", "option_trades"):
        stray = scalar(
            db,
            f"""
            WITH q AS (SELECT DISTINCT ticker, et_day(sip_timestamp) AS day FROM {name}),
                 l AS (SELECT ticker, list_date, expiration_date FROM option_contracts WHERE action = 'list'),
                 d AS (SELECT ticker, CAST(regexp_extract(filename, '(\\d{{4}}-\\d{{2}}-\\d{{2}})', 1) AS DATE) AS day
                       FROM option_contracts WHERE action = 'delist')
            SELECT count(*) FROM q LEFT JOIN l ON l.ticker = q.ticker LEFT JOIN d ON d.ticker = q.ticker
            WHERE l.ticker IS NULL OR q.day < l.list_date OR q.day > l.expiration_date OR q.day >= d.day
            """,
        )
        assert stray == 0, name


def test_strikes_follow_the_stock(db: duckdb.DuckDBPyConnection) -> None:
    rows = db.execute(
        """
        SELECT underlying_ticker, min(strike_price), max(strike_price), count(*)
        FROM option_contracts WHERE action = 'list' AND root = underlying_ticker GROUP BY 1
        """
    ).fetchall()
    spots = dict(db.execute("SELECT ticker, avg(close) FROM stock_day_aggs GROUP BY 1").fetchall())
    assert {r[0] for r in rows} == {"SPY", "AAPL", "NVDA"}
    for ticker, lo, hi, _ in rows:
        assert lo < spots[ticker] < hi
    listed_later = scalar(
        db, "SELECT count(*) FROM option_contracts WHERE action = 'list' AND list_date > DATE '2025-11-20'"
    )
    assert listed_later > 0


# -- the split ----------------------------------------------------------------------------------------------


def test_split_corporate_action(db: duckdb.DuckDBPyConnection, meta: dict) -> None:
    split_day = dt.date.fromisoformat(meta["split"]["execution_date"])
    assert split_day in [dt.date.fromisoformat(d) for d in meta["tick_days"]][1:]
    rows = db.execute("SELECT ticker, type, execution_date, split_from, split_to FROM corporate_actions").fetchall()
    assert rows == [("NVDA", "split", split_day, 2.0, 3.0)]


def test_split_adjusts_every_live_contract(db: duckdb.DuckDBPyConnection, meta: dict) -> None:
    split_day = dt.date.fromisoformat(meta["split"]["execution_date"])
    old = {
        (r[0], r[1], r[2])
        for r in db.execute(
            f"SELECT contract_type, expiration_date, strike_price FROM option_contracts WHERE root = 'NVDA' "
            f"AND action = 'list' AND list_date < DATE '{split_day}' AND expiration_date >= DATE '{split_day}'"
        ).fetchall()
    }
    delisted = db.execute(
        f"SELECT count(*), count(DISTINCT filename) FROM option_contracts WHERE action = 'delist' "
        f"AND filename LIKE '%/{split_day}/%'"
    ).fetchone()
    assert delisted == (len(old), 1) and len(old) > 20
    adjusted = db.execute(
        "SELECT contract_type, expiration_date, strike_price, shares_per_contract, additional_underlyings, "
        "underlying_ticker, list_date FROM option_contracts WHERE root = 'NVDA1'"
    ).fetchall()
    assert {(a, b, c) for a, b, c, *_ in adjusted} == old
    for *_, shares, extra, underlying, listed in adjusted:
        assert shares == 150 and underlying == "NVDA" and listed == split_day
        assert extra == [{"type": "equity", "underlying": "NVDA", "amount": 150.0}]
    new_standard = scalar(
        db, f"SELECT count(*) FROM option_contracts WHERE root = 'NVDA' AND list_date = DATE '{split_day}'"
    )
    assert new_standard > 10


def test_no_ticks_for_delisted_contracts_after_the_split(db: duckdb.DuckDBPyConnection, meta: dict) -> None:
    split_day = meta["split"]["execution_date"]
    for name in ("option_quotes", "option_trades"):
        before = scalar(
            db,
            f"SELECT count(*) FROM {name} WHERE ticker IN (SELECT ticker FROM option_contracts "
            f"WHERE action = 'delist') AND et_day(sip_timestamp) < DATE '{split_day}'",
        )
        after = scalar(
            db,
            f"SELECT count(*) FROM {name} WHERE ticker IN (SELECT ticker FROM option_contracts "
            f"WHERE action = 'delist') AND et_day(sip_timestamp) >= DATE '{split_day}'",
        )
        assert before > 0 and after == 0, name
    adjusted_ticks = scalar(
        db,
        f"SELECT count(*) FROM option_quotes WHERE ticker LIKE 'O:NVDA1%' AND et_day(sip_timestamp) >= '{split_day}'",
    )
    assert adjusted_ticks > 100


def test_raw_prices_drop_at_the_split(db: duckdb.DuckDBPyConnection, meta: dict) -> None:
    split_day = dt.date.fromisoformat(meta["split"]["execution_date"])
    prev = xnys().previous_session(split_day)
    bars = dict(db.execute("SELECT et_day(window_start), close FROM stock_day_aggs WHERE ticker = 'NVDA'").fetchall())
    opens = dict(db.execute("SELECT et_day(window_start), open FROM stock_day_aggs WHERE ticker = 'NVDA'").fetchall())
    ratio = opens[split_day] / bars[prev]
    assert abs(ratio * 1.5 - 1.0) < 0.06
    spy_ratio = scalar(
        db,
        f"SELECT max(open) FILTER (WHERE et_day(window_start) = '{split_day}') / "
        f"max(close) FILTER (WHERE et_day(window_start) = '{prev}') FROM stock_day_aggs WHERE ticker = 'SPY'",
    )
    assert abs(spy_ratio - 1.0) < 0.06


# -- open interest, reference data, rates ----------------------------------------------------------------


def test_open_interest_reports_the_previous_session(db: duckdb.DuckDBPyConnection, meta: dict) -> None:
    cal = xnys()
    rows = db.execute(
        "SELECT CAST(regexp_extract(filename, '(\\d{4}-\\d{2}-\\d{2})', 1) AS DATE), trading_date, "
        "min(reported_timestamp), max(reported_timestamp), count(*), sum(open_interest) FROM option_open_interest "
        "GROUP BY ALL ORDER BY 1"
    ).fetchall()
    # The focus underlying has open interest on every daily session too (option history).
    first = dt.date.fromisoformat(meta["option_days"]["first"])
    assert [r[0] for r in rows] == cal.sessions_in_range(first, dt.date.fromisoformat(meta["tick_days"][-1]))
    assert meta["option_days"]["count"] == meta["daily_days"]["count"] + len(meta["tick_days"])
    for day, trading_date, lo, hi, n, total in rows:
        assert trading_date == cal.previous_session(day)
        assert lo == hi == et_ns(day, 6, 30)
        assert n > 100 and total > 0
    day2 = meta["tick_days"][2]
    unlisted = scalar(
        db,
        f"""
        SELECT count(*) FROM option_open_interest o WHERE o.filename LIKE '%/{day2}/%' AND o.ticker NOT IN (
          SELECT ticker FROM option_quotes WHERE et_day(sip_timestamp) = DATE '{day2}')
        """,
    )
    assert unlisted == 0
    quoted = scalar(db, f"SELECT count(DISTINCT ticker) FROM option_quotes WHERE et_day(sip_timestamp) = DATE '{day2}'")
    reported = scalar(db, f"SELECT count(*) FROM option_open_interest WHERE filename LIKE '%/{day2}/%'")
    assert quoted == reported


def _open_interest_moves(db: duckdb.DuckDBPyConnection, where: str = "") -> list[tuple]:
    """(open interest before, after, the day's volume) per contract and pair of consecutive reports."""
    return db.execute(
        f"""
        WITH oi AS (SELECT *, dense_rank() OVER (ORDER BY trading_date) AS k FROM option_open_interest)
        SELECT a.open_interest, b.open_interest, coalesce(v.volume, 0)
        FROM oi a JOIN oi b ON b.ticker = a.ticker AND b.k = a.k + 1
        LEFT JOIN option_day_aggs v ON v.ticker = a.ticker AND et_day(v.window_start) = b.trading_date
        {where}
        """
    ).fetchall()


def test_open_interest_moves_with_volume(db: duckdb.DuckDBPyConnection) -> None:
    rows = _open_interest_moves(db)
    assert len(rows) > 1_000
    before, after, volume = np.array(rows, dtype=float).T
    assert np.all(np.abs(after - before) <= volume)
    assert np.sum(after != before) > 100


def test_focus_options_are_quoted_without_trade_rows_before_the_tick_window(tiny_dir: Path) -> None:
    """Before the full tick window the focus underlying ticks and its options are quoted, but they print no
    trade rows: their daily bars are drawn from the trade statistics and join those of the tick window, and open
    interest moves with that volume."""
    meta = _meta(tiny_dir)
    full = meta["full_days"]
    quoted = [d for d in meta["tick_days"] if d not in full]
    assert quoted and set(full) < set(meta["tick_days"])
    db = _connect(tiny_dir)
    trade_days = {day for name, day in _manifest(tiny_dir) if name == "option_trades"}
    assert trade_days == set(full)
    minute_days = db.execute("SELECT DISTINCT et_day(window_start) FROM option_minute_aggs").fetchall()
    assert {d.isoformat() for (d,) in minute_days} == set(full)

    def per_day(table: str, time: str, value: str, where: str) -> dict[str, float]:
        sql = f"SELECT et_day({time}), {value} FROM {table} WHERE {where} GROUP BY 1"
        return {d.isoformat(): float(v) for d, v in db.execute(sql).fetchall()}

    quotes = per_day("option_quotes", "sip_timestamp", "count(*)", "underlying(ticker) = 'SPY'")
    stock = per_day("stock_trades", "sip_timestamp", "count(*)", "ticker = 'SPY'")
    prints = per_day("option_day_aggs", "window_start", "sum(transactions)", "underlying(ticker) = 'SPY'")
    for day in quoted:
        assert quotes[day] > 1_000 and stock[day] > 100 and prints[day] > 100
    ratio = np.median([prints[d] for d in quoted]) / np.median([prints[d] for d in full])
    quoted_sql = ", ".join(f"DATE '{d}'" for d in quoted)
    assert 1 / 3 < ratio < 3
    outside = db.execute(
        f"""
        SELECT count(*) FROM option_day_aggs
        WHERE underlying(ticker) = 'SPY' AND et_day(window_start) IN ({quoted_sql})
          AND (low > high OR open NOT BETWEEN low AND high OR close NOT BETWEEN low AND high OR volume < transactions)
        """
    ).fetchone()
    assert outside == (0,)
    moves = _open_interest_moves(db, f"WHERE b.trading_date IN ({quoted_sql})")
    before, after, volume = np.array(moves, dtype=float).T
    assert np.all(np.abs(after - before) <= volume) and np.sum(after != before) > 10


def test_open_interest_is_highest_near_the_money(db: duckdb.DuckDBPyConnection, meta: dict) -> None:
    day = meta["tick_days"][0]
    rows = db.execute(
        f"""
        SELECT abs(ln(c.strike_price / s.close)) AS dist, o.open_interest
        FROM option_open_interest o JOIN option_contracts c ON c.ticker = o.ticker AND c.action = 'list'
        JOIN stock_day_aggs s ON s.ticker = c.underlying_ticker AND et_day(s.window_start) = o.trading_date
        WHERE o.filename LIKE '%/{day}/%' AND c.underlying_ticker = 'SPY'
        """
    ).fetchall()
    dist, oi = np.array(rows, dtype=float).T
    # Long-dated contracts keep their first day's model level across strikes; the volume-built part, held
    # at about two sessions of volume, is what makes the money's strikes stand out (2.85 times here).
    assert oi[dist < 0.02].mean() > 2.5 * oi[dist > 0.06].mean() > 0


def test_ticker_reference_is_point_in_time(db: duckdb.DuckDBPyConnection, meta: dict) -> None:
    change = meta["name_change"]
    rows = db.execute(
        f"SELECT CAST(regexp_extract(filename, '(\\d{{4}}-\\d{{2}}-\\d{{2}})', 1) AS DATE) d, name, "
        f"primary_exchange, type, round_lot, dividend_yield FROM stock_tickers WHERE ticker = '{change['ticker']}' "
        "ORDER BY d"
    ).fetchall()
    assert [r[1] for r in rows] == [change["old_name"], change["new_name"]]
    assert rows[1][0] == dt.date.fromisoformat(change["date"]) and rows[0][0] < rows[1][0]
    assert rows[0][2:] == ("XNAS", "ETF", 100, pytest.approx(0.0049))
    tickers = {r[0] for r in db.execute("SELECT ticker FROM stock_tickers").fetchall()}
    assert tickers == {"SPY", "QQQ", "AAPL", "NVDA"}
    spy = db.execute(
        "SELECT primary_exchange, market, locale, currency_name, cik, composite_figi, related "
        "FROM stock_tickers WHERE ticker = 'SPY'"
    ).fetchone()
    assert spy is not None and spy[:4] == ("ARCX", "stocks", "us", "usd") and spy[4] and spy[5] and "IVV" in spy[6]


def test_rates_every_session(db: duckdb.DuckDBPyConnection, meta: dict) -> None:
    row = db.execute(
        "SELECT count(DISTINCT filename), min(rate), max(rate), count(DISTINCT tenor_days) FROM rates"
    ).fetchone()
    assert row is not None
    assert row[0] == 88 and 0.035 <= row[1] <= row[2] <= 0.043 and row[3] >= 5


def test_daily_bars_join_the_tick_window(db: duckdb.DuckDBPyConnection, meta: dict) -> None:
    first_tick = dt.date.fromisoformat(meta["tick_days"][0])
    prev = xnys().previous_session(first_tick)
    for ticker in ("SPY", "QQQ", "AAPL", "NVDA"):
        bars = db.execute(
            f"SELECT et_day(window_start), open, close, volume FROM stock_day_aggs WHERE ticker = '{ticker}' ORDER BY 1"
        ).fetchall()
        assert len(bars) == 88
        by_day = {d: (o, c, v) for d, o, c, v in bars}
        assert abs(by_day[first_tick][0] / by_day[prev][1] - 1.0) < 0.05
        before = np.mean([v for d, _, _, v in bars if d < first_tick])
        inside = np.mean([v for d, _, _, v in bars if d >= first_tick])
        assert 0.5 < inside / before < 2.0
    assert scalar(db, "SELECT count(*) FROM stock_day_aggs WHERE ticker = 'SPY' AND close NOT BETWEEN 500 AND 800") == 0


# -- the volatility surface --------------------------------------------------------------------------------------


def test_option_mids_recover_the_generating_volatility(market_dir: Path, db: duckdb.DuckDBPyConnection) -> None:
    """Out-of-the-money mids invert to the surface volatility within what tick rounding allows.

    A quote's mid lies within half a tick of the model price at its instant (the underlying's prevailing
    NBBO mid), so the recovered volatility lies between the volatilities of ``model -+ tick / 2``.
    """
    states = load_surface_states(market_dir)
    rows = db.execute(
        """
        WITH oq AS (SELECT * FROM option_quotes USING SAMPLE 6000 ROWS (reservoir, 42)),
             sq AS (SELECT ticker, sip_timestamp, (bid_price + ask_price) / 2 AS mid FROM stock_quotes)
        SELECT oq.ticker, oq.sip_timestamp, oq.bid_price, oq.ask_price, sq.mid
        FROM oq ASOF JOIN sq ON underlying(oq.ticker) = sq.ticker AND oq.sip_timestamp >= sq.sip_timestamp
        WHERE oq.bid_price > 0
        """
    ).fetchall()
    checked, adjusted, misses = 0, 0, []
    for ticker, ts, bid, ask, stock_mid in rows:
        sym = parse_option_symbol(ticker)
        spot = stock_mid * (1.5 if sym.is_nonstandard else 1.0)
        t = float(year_fraction(ts, expiry_ns(sym.expiration)))
        out_of_the_money = sym.strike > 0.98 * spot if sym.contract_type == "call" else sym.strike < 1.02 * spot
        if t < 3 / 365 or not out_of_the_money or abs(math.log(sym.strike / spot)) > 0.6 * math.sqrt(t):
            continue
        state = states[(sym.root.rstrip("1"), et_date(ts))]
        rate, q = float(state.rate(t)), state.dividend_yield
        true_vol = float(state.iv(spot, sym.strike, t))
        flag = "c" if sym.contract_type == "call" else "p"
        half_tick = (0.01 if sym.root == "SPY" or ask < 3.0 - 1e-9 else 0.05) / 2
        model = black_scholes_merton(flag, spot, sym.strike, t, rate, true_vol, q)
        lowest = implied_volatility(model - half_tick, spot, sym.strike, t, rate, q, flag)
        highest = implied_volatility(model + half_tick, spot, sym.strike, t, rate, q, flag)
        recovered = implied_volatility((bid + ask) / 2, spot, sym.strike, t, rate, q, flag)
        checked += 1
        adjusted += sym.is_nonstandard
        if not (abs((bid + ask) / 2 - model) <= half_tick + 1e-9 and lowest - 1e-7 <= recovered <= highest + 1e-7):
            misses.append((ticker, ts, bid, ask, model, recovered, true_vol))
    assert checked > 500 and adjusted > 5
    assert misses == []


def test_surface_has_put_skew_and_term_structure(market_dir: Path) -> None:
    state = load_surface_states(market_dir)[("SPY", TEST_MARKET_END)]
    spot = 660.0
    puts, atm, calls = state.iv(spot, np.array([0.9 * spot, spot, 1.1 * spot]), 30 / 365)
    assert puts > atm > calls * 0.97
    assert state.iv(spot, 0.8 * spot, 30 / 365) > state.iv(spot, 0.9 * spot, 30 / 365)


# -- building -------------------------------------------------------------------------------------------------


def _manifest(data_dir: Path) -> dict[tuple[str, str], str]:
    con = sqlite3.connect(data_dir / "lake" / "manifest.sqlite")
    try:
        return {(d, day): sha for d, day, sha in con.execute("SELECT dataset, day, sha256 FROM partitions")}
    finally:
        con.close()


def test_builds_are_reproducible_and_seed_dependent(tiny_dir: Path, tmp_path: Path) -> None:
    again = build_market(tmp_path / "again", seed=TINY_SEED, end=TEST_MARKET_END, profile="tiny", workers=2)
    build_market(tmp_path / "other", seed=TINY_SEED + 1, end=TEST_MARKET_END, profile="tiny")
    a, b, c = _manifest(tiny_dir), _manifest(tmp_path / "again"), _manifest(tmp_path / "other")
    assert len(a) > 20 and a == b
    assert again.datasets["option_quotes"].rows > 0
    ticks = [k for k in a if k[0] in TICK_DATASETS]
    assert ticks and all(a[k] != c.get(k) for k in ticks)


def test_rebuild_replaces_the_previous_market(tmp_path: Path) -> None:
    build_market(tmp_path, seed=3, end=TEST_MARKET_END, profile="tiny")
    report = build_market(tmp_path, seed=3, end=dt.date(2025, 12, 9), profile="tiny")
    days = {dt.date.fromisoformat(day) for name, day in _manifest(tmp_path) if name == "option_quotes"}
    assert days == set(report.tick_days)
    assert "option_quotes" in str(report)


def test_progress_advances_per_generated_day(tmp_path: Path) -> None:
    from rich.progress import Progress

    with Progress(disable=True) as progress:
        report = build_market(tmp_path, seed=1, end=TEST_MARKET_END, profile="tiny", progress=progress)
        task = progress.tasks[0]
        assert task.total == task.completed == report.daily_days + len(report.tick_days)


def test_end_defaults_to_the_last_completed_session() -> None:
    midday = et_ns(EARLY_CLOSE, 12)
    assert resolve_end(None, midday) == dt.date(2025, 11, 26)
    assert resolve_end(None, et_ns(EARLY_CLOSE, 13, 30)) == EARLY_CLOSE
    assert resolve_end(HOLIDAY) == dt.date(2025, 11, 26)
    assert resolve_end(dt.date(2025, 11, 30)) == EARLY_CLOSE


# -- re-pricing bands ----------------------------------------------------------------------------------


def test_puts_a_month_out_at_about_0_2_delta_are_repriced_every_minute() -> None:
    """Within a month-out expiration, a put about 3% out of the money (0.2 delta, what the short-put strategy
    sells) is re-priced every minute like the at-the-money ones, so a new quote follows most decisions within
    the backtester's default two-minute limit; a put 8% out is left to the slower sweeps."""
    from cutemarkets_server.sim.options import ChainDay, Market, option_day
    from cutemarkets_server.sim.rates import RateCurve
    from cutemarkets_server.sim.surface import SurfaceParams
    from cutemarkets_server.sim.universe import spec

    day = dt.date(2025, 11, 3)
    hours = xnys().hours(day)
    sp = spec("SPY")
    rng = np.random.default_rng(5)
    under_ts = np.arange(hours.open_ns, hours.close_ns, 1_000_000_000, dtype=np.int64)
    steps = rng.normal(0.0, 0.15 / np.sqrt(252 * 23_400), len(under_ts))
    under_mid = 680.0 * np.exp(np.cumsum(steps))
    strikes = np.array([680.0, 660.0, 626.0])  # at the money, 3% and 8% out
    expiry = expiry_ns(dt.date(2025, 12, 5))
    chain = ChainDay(
        "SPY",
        [f"O:SPY251205P00{int(k)}000" for k in strikes],
        np.zeros(3, dtype=bool),
        strikes,
        np.full(3, expiry, dtype=np.int64),
        np.ones(3),
    )
    curve = RateCurve((1, 30, 365), (0.04, 0.04, 0.04))
    market = Market(
        SurfaceParams.of(sp), sp.vol.long_run_var, sp.vol.long_run_var, sp.dividend_yield, curve, under_ts, under_mid
    )
    quotes = option_day(rng, rng, sp, hours, chain, market, 20.0, 0.0, fast_sweeps=600.0).quotes
    decisions = np.array([et_ns(day, 10) + i * 60_000_000_000 for i in range(300)])
    share = {}
    for ticker in chain.tickers:
        ts = np.sort(quotes.filter(pc.equal(quotes["ticker"], ticker))["sip_timestamp"].to_numpy())
        j = np.searchsorted(ts, decisions, side="left")
        found = (j < len(ts)) & (ts[np.minimum(j, len(ts) - 1)] - decisions <= 120_000_000_000)
        share[ticker] = found.mean()
    at_money, three_out, eight_out = (share[t] for t in chain.tickers)
    assert at_money > 0.8 and three_out > 0.75
    assert eight_out < 0.3
