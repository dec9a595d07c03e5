"""The API over imported flat files answers like the API over the built-in market they were written from.

What legitimately differs, because Massive flat files do not carry it:

* contract reference: listings start on the first day a contract appears in a file; delistings are
  unknown (the built-in market's split delists the standard NVDA contracts, which stay listed here);
  an adjusted root (``NVDA1``) has an unknown deliverable, so it is its own underlying, not NVDA's;
* open interest (no flat file has it), and option trades' sequence numbers (not in the trades file);
* VWAP of daily bars on days without ingested trades (the aggregate files have none);
* the risk-free curve and the dividend yields are not vendor data: the test copies the built-in
  market's ``rates`` and ``stock_tickers`` into the imported data directory so that greeks can be
  compared; its split is loaded the way a user would, from a splits CSV.

Everything else - chain and snapshot rows with greeks, IV and FMV, trades, quotes, bars at every
timespan, adjusted bars - must be identical.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cutemarkets_server.clock import FixedClock
from cutemarkets_server.ingest.export import FlatExportOptions, export_flatfiles
from cutemarkets_server.store.keys import KeyStore
from ingestkit import copy_datasets, ingest, partitions

from conftest import TEST_NOW_NS, RunningServer, auth, start_server

SESSION = dt.date(2025, 12, 2)


@pytest.fixture(scope="module")
def vendor(market_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, str, Path]]:
    files = tmp_path_factory.mktemp("api-flatfiles")
    export_flatfiles(market_dir, files, options=FlatExportOptions(gzip_level=1))
    data_dir = tmp_path_factory.mktemp("api-imported")
    copy_datasets(market_dir, data_dir, ["rates", "stock_tickers"])
    summary, _ = ingest(data_dir, "flatfiles", [files])
    assert not summary.failed
    splits = [r for t in partitions(market_dir, "corporate_actions").values() for r in t.to_pylist()]
    csv = files / "splits.csv"
    csv.write_text(
        "ticker,execution_date,split_from,split_to\n"
        + "".join(f"{r['ticker']},{r['execution_date']},{r['split_from']:g},{r['split_to']:g}\n" for r in splits)
    )
    summary, _ = ingest(data_dir, "splits", [csv])
    assert summary.outcomes[0].rows_stored == len(splits) == 1
    key, _ = KeyStore(data_dir / "keys.sqlite").create("test", "expert", ("options", "stocks"))
    handle, _, base = start_server(data_dir, FixedClock(TEST_NOW_NS))
    with httpx.Client(base_url=base, timeout=120.0, headers=auth(key)) as client:
        yield client, key, data_dir
    handle.should_exit = True


@pytest.fixture(scope="module")
def builtin(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=120.0, headers=auth(server.key("expert"))) as client:
        yield client


def fetch(client: httpx.Client, path: str, **params: Any) -> dict:
    r = client.get(path, params=params)
    assert r.status_code == 200, (path, r.text)
    return r.json()


def every_page(client: httpx.Client, path: str, **params: Any) -> list[dict]:
    body = fetch(client, path, **params)
    rows = list(body.get("results", []))
    while body.get("next_url"):
        r = client.get(body["next_url"])
        assert r.status_code == 200, r.text
        body = r.json()
        rows += body.get("results", [])
    return rows


def strip(row: dict, *keys: str) -> dict:
    return {k: v for k, v in row.items() if k not in keys}


def chain(client: httpx.Client, underlying: str, **params: Any) -> dict[str, dict]:
    rows = every_page(client, f"/v1/options/chain/{underlying}/", limit=250, **params)
    return {r["details"]["ticker"]: r for r in rows}


@pytest.mark.parametrize("as_of", [None, "2025-12-02T15:00:00Z", "2025-11-26"])
@pytest.mark.parametrize("underlying", ["SPY", "AAPL"])
def test_chain_rows_with_greeks_are_identical(
    vendor: tuple, builtin: httpx.Client, underlying: str, as_of: str | None
) -> None:
    client, _, _ = vendor
    params = {} if as_of is None else {"as_of": as_of}
    mine, theirs = chain(client, underlying, **params), chain(builtin, underlying, **params)
    assert mine.keys() == theirs.keys() and len(mine) > 20
    with_greeks = 0
    for ticker, row in theirs.items():
        assert strip(mine[ticker], "open_interest") == strip(row, "open_interest"), ticker
        assert "open_interest" not in mine[ticker]
        with_greeks += "greeks" in row
    assert with_greeks > 10


def test_nvda_chain_differs_only_where_the_files_cannot_know(
    vendor: tuple, builtin: httpx.Client, market_dir: Path
) -> None:
    client, _, _ = vendor
    mine, theirs = chain(client, "NVDA"), chain(builtin, "NVDA")
    contracts = [r for t in partitions(market_dir, "option_contracts").values() for r in t.to_pylist()]
    delisted = {r["ticker"] for r in contracts if r["action"] == "delist" and r["expiration_date"] >= SESSION}
    adjusted = {t for t in theirs if t.startswith("O:NVDA1")}
    assert delisted and adjusted
    assert set(mine) == (set(theirs) - adjusted) | delisted
    nvda1 = chain(client, "NVDA1")
    assert set(nvda1) == adjusted
    for ticker in set(mine) & set(theirs):
        # greeks per contract are identical; the smile fit (fmv) also sees the stale delisted contracts
        assert strip(mine[ticker], "open_interest", "fmv", "fmv_last_updated") == strip(
            theirs[ticker], "open_interest", "fmv", "fmv_last_updated"
        ), ticker


def busiest(client: httpx.Client, underlying: str = "SPY") -> str:
    rows = [
        r
        for r in chain(client, underlying, as_of="2025-12-02T20:00:00Z").values()
        if r["details"]["expiration_date"] > "2025-12-03"
    ]
    return max(rows, key=lambda r: r.get("day", {}).get("volume", 0))["details"]["ticker"]


def test_snapshot_trades_and_quotes_of_a_contract(vendor: tuple, builtin: httpx.Client) -> None:
    client, _, _ = vendor
    ticker = busiest(builtin)
    a = fetch(client, f"/v1/options/snapshot/SPY/{ticker}/")["results"]
    b = fetch(builtin, f"/v1/options/snapshot/SPY/{ticker}/")["results"]
    assert strip(a, "open_interest") == strip(b, "open_interest") and "greeks" in b
    window = {"timestamp.gte": "2025-11-20", "timestamp.lt": "2025-12-03", "limit": 1000}
    trades_a = every_page(client, f"/v1/options/trades/{ticker}/", **window)
    trades_b = every_page(builtin, f"/v1/options/trades/{ticker}/", **window)
    assert len(trades_b) > 20
    assert [strip(r, "sequence_number") for r in trades_a] == [strip(r, "sequence_number") for r in trades_b]
    quotes_a = every_page(client, f"/v1/options/quotes/{ticker}/", **window)
    quotes_b = every_page(builtin, f"/v1/options/quotes/{ticker}/", **window)
    assert quotes_a == quotes_b and len(quotes_b) > 100


@pytest.mark.parametrize(
    ("multiplier", "timespan"), [(1, "minute"), (5, "minute"), (1, "hour"), (1, "day"), (1, "week")]
)
def test_option_bars_at_every_timespan(vendor: tuple, builtin: httpx.Client, multiplier: int, timespan: str) -> None:
    client, _, _ = vendor
    ticker = busiest(builtin)
    path = f"/v1/options/aggs/{ticker}/{multiplier}/{timespan}/2025-11-20/2025-12-02/"
    a, b = fetch(client, path, limit=50000), fetch(builtin, path, limit=50000)
    assert a["results"] == b["results"] and b["resultsCount"] > 0
    prev_a = fetch(client, f"/v1/options/aggs/{ticker}/prev/")
    assert prev_a["results"] == fetch(builtin, f"/v1/options/aggs/{ticker}/prev/")["results"]


def test_stock_ticks_and_bars(vendor: tuple, builtin: httpx.Client) -> None:
    client, _, _ = vendor
    window = {"timestamp.gte": "2025-12-02T14:30:00Z", "timestamp.lt": "2025-12-02T15:00:00Z", "limit": 50000}
    for kind in ("trades", "quotes"):
        a = every_page(client, f"/v1/stocks/{kind}/AAPL/", **window)
        b = every_page(builtin, f"/v1/stocks/{kind}/AAPL/", **window)
        assert a == b and len(b) > 10, kind
    path = "/v1/stocks/aggs/NVDA/1/day/2025-08-01/2025-12-02/"
    for adjusted in ("true", "false"):
        a = fetch(client, path, adjusted=adjusted, limit=5000)["results"]
        b = fetch(builtin, path, adjusted=adjusted, limit=5000)["results"]
        assert len(a) == len(b) > 60
        tick_window = dt.datetime(2025, 11, 20, tzinfo=dt.UTC).timestamp() * 1000
        for x, y in zip(a, b, strict=True):
            if x["t"] >= tick_window:
                assert x == y
            else:  # no trades were imported for these days, so the vendor bar has no VWAP
                assert strip(x, "vw") == strip(y, "vw")
    minute = "/v1/stocks/aggs/SPY/1/minute/2025-12-01/2025-12-02/"
    assert fetch(client, minute, limit=50000)["results"] == fetch(builtin, minute, limit=50000)["results"]


def test_contract_reference_records_the_first_sighting(vendor: tuple, builtin: httpx.Client) -> None:
    client, _, _ = vendor
    ticker = busiest(builtin)
    a = fetch(client, f"/v1/options/contracts/{ticker}/")["results"]
    b = fetch(builtin, f"/v1/options/contracts/{ticker}/")["results"]
    same = ("ticker", "underlying_ticker", "contract_type", "exercise_style", "expiration_date", "strike_price")
    assert {k: a[k] for k in same} == {k: b[k] for k in same}
    assert a["shares_per_contract"] == b["shares_per_contract"] == 100
