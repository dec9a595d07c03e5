"""A running server keeps answering while an import adds days, and never shows half of a day."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from cutemarkets_server.clock import FixedClock
from cutemarkets_server.ingest.export import FlatExportOptions, export_flatfiles
from cutemarkets_server.store.keys import KeyStore
from ingestkit import ingest

from conftest import TEST_NOW_NS, auth, start_server


@pytest.fixture(scope="module")
def flat_dir(market_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("serving-files")
    export_flatfiles(market_dir, out, options=FlatExportOptions(gzip_level=1))
    return out


def _strip_vw(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "vw"} for r in rows]


def test_server_answers_during_an_import_and_sees_whole_days_only(flat_dir: Path, tmp_path: Path) -> None:
    final_dir = tmp_path / "final"
    ingest(final_dir, "flatfiles", [flat_dir])
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    key, _ = KeyStore(data_dir / "keys.sqlite").create("test", "expert", ("options", "stocks"))
    handle, _, base = start_server(data_dir, FixedClock(TEST_NOW_NS))
    final_handle, _, final_base = start_server(final_dir, FixedClock(TEST_NOW_NS))
    final_key, _ = KeyStore(final_dir / "keys.sqlite").create("final", "expert", ("options", "stocks"))
    bars_path = "/v1/stocks/aggs/SPY/1/day/2025-07-01/2025-12-02/"
    quotes_path = "/v1/stocks/quotes/SPY/"
    quote_window = {"timestamp.gte": "2025-11-25", "timestamp.lt": "2025-11-26", "limit": 50000}
    try:
        with httpx.Client(base_url=final_base, headers=auth(final_key), timeout=60) as final:
            full_bars = final.get(bars_path, params={"limit": 5000}).json()["results"]
            full_quotes = final.get(quotes_path, params=quote_window).json()["results"]
        assert len(full_bars) > 80 and len(full_quotes) > 1000
        by_t = {b["t"]: b for b in _strip_vw(full_bars)}
        cli_flags = ["--data-dir", str(data_dir), "--no-progress"]
        proc = subprocess.Popen(
            [sys.executable, "-m", "cutemarkets_server.cli", "ingest", "flatfiles", str(flat_dir), *cli_flags],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        statuses: list[int] = []
        partial_bars = 0
        quote_counts: set[int] = set()
        with httpx.Client(base_url=base, headers=auth(key), timeout=60) as client:
            while proc.poll() is None:
                r = client.get(bars_path, params={"limit": 5000})
                statuses.append(r.status_code)
                if r.status_code == 200:
                    rows = _strip_vw(r.json().get("results", []))
                    assert all(row == by_t[row["t"]] for row in rows)  # every day shown is a whole day
                    partial_bars += 0 < len(rows) < len(full_bars)
                q = client.get(quotes_path, params=quote_window)
                statuses.append(q.status_code)
                if q.status_code == 200:
                    quote_counts.add(len(q.json().get("results", [])))
                chain = client.get("/v1/options/chain/SPY/", params={"limit": 10})
                statuses.append(chain.status_code)
                time.sleep(0.02)
            assert proc.returncode == 0
            assert all(s in (200, 404) for s in statuses), sorted(set(statuses))
            assert partial_bars > 0, "the import was never observed half-way"
            assert quote_counts <= {0, len(full_quotes)}  # a day's quotes appear all at once
            after = client.get(bars_path, params={"limit": 5000}).json()["results"]
            assert after == full_bars  # no restart needed to see the finished import
            assert client.get(quotes_path, params=quote_window).json()["results"] == full_quotes
    finally:
        handle.should_exit = True
        final_handle.should_exit = True
