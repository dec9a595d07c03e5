"""Independent reads of the test lake for tests (plain DuckDB over the manifest's files)."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path
from typing import Any

import duckdb


def files(lake: Path, dataset: str, days: list[dt.date] | None = None) -> list[str]:
    with sqlite3.connect(lake / "manifest.sqlite") as con:
        rows = con.execute("SELECT day, files FROM partitions WHERE dataset = ?", (dataset,)).fetchall()
    out = []
    for day, fs in sorted(rows):
        if days is None or dt.date.fromisoformat(day) in days:
            out += [str(lake / f) for f in json.loads(fs)]
    return out


def query(
    lake: Path, dataset: str, where: str = "TRUE", params: list[Any] | None = None, days: list[dt.date] | None = None
) -> list[dict[str, Any]]:
    fs = files(lake, dataset, days)
    if not fs:
        return []
    rel = duckdb.connect().execute(f"SELECT * FROM read_parquet({fs!r}) WHERE {where}", params or [])
    cols = [d[0] for d in rel.description]
    return [dict(zip(cols, r, strict=True)) for r in rel.fetchall()]
