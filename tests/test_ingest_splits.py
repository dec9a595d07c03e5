"""The splits CSV: documented columns, every bad row quarantined with its reason, idempotent loads."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow.parquet as pq

from ingestkit import cli, ingest, manifest, partitions


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def splits_by_day(data_dir: Path) -> dict[dt.date, list[tuple]]:
    return {
        day: sorted((r["ticker"], r["split_from"], r["split_to"], r["source"]) for r in t.to_pylist())
        for day, t in partitions(data_dir, "corporate_actions").items()
    }


def test_rows_are_stored_by_execution_date_and_bad_rows_quarantined(tmp_path: Path) -> None:
    f = write(
        tmp_path / "splits.csv",
        "split_to,Ticker,execution_date,split_from,id\n"  # any column order; extra columns are ignored
        "3,NVDA,2025-11-25,2,a\n"
        "1,xyz,2024-03-01,20,b\n"
        "2,,2025-01-01,1,c\n"
        "2,AAPL,2025/01/01,1,d\n"
        "2,AAPL,2025-01-02,0,e\n"
        "abc,AAPL,2025-01-03,1,f\n"
        "3,NVDA,2025-11-25,2,g\n"
        "2,NVDA,2025-11-25,1,h\n",
    )
    summary, report = ingest(tmp_path / "data", "splits", [f])
    o = summary.outcomes[0]
    assert (o.rows_read, o.rows_stored, o.rows_quarantined) == (8, 2, 6)
    assert o.reasons == {
        "missing or malformed ticker": 1,
        "unparseable execution_date (expected YYYY-MM-DD)": 1,
        "split_from and split_to must be positive numbers": 2,
        "duplicate row": 1,
        "conflicting second split for the same ticker and date": 1,
    }
    assert splits_by_day(tmp_path / "data") == {
        dt.date(2024, 3, 1): [("XYZ", 20.0, 1.0, "splits:splits.csv")],
        dt.date(2025, 11, 25): [("NVDA", 2.0, 3.0, "splits:splits.csv")],
    }
    (qfile,) = o.quarantine_files
    lines = {r["raw_line"]: r["reject_reason"] for r in pq.read_table(qfile).to_pylist()}
    assert lines["AAPL,2025/01/01,1,2"].startswith("unparseable execution_date")
    assert "rows read 8 = stored 2 + quarantined 6" in report


def test_loading_again_changes_nothing_and_a_new_file_replaces_the_same_split(tmp_path: Path) -> None:
    first = write(
        tmp_path / "a.csv", "ticker,execution_date,split_from,split_to\nNVDA,2025-11-25,2,3\nXYZ,2024-03-01,20,1\n"
    )
    ingest(tmp_path / "data", "splits", [first])
    before = manifest(tmp_path / "data")
    ingest(tmp_path / "data", "splits", [first], force=True)
    assert manifest(tmp_path / "data") == before
    second = write(
        tmp_path / "b.csv", "ticker,execution_date,split_from,split_to\nNVDA,2025-11-25,1,2\nAMD,2025-11-25,1,4\n"
    )
    ingest(tmp_path / "data", "splits", [second], force=True)
    assert splits_by_day(tmp_path / "data") == {
        dt.date(2024, 3, 1): [("XYZ", 20.0, 1.0, "splits:a.csv")],
        dt.date(2025, 11, 25): [("AMD", 1.0, 4.0, "splits:b.csv"), ("NVDA", 1.0, 2.0, "splits:b.csv")],
    }


def test_cli_loads_splits_and_refuses_a_file_without_the_columns(tmp_path: Path) -> None:
    good = write(tmp_path / "good.csv", "ticker,execution_date,split_from,split_to\nNVDA,2024-06-10,1,10\n")
    result = cli("ingest", "splits", str(good), "--data-dir", str(tmp_path / "data"), "--no-progress")
    assert result.returncode == 0, result.stdout + result.stderr
    assert splits_by_day(tmp_path / "data") == {dt.date(2024, 6, 10): [("NVDA", 1.0, 10.0, "splits:good.csv")]}
    bad = write(tmp_path / "bad.csv", "symbol,date,ratio\nNVDA,2024-06-10,10\n")
    result = cli("ingest", "splits", str(bad), "--data-dir", str(tmp_path / "data"), "--no-progress")
    text = " ".join((result.stdout + result.stderr).split())
    assert result.returncode == 1 and "Traceback" not in text
    assert "missing column(s) ticker, execution_date, split_from, split_to" in text
