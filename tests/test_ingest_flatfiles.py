"""Massive flat files written from the test market and imported into a fresh data directory."""

from __future__ import annotations

import datetime as dt
import gzip
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from cutemarkets_server.ingest import sorting
from cutemarkets_server.ingest.context import Filters
from cutemarkets_server.ingest.export import FlatExportOptions, export_flatfiles, flat_path
from cutemarkets_server.ingest.flatfiles import FLAT_DATASETS
from cutemarkets_server.market.occ import parse_option_symbol
from ingestkit import cli, ingest, manifest, partitions, without

TICK_DAY = dt.date(2025, 12, 2)
EXACT = ("option_quotes", "option_minute_aggs", "stock_quotes", "stock_trades", "stock_minute_aggs")


@pytest.fixture(scope="module")
def flat_dir(market_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("flatfiles")
    export_flatfiles(market_dir, out, options=FlatExportOptions(gzip_level=1))
    return out


@pytest.fixture(scope="module")
def imported(flat_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object, str]:
    data_dir = tmp_path_factory.mktemp("imported")
    summary, report = ingest(data_dir, "flatfiles", [flat_dir])
    return data_dir, summary, report


def test_export_writes_every_dataset_in_the_vendor_layout(flat_dir: Path, market_dir: Path) -> None:
    for key, flat in FLAT_DATASETS.items():
        days = sorted(partitions(market_dir, flat.lake))
        files = sorted(p for p in (flat_dir / key).rglob("*.csv.gz"))
        assert [f.name for f in files] == [f"{d.isoformat()}.csv.gz" for d in days], key
        assert files[0] == flat_path(flat_dir, flat, days[0])


@pytest.mark.parametrize("name", EXACT)
def test_tick_and_bar_partitions_are_byte_identical_to_the_built_in_market(
    imported: tuple, market_dir: Path, name: str
) -> None:
    data_dir, _, _ = imported
    mine, theirs = manifest(data_dir), manifest(market_dir)
    days = sorted(d for n, d in theirs if n == name)
    assert days and days == sorted(d for n, d in mine if n == name)
    for day in days:
        assert mine[(name, day)][2] == theirs[(name, day)][2], (name, day)  # same sha256: same bytes


def test_option_trades_equal_except_the_sequence_number_the_files_lack(imported: tuple, market_dir: Path) -> None:
    data_dir, _, _ = imported
    mine, theirs = partitions(data_dir, "option_trades"), partitions(market_dir, "option_trades")
    assert mine.keys() == theirs.keys()
    for day in theirs:
        assert without(mine[day], "sequence_number").equals(without(theirs[day], "sequence_number"))
        assert mine[day]["sequence_number"].null_count == mine[day].num_rows


@pytest.mark.parametrize("asset", ["stock", "option"])
def test_daily_bars_get_their_vwap_from_trades_where_trades_exist(
    imported: tuple, market_dir: Path, asset: str
) -> None:
    """Day-aggregate files carry no VWAP: on the tick days it comes from the same day's trades (byte for byte
    the built-in market's bars), on the days of daily history before them it stays null."""
    data_dir, _, _ = imported
    name = f"{asset}_day_aggs"
    mine, theirs = partitions(data_dir, name), partitions(market_dir, name)
    tick_days = set(partitions(market_dir, f"{asset}_trades"))
    assert mine.keys() == theirs.keys() and len(mine) > len(tick_days)
    ours, built = manifest(data_dir), manifest(market_dir)
    for day in theirs:
        if day in tick_days:
            assert ours[(name, day)][2] == built[(name, day)][2], day  # same sha256: same bytes
        else:  # the files carry no VWAP and there were no trades to derive it from
            assert without(mine[day], "vwap").equals(without(theirs[day], "vwap"))
            assert mine[day]["vwap"].null_count == mine[day].num_rows


def test_summary_reconciles_rows_per_file_and_in_total(imported: tuple) -> None:
    _, summary, report = imported
    assert summary.outcomes and not summary.failed
    for o in summary.outcomes:
        assert o.rows_read == o.rows_stored + o.rows_quarantined and o.rows_quarantined == 0
    total = summary.total("rows_read")
    assert total == summary.total("rows_stored") > 1_000_000
    assert f"rows read {total:,} = stored {total:,} + quarantined 0" in report
    assert "[ok]" in report


def test_reimport_skips_done_files_and_force_rewrites_identical_partitions(imported: tuple, flat_dir: Path) -> None:
    data_dir, _, _ = imported
    before = manifest(data_dir)
    again, report = ingest(data_dir, "flatfiles", [flat_dir / "us_options_opra" / "quotes_v1"])
    assert again.outcomes and all(o.skipped for o in again.outcomes)
    assert "already ingested" in report
    assert manifest(data_dir) == before
    day_file = flat_dir / "us_options_opra" / "quotes_v1" / "2025" / "12" / "2025-12-02.csv.gz"
    forced, _ = ingest(data_dir, "flatfiles", [day_file], force=True)
    assert not forced.outcomes[0].skipped and forced.outcomes[0].rows_stored > 0
    assert manifest(data_dir) == before


def test_contracts_are_listed_on_the_day_first_seen_with_the_file_that_showed_them(
    imported: tuple, market_dir: Path
) -> None:
    data_dir, _, _ = imported
    first_seen: dict[str, dt.date] = {}
    for name in ("option_quotes", "option_trades", "option_day_aggs", "option_minute_aggs"):
        for day, table in partitions(market_dir, name).items():
            for t in pc.unique(table["ticker"]).to_pylist():
                first_seen[t] = min(first_seen.get(t, day), day)
    sim = {r["ticker"]: r for t in partitions(market_dir, "option_contracts").values() for r in t.to_pylist()}
    rows = [(day, r) for day, t in partitions(data_dir, "option_contracts").items() for r in t.to_pylist()]
    assert {r["ticker"] for _, r in rows} == set(first_seen)
    for day, r in rows:
        assert r["action"] == "list" and day == r["list_date"] == first_seen[r["ticker"]]
        assert r["source"].startswith("first-seen:flatfiles:us_options_opra/")
        assert r["source"].endswith(f"{first_seen[r['ticker']].isoformat()}.csv.gz")
        s = sim[r["ticker"]]
        for col in ("root", "contract_type", "expiration_date", "strike_price"):
            assert r[col] == s[col], col
        if any(ch.isdigit() for ch in r["root"]):  # adjusted contract: its deliverable is not in the files
            assert r["correction"] == 1 and r["underlying_ticker"] == r["root"] and r["shares_per_contract"] == 100
        else:
            assert r["correction"] is None and r["underlying_ticker"] == s["underlying_ticker"]
            assert r["shares_per_contract"] == s["shares_per_contract"] == 100


def test_stock_tickers_get_minimal_records_from_the_first_day_seen(imported: tuple, market_dir: Path) -> None:
    data_dir, _, _ = imported
    first_day = min(partitions(market_dir, "stock_day_aggs"))
    rows = partitions(data_dir, "stock_tickers")
    assert list(rows) == [first_day]
    records = rows[first_day].to_pylist()
    assert sorted(r["ticker"] for r in records) == ["AAPL", "NVDA", "QQQ", "SPY"]
    for r in records:
        assert (r["name"], r["market"], r["locale"], r["active"]) == (r["ticker"], "stocks", "us", True)
        assert r["source"].startswith("first-seen:flatfiles:us_stocks_sip/")


def test_options_trades_without_participant_timestamp(market_dir: Path, tmp_path: Path) -> None:
    files = tmp_path / "files"
    opts = FlatExportOptions(option_trades_participant_timestamp=False, gzip_level=1)
    export_flatfiles(market_dir, files, datasets=["us_options_opra/trades_v1"], days=[TICK_DAY], options=opts)
    with gzip.open(files / "us_options_opra/trades_v1/2025/12/2025-12-02.csv.gz", "rt") as fh:
        assert fh.readline().strip() == "ticker,conditions,correction,exchange,price,sip_timestamp,size"
    summary, _ = ingest(tmp_path / "data", "flatfiles", [files])
    assert not summary.failed
    mine = partitions(tmp_path / "data", "option_trades")[TICK_DAY]
    theirs = partitions(market_dir, "option_trades")[TICK_DAY]
    drop = ("participant_timestamp", "sequence_number")
    assert without(mine, *drop).equals(without(theirs, *drop))
    assert mine["participant_timestamp"].null_count == mine.num_rows
    # bars are still derived from these trades
    assert partitions(tmp_path / "data", "option_day_aggs")[TICK_DAY].equals(
        partitions(market_dir, "option_day_aggs")[TICK_DAY]
    )


def test_plain_csv_outside_the_vendor_tree_is_recognised_by_its_header(market_dir: Path, tmp_path: Path) -> None:
    files = tmp_path / "files"
    opts = FlatExportOptions(compress=False)
    export_flatfiles(
        market_dir,
        files,
        datasets=["us_stocks_sip/quotes_v1", "us_options_opra/minute_aggs_v1"],
        days=[TICK_DAY],
        options=opts,
    )
    loose = tmp_path / "loose"
    loose.mkdir()
    shutil.copy(files / "us_stocks_sip/quotes_v1/2025/12/2025-12-02.csv", loose / "quotes-2025-12-02.csv")
    shutil.copy(files / "us_options_opra/minute_aggs_v1/2025/12/2025-12-02.csv", loose / "bars.csv")
    summary, _ = ingest(tmp_path / "data", "flatfiles", [loose / "quotes-2025-12-02.csv", loose / "bars.csv"])
    assert not summary.failed
    assert {o.dataset for o in summary.outcomes} == {"us_stocks_sip/quotes_v1", "us_options_opra/minute_aggs_v1"}
    assert [d for o in summary.outcomes for d in o.days] == [TICK_DAY, TICK_DAY]  # day from name, then from rows
    assert (
        manifest(tmp_path / "data")[("stock_quotes", TICK_DAY)][2]
        == manifest(market_dir)[("stock_quotes", TICK_DAY)][2]
    )
    mine = partitions(tmp_path / "data", "option_minute_aggs")[TICK_DAY]
    theirs = partitions(market_dir, "option_minute_aggs")[TICK_DAY]
    assert without(mine, "vwap").equals(without(theirs, "vwap"))


def test_a_file_out_of_vendor_order_goes_through_the_external_sort(
    market_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sorting, "RUN_ROWS", 7_000)  # many spilled runs to merge
    files = tmp_path / "files"
    opts = FlatExportOptions(time_order=True, gzip_level=1)
    export_flatfiles(market_dir, files, datasets=["us_options_opra/quotes_v1"], days=[TICK_DAY], options=opts)
    summary, _ = ingest(tmp_path / "data", "flatfiles", [files])
    assert summary.outcomes[0].rows_stored > 100_000
    assert (
        manifest(tmp_path / "data")[("option_quotes", TICK_DAY)][2]
        == manifest(market_dir)[("option_quotes", TICK_DAY)][2]
    )
    assert not list((tmp_path / "data" / "ingest-work").glob("**/*.parquet"))


def test_filters_restrict_underlyings_tickers_and_days(flat_dir: Path, market_dir: Path, tmp_path: Path) -> None:
    first, last = dt.date(2025, 11, 25), dt.date(2025, 11, 26)
    filters = Filters(frozenset({"SPY"}), frozenset(), first, last)
    summary, report = ingest(tmp_path / "data", "flatfiles", [flat_dir / "us_options_opra"], filters=filters)
    done = [o for o in summary.outcomes if not o.skipped]
    assert {d for o in done for d in o.days} == {first, last}
    assert all(o.note == "outside --from/--to" for o in summary.outcomes if o.skipped)
    quotes = partitions(tmp_path / "data", "option_quotes")
    assert set(quotes) == {first, last}
    theirs = partitions(market_dir, "option_quotes")
    for day, table in quotes.items():
        assert set(pc.unique(table["ticker"]).to_pylist()) == {
            t for t in pc.unique(theirs[day]["ticker"]).to_pylist() if parse_option_symbol(t).root == "SPY"
        }
    for o in done:
        assert o.rows_read == o.rows_stored + o.rows_quarantined + o.rows_filtered and o.rows_filtered > 0
    assert "filtered" in report
    contracts = [r for t in partitions(tmp_path / "data", "option_contracts").values() for r in t.to_pylist()]
    assert contracts and {r["underlying_ticker"] for r in contracts} == {"SPY"}
    only = Filters(tickers=frozenset({"AAPL"}))
    summary, _ = ingest(tmp_path / "data2", "flatfiles", [flat_dir / "us_stocks_sip" / "trades_v1"], filters=only)
    trades = partitions(tmp_path / "data2", "stock_trades")
    assert trades and all(pc.unique(t["ticker"]).to_pylist() == ["AAPL"] for t in trades.values())


def test_filtered_import_is_not_mistaken_for_the_full_one(flat_dir: Path, tmp_path: Path) -> None:
    path = flat_dir / "us_stocks_sip/day_aggs_v1/2025/12/2025-12-02.csv.gz"
    ingest(tmp_path / "data", "flatfiles", [path], filters=Filters(tickers=frozenset({"SPY"})))
    assert partitions(tmp_path / "data", "stock_day_aggs")[TICK_DAY].num_rows == 1
    summary, _ = ingest(tmp_path / "data", "flatfiles", [path])
    assert not summary.outcomes[0].skipped
    assert partitions(tmp_path / "data", "stock_day_aggs")[TICK_DAY].num_rows == 4


def test_quarantine_and_partition_are_empty_tables_for_a_header_only_file(tmp_path: Path) -> None:
    f = tmp_path / "us_options_opra" / "quotes_v1" / "2025" / "12" / "2025-12-02.csv"
    f.parent.mkdir(parents=True)
    f.write_text(",".join(FLAT_DATASETS["us_options_opra/quotes_v1"].header) + "\n")
    summary, _ = ingest(tmp_path / "data", "flatfiles", [f])
    assert (summary.outcomes[0].rows_read, summary.outcomes[0].rows_stored) == (0, 0)
    assert partitions(tmp_path / "data", "option_quotes")[TICK_DAY].num_rows == 0
    assert isinstance(partitions(tmp_path / "data", "option_quotes")[TICK_DAY], pa.Table)


def test_cli_export_and_import_with_flags_from_the_environment(market_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = cli(
        "ingest", "export", "--out", str(out), "--data-dir", str(market_dir), env={"CUTEMARKETS_EXPORT_FORMAT": "dbn"}
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (out / "OPRA.PILLAR").glob(f"{TICK_DAY}.*")) == [
        f"{TICK_DAY}.{s}.dbn.zst"
        for s in ("cbbo-1m", "cbbo-1s", "cmbp-1", "definition", "statistics", "tcbbo", "trades")
    ]
    result = cli("ingest", "export", "--out", str(out), "--no-compress", "--data-dir", str(market_dir))
    assert result.returncode == 0 and (out / "us_stocks_sip/trades_v1/2025/12/2025-12-02.csv").exists()
    env = {
        "CUTEMARKETS_DATA_DIR": str(tmp_path / "data"),
        "CUTEMARKETS_INGEST_UNDERLYING": "AAPL",
        "CUTEMARKETS_INGEST_FROM": "2025-12-02",
        "CUTEMARKETS_INGEST_TO": "2025-12-02",
        "CUTEMARKETS_INGEST_PROGRESS": "false",
    }
    result = cli("ingest", "flatfiles", str(out / "us_options_opra" / "trades_v1"), env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    trades = partitions(tmp_path / "data", "option_trades")
    assert list(trades) == [TICK_DAY]
    assert {parse_option_symbol(t).root for t in trades[TICK_DAY]["ticker"].to_pylist()} == {"AAPL"}
    assert "filtered" in result.stdout and "outside --from/--to" in result.stdout
