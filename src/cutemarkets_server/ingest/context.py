"""What every importer needs: the lake, the pipeline, book-keeping, filters and progress reporting."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from ..store.ingest_state import IngestState
from ..store.lake import Lake
from .contracts import underlying_names
from .pipeline import Ingestor

Progress = Callable[[int, int], None]  # (source bytes consumed, rows parsed) since the last call


@dataclass(frozen=True)
class Filters:
    """Which rows and days to import (``--underlying``, ``--ticker``, ``--from``, ``--to``)."""

    underlyings: frozenset[str] = frozenset()
    tickers: frozenset[str] = frozenset()
    first_day: dt.date | None = None
    last_day: dt.date | None = None

    @property
    def active(self) -> bool:
        return bool(self.underlyings or self.tickers or self.first_day or self.last_day)

    @property
    def rows_active(self) -> bool:
        return bool(self.underlyings or self.tickers)

    def fingerprint(self) -> str:
        if not self.active:
            return ""
        parts = [
            "u=" + ",".join(sorted(self.underlyings)),
            "t=" + ",".join(sorted(self.tickers)),
            f"from={self.first_day or ''}",
            f"to={self.last_day or ''}",
        ]
        return ";".join(parts)

    def day_wanted(self, day: dt.date) -> bool:
        return (self.first_day is None or day >= self.first_day) and (self.last_day is None or day <= self.last_day)

    def row_mask(self, tickers: pa.Array | pa.ChunkedArray) -> pa.Array | None:
        """Rows to keep (None = all) by ticker and by underlying (options map their root to it)."""
        if not self.rows_active:
            return None
        encoded = (tickers.combine_chunks() if isinstance(tickers, pa.ChunkedArray) else tickers).dictionary_encode()
        names = encoded.dictionary.to_pylist()
        keep = [self._keep(t) for t in names]
        return pc.fill_null(pc.take(pa.array(keep, pa.bool_()), encoded.indices), False)

    def _keep(self, ticker: str | None) -> bool:
        if ticker is None:
            return False
        if self.tickers and ticker in self.tickers:
            return True
        if self.underlyings:
            return bool(underlying_names(ticker) & self.underlyings)
        return not self.tickers


@dataclass
class IngestContext:
    lake: Lake
    ingestor: Ingestor
    state: IngestState
    quarantine_dir: Path
    workdir: Path
    filters: Filters = field(default_factory=Filters)
    progress: Progress | None = None

    def advance(self, nbytes: int, rows: int) -> None:
        if self.progress is not None:
            self.progress(nbytes, rows)


@dataclass
class FileOutcome:
    """What importing one source file did; ``rows_read = stored + quarantined + filtered``."""

    path: Path
    dataset: str
    days: list[dt.date] = field(default_factory=list)
    rows_read: int = 0
    rows_stored: int = 0
    rows_quarantined: int = 0
    rows_filtered: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    quarantine_files: list[Path] = field(default_factory=list)
    error: str | None = None
    skipped: bool = False
    note: str | None = None  # why a file was skipped

    def add_reasons(self, reasons: dict[str, int]) -> None:
        for k, v in reasons.items():
            self.reasons[k] = self.reasons.get(k, 0) + v

    @property
    def reconciles(self) -> bool:
        return self.rows_read == self.rows_stored + self.rows_quarantined + self.rows_filtered
