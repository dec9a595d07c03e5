"""Write the lake back out in vendor formats: Massive flat files and Databento DBN files.

The built-in market (or any lake) becomes a set of vendor files a user could have bought, which
tests and benchmarks feed to the importers. Flat files use the vendor's layout
(``{prefix}/{dataset}/{YYYY}/{MM}/{YYYY-MM-DD}.csv.gz``), headers and row order (ticker, then time);
DBN files are time-ordered like Databento's, one file per dataset, schema and day
(``{dataset}/{YYYY-MM-DD}.{schema}.dbn.zst``), with symbol mappings in the metadata unless asked not to.
Everything streams partition by partition.
"""

from __future__ import annotations

import datetime as dt
import gzip
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import BinaryIO

import databento_dbn as dbn
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..market.occ import parse_option_symbol
from ..market.timestamps import NS_PER_S, et_midnight_ns, et_ns
from ..store.lake import Lake
from ..store.schemas import dataset
from .exchanges import TRF_IDS, publisher_for
from .flatfiles import FLAT_DATASETS, FlatDataset

OPRA = "OPRA.PILLAR"
EQUITIES = "EQUS.ALL"
FIXED = 1_000_000_000
OPTION_SCHEMAS = ("definition", "trades", "cmbp-1", "cbbo-1s", "cbbo-1m", "tcbbo", "statistics")
STOCK_SCHEMAS = ("definition", "trades", "mbp-1", "bbo-1s")


def _lake(data_dir: Path) -> Lake:
    root = Path(data_dir)
    return Lake(root / "lake" if (root / "lake").is_dir() else root)


def _read(lake: Lake, name: str, day: dt.date) -> pa.Table:
    part = lake.snapshot().partition(name, day)
    if part is None:
        return dataset(name).schema.empty_table()
    return pa.concat_tables([pq.read_table(f, schema=dataset(name).schema) for f in part.files])


def _iter_partition(lake: Lake, name: str, day: dt.date, rows: int = 65_536) -> Iterator[pa.Table]:
    part = lake.snapshot().partition(name, day)
    if part is None:
        return
    for f in part.files:
        for batch in pq.ParquetFile(f).iter_batches(batch_size=rows):
            yield pa.Table.from_batches([batch]).cast(dataset(name).schema)


# -- CSV text ------------------------------------------------------------------------------------


def _text(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if pa.types.is_list(col.type):
        joined = pc.binary_join(pc.cast(col, pa.list_(pa.string())), ",")
        quoted = pc.binary_join_element_wise(pa.scalar('"'), joined, pa.scalar('"'), "")
        return pc.if_else(pc.match_substring(joined, ","), quoted, joined)
    if pa.types.is_string(col.type):
        return col
    return pc.cast(col, pa.string())


def csv_lines(table: pa.Table, columns: Iterable[str]) -> bytes:
    """CSV rows (no header) of ``columns``: empty for null, lists as a quoted comma list."""
    cols = [_text(table[c]) for c in columns]
    if not cols or table.num_rows == 0:
        return b""
    line = pc.binary_join_element_wise(*cols, ",", null_handling="replace", null_replacement="")
    line = pc.binary_join_element_wise(line, pa.scalar(""), "\n")  # "row" + "\n" + ""
    offsets = np.frombuffer(line.buffers()[1], dtype=np.int32)[line.offset : line.offset + len(line) + 1]
    data = line.buffers()[2]
    return data.to_pybytes()[int(offsets[0]) : int(offsets[-1])]


class _Sink:
    """A text file written atomically; gzip-compressed (deterministically) when the name ends in ``.gz``."""

    def __init__(self, path: Path, gzip_level: int = 6) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = path.with_name(path.name + ".tmp")
        self.raw = open(self.tmp, "wb")  # noqa: SIM115 - closed in close()
        self.out: BinaryIO = (
            gzip.GzipFile(fileobj=self.raw, mode="wb", compresslevel=gzip_level, mtime=0)
            if path.name.endswith(".gz")
            else self.raw
        )

    def write(self, data: bytes) -> None:
        if data:
            self.out.write(data)

    def close(self) -> Path:
        self.out.close()
        self.raw.close()
        self.tmp.replace(self.path)
        return self.path


def flat_path(out_dir: Path, flat: FlatDataset, day: dt.date, compress: bool = True) -> Path:
    return (
        Path(out_dir)
        / flat.prefix
        / flat.kind
        / f"{day:%Y}"
        / f"{day:%m}"
        / f"{day.isoformat()}.csv{'.gz' if compress else ''}"
    )


@dataclass(frozen=True)
class FlatExportOptions:
    compress: bool = True
    option_trades_participant_timestamp: bool = True  # the vendor's file exists with and without it
    time_order: bool = False  # rows in time order instead of the vendor's ticker-then-time order
    gzip_level: int = 6


def export_flatfiles(
    data_dir: Path,
    out_dir: Path,
    *,
    datasets: Iterable[str] | None = None,
    days: Iterable[dt.date] | None = None,
    options: FlatExportOptions = FlatExportOptions(),
) -> list[Path]:
    """Write every (or the chosen) vendor dataset (keys like ``us_options_opra/quotes_v1``) per day."""
    lake = _lake(data_dir)
    wanted = set(datasets) if datasets is not None else set(FLAT_DATASETS)
    unknown = wanted - set(FLAT_DATASETS)
    if unknown:
        raise ValueError(f"unknown flat-file dataset(s): {', '.join(sorted(unknown))}")
    only_days = set(days) if days is not None else None
    written = []
    for key in sorted(wanted):
        flat = FLAT_DATASETS[key]
        columns = list(flat.header)
        if flat.kind == "trades_v1" and flat.asset == "options" and not options.option_trades_participant_timestamp:
            columns.remove("participant_timestamp")
        for day in lake.snapshot().days(flat.lake):
            if only_days is not None and day not in only_days:
                continue
            written.append(_export_day(lake, flat, day, columns, out_dir, options))
    return written


def _export_day(
    lake: Lake, flat: FlatDataset, day: dt.date, columns: list[str], out_dir: Path, opts: FlatExportOptions
) -> Path:
    sink = _Sink(flat_path(out_dir, flat, day, opts.compress), opts.gzip_level)
    sink.write((",".join(columns) + "\n").encode())
    if opts.time_order:
        table = _read(lake, flat.lake, day)
        time_col = "window_start" if flat.is_aggregate else "sip_timestamp"
        table = table.sort_by([(time_col, "ascending")])
        for start in range(0, table.num_rows, 65_536):
            sink.write(csv_lines(table.slice(start, 65_536), columns))
    else:
        for table in _iter_partition(lake, flat.lake, day):
            sink.write(csv_lines(table, columns))
    return sink.close()


# -- DBN -----------------------------------------------------------------------------------------


def _px(values: np.ndarray) -> list[int]:
    return [int(v) for v in np.round(np.asarray(values, dtype=np.float64) * FIXED).astype(np.int64)]


def _dbn_file(path: Path, metadata: dbn.Metadata, records: Iterable[object], compress: bool) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    raw = pa.OSFile(str(tmp), "wb")
    out = pa.CompressedOutputStream(raw, "zstd") if compress else raw
    out.write(bytes(metadata))
    buf: list[bytes] = []
    for rec in records:
        buf.append(bytes(rec))
        if len(buf) >= 50_000:
            out.write(b"".join(buf))
            buf.clear()
    out.write(b"".join(buf))
    out.close()
    if not raw.closed:
        raw.close()
    tmp.replace(path)
    return path


def _metadata(
    ds: str, schema: str, day: dt.date, ids: dict[str, int], raw: dict[str, str], mappings: bool
) -> dbn.Metadata:
    maps = []
    if mappings:
        for ticker, iid in sorted(ids.items()):
            interval = SimpleNamespace(start_date=day, end_date=day + dt.timedelta(days=1), symbol=str(iid))
            maps.append(SimpleNamespace(raw_symbol=raw[ticker], intervals=[interval]))
    return dbn.Metadata(
        dataset=ds,
        start=et_midnight_ns(day),
        end=et_midnight_ns(day + dt.timedelta(days=1)),
        stype_in=dbn.SType.RAW_SYMBOL,
        stype_out=dbn.SType.INSTRUMENT_ID,
        schema=dbn.Schema.from_str(schema),
        symbols=["ALL_SYMBOLS"],
        mappings=maps,
    )


def _osi(ticker: str) -> str:
    return parse_option_symbol(ticker).osi


@dataclass
class _Universe:
    option_ids: dict[str, int]
    stock_ids: dict[str, int]
    contracts: pa.Table  # option_contracts events with effective_date


def _universe(lake: Lake) -> _Universe:
    snap = lake.snapshot()
    events = []
    for day, part in sorted(snap.by_dataset.get("option_contracts", {}).items()):
        for f in part.files:
            t = pq.read_table(f, schema=dataset("option_contracts").schema)
            events.append(t.append_column("effective_date", pa.array([day] * t.num_rows, pa.date32())))
    contracts = (
        pa.concat_tables(events)
        if events
        else dataset("option_contracts").schema.append(pa.field("effective_date", pa.date32())).empty_table()
    )
    option_tickers = sorted(set(contracts["ticker"].to_pylist()))
    stock_tickers: set[str] = set()
    for name in ("stock_trades", "stock_quotes"):
        for day in snap.days(name):
            for f in snap.files(name, [day]):
                stock_tickers.update(pc.unique(pq.read_table(f, columns=["ticker"])["ticker"]).to_pylist())
    return _Universe(
        {t: 100_000 + i for i, t in enumerate(option_tickers)},
        {t: 1 + i for i, t in enumerate(sorted(stock_tickers))},
        contracts,
    )


# Schemas that also carry the days before the tick window (a market with option history has contracts,
# open interest and daily bars there, but no ticks), with the datasets whose days they cover. The daily
# bars of those days have no DBN schema the importer takes: bars are derived from trades.
HISTORY_SCHEMAS: dict[str, tuple[str, ...]] = {
    "definition": ("option_contracts", "option_open_interest", "option_day_aggs"),
    "statistics": ("option_open_interest",),
}


def export_days(lake: Lake, schema: str) -> list[dt.date]:
    """The days a schema is written for: every tick day, and for ``definition`` and ``statistics`` also the
    days before the tick window that hold contracts or open interest."""
    snap = lake.snapshot()
    days = set(snap.days("option_quotes") or snap.days("stock_quotes"))
    for name in HISTORY_SCHEMAS.get(schema, ()):
        days.update(snap.days(name))
    return sorted(days)


def export_dbn(
    data_dir: Path,
    out_dir: Path,
    *,
    schemas: Iterable[str] = (*OPTION_SCHEMAS, *(f"equities:{s}" for s in STOCK_SCHEMAS)),
    days: Iterable[dt.date] | None = None,
    compress: bool = True,
    mappings: bool = True,
    utc_days: bool = False,
) -> list[Path]:
    """Write DBN files for each tick day: OPRA ``definition``/``trades``/``cmbp-1``/``cbbo-1s``/``cbbo-1m``/
    ``tcbbo``/``statistics`` (open interest) and equities (``equities:trades``, ``equities:mbp-1``,
    ``equities:bbo-1s``, ``equities:definition``); ``definition`` and ``statistics`` also for the days before
    the tick window that hold contracts or open interest (``export_days``). Files hold one ET day each, or
    with ``utc_days`` one UTC day each, the way Databento splits downloads (an ET day's late records land in
    the next file)."""
    lake = _lake(data_dir)
    uni = _universe(lake)
    wanted = list(schemas)
    only = set(days) if days is not None else None
    ext = ".dbn.zst" if compress else ".dbn"
    out: list[Path] = []
    for schema in wanted:
        if _maker(schema) is None:
            raise ValueError(f"unknown DBN schema {schema!r}")
    if utc_days:
        for schema in wanted:
            chosen = [d for d in export_days(lake, schema) if only is None or d in only]
            out += _export_utc_days(lake, uni, chosen, schema, Path(out_dir), ext, compress, mappings)
        return out
    by_day: dict[dt.date, list[str]] = {}
    for schema in wanted:
        for day in export_days(lake, schema):
            if only is None or day in only:
                by_day.setdefault(day, []).append(schema)
    for day, day_schemas in sorted(by_day.items()):
        for schema in day_schemas:
            equities, name = _split(schema)
            ds, ids, raw = _feed(uni, equities)
            records = _records(lake, uni, day, name, equities)
            assert records is not None  # every schema was checked above
            meta = _metadata(ds, name, day, ids, raw, mappings)
            path = Path(out_dir) / ds / f"{day.isoformat()}.{name}{ext}"
            out.append(_dbn_file(path, meta, records, compress))
    return out


def _export_utc_days(
    lake: Lake,
    uni: _Universe,
    days: list[dt.date],
    schema: str,
    out_dir: Path,
    ext: str,
    compress: bool,
    mappings: bool,
) -> list[Path]:
    equities, name = _split(schema)
    ds, ids, raw = _feed(uni, equities)

    def stream() -> Iterator[object]:
        for day in days:
            records = _records(lake, uni, day, name, equities)
            assert records is not None  # every schema was checked by export_dbn
            yield from records

    def utc_day(rec: object) -> dt.date:
        return dt.datetime.fromtimestamp(rec.ts_event // NS_PER_S, dt.UTC).date()  # type: ignore[attr-defined]

    out = []
    for day, records in itertools.groupby(stream(), key=utc_day):
        meta = _metadata(ds, name, day, ids, raw, mappings)
        meta_path = out_dir / ds / f"{day.isoformat()}.{name}{ext}"
        out.append(_dbn_file(meta_path, meta, records, compress))
    return out


def _split(schema: str) -> tuple[bool, str]:
    """(equities?, the DBN schema name) of ``equities:trades`` or ``trades``."""
    equities = schema.startswith("equities:")
    return equities, schema.split(":", 1)[1] if equities else schema


def _feed(uni: _Universe, equities: bool) -> tuple[str, dict[str, int], dict[str, str]]:
    """(dataset folder, instrument ids, raw symbol of each id) of the equities or the options feed."""
    ids = uni.stock_ids if equities else uni.option_ids
    raw = {t: t for t in ids} if equities else {t: _osi(t) for t in ids}
    return (EQUITIES if equities else OPRA), ids, raw


def _maker(schema: str) -> object | None:
    equities, name = _split(schema)
    return (_STOCK_MAKERS if equities else _OPTION_MAKERS).get(name)


def _records(lake: Lake, uni: _Universe, day: dt.date, schema: str, equities: bool) -> Iterator[object] | None:
    maker = (_STOCK_MAKERS if equities else _OPTION_MAKERS).get(schema)
    return None if maker is None else maker(lake, uni, day, schema)


def _time_sorted(table: pa.Table, col: str = "sip_timestamp") -> pa.Table:
    return table.sort_by([(col, "ascending"), ("ticker", "ascending")])


def _option_definitions(lake: Lake, uni: _Universe, day: dt.date, schema: str) -> Iterator[object]:
    c = uni.contracts
    d = pa.scalar(day, pa.date32())
    events = c.filter(pc.less_equal(c["effective_date"], d)).sort_by(
        [("ticker", "ascending"), ("effective_date", "ascending")]
    )
    latest: dict[str, dict] = {}
    for row in events.to_pylist():
        latest[row["ticker"]] = row
    ts = et_ns(day, 6, 0)
    for ticker, row in sorted(latest.items()):
        delisted_today = row["action"] == "delist" and row["effective_date"] == day
        alive = row["action"] == "list" and row["expiration_date"] >= day
        if not (alive or delisted_today):
            continue
        yield dbn.InstrumentDefMsg(
            publisher_id=30,
            instrument_id=uni.option_ids[ticker],
            ts_event=ts,
            ts_recv=ts,
            min_price_increment=FIXED // 100,
            display_factor=FIXED,
            raw_symbol=_osi(ticker),
            asset=row["root"],
            security_type="OOF",
            instrument_class=dbn.InstrumentClass.CALL if row["contract_type"] == "call" else dbn.InstrumentClass.PUT,
            security_update_action=dbn.SecurityUpdateAction.DELETE if delisted_today else dbn.SecurityUpdateAction.ADD,
            expiration=et_ns(row["expiration_date"], 16),
            activation=et_midnight_ns(row["list_date"]),
            strike_price=round(row["strike_price"] * FIXED),
            contract_multiplier=int(row["shares_per_contract"]),
            underlying=row["underlying_ticker"],
            exchange=row["primary_exchange"] or "",
            cfi=row["cfi"] or "",
            currency="USD",
            strike_price_currency="USD",
        )


def _option_trades(lake: Lake, uni: _Universe, day: dt.date, schema: str) -> Iterator[object]:
    t = _time_sorted(_read(lake, "option_trades", day))
    ids = [uni.option_ids[x] for x in t["ticker"].to_pylist()]
    for iid, ts, px, size, ex, seq in zip(
        ids,
        t["sip_timestamp"].to_pylist(),
        _px(t["price"].to_numpy()),
        t["size"].to_pylist(),
        t["exchange"].to_pylist(),
        t["sequence_number"].to_pylist(),
        strict=True,
    ):
        yield _trade_msg(publisher_for(ex, "options", OPRA), iid, ts, px, size, seq)


def _trade_msg(publisher: int, instrument_id: int, ts: int, price: int, size: int, seq: int | None) -> object:
    """One DBN trade record (the SIP time stands for both event and receive time)."""
    return dbn.TradeMsg(
        publisher_id=publisher,
        instrument_id=instrument_id,
        ts_event=ts,
        price=price,
        size=size,
        action=dbn.Action.TRADE,
        side=dbn.Side.NONE,
        depth=0,
        ts_recv=ts,
        flags=dbn.F_LAST,
        sequence=seq or 0,
    )


def _quote_fields(t: pa.Table) -> Iterator[tuple]:
    bid = t["bid_price"].to_numpy()
    ask = t["ask_price"].to_numpy()
    return zip(
        t["ticker"].to_pylist(),
        t["sip_timestamp"].to_pylist(),
        _px(bid),
        _px(ask),
        t["bid_size"].to_pylist(),
        t["ask_size"].to_pylist(),
        t["bid_exchange"].to_pylist(),
        t["ask_exchange"].to_pylist(),
        strict=True,
    )


def _option_cmbp1(lake: Lake, uni: _Universe, day: dt.date, schema: str) -> Iterator[object]:
    t = _time_sorted(_read(lake, "option_quotes", day))
    for ticker, ts, bpx, apx, bsz, asz, bex, aex in _quote_fields(t):
        yield dbn.CMBP1Msg(
            rtype=dbn.RType.CMBP_1.value,
            publisher_id=publisher_for(bex, "options", OPRA),
            instrument_id=uni.option_ids[ticker],
            ts_event=ts,
            price=dbn.UNDEF_PRICE,
            size=0,
            action=dbn.Action.ADD,
            side=dbn.Side.NONE,
            ts_recv=ts,
            flags=dbn.F_LAST | dbn.F_TOB,
            levels=dbn.ConsolidatedBidAskPair(
                bid_px=bpx,
                ask_px=apx,
                bid_sz=bsz,
                ask_sz=asz,
                bid_pb=publisher_for(bex, "options", OPRA),
                ask_pb=publisher_for(aex, "options", OPRA),
            ),
        )


def sampled_quotes(quotes: pa.Table, interval_ns: int) -> pa.Table:
    """The last quote of each ticker in each interval (what ``cbbo-1s``/``cbbo-1m`` carry)."""
    if quotes.num_rows == 0:
        return quotes
    q = quotes.sort_by([("ticker", "ascending"), ("sip_timestamp", "ascending"), ("sequence_number", "ascending")])
    bucket = q["sip_timestamp"].to_numpy() // interval_ns
    tickers = q["ticker"].to_numpy(zero_copy_only=False)
    last = np.ones(len(bucket), dtype=bool)
    last[:-1] = (bucket[1:] != bucket[:-1]) | (tickers[1:] != tickers[:-1])
    return q.filter(pa.array(last))


def _option_cbbo(lake: Lake, uni: _Universe, day: dt.date, schema: str) -> Iterator[object]:
    interval = NS_PER_S if schema == "cbbo-1s" else 60 * NS_PER_S
    rtype = dbn.RType.CBBO_1S if schema == "cbbo-1s" else dbn.RType.CBBO_1M
    t = _time_sorted(sampled_quotes(_read(lake, "option_quotes", day), interval))
    for ticker, ts, bpx, apx, bsz, asz, bex, aex in _quote_fields(t):
        yield dbn.CBBOMsg(
            rtype=rtype.value,
            publisher_id=publisher_for(bex, "options", OPRA),
            instrument_id=uni.option_ids[ticker],
            ts_event=ts,
            price=dbn.UNDEF_PRICE,
            size=0,
            side=dbn.Side.NONE,
            ts_recv=ts,
            levels=dbn.ConsolidatedBidAskPair(
                bid_px=bpx,
                ask_px=apx,
                bid_sz=bsz,
                ask_sz=asz,
                bid_pb=publisher_for(bex, "options", OPRA),
                ask_pb=publisher_for(aex, "options", OPRA),
            ),
        )


def prevailing_quotes(trades: pa.Table, quotes: pa.Table) -> pa.Table:
    """For each trade, the last quote of its ticker strictly before it (``tcbbo``); trades without one
    are left out. Columns: the quote's, with ``sip_timestamp`` = the trade's time, plus trade price/size."""
    q = quotes.sort_by([("ticker", "ascending"), ("sip_timestamp", "ascending"), ("sequence_number", "ascending")])
    qt = q["ticker"].to_numpy(zero_copy_only=False)
    qts = q["sip_timestamp"].to_numpy()
    keep, rows, times, prices, sizes = [], [], [], [], []
    starts = {}
    for i, tk in enumerate(qt):
        starts.setdefault(tk, [i, i])[1] = i + 1
    for j, (tk, ts, px, sz) in enumerate(
        zip(
            trades["ticker"].to_pylist(),
            trades["sip_timestamp"].to_pylist(),
            trades["price"].to_pylist(),
            trades["size"].to_pylist(),
            strict=True,
        )
    ):
        lo, hi = starts.get(tk, (0, 0))
        k = lo + int(np.searchsorted(qts[lo:hi], ts, side="left")) - 1
        if k >= lo:
            keep.append(j)
            rows.append(k)
            times.append(ts)
            prices.append(px)
            sizes.append(sz)
    out = q.take(pa.array(rows, pa.int64()))
    out = out.set_column(out.schema.get_field_index("sip_timestamp"), "sip_timestamp", pa.array(times, pa.int64()))
    return out.append_column("trade_price", pa.array(prices, pa.float64())).append_column(
        "trade_size", pa.array(sizes, pa.int64())
    )


def _option_tcbbo(lake: Lake, uni: _Universe, day: dt.date, schema: str) -> Iterator[object]:
    t = _time_sorted(prevailing_quotes(_read(lake, "option_trades", day), _read(lake, "option_quotes", day)))
    extra = zip(_px(t["trade_price"].to_numpy()), t["trade_size"].to_pylist(), strict=True)
    for (ticker, ts, bpx, apx, bsz, asz, bex, aex), (px, size) in zip(_quote_fields(t), extra, strict=True):
        yield dbn.CMBP1Msg(
            rtype=dbn.RType.TCBBO.value,
            publisher_id=publisher_for(bex, "options", OPRA),
            instrument_id=uni.option_ids[ticker],
            ts_event=ts,
            price=px,
            size=size,
            action=dbn.Action.TRADE,
            side=dbn.Side.NONE,
            ts_recv=ts,
            flags=dbn.F_LAST,
            levels=dbn.ConsolidatedBidAskPair(
                bid_px=bpx,
                ask_px=apx,
                bid_sz=bsz,
                ask_sz=asz,
                bid_pb=publisher_for(bex, "options", OPRA),
                ask_pb=publisher_for(aex, "options", OPRA),
            ),
        )


def _option_statistics(lake: Lake, uni: _Universe, day: dt.date, schema: str) -> Iterator[object]:
    t = _read(lake, "option_open_interest", day).sort_by([("ticker", "ascending")])
    for ticker, oi, trading_date, reported in zip(
        t["ticker"].to_pylist(),
        t["open_interest"].to_pylist(),
        t["trading_date"].to_pylist(),
        t["reported_timestamp"].to_pylist(),
        strict=True,
    ):
        yield dbn.StatMsg(
            publisher_id=30,
            instrument_id=uni.option_ids[ticker],
            ts_event=reported,
            ts_recv=reported,
            ts_ref=et_midnight_ns(trading_date),
            price=dbn.UNDEF_PRICE,
            quantity=oi,
            stat_type=dbn.StatType.OPEN_INTEREST,
            update_action=dbn.StatUpdateAction.NEW,
        )


def _stock_definitions(lake: Lake, uni: _Universe, day: dt.date, schema: str) -> Iterator[object]:
    ts = et_ns(day, 4, 0) - 60 * NS_PER_S
    for ticker, iid in sorted(uni.stock_ids.items()):
        yield dbn.InstrumentDefMsg(
            publisher_id=66,
            instrument_id=iid,
            ts_event=ts,
            ts_recv=ts,
            min_price_increment=FIXED // 100,
            display_factor=FIXED,
            raw_symbol=ticker,
            asset=ticker,
            security_type="EQ",
            instrument_class=dbn.InstrumentClass.STOCK,
            security_update_action=dbn.SecurityUpdateAction.ADD,
            currency="USD",
        )


def _stock_publisher(exchange: int | None, trf_id: int | None) -> int:
    if exchange == 4 and trf_id is not None:
        mic = next((m for m, i in TRF_IDS.items() if i == trf_id), None)
        return {"FINN": 68, "FINY": 69, "FINC": 70}.get(mic or "", 68)
    return publisher_for(exchange, "stocks", EQUITIES)


def _stock_trades(lake: Lake, uni: _Universe, day: dt.date, schema: str) -> Iterator[object]:
    t = _time_sorted(_read(lake, "stock_trades", day))
    for ticker, ts, px, size, ex, trf, seq in zip(
        t["ticker"].to_pylist(),
        t["sip_timestamp"].to_pylist(),
        _px(t["price"].to_numpy()),
        t["size"].to_pylist(),
        t["exchange"].to_pylist(),
        t["trf_id"].to_pylist(),
        t["sequence_number"].to_pylist(),
        strict=True,
    ):
        yield _trade_msg(_stock_publisher(ex, trf), uni.stock_ids[ticker], ts, px, size, seq)


def _stock_mbp1(lake: Lake, uni: _Universe, day: dt.date, schema: str) -> Iterator[object]:
    t = _time_sorted(_read(lake, "stock_quotes", day))
    seqs = t["sequence_number"].to_pylist()
    for (ticker, ts, bpx, apx, bsz, asz, bex, _aex), seq in zip(_quote_fields(t), seqs, strict=True):
        yield dbn.MBP1Msg(
            publisher_id=publisher_for(bex, "stocks", EQUITIES),
            instrument_id=uni.stock_ids[ticker],
            ts_event=ts,
            price=dbn.UNDEF_PRICE,
            size=0,
            action=dbn.Action.ADD,
            side=dbn.Side.NONE,
            depth=0,
            ts_recv=ts,
            flags=dbn.F_LAST | dbn.F_TOB,
            sequence=seq or 0,
            levels=dbn.BidAskPair(bid_px=bpx, ask_px=apx, bid_sz=bsz, ask_sz=asz, bid_ct=1, ask_ct=1),
        )


def _stock_bbo(lake: Lake, uni: _Universe, day: dt.date, schema: str) -> Iterator[object]:
    t = _time_sorted(sampled_quotes(_read(lake, "stock_quotes", day), NS_PER_S))
    seqs = t["sequence_number"].to_pylist()
    for (ticker, ts, bpx, apx, bsz, asz, bex, _aex), seq in zip(_quote_fields(t), seqs, strict=True):
        yield dbn.BBOMsg(
            rtype=dbn.RType.BBO_1S.value,
            publisher_id=publisher_for(bex, "stocks", EQUITIES),
            instrument_id=uni.stock_ids[ticker],
            ts_event=ts,
            price=dbn.UNDEF_PRICE,
            size=0,
            side=dbn.Side.NONE,
            ts_recv=ts,
            sequence=seq or 0,
            levels=dbn.BidAskPair(bid_px=bpx, ask_px=apx, bid_sz=bsz, ask_sz=asz, bid_ct=1, ask_ct=1),
        )


_OPTION_MAKERS = {
    "definition": _option_definitions,
    "trades": _option_trades,
    "cmbp-1": _option_cmbp1,
    "cbbo-1s": _option_cbbo,
    "cbbo-1m": _option_cbbo,
    "tcbbo": _option_tcbbo,
    "statistics": _option_statistics,
}
_STOCK_MAKERS = {"definition": _stock_definitions, "trades": _stock_trades, "mbp-1": _stock_mbp1, "bbo-1s": _stock_bbo}
