"""Massive (formerly Polygon.io) flat files: ``us_options_opra`` and ``us_stocks_sip``, ``trades_v1``,
``quotes_v1``, ``day_aggs_v1`` and ``minute_aggs_v1``, gzip-compressed or plain CSV.

One file holds one trading day (``{prefix}/{dataset}/{YYYY}/{MM}/{YYYY-MM-DD}.csv.gz``). Columns are
matched by header name; only the columns the lake cannot do without are required (the options trades
file exists with and without ``participant_timestamp``). The dataset is recognised from the path and
the header, and a file whose header or tickers contradict its path is refused.

A file is streamed in blocks with a typed CSV reader. A value that does not parse sends the file
through a slower text-first pass that quarantines exactly the offending rows; rows with the wrong
number of fields are quarantined in either pass. Files in partition order (the vendor's
ticker-then-time order) stream straight into the partition; others go through an external sort.
"""

from __future__ import annotations

import datetime as dt
import queue
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ..market.timestamps import et_date, et_midnight_ns
from ..store.lake import conform
from ..store.schemas import dataset
from .barmerge import derived_from_stored_trades, fill_stream, vendor_aware_bars_writer
from .context import FileOutcome, IngestContext
from .errors import DayAbortError, SourceError
from .quarantine import QuarantineWriter
from .sorting import ExternalSorter, UnsortedInputError

PREFIXES = {"us_options_opra": "options", "us_stocks_sip": "stocks"}
AGG_HEADER = ("ticker", "volume", "open", "close", "high", "low", "window_start", "transactions")
BLOCK_SIZE = 1 << 20
PEEK_BYTES = 1 << 16

FLOAT_COLUMNS = frozenset({"price", "bid_price", "ask_price", "open", "high", "low", "close", "volume"})
TEXT_COLUMNS = frozenset({"ticker", "id"})
LIST_COLUMNS = frozenset({"conditions", "indicators"})
_INT_RE = r"^\s*[-+]?[0-9]+\s*$"
_FLOAT_RE = r"^\s*[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?\s*$"
_DATE_RE = re.compile(r"(\d{4})-?(\d{2})-?(\d{2})")


@dataclass(frozen=True)
class FlatDataset:
    prefix: str
    kind: str
    lake: str
    header: tuple[str, ...]

    @property
    def key(self) -> str:
        return f"{self.prefix}/{self.kind}"

    @property
    def asset(self) -> str:
        return PREFIXES[self.prefix]

    @property
    def required(self) -> tuple[str, ...]:
        schema = dataset(self.lake).schema
        return tuple(c for c in self.header if not schema.field(c).nullable)

    @property
    def is_aggregate(self) -> bool:
        return self.kind.endswith("aggs_v1")


FLAT_DATASETS: dict[str, FlatDataset] = {
    d.key: d
    for d in (
        FlatDataset(
            "us_options_opra",
            "trades_v1",
            "option_trades",
            (
                "ticker",
                "conditions",
                "correction",
                "exchange",
                "participant_timestamp",
                "price",
                "sip_timestamp",
                "size",
            ),
        ),
        FlatDataset(
            "us_options_opra",
            "quotes_v1",
            "option_quotes",
            (
                "ticker",
                "ask_exchange",
                "ask_price",
                "ask_size",
                "bid_exchange",
                "bid_price",
                "bid_size",
                "sequence_number",
                "sip_timestamp",
            ),
        ),
        FlatDataset("us_options_opra", "day_aggs_v1", "option_day_aggs", AGG_HEADER),
        FlatDataset("us_options_opra", "minute_aggs_v1", "option_minute_aggs", AGG_HEADER),
        FlatDataset(
            "us_stocks_sip",
            "trades_v1",
            "stock_trades",
            (
                "ticker",
                "conditions",
                "correction",
                "exchange",
                "id",
                "participant_timestamp",
                "price",
                "sequence_number",
                "sip_timestamp",
                "size",
                "tape",
                "trf_id",
                "trf_timestamp",
            ),
        ),
        FlatDataset(
            "us_stocks_sip",
            "quotes_v1",
            "stock_quotes",
            (
                "ticker",
                "ask_exchange",
                "ask_price",
                "ask_size",
                "bid_exchange",
                "bid_price",
                "bid_size",
                "conditions",
                "indicators",
                "participant_timestamp",
                "sequence_number",
                "sip_timestamp",
                "tape",
                "trf_timestamp",
            ),
        ),
        FlatDataset("us_stocks_sip", "day_aggs_v1", "stock_day_aggs", AGG_HEADER),
        FlatDataset("us_stocks_sip", "minute_aggs_v1", "stock_minute_aggs", AGG_HEADER),
    )
}

# Columns only the stock files have, used to tell stock and option files apart by header.
_STOCK_ONLY = frozenset({"id", "tape", "trf_id", "trf_timestamp", "indicators", "participant_timestamp"})


def parse_type(column: str) -> pa.DataType:
    if column in TEXT_COLUMNS or column in LIST_COLUMNS:
        return pa.string()
    return pa.float64() if column in FLOAT_COLUMNS else pa.int64()


# -- recognising a file ------------------------------------------------------------------------


def is_flat_file(path: Path) -> bool:
    return path.name.endswith((".csv", ".csv.gz"))


def dataset_from_path(path: Path) -> FlatDataset | None:
    parts = [p.lower() for p in path.parts]
    for i, part in enumerate(parts[:-1]):
        if part in PREFIXES:
            for later in parts[i + 1 :]:
                if f"{part}/{later}" in FLAT_DATASETS:
                    return FLAT_DATASETS[f"{part}/{later}"]
    return None


def day_from_name(path: Path) -> dt.date | None:
    m = _DATE_RE.search(path.name)
    if m is None:
        return None
    try:
        return dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def _open(path: Path) -> tuple[pa.NativeFile, pa.NativeFile]:
    raw = pa.OSFile(str(path), "rb")
    stream = pa.CompressedInputStream(raw, "gzip") if path.name.endswith(".gz") else raw
    return raw, stream


def _read_error(path: Path, exc: BaseException) -> SourceError:
    text = str(exc)
    if path.name.endswith(".gz") and any(w in text.lower() for w in ("compress", "gzip", "zlib", "inflate")):
        return SourceError(f"{path}: truncated or corrupt gzip data ({text}); download the file again")
    return SourceError(f"{path}: cannot read the CSV ({text})")


def peek(path: Path) -> tuple[list[str], pa.Table]:
    """The header (as spelled in the file) and the first rows (as text) of a file."""
    raw, stream = _open(path)
    try:
        data = stream.read(PEEK_BYTES)
    except OSError as exc:
        raise _read_error(path, exc) from None
    finally:
        raw.close()
    if not data.strip():
        raise SourceError(f"{path}: the file is empty (no header row)")
    if len(data) == PEEK_BYTES and b"\n" in data:
        data = data[: data.rindex(b"\n") + 1]  # drop the partial last line
    first_line = data.split(b"\n", 1)[0].decode("utf-8-sig", "replace").strip("\r")
    header = [c.strip().strip('"') for c in first_line.split(",")]
    try:
        rows = pacsv.read_csv(
            pa.py_buffer(data),
            parse_options=pacsv.ParseOptions(invalid_row_handler=lambda _row: "skip"),
            convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in header}),
        )
        rows = rows.rename_columns([c.lower() for c in header])
    except (pa.ArrowInvalid, ValueError):
        rows = pa.table({c.lower(): pa.array([], pa.string()) for c in header})
    return header, rows


def _header_kind(header: list[str]) -> str | None:
    cols = set(header)
    if "window_start" in cols:
        return "aggs"
    if "bid_price" in cols or "ask_price" in cols:
        return "quotes_v1"
    if "price" in cols:
        return "trades_v1"
    return None


def _sample_asset(rows: pa.Table) -> str | None:
    if rows.num_rows == 0 or "ticker" not in rows.column_names:
        return None
    tickers = [t for t in rows["ticker"].to_pylist() if t]
    if not tickers:
        return None
    options = sum(t.startswith("O:") for t in tickers)
    return "options" if options * 2 > len(tickers) else "stocks"


def _sample_is_daily(rows: pa.Table) -> bool | None:
    if rows.num_rows == 0 or "window_start" not in rows.column_names:
        return None
    try:
        starts = [int(v) for v in rows["window_start"].to_pylist() if v]
    except ValueError:
        return None
    return all(et_midnight_ns(et_date(s)) == s for s in starts) if starts else None


def identify(path: Path, header: list[str], sample: pa.Table, forced: str | None = None) -> FlatDataset:
    """The dataset of a file from ``forced``/its path and its header; contradictions are errors."""
    cols = [c.lower() for c in header]
    kind = _header_kind(cols)
    if kind is None:
        raise SourceError(
            f"{path}: the header ({','.join(header)}) is not that of a Massive trades, quotes or aggregates file"
        )
    asset = _sample_asset(sample)
    daily = _sample_is_daily(sample)
    if forced is not None:
        if forced not in FLAT_DATASETS:
            raise SourceError(f"unknown flat-file dataset {forced!r}; known: {', '.join(FLAT_DATASETS)}")
        claimed: FlatDataset | None = FLAT_DATASETS[forced]
    else:
        claimed = dataset_from_path(path)
    if claimed is None:
        if asset is None:
            asset = "stocks" if set(cols) & _STOCK_ONLY else "options"
        prefix = next(p for p, a in PREFIXES.items() if a == asset)
        if kind == "aggs":
            kind = "day_aggs_v1" if daily else "minute_aggs_v1"
        claimed = FLAT_DATASETS[f"{prefix}/{kind}"]
    else:
        wrong = None
        if kind != ("aggs" if claimed.is_aggregate else claimed.kind):
            wrong = f"the header ({','.join(header)}) is that of a {kind.replace('_v1', '')} file"
        elif claimed.asset == "options" and set(cols) & (_STOCK_ONLY - {"participant_timestamp"}):
            wrong = f"the header ({','.join(header)}) is that of a stock file"
        elif asset is not None and asset != claimed.asset:
            wrong = f"its tickers are {asset} tickers"
        elif claimed.kind == "day_aggs_v1" and daily is False:
            wrong = "its windows are not whole days (a minute aggregates file?)"
        elif claimed.kind == "minute_aggs_v1" and daily is True and sample.num_rows > 1:
            wrong = "every window starts at midnight (a day aggregates file?)"
        if wrong is not None:
            raise SourceError(f"{path}: wrong dataset - expected {claimed.key}, but {wrong}")
    missing = [c for c in claimed.required if c not in cols]
    if missing:
        raise SourceError(
            f"{path}: missing required column(s) {', '.join(missing)} for {claimed.key} (header: {','.join(header)})"
        )
    return claimed


# -- parsing -----------------------------------------------------------------------------------


class _TextPassNeededError(DayAbortError):
    """A value did not parse with the typed reader."""


def _raw_lines(table: pa.Table, mask: np.ndarray) -> list[str]:
    rows = table.filter(pa.array(mask))
    cols = [pc.cast(rows[c], pa.string()) for c in rows.column_names]
    if not cols:
        return []
    joined = pc.binary_join_element_wise(*cols, ",", null_handling="replace", null_replacement="")
    return joined.to_pylist()


def _parse_text(col: pa.Array, typ: pa.DataType) -> tuple[pa.Array, np.ndarray]:
    ok = pc.fill_null(pc.match_substring_regex(col, _FLOAT_RE if pa.types.is_floating(typ) else _INT_RE), False)
    bad = ~ok.to_numpy(zero_copy_only=False) & ~col.is_null().to_numpy(zero_copy_only=False)
    clean = pc.if_else(ok, pc.utf8_trim_whitespace(col), pa.scalar(None, pa.string()))
    return clean.cast(typ), bad


def _parse_list(col: pa.Array, empty_list: bool) -> tuple[pa.Array, np.ndarray]:
    """``"12,37"`` -> [12, 37]; an empty field -> [] (``empty_list``) or null; rows with a non-integer
    element are flagged."""
    n = len(col)
    bad = np.zeros(n, dtype=bool)
    blank = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(col), ""), True)
    parts = pc.split_pattern(pc.if_else(blank, pa.scalar(None, pa.string()), col), ",")
    flat = pc.utf8_trim_whitespace(pc.list_flatten(parts))
    ok = pc.fill_null(pc.match_substring_regex(flat, _INT_RE), False).to_numpy(zero_copy_only=False)
    if not ok.all():
        parents = pc.list_parent_indices(parts).to_numpy(zero_copy_only=False)
        bad[np.unique(parents[~ok])] = True
        flat = pc.if_else(pa.array(ok), flat, pa.scalar("0", pa.string()))
    values = flat.cast(pa.int64())
    lo, hi = np.iinfo(np.int16).min, np.iinfo(np.int16).max
    v = values.to_numpy(zero_copy_only=False)
    out_of_range = (v < lo) | (v > hi)
    if out_of_range.any():
        parents = pc.list_parent_indices(parts).to_numpy(zero_copy_only=False)
        bad[np.unique(parents[out_of_range])] = True
        values = pa.array(np.clip(v, lo, hi))
    lists = pa.ListArray.from_arrays(parts.offsets, values.cast(pa.int16()), mask=parts.is_null())
    if empty_list:
        lists = pc.fill_null(lists, pa.scalar([], lists.type))
    return lists, bad


def _to_lake(table: pa.Table, flat: FlatDataset, text: bool) -> tuple[pa.Table, np.ndarray, list[str]]:
    """Columns in lake types, a mask of rows that failed, and the reason per failed row."""
    schema = dataset(flat.lake).schema
    n = table.num_rows
    reasons = np.full(n, None, dtype=object)
    cols: dict[str, pa.Array] = {}
    for name in table.column_names:
        col = table[name].combine_chunks()
        bad: np.ndarray | None = None
        if name in LIST_COLUMNS:
            col, bad = _parse_list(col, empty_list=flat.kind == "trades_v1")
        elif text and name not in TEXT_COLUMNS:
            col, bad = _parse_text(col, parse_type(name))
        target = schema.field(name).type
        if pa.types.is_integer(target) and target.bit_width < 64 and len(col):
            info = np.iinfo(target.to_pandas_dtype())
            lo_hi = pc.min_max(col).as_py()
            if lo_hi["min"] is not None and (lo_hi["min"] < info.min or lo_hi["max"] > info.max):
                v = pc.fill_null(col, 0).to_numpy(zero_copy_only=False)
                oob = (v < info.min) | (v > info.max)
                bad = oob if bad is None else bad | oob
                col = pa.array(np.where(oob, 0, v), mask=col.is_null().to_numpy(zero_copy_only=False))
            col = col.cast(target)
        if bad is not None and bad.any():
            fresh = bad & (reasons == None)  # noqa: E711 - elementwise on an object array
            values = table[name].combine_chunks().filter(pa.array(fresh)).to_pylist()
            reasons[fresh] = [f"unparseable {name}: {v!r}" for v in values]
        cols[name] = col
    failed = reasons != None  # noqa: E711
    return pa.table(cols), failed, list(reasons[failed])


@dataclass
class _Plan:
    path: Path
    flat: FlatDataset
    day: dt.date
    raw_columns: list[str]  # as spelled in the file
    columns: list[str]  # lower-case names of the same columns
    source: str
    label: str


def plan(path: Path, forced: str | None = None) -> _Plan:
    """Recognise a file (dataset, day, columns) without reading more than its first block."""
    header, sample = peek(path)
    flat = identify(path, header, sample, forced)
    day = day_from_name(path)
    if day is None:
        time_col = "window_start" if flat.is_aggregate else "sip_timestamp"
        values = [v for v in sample[time_col].to_pylist() if v] if time_col in sample.column_names else []
        try:
            day = et_date(int(values[0])) if values else None
        except ValueError:
            day = None
        if day is None:
            raise SourceError(f"{path}: no date in the file name and no readable first row to take it from")
    raw_columns = [c for c in header if c.lower() in flat.header]
    columns = [c.lower() for c in raw_columns]
    if len(set(columns)) != len(columns):
        raise SourceError(f"{path}: the header names a column twice ({','.join(header)})")
    return _Plan(path, flat, day, raw_columns, columns, "", f"{flat.key}/{path.name}")


class _Failed:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_END = object()


def _prefetched(produce: Callable[[], Iterator[object]], depth: int = 2) -> Iterator[object]:
    """Items of ``produce()`` computed in a background thread, at most ``depth`` ahead, so that
    decompressing and parsing the next block overlaps with validating and writing this one."""
    q: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for item in produce():
                if not put(item):
                    return
            put(_END)
        except BaseException as exc:
            put(_Failed(exc))

    worker = threading.Thread(target=run, name="csv-reader", daemon=True)
    worker.start()
    try:
        while True:
            item = q.get()
            if item is _END:
                return
            if isinstance(item, _Failed):
                raise item.exc
            yield item
    finally:
        stop.set()
        worker.join()


def _batches(p: _Plan, text: bool, invalid: list[str], ctx: IngestContext) -> Iterator[pa.Table]:
    types = {raw: (pa.string() if text else parse_type(c)) for raw, c in zip(p.raw_columns, p.columns, strict=True)}

    def on_invalid(row: pacsv.InvalidRow) -> str:
        invalid.append(f"{row.actual_columns} fields instead of {row.expected_columns}\x00{row.text}")
        return "skip"

    def produce() -> Iterator[tuple[pa.RecordBatch, int]]:
        raw, stream = _open(p.path)
        try:
            reader = pacsv.open_csv(
                stream,
                read_options=pacsv.ReadOptions(block_size=BLOCK_SIZE, use_threads=True),
                parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid),
                convert_options=pacsv.ConvertOptions(
                    column_types=types,
                    include_columns=p.raw_columns,
                    null_values=[""],
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=True,
                ),
            )
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    break
                yield batch, raw.tell()
        finally:
            raw.close()

    position = 0
    try:
        for batch, now in _prefetched(produce):  # type: ignore[misc]
            ctx.advance(now - position, batch.num_rows)
            position = now
            yield pa.Table.from_batches([batch]).rename_columns(p.columns)
        ctx.advance(p.path.stat().st_size - position, 0)
    except pa.ArrowInvalid as exc:
        if "conversion error" in str(exc).lower() and not text:
            raise _TextPassNeededError() from None
        raise _read_error(p.path, exc) from None
    except OSError as exc:
        raise _read_error(p.path, exc) from None


@dataclass
class _Counts:
    parsed: int = 0  # rows with the right number of fields
    malformed: int = 0  # rows with the wrong number of fields
    filtered: int = 0


def _attempt(ctx: IngestContext, p: _Plan, *, text: bool, external_sort: bool) -> tuple[FileOutcome, set[str]]:
    flat = p.flat
    quarantine = QuarantineWriter(ctx.quarantine_dir, flat.lake, p.day, p.source)
    counts = _Counts()
    invalid: list[str] = []
    seen: set[str] = set()

    def flush_invalid() -> None:
        lines = invalid[:]  # the reader thread may append while this runs
        del invalid[: len(lines)]
        if lines:
            reasons = [f"unparseable row: {line.split(chr(0), 1)[0]}" for line in lines]
            quarantine.write_raw([line.split(chr(0), 1)[1] for line in lines], reasons)
            counts.malformed += len(lines)

    def chunks() -> Iterator[pa.Table]:
        for table in _batches(p, text, invalid, ctx):
            flush_invalid()
            counts.parsed += table.num_rows
            converted, failed, reasons = _to_lake(table, flat, text)
            if failed.any():
                quarantine.write_raw(_raw_lines(table, failed), reasons)
                converted = converted.filter(pa.array(~failed))
            converted = conform(dataset(flat.lake), converted)
            mask = ctx.filters.row_mask(converted["ticker"]) if converted.num_rows else None
            if mask is not None:
                kept = converted.filter(mask)
                counts.filtered += converted.num_rows - kept.num_rows
                converted = kept
            yield converted
        flush_invalid()

    def note(valid: pa.Table) -> None:
        seen.update(pc.unique(valid["ticker"]).to_pylist())

    stream: Iterator[pa.Table] = chunks()
    sorter: ExternalSorter | None = None
    if flat.is_aggregate:
        derived = derived_from_stored_trades(ctx.lake, flat.lake, p.day, ctx.workdir)
        stream = fill_stream(stream, derived)
    try:
        if external_sort:
            sorter = ExternalSorter(dataset(flat.lake).sort_keys, ctx.workdir)
            for chunk in stream:
                sorter.add(chunk)
            stream = sorter.sorted()
        results = ctx.ingestor.write_day_stream(
            flat.lake,
            p.day,
            stream,
            source=p.source,
            quarantine=quarantine,
            workdir=ctx.workdir,
            derive_bars=flat.kind == "trades_v1",
            bars_writer=vendor_aware_bars_writer(ctx.lake),
            on_valid=note,
        )
        qfile = quarantine.close()
    except BaseException:
        quarantine.abort()
        if sorter is not None:
            sorter.discard()
        raise
    main = results[0]
    out = FileOutcome(
        p.path,
        flat.key,
        [p.day],
        rows_read=counts.parsed + counts.malformed,
        rows_stored=main.rows_stored,
        rows_quarantined=main.rows_quarantined,
        rows_filtered=counts.filtered,
        reasons=dict(main.reasons),
        quarantine_files=[qfile] if qfile else [],
    )
    return out, seen


def ingest_file(ctx: IngestContext, path: Path, checksum: str, forced: str | None = None) -> FileOutcome:
    """Import one flat file (all-or-nothing for its day) and note the tickers it contained."""
    p = plan(path, forced)
    p.source = f"flatfiles:{path.resolve()}#sha256={checksum[:16]}"
    if not ctx.filters.day_wanted(p.day):
        return FileOutcome(path, p.flat.key, [p.day], skipped=True, note="outside --from/--to")
    text = False
    external_sort = False
    while True:
        try:
            outcome, seen = _attempt(ctx, p, text=text, external_sort=external_sort)
            break
        except _TextPassNeededError:
            text = True
        except UnsortedInputError:
            external_sort = True
    ctx.state.record_seen(p.flat.asset, sorted(seen), p.day, "flatfiles:" + p.label)
    return outcome


_ORDER = {"quotes_v1": 0, "day_aggs_v1": 1, "minute_aggs_v1": 2, "trades_v1": 3}


def file_order(path: Path) -> tuple:
    """Day by day; within a day aggregates before trades (so trades only fill in the VWAP)."""
    flat = dataset_from_path(path)
    day = day_from_name(path) or dt.date.max
    return (day, _ORDER.get(flat.kind, 9) if flat else 9, str(path))
