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
    assert len(rows) == 8
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
    # Open interest builds up over a contract's life: monthly and weekly contracts near the money hold
    # thousands to tens of thousands; across the chain it is highest near the money (test_sim).
    assert oi[(dte >= 7) & (dte <= 45)].max() > 10_000
    assert np.median(oi[(dte >= 7) & (dte <= 45)]) > 1_000


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
        variance = build_skeleton(seed, spec("SPY"), sessions, sessions[0]).variance
        iv30 = atm_vol(state.params, variance, 30 / 365)
        iv91 = atm_vol(state.params, variance, 91 / 365)
        inverted.append(np.mean(iv30 > iv91))
        # The inverted days are the stressed ones.
        assert np.median(variance[iv30 > iv91]) > 2 * np.median(variance[iv30 <= iv91])
    assert 0.03 < np.mean(inverted) < 0.2, inverted


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
    assert max(r["open_interest"] for r in hits) > 5_000
