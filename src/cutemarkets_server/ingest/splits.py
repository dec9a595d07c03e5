"""Corporate actions (stock splits) from a CSV file.

Format: a header row naming at least ``ticker,execution_date,split_from,split_to`` (any order; other
columns are ignored), then one split per row, e.g. ``NVDA,2024-06-10,1,10`` for a 10-for-1 split or
``XYZ,2024-03-01,20,1`` for a 1-for-20 reverse split: ``split_from`` old shares become ``split_to`` new
shares, effective at the open of ``execution_date`` (the first session priced post-split). These are
the fields of the Massive/Polygon splits reference, so its CSV export loads as is.

Each split is stored in ``corporate_actions`` on its execution date; ``adjusted=true`` bars then apply
it. Loading a file adds its splits and replaces any split already stored for the same ticker and
date, so loading it again changes nothing. Bad rows (missing ticker, unreadable date, a ratio that is
not a positive number, a second conflicting row for the same ticker and date) are quarantined.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ..store.lake import Lake
from ..store.schemas import dataset
from .context import FileOutcome, IngestContext
from .errors import SourceError
from .quarantine import QuarantineWriter

COLUMNS = ("ticker", "execution_date", "split_from", "split_to")
NAME = "corporate_actions"
_TICKER = re.compile(r"^[A-Z0-9][A-Z0-9.:\-/]{0,15}$")


def is_splits_file(path: Path) -> bool:
    return path.name.endswith(".csv")


def _positive(text: str | None) -> float | None:
    try:
        value = float(text) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and value > 0 and value != float("inf") else None


def read_splits(path: Path) -> tuple[list[dict], list[tuple[str, str]]]:
    """Valid split rows and (raw line, reason) for the rejected ones."""
    try:
        with pacsv.open_csv(path) as reader:
            header = reader.schema.names
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(use_threads=False),
            convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in header}),
        )
    except (pa.ArrowInvalid, OSError) as exc:
        raise SourceError(f"{path}: cannot read the CSV ({exc})") from None
    names = {c.strip().lower(): c for c in table.column_names}
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        raise SourceError(
            f"{path}: missing column(s) {', '.join(missing)}; a splits file needs a header with {','.join(COLUMNS)}"
        )
    cols = {c: [None if v is None else str(v).strip() for v in table[names[c]].to_pylist()] for c in COLUMNS}
    good: list[dict] = []
    bad: list[tuple[str, str]] = []
    seen: dict[tuple[str, dt.date], dict] = {}
    for i in range(table.num_rows):
        raw = {c: cols[c][i] for c in COLUMNS}
        line = ",".join(v or "" for v in raw.values())
        ticker = (raw["ticker"] or "").upper()
        if not ticker or not _TICKER.match(ticker):
            bad.append((line, "missing or malformed ticker"))
            continue
        try:
            day = dt.date.fromisoformat(raw["execution_date"] or "")
        except ValueError:
            bad.append((line, "unparseable execution_date (expected YYYY-MM-DD)"))
            continue
        split_from, split_to = _positive(raw["split_from"]), _positive(raw["split_to"])
        if split_from is None or split_to is None:
            bad.append((line, "split_from and split_to must be positive numbers"))
            continue
        row = {"ticker": ticker, "type": "split", "execution_date": day, "split_from": split_from, "split_to": split_to}
        key = (ticker, day)
        if key in seen:
            same = seen[key]["split_from"] == split_from and seen[key]["split_to"] == split_to
            bad.append((line, "duplicate row" if same else "conflicting second split for the same ticker and date"))
            continue
        seen[key] = row
        good.append(row)
    return good, bad


def _existing(lake: Lake, day: dt.date) -> pa.Table:
    part = lake.snapshot().partition(NAME, day)
    if part is None:
        return dataset(NAME).schema.empty_table()
    return pa.concat_tables([pq.read_table(f, schema=dataset(NAME).schema) for f in part.files])


def _ordered(table: pa.Table) -> pa.Table:
    return table.sort_by([("ticker", "ascending"), ("type", "ascending"), ("source", "ascending")])


def ingest_file(ctx: IngestContext, path: Path, checksum: str) -> FileOutcome:
    good, bad = read_splits(path)
    source = f"splits:{path.name}"
    outcome = FileOutcome(path, NAME, rows_read=len(good) + len(bad))
    by_day: dict[dt.date, list[dict]] = defaultdict(list)
    for row in good:
        by_day[row["execution_date"]].append(row | {"source": source})
    for day, rows in sorted(by_day.items()):
        keys = {(r["ticker"], r["type"]) for r in rows}
        kept = [r for r in _existing(ctx.lake, day).to_pylist() if (r["ticker"], r["type"]) not in keys]
        want = _ordered(pa.Table.from_pylist(kept + rows, schema=dataset(NAME).schema))
        if not _ordered(_existing(ctx.lake, day)).equals(want):
            ctx.lake.write_partition(NAME, day, want, source=source, presorted=True)
        outcome.days.append(day)
    quarantine = QuarantineWriter(ctx.quarantine_dir, NAME, None, f"{path.name}#sha256={checksum[:16]}")
    quarantine.write_raw([line for line, _ in bad], [why for _, why in bad])
    qfile = quarantine.close()
    outcome.rows_stored = len(good)
    outcome.rows_quarantined = len(bad)
    outcome.add_reasons(dict(quarantine.reasons))
    if qfile is not None:
        outcome.quarantine_files.append(qfile)
    return outcome
