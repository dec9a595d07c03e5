"""Broken vendor files: clear one-line errors, and every rejected row quarantined with its reason."""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from cutemarkets_server.ingest.flatfiles import FLAT_DATASETS
from cutemarkets_server.market.timestamps import et_ns
from ingestkit import cli, ingest, manifest, partitions

DAY = dt.date(2025, 12, 2)
QUOTES = FLAT_DATASETS["us_options_opra/quotes_v1"].header
TRADES = FLAT_DATASETS["us_options_opra/trades_v1"].header
C = "O:SPY251219C00600000"
P = "O:SPY251219P00600000"


def t(second: int, day: dt.date = DAY) -> int:
    return et_ns(day, 10) + second * 1_000_000_000


def write(path: Path, header: tuple[str, ...] | list[str], rows: list[str], *, gz: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = (",".join(header) + "\n" + "".join(r + "\n" for r in rows)).encode()
    path.write_bytes(gzip.compress(text) if gz else text)
    return path


def vendor_path(root: Path, key: str, day: dt.date = DAY, suffix: str = ".csv.gz") -> Path:
    return root / key / f"{day:%Y}" / f"{day:%m}" / f"{day.isoformat()}{suffix}"


def assert_clean_error(result, *phrases: str) -> None:
    text = result.stdout + result.stderr
    assert result.returncode == 1, text
    assert "Traceback" not in text, text
    for phrase in phrases:
        assert phrase in " ".join(text.split()), text


def quote(ticker: str, second: int, bid: str = "1.00", ask: str = "1.10", day: dt.date = DAY, seq: int = 1) -> str:
    # ticker,ask_exchange,ask_price,ask_size,bid_exchange,bid_price,bid_size,sequence_number,sip_timestamp
    return f"{ticker},300,{ask},5,301,{bid},3,{seq},{t(second, day)}"


def test_every_kind_of_bad_row_is_quarantined_with_its_reason(tmp_path: Path) -> None:
    rows = [
        quote(C, 1, seq=1),  # good
        quote(C, 2, ask="abc", seq=2),  # unparseable value
        f"{C},300,1.10,5",  # wrong number of fields
        quote(C, 3, bid="-1", seq=3),  # negative price
        quote(C, 4, bid="1.20", ask="1.10", seq=4),  # crossed
        quote(C, 5, day=DAY + dt.timedelta(days=1), seq=5),  # outside the file's day
        quote("O:SPY25121C600", 6, seq=6),  # bad OCC symbol
        f"{C},300,1.10,5,301,1.00,3,7,",  # missing timestamp
        f"{C},99999,1.10,5,301,1.00,3,8,{t(8)}",  # exchange id out of range
        quote(C, 9, seq=9),  # good
        quote(P, 1, bid="0", ask="0.05", seq=10),  # good (no bid is allowed)
    ]
    f = write(vendor_path(tmp_path / "files", "us_options_opra/quotes_v1"), QUOTES, rows)
    summary, report = ingest(tmp_path / "data", "flatfiles", [f])
    o = summary.outcomes[0]
    assert (o.rows_read, o.rows_stored, o.rows_quarantined) == (11, 3, 8)
    assert o.reasons == {
        "unparseable ask_price: 'abc'": 1,
        "unparseable row: 4 fields instead of 9": 1,
        "negative or missing bid/ask price": 1,
        "crossed quote (bid above ask)": 1,
        "timestamp outside 2025-12-02 (America/New_York)": 1,
        "bad OCC option symbol": 1,
        "missing value for sip_timestamp": 1,
        "unparseable ask_exchange: '99999'": 1,
    }
    stored = partitions(tmp_path / "data", "option_quotes")[DAY]
    assert stored.column("sequence_number").to_pylist() == [1, 9, 10]
    (qfile,) = o.quarantine_files
    q = pq.read_table(qfile).to_pylist()
    assert sorted(r["reject_reason"] for r in q) == sorted(o.reasons)
    raw = {r["reject_reason"]: r["raw_line"] for r in q}
    assert raw["unparseable row: 4 fields instead of 9"] == f"{C},300,1.10,5"
    assert "abc" in raw["unparseable ask_price: 'abc'"]
    crossed = next(r for r in q if r["reject_reason"].startswith("crossed"))
    assert (crossed["bid_price"], crossed["ask_price"], crossed["ticker"]) == (1.2, 1.1, C)
    assert "rows read 11 = stored 3 + quarantined 8" in report
    for reason in o.reasons:
        assert reason in report


def test_bad_trade_rows_and_bad_condition_lists(tmp_path: Path) -> None:
    # ticker,conditions,correction,exchange,participant_timestamp,price,sip_timestamp,size
    rows = [
        f'{C},"209,219",0,316,{t(1)},1.5,{t(1)},2',
        f"{C},209,0,316,{t(2)},0,{t(2)},2",  # zero price
        f"{C},209,0,316,{t(3)},1.5,{t(3)},0",  # zero size
        f'{C},"12,x",0,316,{t(4)},1.5,{t(4)},2',  # bad condition code
        f"{C},,0,316,{t(5)},1.6,{t(5)},1",  # no conditions: a regular trade
    ]
    f = write(vendor_path(tmp_path / "files", "us_options_opra/trades_v1"), TRADES, rows)
    summary, _ = ingest(tmp_path / "data", "flatfiles", [f])
    o = summary.outcomes[0]
    assert (o.rows_read, o.rows_stored, o.rows_quarantined) == (5, 2, 3)
    assert o.reasons == {
        "price must be positive": 1,
        "size must be positive": 1,
        "unparseable conditions: '12,x'": 1,
    }
    stored = partitions(tmp_path / "data", "option_trades")[DAY].to_pylist()
    assert [r["conditions"] for r in stored] == [[209, 219], []]
    bars = partitions(tmp_path / "data", "option_day_aggs")[DAY].to_pylist()
    assert len(bars) == 1 and bars[0]["transactions"] == 2


def test_truncated_gzip_is_a_clear_error_and_other_files_still_load(tmp_path: Path) -> None:
    rows = [quote(C, s, seq=s) for s in range(1, 40_000)]
    write(
        vendor_path(tmp_path / "files", "us_options_opra/quotes_v1", DAY - dt.timedelta(days=1)),
        QUOTES,
        [quote(C, 1, day=DAY - dt.timedelta(days=1))],
    )
    bad = write(vendor_path(tmp_path / "files", "us_options_opra/quotes_v1"), QUOTES, rows)
    data = bad.read_bytes()
    bad.write_bytes(data[: len(data) * 2 // 3])
    result = cli("ingest", "flatfiles", str(tmp_path / "files"), "--data-dir", str(tmp_path / "data"), "--no-progress")
    assert_clean_error(result, "truncated or corrupt gzip", "2025-12-02.csv.gz")
    parts = manifest(tmp_path / "data")
    assert ("option_quotes", DAY - dt.timedelta(days=1)) in parts
    assert ("option_quotes", DAY) not in parts
    assert not list((tmp_path / "data" / "lake").rglob(".tmp-*"))


@pytest.mark.parametrize(
    ("key", "header", "row", "phrases"),
    [
        (
            "us_options_opra/quotes_v1",
            [c for c in QUOTES if c != "bid_price"],
            None,
            ["missing required column(s) bid_price", "us_options_opra/quotes_v1"],
        ),
        (
            "us_options_opra/quotes_v1",
            list(TRADES),
            f"{C},209,0,316,{t(1)},1.5,{t(1)},2",
            ["wrong dataset", "expected us_options_opra/quotes_v1", "trades file"],
        ),
        (
            "us_options_opra/trades_v1",
            list(FLAT_DATASETS["us_stocks_sip/trades_v1"].header),
            f"SPY,12,0,4,1,{t(1)},600.5,1,{t(1)},100,3,201,{t(1)}",
            ["wrong dataset", "stock file"],
        ),
        (
            "us_options_opra/day_aggs_v1",
            list(FLAT_DATASETS["us_options_opra/day_aggs_v1"].header),
            f"{C},3,1.0,1.1,1.2,0.9,{t(60)},2",
            ["wrong dataset", "not whole days"],
        ),
        (
            "us_stocks_sip/minute_aggs_v1",
            list(FLAT_DATASETS["us_stocks_sip/minute_aggs_v1"].header),
            f"{C},3,1.0,1.1,1.2,0.9,{t(60)},2",
            ["wrong dataset", "options tickers"],
        ),
    ],
)
def test_missing_columns_and_wrong_datasets_are_refused_by_the_cli(
    tmp_path: Path, key: str, header: list[str], row: str | None, phrases: list[str]
) -> None:
    f = write(vendor_path(tmp_path / "files", key), header, [row] if row else [])
    result = cli("ingest", "flatfiles", str(f), "--data-dir", str(tmp_path / "data"), "--no-progress")
    assert_clean_error(result, *phrases)
    assert not manifest(tmp_path / "data")


def test_forced_dataset_that_contradicts_the_header_is_refused(tmp_path: Path) -> None:
    f = write(tmp_path / "trades.csv", TRADES, [f"{C},209,0,316,{t(1)},1.5,{t(1)},2"], gz=False)
    result = cli(
        "ingest", "flatfiles", str(f), "--data-dir", str(tmp_path / "data"), "--no-progress",
        env={"CUTEMARKETS_INGEST_DATASET": "us_options_opra/quotes_v1"},
    )  # fmt: skip
    assert_clean_error(result, "wrong dataset", "expected us_options_opra/quotes_v1")


def test_empty_file_missing_path_and_bad_flags(tmp_path: Path) -> None:
    empty = vendor_path(tmp_path / "files", "us_options_opra/quotes_v1")
    empty.parent.mkdir(parents=True)
    empty.write_bytes(b"")
    result = cli("ingest", "flatfiles", str(empty), "--data-dir", str(tmp_path / "data"), "--no-progress")
    assert_clean_error(result, "the file is empty")
    result = cli("ingest", "flatfiles", str(tmp_path / "nope"), "--data-dir", str(tmp_path / "data"), "--no-progress")
    assert_clean_error(result, "no such file or directory")
    result = cli("ingest", "flatfiles", str(empty), "--from", "2025-13-01", "--data-dir", str(tmp_path / "data"))
    assert result.returncode == 2 and "is not a date" in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_byte_order_mark_and_crlf_line_ends_are_accepted(tmp_path: Path) -> None:
    text = (",".join(QUOTES) + "\r\n" + quote(C, 1) + "\r\n" + quote(P, 2) + "\r\n").encode()
    f = vendor_path(tmp_path / "files", "us_options_opra/quotes_v1", suffix=".csv")
    f.parent.mkdir(parents=True)
    f.write_bytes(b"\xef\xbb\xbf" + text)
    summary, _ = ingest(tmp_path / "data", "flatfiles", [f])
    assert (summary.outcomes[0].rows_read, summary.outcomes[0].rows_stored) == (2, 2)
    assert partitions(tmp_path / "data", "option_quotes")[DAY]["ticker"].to_pylist() == [C, P]
