"""``kill -9`` during an import, then the same command again: the result equals an uninterrupted run."""

from __future__ import annotations

import datetime as dt
import gzip
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from cutemarkets_server.ingest.export import FlatExportOptions, export_flatfiles
from cutemarkets_server.ingest.flatfiles import FLAT_DATASETS
from cutemarkets_server.market.timestamps import et_ns
from cutemarkets_server.store.ingest_state import IngestState
from ingestkit import cli, manifest

BAD_DAY = dt.date(2025, 11, 19)


@pytest.fixture(scope="module")
def flat_dir(market_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("resume-files")
    export_flatfiles(market_dir, out, options=FlatExportOptions(gzip_level=1))
    # one more day with rejected rows, so that quarantine files are part of the result
    header = ",".join(FLAT_DATASETS["us_options_opra/quotes_v1"].header)
    ts = et_ns(BAD_DAY, 10)
    rows = [
        f"O:SPY251219C00600000,300,1.10,5,301,1.00,3,1,{ts}",
        f"O:SPY251219C00600000,300,1.00,5,301,1.20,3,2,{ts + 1}",
        "O:SPY251219C00600000,300,oops,5,301,1.00,3,3,1",
    ]
    path = out / "us_options_opra/quotes_v1/2025/11/2025-11-19.csv.gz"
    path.write_bytes(gzip.compress((header + "\n" + "\n".join(rows) + "\n").encode()))
    return out


def command(flat_dir: Path, data_dir: Path) -> list[str]:
    return ["ingest", "flatfiles", str(flat_dir), "--data-dir", str(data_dir), "--no-progress"]


def committed(data_dir: Path) -> int:
    db = data_dir / "lake" / "manifest.sqlite"
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as con:
            return con.execute("SELECT count(*) FROM partitions").fetchone()[0]
    except sqlite3.Error:
        return 0


def quarantine(data_dir: Path) -> dict[str, list[dict]]:
    root = data_dir / "quarantine"
    return {str(p.relative_to(root)): pq.read_table(p).to_pylist() for p in sorted(root.rglob("*.parquet"))}


def done_files(data_dir: Path) -> dict[str, tuple]:
    state = IngestState(data_dir / "lake" / "ingest.sqlite")
    return {f.key: (f.path, f.rows_read, f.rows_stored, f.rows_quarantined, f.reasons) for f in state.files()}


@pytest.fixture(scope="module")
def reference(flat_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("resume-reference")
    result = cli(*command(flat_dir, data_dir))
    assert result.returncode == 0, result.stdout + result.stderr
    return data_dir


@pytest.mark.parametrize("fraction", [0.02, 0.4, 0.85])
def test_kill_minus_nine_then_rerun_gives_the_uninterrupted_result(
    flat_dir: Path, reference: Path, tmp_path: Path, fraction: float
) -> None:
    expected = manifest(reference)
    data_dir = tmp_path / "data"
    target = max(1, int(len(expected) * fraction))
    proc = subprocess.Popen(
        [sys.executable, "-m", "cutemarkets_server.cli", *command(flat_dir, data_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while committed(data_dir) < target and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert proc.poll() is None, "the import finished before it could be interrupted"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    interrupted = manifest(data_dir)
    assert len(interrupted) < len(expected)
    result = cli(*command(flat_dir, data_dir))
    assert result.returncode == 0, result.stdout + result.stderr
    assert manifest(data_dir) == expected
    assert quarantine(data_dir) == quarantine(reference) and quarantine(reference)
    assert done_files(data_dir) == done_files(reference)
    # a third run finds everything done and changes nothing
    again = cli(*command(flat_dir, data_dir))
    assert again.returncode == 0 and "already ingested" in again.stdout
    assert manifest(data_dir) == expected


def test_a_concurrent_second_import_is_refused(flat_dir: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    proc = subprocess.Popen(
        [sys.executable, "-m", "cutemarkets_server.cli", *command(flat_dir, data_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while committed(data_dir) < 1 and proc.poll() is None:
            time.sleep(0.01)
        result = cli(*command(flat_dir, data_dir))
        text = " ".join((result.stdout + result.stderr).split())
        assert result.returncode == 1 and "another import is running" in text and "Traceback" not in text
    finally:
        proc.kill()
        proc.wait()
