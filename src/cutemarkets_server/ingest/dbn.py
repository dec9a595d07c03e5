"""Databento DBN files (plain or zstd) decoded with ``databento-dbn``.

OPRA (``OPRA.PILLAR``): ``definition`` (the contract universe), ``trades``, quotes from ``cmbp-1``,
``cbbo-1s``, ``cbbo-1m`` and ``tcbbo`` (the consolidated BBO of each record), and ``statistics``
(open interest, ``stat_type`` 9). U.S. equities (any other dataset): ``trades`` and venue top of
book from ``mbp-1``, ``tbbo``, ``bbo-1s`` and ``bbo-1m``.

Mapping (FLATFILES.md §2.5): prices are fixed-point (/1e9); ``UNDEF_PRICE``/``UNDEF_TIMESTAMP`` and
undefined quantities become null, so a record missing a required value is quarantined with that
reason; ``sip_timestamp`` is ``ts_event``; exchange ids come from the publisher
(:mod:`.exchanges`); trades carry no condition codes (empty list) and no participant time; quotes
carry no sequence number. ``instrument_id`` is resolved to a ticker per ET day from, in order, the
file's own definition records and symbol-mapping records, the metadata symbol mappings, and
definitions ingested earlier. Records go to the ET day of their ``ts_event``; a file may span days.

Open interest is stored on the day it was reported (``ts_event``) and describes the session named
by ``ts_ref`` (its calendar date), or the previous session when ``ts_ref`` is undefined.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import databento_dbn as dbn
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..market.calendar import xnys
from ..market.occ import InvalidOptionSymbolError, parse_option_symbol
from ..market.timestamps import et_date, et_midnight_ns
from ..store.lake import conform
from ..store.schemas import CONDITIONS, dataset
from .barmerge import vendor_aware_bars_writer
from .context import FileOutcome, IngestContext
from .contracts import INDEX_ROOTS
from .errors import SourceError
from .exchanges import PUBLISHER_VENUE, TRF_IDS, exchange_ids
from .quarantine import QuarantineWriter
from .sorting import ExternalSorter

READ_BYTES = 8 << 20
OPTION_QUOTE_SCHEMAS = frozenset({"cmbp-1", "cbbo-1s", "cbbo-1m", "tcbbo"})
STOCK_QUOTE_SCHEMAS = frozenset({"mbp-1", "tbbo", "bbo-1s", "bbo-1m"})
_ORDER = {"definition": 0, "statistics": 1, "trades": 2}


def is_dbn_file(path: Path) -> bool:
    return path.name.endswith((".dbn", ".dbn.zst"))


def _decoder(path: Path) -> dbn.DBNDecoder:
    compression = dbn.Compression.ZSTD if path.name.endswith(".zst") else dbn.Compression.NONE
    return dbn.DBNDecoder(compression=compression)


def _records(path: Path, ctx: IngestContext | None = None) -> Iterator[list]:
    """Lists of decoded items (the first one starts with the :class:`Metadata`)."""
    decoder = _decoder(path)
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(READ_BYTES):
                decoder.write(chunk)
                items = decoder.decode()
                if ctx is not None:
                    ctx.advance(len(chunk), len(items))
                if items:
                    yield items
            rest = decoder.decode()
            if rest:
                yield rest
    except dbn.DBNError as exc:
        raise SourceError(f"{path}: not a readable DBN file ({exc}); truncated or corrupt?") from None
    if decoder.buffer():
        raise SourceError(f"{path}: the file ends in the middle of a record (truncated download?)")


def read_metadata(path: Path) -> dbn.Metadata:
    """The file's metadata header, reading no further than needed."""
    decoder = _decoder(path)
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 16):
                decoder.write(chunk)
                items = decoder.decode()
                if items and isinstance(items[0], dbn.Metadata):
                    return items[0]
    except dbn.DBNError as exc:
        raise SourceError(f"{path}: not a readable DBN file ({exc}); truncated or corrupt?") from None
    raise SourceError(f"{path}: no DBN metadata header (is this a DBN file?)")


def file_order(path: Path) -> tuple:
    """Definitions first (they resolve instrument ids for the other files), then by day."""
    try:
        meta = read_metadata(path)
    except SourceError:
        return (9, 0, str(path))
    return (_ORDER.get(meta.schema or "", 3), meta.start, str(path))


# -- instrument ids --------------------------------------------------------------------------


def option_ticker(raw_symbol: str) -> str | None:
    try:
        return parse_option_symbol(raw_symbol).ticker
    except InvalidOptionSymbolError:
        return None


class SymbolMap:
    """instrument_id -> ticker per ET day."""

    def __init__(self, asset: str) -> None:
        self.asset = asset
        self.by_day: dict[dt.date, dict[int, str]] = defaultdict(dict)
        self.fallback: dict[dt.date, dict[int, str]] = {}

    def ticker_of(self, raw: str) -> str | None:
        raw = raw.strip()
        if self.asset == "options":
            return option_ticker(raw)
        return raw.upper() or None

    def add(self, day: dt.date, instrument_id: int, raw: str) -> None:
        ticker = self.ticker_of(raw)
        if ticker is not None:
            self.by_day[day][int(instrument_id)] = ticker

    def add_interval(self, first: dt.date, end: dt.date, instrument_id: int, raw: str) -> None:
        day = first
        while day < end:
            self.add(day, instrument_id, raw)
            day += dt.timedelta(days=1)

    def add_metadata(self, meta: dbn.Metadata) -> None:
        if meta.stype_out != dbn.SType.INSTRUMENT_ID:
            return
        evenings = []
        for raw, intervals in (meta.mappings or {}).items():
            for iv in intervals:
                symbol = str(iv["symbol"])
                if symbol.isdigit():
                    self.add_interval(iv["start_date"], iv["end_date"], int(symbol), raw)
                    evenings.append((iv["start_date"] - dt.timedelta(days=1), int(symbol), raw))
        # Interval dates are UTC dates: the evening of the ET day before the first one lies inside too.
        for day, iid, raw in evenings:
            if iid not in self.by_day.get(day, {}):
                self.add(day, iid, raw)

    def lookup(self, day: dt.date, ids: np.ndarray) -> list[str | None]:
        own = self.by_day.get(day, {})
        other = self.fallback.get(day, {})
        return [own.get(i) or other.get(i) for i in ids.tolist()]


# -- record batches to columns ---------------------------------------------------------------


def _px(values: list[int]) -> pa.Array:
    arr = np.asarray(values, dtype=np.int64)
    return pa.array(arr / 1e9, mask=arr == dbn.UNDEF_PRICE)


def _ts(values: list[int]) -> np.ndarray:
    arr = np.asarray(values, dtype=np.uint64)
    out = arr.astype(np.int64)
    out[arr == np.uint64(dbn.UNDEF_TIMESTAMP)] = -1
    return out


def _exchanges(pubs: list[int], asset: str) -> pa.Array:
    ids = exchange_ids(np.asarray(pubs, dtype=np.int64), asset)
    return pa.array(ids, mask=ids < 0).cast(pa.int16())


def _trf_ids(pubs: list[int]) -> pa.Array:
    ids = np.array([TRF_IDS.get(PUBLISHER_VENUE.get(p, ""), -1) for p in pubs], dtype=np.int64)
    return pa.array(ids, mask=ids < 0).cast(pa.int16())


def _day_index(ts: np.ndarray) -> tuple[list[dt.date], np.ndarray]:
    """ET day of each timestamp (index into the returned list; -1 for undefined)."""
    valid = ts >= 0
    if not valid.any():
        return [], np.full(len(ts), -1)
    lo, hi = et_date(int(ts[valid].min())), et_date(int(ts[valid].max()))
    days = [lo + dt.timedelta(days=i) for i in range((hi - lo).days + 1)]
    bounds = np.array([et_midnight_ns(d) for d in days], dtype=np.int64)
    idx = np.searchsorted(bounds, ts, side="right") - 1
    idx[~valid] = -1
    return days, idx


def _trades(recs: list, asset: str) -> dict[str, object]:
    pubs = [r.publisher_id for r in recs]
    cols: dict[str, object] = {
        "sip_timestamp": _ts([r.ts_event for r in recs]),
        "price": _px([r.price for r in recs]),
        "size": pa.array([r.size for r in recs], pa.int64()),
        "exchange": _exchanges(pubs, asset),
        "conditions": pa.array([[]] * len(recs), CONDITIONS),
        "sequence_number": pa.array([r.sequence for r in recs], pa.int64()),
    }
    if asset == "stocks":
        cols["trf_id"] = _trf_ids(pubs)
    return cols


def _option_quotes(recs: list) -> dict[str, object]:
    def size(values: list[int]) -> pa.Array:
        return pa.array(values, pa.int64())

    return {
        "sip_timestamp": _ts([r.ts_event for r in recs]),
        "bid_price": _px([r.bid_px_00 for r in recs]),
        "ask_price": _px([r.ask_px_00 for r in recs]),
        "bid_size": size([r.bid_sz_00 for r in recs]),
        "ask_size": size([r.ask_sz_00 for r in recs]),
        "bid_exchange": _exchanges([r.bid_pb_00 for r in recs], "options"),
        "ask_exchange": _exchanges([r.ask_pb_00 for r in recs], "options"),
    }


def _stock_quotes(recs: list) -> dict[str, object]:
    exchange = _exchanges([r.publisher_id for r in recs], "stocks")
    return {
        "sip_timestamp": _ts([r.ts_event for r in recs]),
        "bid_price": _px([r.bid_px_00 for r in recs]),
        "ask_price": _px([r.ask_px_00 for r in recs]),
        "bid_size": pa.array([r.bid_sz_00 for r in recs], pa.int64()),
        "ask_size": pa.array([r.ask_sz_00 for r in recs], pa.int64()),
        "bid_exchange": exchange,
        "ask_exchange": exchange,
        "sequence_number": pa.array([r.sequence for r in recs], pa.int64()),
    }


def _statistics(recs: list) -> tuple[dict[str, object], list[str | None]]:
    """Open interest columns, and for each record the reason it is not stored (None = stored)."""
    why: list[str | None] = []
    refs: list[dt.date | None] = []
    for r in recs:
        stat = r.stat_type
        code = stat.value if isinstance(stat, dbn.StatType) else int(stat)
        if code != dbn.StatType.OPEN_INTEREST.value:
            name = stat.name.lower() if isinstance(stat, dbn.StatType) else str(code)
            why.append(f"not stored: statistic type {code} ({name})")
        elif r.update_action == dbn.StatUpdateAction.DELETE:
            why.append("not stored: open interest deletion")
        else:
            why.append(None)
        ref = int(r.ts_ref)
        refs.append(None if ref == dbn.UNDEF_TIMESTAMP else dt.datetime.fromtimestamp(ref / 1e9, dt.UTC).date())
    reported = _ts([r.ts_event if r.ts_event != dbn.UNDEF_TIMESTAMP else r.ts_recv for r in recs])
    quantity = np.asarray([r.quantity for r in recs], dtype=np.int64)
    trading = [
        ref if ref is not None else (xnys().previous_session(et_date(int(t))) if t >= 0 else None)
        for ref, t in zip(refs, reported, strict=True)
    ]
    cols = {
        "reported_timestamp": reported,
        "open_interest": pa.array(quantity, mask=quantity == dbn.UNDEF_STAT_QUANTITY),
        "trading_date": pa.array(trading, pa.date32()),
    }
    return cols, why


# -- definitions -----------------------------------------------------------------------------


def _text(value: object) -> str:
    return str(value or "").strip()


def definition_terms(rec: dbn.InstrumentDefMsg, ticker: str) -> dict:
    """Contract terms of an option definition (what :func:`.contracts.terms_record` stores)."""
    sym = parse_option_symbol(ticker)
    cfi = _text(rec.cfi) or None
    if cfi and len(cfi) > 2 and cfi[2] in "AE":
        style = "american" if cfi[2] == "A" else "european"
    else:
        style = "european" if sym.root in INDEX_ROOTS else "american"
    strike = sym.strike if rec.strike_price == dbn.UNDEF_PRICE else rec.strike_price / 1e9
    expiration = sym.expiration if rec.expiration == dbn.UNDEF_TIMESTAMP else et_date(int(rec.expiration))
    multiplier = rec.contract_multiplier
    shares = int(multiplier) if multiplier and 0 < multiplier < 2**31 - 1 else 100
    activation = None if rec.activation == dbn.UNDEF_TIMESTAMP else et_date(int(rec.activation)).isoformat()
    return {
        "underlying": _text(rec.underlying) or INDEX_ROOTS.get(sym.root, sym.root),
        "root": sym.root,
        "contract_type": sym.contract_type,
        "exercise_style": style,
        "expiration_date": expiration.isoformat(),
        "strike_price": strike,
        "shares_per_contract": shares,
        "primary_exchange": _text(rec.exchange) or None,
        "cfi": cfi,
        "activation": activation,
    }


def _definition_class(rec: dbn.InstrumentDefMsg) -> str:
    cls = rec.instrument_class
    return cls.value if isinstance(cls, dbn.InstrumentClass) else str(cls)


def _update_action(rec: dbn.InstrumentDefMsg) -> str:
    act = rec.security_update_action
    return act.value if isinstance(act, dbn.SecurityUpdateAction) else str(act)


# -- the importer ----------------------------------------------------------------------------


@dataclass
class _DaySink:
    sorter: ExternalSorter
    quarantine: QuarantineWriter
    rows: int = 0
    first_ts: int | None = None
    last_ts: int | None = None

    def cover(self, ts: np.ndarray) -> None:
        valid = ts[ts >= 0]
        if len(valid):
            lo, hi = int(valid.min()), int(valid.max())
            self.first_ts = lo if self.first_ts is None else min(self.first_ts, lo)
            self.last_ts = hi if self.last_ts is None else max(self.last_ts, hi)


@dataclass
class _Job:
    ctx: IngestContext
    path: Path
    label: str
    source: str
    meta: dbn.Metadata
    asset: str
    schema: str
    target: str | None
    symbols: SymbolMap
    sinks: dict[dt.date, _DaySink] = field(default_factory=dict)
    quarantines: dict[tuple[str, dt.date], QuarantineWriter] = field(default_factory=dict)
    outcome: FileOutcome | None = None
    definitions: list[tuple[str, dict, dt.date, str]] = field(default_factory=list)
    delistings: list[tuple[str, dt.date, str]] = field(default_factory=list)
    instruments: list[tuple[dt.date, int, str]] = field(default_factory=list)

    def quarantine(self, name: str, day: dt.date) -> QuarantineWriter:
        key = (name, day)
        if key not in self.quarantines:
            self.quarantines[key] = QuarantineWriter(self.ctx.quarantine_dir, name, day, self.source)
        return self.quarantines[key]

    def sink(self, day: dt.date) -> _DaySink:
        if day not in self.sinks:
            assert self.target is not None
            sorter = ExternalSorter(dataset(self.target).sort_keys, self.ctx.workdir / f"dbn-{day.isoformat()}")
            self.sinks[day] = _DaySink(sorter, self.quarantine(self.target, day))
        return self.sinks[day]

    def discard(self) -> None:
        for s in self.sinks.values():
            s.sorter.discard()
        for q in self.quarantines.values():
            q.abort()


def _target(asset: str, schema: str) -> str | None:
    if schema == "trades":
        return "option_trades" if asset == "options" else "stock_trades"
    if schema == "statistics" and asset == "options":
        return "option_open_interest"
    if asset == "options" and schema in OPTION_QUOTE_SCHEMAS:
        return "option_quotes"
    if asset == "stocks" and schema in STOCK_QUOTE_SCHEMAS:
        return "stock_quotes"
    if schema == "definition":
        return None
    raise SourceError(
        f"DBN schema {schema!r} is not imported for {'OPRA' if asset == 'options' else 'equities'} "
        "(supported: definition, trades, statistics (OPRA), cmbp-1/cbbo-1s/cbbo-1m/tcbbo (OPRA), "
        "mbp-1/tbbo/bbo-1s/bbo-1m (equities); bars are derived from trades)"
    )


def ingest_file(ctx: IngestContext, path: Path, checksum: str) -> FileOutcome:
    """Import one DBN file: all its days are written, or none (the file is then retried)."""
    meta = read_metadata(path)
    if not meta.schema:
        raise SourceError(f"{path}: DBN files with mixed schemas are not supported; download one schema per file")
    asset = "options" if meta.dataset.upper().startswith("OPRA") else "stocks"
    schema = meta.schema
    job = _Job(
        ctx,
        path,
        f"{meta.dataset}/{path.name}",
        f"dbn:{path.resolve()}#sha256={checksum[:16]}",
        meta,
        asset,
        schema,
        _target(asset, schema),
        SymbolMap(asset),
    )
    job.outcome = FileOutcome(path, f"{meta.dataset} {schema}")
    job.symbols.add_metadata(meta)
    first = dt.datetime.fromtimestamp(meta.start / 1e9, dt.UTC).date() - dt.timedelta(days=1)
    last_ns = meta.end if meta.end and meta.end != dbn.UNDEF_TIMESTAMP else meta.start
    last = dt.datetime.fromtimestamp(last_ns / 1e9, dt.UTC).date() + dt.timedelta(days=1)
    job.symbols.fallback = ctx.state.instruments(meta.dataset, first, last)
    try:
        for items in _records(path, ctx):
            _consume(job, items)
        return _finish(job)
    except BaseException:
        job.discard()
        raise


def _consume(job: _Job, items: list) -> None:
    defs, maps, data = [], [], []
    for it in items:
        if isinstance(it, dbn.Metadata | dbn.SystemMsg | dbn.ErrorMsg):
            continue
        if isinstance(it, dbn.InstrumentDefMsg):
            defs.append(it)
        elif isinstance(it, dbn.SymbolMappingMsg):
            maps.append(it)
        elif isinstance(it, dbn.OHLCVMsg | dbn.MBOMsg | dbn.MBP10Msg | dbn.ImbalanceMsg | dbn.StatusMsg):
            raise SourceError(f"{job.path}: records of type {type(it).__name__} are not imported")
        else:
            data.append(it)
    for m in maps:
        if m.end_ts and m.end_ts != dbn.UNDEF_TIMESTAMP:
            first, end = et_date(int(m.start_ts)), et_date(int(m.end_ts) - 1) + dt.timedelta(days=1)
        else:
            first = et_date(int(m.ts_event))
            end = first + dt.timedelta(days=1)
        job.symbols.add_interval(first, end, m.instrument_id, m.stype_in_symbol)
    if defs:
        _definitions(job, defs)
    if data:
        _data(job, data)


def _definitions(job: _Job, recs: list[dbn.InstrumentDefMsg]) -> None:
    out = job.outcome
    assert out is not None
    for r in recs:
        out.rows_read += 1
        ts = int(r.ts_recv) if r.ts_recv != dbn.UNDEF_TIMESTAMP else int(r.ts_event)
        day = et_date(ts)
        raw = _text(r.raw_symbol)
        cls = _definition_class(r)
        reject = None
        if job.asset == "options":
            ticker = option_ticker(raw)
            if cls not in ("C", "P"):
                reject = f"not stored: instrument class {cls} (only calls and puts)"
            elif ticker is None:
                reject = "bad OCC option symbol"
        else:
            ticker = raw.upper() or None
            if ticker is None:
                reject = "missing raw_symbol"
        if reject is not None:
            line = f"instrument_id={r.instrument_id},raw_symbol={raw},instrument_class={cls}"
            name = "option_contracts" if job.asset == "options" else "stock_tickers"
            job.quarantine(name, day).write_raw([line], [reject])
            out.rows_quarantined += 1
            out.add_reasons({reject: 1})
            continue
        assert ticker is not None
        job.symbols.add(day, r.instrument_id, raw)
        job.instruments.append((day, int(r.instrument_id), ticker))
        if job.asset == "options":
            if _update_action(r) == "D":
                job.delistings.append((ticker, day, job.label))
            else:
                job.definitions.append((ticker, definition_terms(r, ticker), day, job.label))
        out.rows_stored += 1
        if day not in out.days:
            out.days.append(day)


def _data(job: _Job, recs: list) -> None:
    out = job.outcome
    assert out is not None and job.target is not None
    out.rows_read += len(recs)
    if job.target in ("option_trades", "stock_trades"):
        cols = _trades(recs, job.asset)
        why: list[str | None] = [None] * len(recs)
    elif job.target == "option_quotes":
        cols, why = _option_quotes(recs), [None] * len(recs)
    elif job.target == "stock_quotes":
        cols, why = _stock_quotes(recs), [None] * len(recs)
    else:
        cols, why = _statistics(recs)
    time_col = "reported_timestamp" if job.target == "option_open_interest" else "sip_timestamp"
    ts = np.asarray(cols[time_col])
    days, idx = _day_index(ts)
    ids = np.asarray([r.instrument_id for r in recs], dtype=np.int64)
    cols[time_col] = pa.array(ts, mask=ts < 0)
    table = pa.table(cols)
    for k, day in enumerate(days):
        sel = np.flatnonzero(idx == k)
        if len(sel):
            _route(job, day, table.take(pa.array(sel)), ids[sel], [why[i] for i in sel])
    undated = np.flatnonzero(idx < 0)
    if len(undated):
        day = dt.datetime.fromtimestamp(job.meta.start / 1e9, dt.UTC).date()
        lines = [f"instrument_id={ids[i]},ts_event=UNDEF" for i in undated]
        job.quarantine(job.target, day).write_raw(lines, ["missing value for ts_event"] * len(lines))
        out.rows_quarantined += len(lines)
        out.add_reasons({"missing value for ts_event": len(lines)})


def _route(job: _Job, day: dt.date, table: pa.Table, ids: np.ndarray, why: list[str | None]) -> None:
    """Resolve tickers and hand rows to the day's sorter; unresolvable or unused records are quarantined."""
    out = job.outcome
    assert out is not None and job.target is not None
    tickers = job.symbols.lookup(day, ids)
    reasons = list(why)
    for i, t in enumerate(tickers):
        if reasons[i] is None and t is None:
            reasons[i] = "unknown instrument_id (no definition or symbol mapping for the day)"
    bad = np.array([r is not None for r in reasons], dtype=bool)
    sink = job.sink(day)
    time_col = "reported_timestamp" if job.target == "option_open_interest" else "sip_timestamp"
    sink.cover(pc.fill_null(table[time_col], -1).to_numpy(zero_copy_only=False))
    table = table.append_column("ticker", pa.array(tickers, pa.string()))
    if bad.any():
        rejected = table.filter(pa.array(bad))
        rejected = rejected.append_column("reject_reason", pa.array([r for r in reasons if r is not None]))
        raw = pa.array([f"instrument_id={i}" for i in ids[bad]], pa.string())
        rejected = rejected.append_column("raw_line", raw)
        job.quarantine(job.target, day).write(rejected)
        out.rows_quarantined += rejected.num_rows
        counts: dict[str, int] = {}
        for r in reasons:
            if r is not None:
                counts[r] = counts.get(r, 0) + 1
        out.add_reasons(counts)
        table = table.filter(pa.array(~bad))
    if table.num_rows:
        mask = job.ctx.filters.row_mask(table["ticker"])
        if mask is not None:
            kept = table.filter(mask)
            out.rows_filtered += table.num_rows - kept.num_rows
            table = kept
    if table.num_rows:
        sink.sorter.add(conform(dataset(job.target), table))
        sink.rows += table.num_rows


def _keep_other_files_rows(job: _Job, day: dt.date, sink: _DaySink) -> int:
    """Rows other files gave this day (within their time spans) join this file's rows; returns how many.

    Databento splits files by UTC day while partitions are ET days, so an ET day can hold rows of two
    files (e.g. after-hours trades past 00:00 UTC). Each file owns the time span of its rows; importing a
    file replaces only its own span and keeps the others, whatever the order files arrive in.
    """
    assert job.outcome is not None and job.target is not None
    ctx, label, me = job.ctx, job.outcome.dataset, str(job.path.resolve())
    if sink.first_ts is None or sink.last_ts is None:
        return 0
    others = [c for c in ctx.state.contributions(label, day) if c[0] != me]
    for path, lo, hi in others:
        if lo <= sink.last_ts and sink.first_ts <= hi:
            raise SourceError(
                f"{job.path}: its {job.target} rows of {day} overlap those already imported from {path}; "
                "a day may be split across files, but files must not repeat each other's rows"
            )
    ctx.state.record_contribution(label, day, me, (sink.first_ts, sink.last_ts))
    part = ctx.lake.snapshot().partition(job.target, day)
    if not others or part is None:
        return 0
    schema = dataset(job.target).schema
    time_col = "reported_timestamp" if job.target == "option_open_interest" else "sip_timestamp"
    kept = 0
    for f in part.files:
        for batch in pq.ParquetFile(f).iter_batches(batch_size=65_536):
            table = pa.Table.from_batches([batch]).cast(schema)
            ts = table[time_col].to_numpy()
            mask = np.zeros(len(ts), dtype=bool)
            for _, lo, hi in others:
                mask |= (ts >= lo) & (ts <= hi)
            if mask.any():
                rows = table.filter(pa.array(mask))
                sink.sorter.add(rows)
                kept += rows.num_rows
    return kept


def _finish(job: _Job) -> FileOutcome:
    ctx, out = job.ctx, job.outcome
    assert out is not None
    filters = ctx.filters
    for day in sorted(job.sinks):
        if not filters.day_wanted(day):
            sink = job.sinks[day]
            out.rows_filtered += sink.rows
            sink.sorter.discard()
            continue
        sink = job.sinks[day]
        seen: set[str] = set()
        before = Counter(sink.quarantine.reasons)

        def note(valid: pa.Table, seen: set[str] = seen) -> None:
            seen.update(pc.unique(valid["ticker"]).to_pylist())

        assert job.target is not None
        kept = _keep_other_files_rows(job, day, sink)
        results = ctx.ingestor.write_day_stream(
            job.target,
            day,
            sink.sorter.sorted(),
            source=job.source,
            quarantine=sink.quarantine,
            workdir=ctx.workdir,
            derive_bars=job.target.endswith("_trades"),
            bars_writer=vendor_aware_bars_writer(ctx.lake),
            on_valid=note,
        )
        out.rows_stored += results[0].rows_stored - kept
        validation = Counter(sink.quarantine.reasons) - before
        out.rows_quarantined += sum(validation.values())
        out.add_reasons(dict(validation))
        if day not in out.days:
            out.days.append(day)
        if job.target != "option_open_interest":
            ctx.state.record_seen(job.asset, sorted(seen), day, "dbn:" + job.label)
    for q in job.quarantines.values():
        path = q.close()
        if path is not None:
            out.quarantine_files.append(path)
    if job.instruments:
        ctx.state.record_instruments(job.meta.dataset, job.instruments)
    if job.definitions:
        ctx.state.record_definitions(job.definitions)
    if job.delistings:
        ctx.state.record_delistings(job.delistings)
    out.days.sort()
    return out
