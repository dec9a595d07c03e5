"""Reference data derived from ingested vendor files: the option contract universe and stock tickers.

Vendor tick and bar files carry no reference dataset, so the importer builds one:

* **Option contracts** come from Databento definition records when those were ingested (terms,
  multiplier, listing = ``activation`` or the first day a definition was published, delisting from
  ``D`` records). Every other option ticker seen in any ingested file is listed from its OCC symbol
  (root, expiration, type, strike) on the first day it was seen, with 100 shares per contract. The
  ``source`` column of each record names the file that established the listing.
* **Stock tickers** get a minimal record (name = ticker, market ``stocks``, active) from the first day
  they were seen.

Roots are kept as spelled. The underlying of a root is the root itself, except for the index roots in
:data:`INDEX_ROOTS`. A digit-bearing root (``NVDA1``) marks a non-standard deliverable that OCC
symbols cannot describe: such contracts stay under their own root as underlying and carry
``correction = 1``; load definitions to get their real deliverable.

Both datasets are event logs partitioned by effective day. Records written by other sources (for
example the built-in market) are kept untouched, and their tickers are not derived again. Rebuilding
is a pure function of the ingest book-keeping, so it is idempotent and independent of file order.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from ..market.occ import InvalidOptionSymbolError, parse_option_symbol
from ..store.ingest_state import Definition, IngestState, Sighting
from ..store.lake import Lake
from ..store.schemas import dataset

# Index option roots and the index they settle on (chains are requested by underlying).
INDEX_ROOTS: dict[str, str] = {
    "SPX": "I:SPX",
    "SPXW": "I:SPX",
    "NDX": "I:NDX",
    "NDXP": "I:NDX",
    "RUT": "I:RUT",
    "RUTW": "I:RUT",
    "VIX": "I:VIX",
    "VIXW": "I:VIX",
    "XSP": "I:XSP",
    "DJX": "I:DJX",
    "OEX": "I:OEX",
    "XEO": "I:OEX",
}

OWN_SOURCES = ("flatfiles:", "dbn:", "first-seen:", "definition:")
REFERENCE_SOURCE = "ingest:reference"


def underlying_of(ticker: str) -> str | None:
    """The underlying a ticker belongs to: the stock itself, or an option's underlying (None if malformed)."""
    if not ticker.startswith("O:"):
        return ticker
    try:
        root = parse_option_symbol(ticker).root
    except InvalidOptionSymbolError:
        return None
    return INDEX_ROOTS.get(root, root)


def underlying_names(ticker: str) -> set[str]:
    """Names a ``--underlying`` filter matches: the underlying, and for options also the root without
    trailing digits (so ``NVDA`` selects adjusted ``NVDA1`` contracts too)."""
    und = underlying_of(ticker)
    if und is None:
        return set()
    names = {und}
    if ticker.startswith("O:"):
        names.add(parse_option_symbol(ticker).root.rstrip("0123456789"))
    return names


def is_own(source: str | None) -> bool:
    return source is not None and source.startswith(OWN_SOURCES)


def contract_from_symbol(ticker: str, day: dt.date, source: str) -> dict | None:
    """A listing record for an OCC ticker first seen on ``day`` (None when the symbol is malformed)."""
    try:
        sym = parse_option_symbol(ticker)
    except InvalidOptionSymbolError:
        return None
    return {
        "ticker": sym.ticker,
        "action": "list",
        "underlying_ticker": INDEX_ROOTS.get(sym.root, sym.root),
        "root": sym.root,
        "contract_type": sym.contract_type,
        "exercise_style": "european" if sym.root in INDEX_ROOTS else "american",
        "expiration_date": sym.expiration,
        "strike_price": sym.strike,
        "shares_per_contract": 100,
        "primary_exchange": None,
        "cfi": None,
        "correction": 1 if sym.is_nonstandard else None,
        "additional_underlyings": None,
        "list_date": day,
        "source": source,
    }


def terms_record(ticker: str, terms: dict, action: str, list_date: dt.date, source: str) -> dict:
    """An ``option_contracts`` record from definition terms (see :func:`.dbn.definition_terms`)."""
    shares = int(terms["shares_per_contract"])
    extra = None
    if shares != 100:
        extra = [{"type": "equity", "underlying": terms["underlying"], "amount": float(shares)}]
    return {
        "ticker": ticker,
        "action": action,
        "underlying_ticker": terms["underlying"],
        "root": terms["root"],
        "contract_type": terms["contract_type"],
        "exercise_style": terms["exercise_style"],
        "expiration_date": dt.date.fromisoformat(terms["expiration_date"]),
        "strike_price": float(terms["strike_price"]),
        "shares_per_contract": shares,
        "primary_exchange": terms.get("primary_exchange"),
        "cfi": terms.get("cfi"),
        "correction": None,
        "additional_underlyings": extra,
        "list_date": list_date,
        "source": source,
    }


def ticker_record(ticker: str, source: str) -> dict:
    return {
        "ticker": ticker,
        "name": ticker,
        "market": "stocks",
        "locale": "us",
        "active": True,
        "source": source,
    }


@dataclass
class RebuildReport:
    written: int = 0
    deleted: int = 0
    records: int = 0


def rebuild_reference(lake: Lake, state: IngestState) -> dict[str, RebuildReport]:
    """Bring ``option_contracts`` and ``stock_tickers`` in line with what ingest has seen."""
    out = {}
    existing, foreign = _existing(lake, "option_contracts")
    out["option_contracts"] = _sync(
        lake, "option_contracts", existing, _contract_events(state, foreign.keys_by_ticker, foreign.rows)
    )
    existing, foreign = _existing(lake, "stock_tickers")
    out["stock_tickers"] = _sync(
        lake, "stock_tickers", existing, _ticker_events(state.sightings("stocks"), foreign.keys_by_ticker, foreign.rows)
    )
    return out


@dataclass
class _Foreign:
    rows: dict[dt.date, list[dict]]
    keys_by_ticker: set[str]


def _existing(lake: Lake, name: str) -> tuple[dict[dt.date, pa.Table], _Foreign]:
    parts = lake.snapshot().by_dataset.get(name, {})
    tables: dict[dt.date, pa.Table] = {}
    foreign = _Foreign(defaultdict(list), set())
    for day, part in parts.items():
        table = pa.concat_tables([pq.read_table(f, schema=dataset(name).schema) for f in part.files])
        tables[day] = table
        for row in table.to_pylist():
            if not is_own(row.get("source")):
                foreign.rows[day].append(row)
                foreign.keys_by_ticker.add(row["ticker"])
    return tables, foreign


def _contract_events(state: IngestState, foreign: set[str], foreign_rows: dict[dt.date, list[dict]]) -> dict:
    days: dict[dt.date, list[dict]] = defaultdict(list)
    for day, rows in foreign_rows.items():
        days[day].extend(rows)
    versions: dict[str, list[Definition]] = defaultdict(list)
    for d in state.definitions():
        if d.ticker not in foreign:
            versions[d.ticker].append(d)
    for ticker, vs in versions.items():
        vs.sort(key=lambda v: (v.first_day, v.source))
        first = vs[0]
        list_day = _list_day(first)
        days[list_day].append(terms_record(ticker, first.terms, "list", list_day, "definition:" + first.source))
        for v in vs[1:]:
            days[v.first_day].append(terms_record(ticker, v.terms, "list", list_day, "definition:" + v.source))
    for ticker, day, source in state.delistings():
        vs = versions.get(ticker)
        if not vs:
            continue
        in_force = [v for v in vs if v.first_day <= day] or vs[:1]
        days[day].append(terms_record(ticker, in_force[-1].terms, "delist", _list_day(vs[0]), "definition:" + source))
    for s in state.sightings("options"):
        if s.ticker in foreign or s.ticker in versions:
            continue
        row = contract_from_symbol(s.ticker, s.first_day, "first-seen:" + s.first_source)
        if row is not None:
            days[s.first_day].append(row)
    return days


def _list_day(first: Definition) -> dt.date:
    """Listing day: the definition's activation date, or the first day a definition was published."""
    activation = first.terms.get("activation")
    if activation is not None and dt.date.fromisoformat(activation) < first.first_day:
        return dt.date.fromisoformat(activation)
    return first.first_day


def _ticker_events(sightings: list[Sighting], foreign: set[str], foreign_rows: dict[dt.date, list[dict]]) -> dict:
    days: dict[dt.date, list[dict]] = defaultdict(list)
    for day, rows in foreign_rows.items():
        days[day].extend(rows)
    for s in sightings:
        if s.ticker not in foreign:
            days[s.first_day].append(ticker_record(s.ticker, "first-seen:" + s.first_source))
    return days


def _order(table: pa.Table) -> pa.Table:
    keys = [("ticker", "ascending")]
    if "action" in table.column_names:
        keys.append(("action", "descending"))  # "list" before "delist" on the same day
    keys.append(("source", "ascending"))
    return table.sort_by(keys)


def _sync(
    lake: Lake, name: str, existing: dict[dt.date, pa.Table], desired: dict[dt.date, list[dict]]
) -> RebuildReport:
    schema = dataset(name).schema
    report = RebuildReport()
    for day in sorted(set(existing) | set(desired)):
        rows = desired.get(day, [])
        report.records += len(rows)
        if not rows:
            old = existing[day]
            if old.num_rows and all(is_own(s) for s in old["source"].to_pylist()):
                lake.delete_partition(name, day)
                report.deleted += 1
            continue
        want = _order(pa.Table.from_pylist(rows, schema=schema))
        have = existing.get(day)
        if have is not None and _order(have).equals(want):
            continue
        lake.write_partition(name, day, want, source=REFERENCE_SOURCE, presorted=True)
        report.written += 1
    return report
