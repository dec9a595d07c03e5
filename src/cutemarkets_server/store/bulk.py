"""Bulk file conversion with DuckDB, used as the reference point of the ingest benchmark."""

from __future__ import annotations

from pathlib import Path

import duckdb


def csv_to_parquet(source: Path, target: Path, *, threads: int | None = None) -> int:
    """DuckDB's own ``read_csv`` -> Parquet (zstd) copy of a CSV file; returns the rows copied."""
    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        con.execute(
            "COPY (SELECT * FROM read_csv(?, header = true)) TO ? (FORMAT parquet, COMPRESSION zstd)",
            [str(source), str(target)],
        )
        row = con.execute("SELECT count(*) FROM read_parquet(?)", [str(target)]).fetchone()
    finally:
        con.close()
    return int(row[0]) if row else 0
