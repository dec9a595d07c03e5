"""Cheap checks of single lake files, for health probes (no queries)."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq


def file_fault(path: str) -> str | None:
    """Why a Parquet file cannot be read (``missing`` or ``unreadable``), or None when its footer reads."""
    p = Path(path)
    if not p.is_file():
        return "missing"
    try:
        pq.read_metadata(p)
    except Exception:  # any footer error: truncated, overwritten, not Parquet
        return "unreadable"
    return None
