"""The built-in market's activity and surface against published magnitudes of real index options.

Volume shares, open interest, quote update rates and the scanner are measured on the test market through
its Parquet files and through the HTTP API; the term structure's slope frequency over a long history comes
from the market's recorded surface parameters and the generator's variance process.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import duckdb
import numpy as np
import pytest

from cutemarkets_server.market.calendar import xnys
from cutemarkets_server.market.timestamps import et_ns
from cutemarkets_server.sim.skeleton import build_skeleton
from cutemarkets_server.sim.surface import atm_vol, load_surface_states
from cutemarkets_server.sim.universe import spec
from cutemarkets_server.store.lake import Lake

from conftest import TEST_MARKET_END, auth


@pytest.fixture(scope="module")
def db(market_dir: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect()
    snap = Lake(market_dir / "lake").snapshot()
    for name in snap.by_dataset:
        files = snap.files_between(name, None, None)
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet({files!r}, filename = true)")
    con.execute("CREATE MACRO et_day(ns) AS CAST(timezone('America/New_York', to_timestamp(ns / 1e9)) AS DATE)")
    yield con
    con.close()


@pytest.fixture(scope="module")
def tick_days(market_dir: Path) -> list[dt.date]:
    raw = Lake(market_dir / "lake").get_meta("market")
    assert raw is not None
    return [dt.date.fromisoformat(d) for d in json.loads(raw)["tick_days"]]


def test_same_day_expirations_carry_about_half_of_the_volume(db: duckdb.DuckDBPyConnection) -> None:
    rows = db.execute(
        """
        SELECT et_day(v.window_start) AS day, sum(v.volume) FILTER (WHERE c.expiration_date = day), sum(v.volume)
        FROM option_day_aggs v JOIN option_contracts c ON c.ticker = v.ticker AND c.action = 'list'
        WHERE c.underlying_ticker = 'SPY' GROUP BY 1 ORDER BY 1
        """
    ).fetchall()
    assert len(rows) > 80  # the tick window and the daily sessions before it
    same_day, total = np.array([r[1:] for r in rows], dtype=float).T
    assert 0.35 < same_day.sum() / total.sum() < 0.75
    assert np.all(same_day / total > 0.2)


def test_trade_sizes_are_mostly_small_with_a_block_tail(db: duckdb.DuckDBPyConnection) -> None:
    median, mean, big = db.execute(
        "SELECT median(size), avg(size), count(*) FILTER (WHERE size >= 500) FROM option_trades"
    ).fetchone()  # type: ignore[misc]
    assert 2 <= median <= 4 and 6 < mean < 16 and big > 20


def test_short_dated_at_the_money_contracts_trade_thousands_and_hold_thousands_open(
    db: duckdb.DuckDBPyConnection, tick_days: list[dt.date]
) -> None:
    day = tick_days[-1]
    rows = db.execute(
        f"""
        WITH spot AS (SELECT close FROM stock_day_aggs WHERE ticker = 'SPY' AND et_day(window_start) = '{day}'),
             atm AS (
               SELECT c.ticker, c.expiration_date - DATE '{day}' AS dte FROM option_contracts c, spot
               WHERE c.action = 'list' AND c.underlying_ticker = 'SPY' AND c.expiration_date >= DATE '{day}'
                 AND abs(ln(c.strike_price / spot.close)) < 0.006)
        SELECT atm.dte, coalesce(v.volume, 0), coalesce(o.open_interest, 0) FROM atm
        LEFT JOIN option_day_aggs v ON v.ticker = atm.ticker AND et_day(v.window_start) = DATE '{day}'
        LEFT JOIN option_open_interest o ON o.ticker = atm.ticker AND o.filename LIKE '%/{day}/%'
        """
    ).fetchall()
    dte, volume, oi = np.array(rows, dtype=float).T
    assert np.median(volume[dte == 0]) > 1_000
    # Open interest builds up from the volume over a contract's life (highest near the money, test_sim), about
    # two sessions of it held open. The test profile prints over a hundred times fewer trades than the default
    # one, so its figures are correspondingly smaller (hundreds to about a thousand); bench/RESULTS.md has the
    # default market's (tens of thousands).
    assert oi[(dte >= 7) & (dte <= 45)].max() > 500
    assert np.median(oi[(dte >= 7) & (dte <= 45)]) > 30


def test_near_the_money_quotes_update_often_and_every_minute(
    db: duckdb.DuckDBPyConnection, tick_days: list[dt.date]
) -> None:
    day = tick_days[-1]
    hours = xnys().hours(day)
    minutes = (hours.close_ns - hours.open_ns) // 60_000_000_000
    rows = db.execute(
        f"""
        WITH spot AS (SELECT close FROM stock_day_aggs WHERE ticker = 'SPY' AND et_day(window_start) = '{day}'),
             atm AS (
               SELECT c.ticker, c.expiration_date - DATE '{day}' AS dte FROM option_contracts c, spot
               WHERE c.action = 'list' AND c.underlying_ticker = 'SPY' AND c.expiration_date >= DATE '{day}'
                 AND c.expiration_date - DATE '{day}' <= 60 AND abs(c.strike_price - spot.close) < 5
                 AND c.strike_price % 5 = 0)
        SELECT atm.dte, count(*), count(DISTINCT (q.sip_timestamp - {hours.open_ns}) // 60000000000)
        FROM atm JOIN option_quotes q ON q.ticker = atm.ticker AND et_day(q.sip_timestamp) = DATE '{day}'
        GROUP BY atm.ticker, atm.dte
        """
    ).fetchall()
    dte, updates, minutes_quoted = np.array(rows, dtype=float).T
    assert len(rows) >= 8
    # Real same-day contracts update thousands of times a session (the default profile does; the test
    # profile re-prices less often).
    assert np.median(updates[dte == 0]) > 500
    # Re-priced at least once a minute, a new quote is sent whenever the model value left the quote shown:
    # near the money that is most minutes of the session, at every tenor up to 60 days.
    assert np.all(minutes_quoted > 0.6 * minutes) and np.median(minutes_quoted) > 0.8 * minutes


def test_term_structure_slopes_upward_on_most_days(market_dir: Path) -> None:
    states = load_surface_states(market_dir)
    state = states[("SPY", TEST_MARKET_END)]
    sessions = [dt.date(2000, 1, 3) + dt.timedelta(days=i) for i in range(6_000)]
    inverted = []
    for seed in (1, 2, 3):
        skeleton = build_skeleton(seed, spec("SPY"), sessions, sessions[0])
        variance, slow = skeleton.variance, skeleton.slow_variance
        iv30 = atm_vol(state.params, variance, slow, 30 / 365)
        iv91 = atm_vol(state.params, variance, slow, 91 / 365)
        inverted.append(np.mean(iv30 > iv91))
        # The inverted days are the stressed ones.
        assert np.median(variance[iv30 > iv91]) > 2 * np.median(variance[iv30 <= iv91])
        # Inversions are short spells: in most 20-session windows at most one session is inverted.
        windows = np.convolve(iv30 > iv91, np.ones(20, dtype=int), "valid")
        assert np.mean(windows >= 2) < 0.25
    # Real markets: 30-day above 91-day on under a tenth of days.
    assert 0.02 < np.mean(inverted) < 0.1, inverted


def test_the_official_scanner_finds_contracts(http: object, server: object) -> None:
    """``build_options_chain_scanner.py``: calls expiring within 14 days, open interest >= 100, volume >= 25."""
    day = TEST_MARKET_END
    as_of = f"{dt.datetime.fromtimestamp(et_ns(day, 15, 59) / 1e9, dt.UTC).isoformat()}"
    params = {
        "contract_type": "call",
        "expiration_date.gte": day.isoformat(),
        "expiration_date.lte": (day + dt.timedelta(days=14)).isoformat(),
        "limit": 250,
        "as_of": as_of,
    }
    resp = http.get("/v1/options/chain/SPY/", params=params, headers=auth(server.key("expert")))  # type: ignore[attr-defined]
    assert resp.status_code == 200, resp.text
    rows = resp.json()["results"]
    hits = [r for r in rows if (r.get("open_interest") or 0) >= 100 and (r.get("day") or {}).get("volume", 0) >= 25]
    assert len(hits) >= 10
    assert max(r["open_interest"] for r in hits) > 200


def test_every_session_has_contracts_daily_bars_and_open_interest(
    db: duckdb.DuckDBPyConnection, market_dir: Path, tick_days: list[dt.date]
) -> None:
    """Point-in-time questions about any session of the market's year have answers for the focus underlying:
    listed contracts, open interest each morning and daily option bars, before the tick window too."""
    meta = json.loads(Lake(market_dir / "lake").get_meta("market") or "{}")
    first = dt.date.fromisoformat(meta["option_days"]["underlyings"]["SPY"])
    sessions = xnys().sessions_in_range(first, tick_days[-1])
    assert len(sessions) == meta["daily_days"]["count"] + len(tick_days)
    rows = db.execute(
        """
        WITH oi AS (
               SELECT CAST(regexp_extract(filename, '(\\d{4}-\\d{2}-\\d{2})', 1) AS DATE) AS day, count(*) AS n,
                      sum(open_interest) AS total
               FROM option_open_interest WHERE ticker LIKE 'O:SPY%' GROUP BY 1),
             bars AS (
               SELECT et_day(window_start) AS day, count(*) AS n, sum(volume) AS volume
               FROM option_day_aggs WHERE ticker LIKE 'O:SPY%' GROUP BY 1)
        SELECT oi.day, oi.n, oi.total, bars.n, bars.volume FROM oi JOIN bars USING (day) ORDER BY 1
        """
    ).fetchall()
    assert [r[0] for r in rows] == sessions
    listed = db.execute(
        """
        SELECT count(*) FROM option_contracts
        WHERE underlying_ticker = 'SPY' AND action = 'list' AND list_date <= ? AND expiration_date >= ?
        """,
        [sessions[0], sessions[0]],
    ).fetchone()
    assert listed is not None and listed[0] > 100
    days_oi, total_oi, days_bars, volume = np.array([r[1:] for r in rows], dtype=float).T
    assert np.all(days_oi > 100) and np.all(total_oi > 0) and np.all(days_bars > 50) and np.all(volume > 0)
    # No seam at the start of the tick window: daily volume before it is of the same magnitude.
    before, inside = volume[: -len(tick_days)], volume[-len(tick_days) :]
    assert 0.5 < np.median(before) / np.median(inside) < 2.0


def test_the_scanner_finds_contracts_before_the_tick_window(
    http: object, server: object, tick_days: list[dt.date]
) -> None:
    day = xnys().sessions_in_range(tick_days[0] - dt.timedelta(days=60), tick_days[0])[0]
    as_of = f"{dt.datetime.fromtimestamp(et_ns(day, 16, 0) / 1e9, dt.UTC).isoformat()}"
    params = {
        "contract_type": "call",
        "expiration_date.gte": day.isoformat(),
        "expiration_date.lte": (day + dt.timedelta(days=14)).isoformat(),
        "limit": 250,
        "as_of": as_of,
    }
    resp = http.get("/v1/options/chain/SPY/", params=params, headers=auth(server.key("expert")))  # type: ignore[attr-defined]
    assert resp.status_code == 200, resp.text
    rows = resp.json()["results"]
    hits = [r for r in rows if (r.get("open_interest") or 0) >= 100 and (r.get("day") or {}).get("volume", 0) >= 25]
    assert len(hits) >= 3
