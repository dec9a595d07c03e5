"""Importing a Massive options quotes file (>= 10 million rows, .csv.gz) beside DuckDB's own CSV -> Parquet copy.

The file is synthetic but in the vendor's exact format and order (ticker, then time): a day of NBBO
quotes for a few thousand SPY contracts. Both contenders run in a fresh child process, alternately,
so that each one's wall time and peak resident memory (``ru_maxrss``) are measured on their own.
The importer does strictly more than the copy (validation, quarantine, sort-order check, the
contract universe, an atomic manifest switch and a checksum of the source file).
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import shutil
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from rich.console import Console
from rich.table import Table

from ..market.timestamps import et_ns
from .harness import ensure_dir

ROWS = 10_000_000
CONTRACTS = 4_000
ROUNDS = 3
DAY = "2025-12-02"
HEADER = "ticker,ask_exchange,ask_price,ask_size,bid_exchange,bid_price,bid_size,sequence_number,sip_timestamp"
EXCHANGES = np.array([300, 301, 302, 303, 304, 307, 308, 309, 312, 313, 315, 316, 319, 322, 323, 325], dtype=np.int64)


def _contracts() -> list[str]:
    out = []
    for month, day in ((12, 5), (12, 12), (12, 19), (1, 16), (2, 20)):
        year = 25 if month == 12 else 26
        for strike in range(400, 800):
            for cp in "CP":
                out.append(f"O:SPY{year:02d}{month:02d}{day:02d}{cp}{strike * 1000:08d}")
    return sorted(out)[:CONTRACTS]


def generate(path: Path, rows: int = ROWS, seed: int = 11) -> Path:
    """A vendor-format options quotes file of ``rows`` rows in ticker-then-time order (gzip level 6)."""
    from ..ingest.export import csv_lines

    rng = np.random.default_rng(seed)
    tickers = _contracts()
    per = np.full(len(tickers), rows // len(tickers))
    per[: rows - per.sum()] += 1
    day = dt.date.fromisoformat(DAY)
    open_ns, close_ns = et_ns(day, 9, 30), et_ns(day, 16)
    tmp = path.with_suffix(".tmp")
    seq = 0
    with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) as out:
        out.write((HEADER + "\n").encode())
        for ticker, n in zip(tickers, per.tolist(), strict=True):
            ts = np.sort(rng.integers(open_ns, close_ns, n))
            mid = np.maximum(0.05, 5.0 + np.cumsum(rng.normal(0, 0.01, n)))
            half = np.round(rng.uniform(0.01, 0.2, n), 2)
            bid = np.round(np.maximum(0.0, mid - half), 2)
            ask = np.round(mid + half, 2)
            table = pa.table(
                {
                    "ticker": pa.array([ticker] * n),
                    "ask_exchange": EXCHANGES[rng.integers(0, len(EXCHANGES), n)],
                    "ask_price": ask,
                    "ask_size": rng.integers(1, 500, n),
                    "bid_exchange": EXCHANGES[rng.integers(0, len(EXCHANGES), n)],
                    "bid_price": bid,
                    "bid_size": rng.integers(1, 500, n),
                    "sequence_number": np.arange(seq, seq + n),
                    "sip_timestamp": ts,
                }
            )
            seq += n
            out.write(csv_lines(table, table.column_names))
    tmp.replace(path)
    return path


_OURS = """
import json, resource, sys, time
from pathlib import Path
from rich.console import Console
from cutemarkets_server.ingest import flatfiles
from cutemarkets_server.ingest.runner import IngestRunner

def peak_kb():
    # VmHWM is this program's own peak; ru_maxrss would also count the parent's pages copied by fork.
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
src, data = Path(sys.argv[1]), Path(sys.argv[2])
t = time.perf_counter()
s = IngestRunner(data, Console(quiet=True), progress=False).run(
    "flatfiles", [src], lambda c, p, k: flatfiles.ingest_file(c, p, k, "us_options_opra/quotes_v1"),
    flatfiles.is_flat_file, order=flatfiles.file_order, force=True)
o = s.outcomes[0]
assert not o.error, o.error
print(json.dumps({"seconds": time.perf_counter() - t, "rows": o.rows_stored,
                  "maxrss_kb": peak_kb()}))
"""

_DUCKDB = """
import json, resource, sys, time
from pathlib import Path
from cutemarkets_server.store.bulk import csv_to_parquet

def peak_kb():
    # VmHWM is this program's own peak; ru_maxrss would also count the parent's pages copied by fork.
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
rows = csv_to_parquet(Path(sys.argv[1]), Path(sys.argv[2]))
print(json.dumps({"seconds": time.perf_counter() - t, "rows": rows,
                  "maxrss_kb": peak_kb()}))
"""


def _child(code: str, *args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(data_dir: Path, console: Console) -> dict[str, Any]:
    root = ensure_dir(Path(data_dir) / "ingest-bench")
    source = root / f"{DAY}.csv.gz"
    if not source.exists():
        console.print(f"generating {ROWS:,} option quotes in the vendor format -> {source}")
        generate(source)
    size = source.stat().st_size
    ours: list[dict[str, Any]] = []
    duck: list[dict[str, Any]] = []
    for _ in range(ROUNDS):
        target = root / "lake-run"
        shutil.rmtree(target, ignore_errors=True)
        ours.append(_child(_OURS, str(source), str(target)))
        shutil.rmtree(target, ignore_errors=True)
        parquet = root / "duckdb.parquet"
        parquet.unlink(missing_ok=True)
        duck.append(_child(_DUCKDB, str(source), str(parquet)))
        parquet.unlink(missing_ok=True)
    small = root / "quarter" / f"{DAY}.csv.gz"
    if not small.exists():
        small.parent.mkdir(exist_ok=True)
        generate(small, ROWS // 4)
    shutil.rmtree(root / "lake-run", ignore_errors=True)
    quarter = _child(_OURS, str(small), str(root / "lake-run"))
    shutil.rmtree(root / "lake-run", ignore_errors=True)
    results: dict[str, Any] = {"file": str(source), "file_bytes": size, "rows": ours[0]["rows"]}
    table = Table(title=f"options quotes .csv.gz: {ours[0]['rows']:,} rows, {size / 1e6:,.0f} MB (median of {ROUNDS})")
    for col in ("contender", "seconds", "rows/s", "peak RSS MB"):
        table.add_column(col, justify="left" if col == "contender" else "right")
    for name, runs in (("cutemarkets ingest flatfiles", ours), ("duckdb read_csv -> parquet", duck)):
        secs = statistics.median(r["seconds"] for r in runs)
        rss = max(r["maxrss_kb"] for r in runs) / 1024
        rate = runs[0]["rows"] / secs
        table.add_row(name, f"{secs:.2f}", f"{rate:,.0f}", f"{rss:,.0f}")
        results[name] = {"seconds": secs, "rows_per_s": rate, "peak_rss_mb": rss, "runs": runs}
    console.print(table)
    ratio = results["cutemarkets ingest flatfiles"]["rows_per_s"] / results["duckdb read_csv -> parquet"]["rows_per_s"]
    results["speed_ratio_vs_duckdb"] = ratio
    console.print(f"ingest speed / DuckDB speed: {ratio:.2f}x (target >= 0.5x)")
    results["peak_rss_mb_at_quarter_size"] = quarter["maxrss_kb"] / 1024
    console.print(
        f"ingest peak RSS: {quarter['maxrss_kb'] / 1024:,.0f} MB for {quarter['rows']:,} rows, "
        f"{results['cutemarkets ingest flatfiles']['peak_rss_mb']:,.0f} MB for {ours[0]['rows']:,} rows "
        "(memory does not grow with the file)"
    )
    return results
