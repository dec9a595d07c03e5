"""Point-in-time reference data: option contracts, stock tickers, splits, rates, dividend yields.

Reference datasets are event logs. Folding them gives validity intervals: a record is in force from
its effective date until the next record of the same ticker (exclusive). Folds are cached until the
lake's manifest changes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..store.market import MarketStore
from .cache import TTLCache


def _fold(events: pa.Table) -> pa.Table:
    """Add ``valid_from``/``valid_to`` (exclusive, null = open) to each record; drop delisting rows."""
    if events.num_rows == 0:
        return events.append_column("valid_from", pa.array([], pa.date32())).append_column(
            "valid_to", pa.array([], pa.date32())
        )
    events = events.sort_by([("ticker", "ascending"), ("effective_date", "ascending")])
    tickers = events["ticker"].to_numpy(zero_copy_only=False)
    eff = events["effective_date"].to_numpy(zero_copy_only=False)
    nxt = np.empty(len(eff), dtype=object)
    nxt[:-1] = np.where(tickers[1:] == tickers[:-1], eff[1:], None)
    nxt[-1] = None
    table = events.append_column("valid_from", events["effective_date"]).append_column(
        "valid_to", pa.array(list(nxt), pa.date32())
    )
    if "action" in table.column_names:
        table = table.filter(pc.equal(table["action"], "list"))
    return table


def _valid_on(table: pa.Table, day: dt.date) -> pa.Array:
    d = pa.scalar(day, pa.date32())
    started = pc.less_equal(table["valid_from"], d)
    not_ended = pc.or_kleene(pc.is_null(table["valid_to"]), pc.greater(table["valid_to"], d))
    return pc.and_(started, not_ended)


@dataclass(frozen=True)
class ContractQuery:
    underlying: str | None = None
    underlying_range: tuple[str | None, str | None, bool, bool] | None = None  # (lo, hi, lo_incl, hi_incl)
    contract_type: str | None = None
    expiration_lo: dt.date | None = None
    expiration_hi: dt.date | None = None  # inclusive
    strike_lo: float | None = None
    strike_lo_inclusive: bool = True
    strike_hi: float | None = None
    strike_hi_inclusive: bool = True
    expired: bool | None = False  # False: unexpired on the day; True: only expired; None: both


class ReferenceData:
    """Cached point-in-time views of the reference datasets."""

    def __init__(self, store: MarketStore, cache: TTLCache) -> None:
        self.store = store
        self.cache = cache
        self._generations: dict[tuple, tuple] = {}  # (dataset, manifest generation) -> cache key part

    def _generation(self, name: str) -> tuple:
        snap = self.store.snapshot()
        hit = self._generations.get((name, snap.generation))
        if hit is None:
            parts = snap.by_dataset.get(name, {})
            hit = (name, len(parts), max((p.sha256 for p in parts.values()), default=""), snap.generation)
            if len(self._generations) > 64:
                self._generations.clear()
            self._generations[(name, snap.generation)] = hit
        return hit

    # -- option contracts --------------------------------------------------------------------------
    def contract_intervals(self) -> pa.Table:
        key = ("contracts", *self._generation("option_contracts"))
        return self.cache.get_or_compute(key, lambda: _fold(self.store.events("option_contracts")))

    def contracts_on(self, day: dt.date, query: ContractQuery) -> pa.Table:
        """Contracts listed on ``day`` that match ``query`` (unsorted; cached per generation)."""
        key = ("contracts_on", *self._generation("option_contracts"), day, query)
        return self.cache.get_or_compute(key, lambda: self._contracts_on(day, query))

    def contracts_on_sorted(self, day: dt.date, query: ContractQuery, sort: str, descending: bool) -> pa.Table:
        """``contracts_on`` sorted by (``sort``, ticker) in one direction (cached: pages of a listing share it)."""
        key = ("contracts_on_sorted", *self._generation("option_contracts"), day, query, sort, descending)

        def build() -> pa.Table:
            order = "descending" if descending else "ascending"
            keys = [(sort, order)] if sort == "ticker" else [(sort, order), ("ticker", order)]
            return self.contracts_on(day, query).sort_by(keys)

        return self.cache.get_or_compute(key, build)

    def _contracts_on(self, day: dt.date, query: ContractQuery) -> pa.Table:
        t = self.contract_intervals()
        if t.num_rows == 0:
            return t
        d = pa.scalar(day, pa.date32())
        listed = pc.and_(_valid_on(t, day), pc.greater_equal(t["expiration_date"], d))
        # Expired as of ``day``: expiration before it, with a listing in force on the expiration date.
        expired = pc.and_(
            pc.and_(pc.less(t["expiration_date"], d), pc.less_equal(t["valid_from"], t["expiration_date"])),
            pc.or_kleene(pc.is_null(t["valid_to"]), pc.greater(t["valid_to"], t["expiration_date"])),
        )
        mask = listed if query.expired is False else expired if query.expired is True else pc.or_(listed, expired)
        if query.underlying is not None:
            mask = pc.and_(mask, pc.equal(t["underlying_ticker"], query.underlying))
        if query.underlying_range is not None:
            lo, hi, lo_incl, hi_incl = query.underlying_range
            if lo is not None:
                mask = pc.and_(mask, (pc.greater_equal if lo_incl else pc.greater)(t["underlying_ticker"], lo))
            if hi is not None:
                mask = pc.and_(mask, (pc.less_equal if hi_incl else pc.less)(t["underlying_ticker"], hi))
        if query.contract_type is not None:
            mask = pc.and_(mask, pc.equal(t["contract_type"], query.contract_type))
        if query.expiration_lo is not None:
            mask = pc.and_(mask, pc.greater_equal(t["expiration_date"], pa.scalar(query.expiration_lo, pa.date32())))
        if query.expiration_hi is not None:
            mask = pc.and_(mask, pc.less_equal(t["expiration_date"], pa.scalar(query.expiration_hi, pa.date32())))
        if query.strike_lo is not None:
            op = pc.greater_equal if query.strike_lo_inclusive else pc.greater
            mask = pc.and_(
                mask,
                op(t["strike_price"], query.strike_lo - 1e-9 if query.strike_lo_inclusive else query.strike_lo + 1e-9),
            )
        if query.strike_hi is not None:
            op = pc.less_equal if query.strike_hi_inclusive else pc.less
            mask = pc.and_(
                mask,
                op(t["strike_price"], query.strike_hi + 1e-9 if query.strike_hi_inclusive else query.strike_hi - 1e-9),
            )
        return _latest_per_ticker(t.filter(mask))

    def _contract_rows(self, ticker: str) -> tuple[pa.Table, int, int]:
        """The fold sorted by (ticker, valid_from) and the row range of ``ticker``'s records in it."""
        key = ("contract_index", *self._generation("option_contracts"))

        def build() -> tuple[pa.Table, np.ndarray]:
            t = self.contract_intervals().sort_by([("ticker", "ascending"), ("valid_from", "ascending")])
            return t, t["ticker"].to_numpy(zero_copy_only=False)

        table, tickers = self.cache.get_or_compute(key, build)
        return table, int(np.searchsorted(tickers, ticker, "left")), int(np.searchsorted(tickers, ticker, "right"))

    def contract_records(self, ticker: str) -> list[dict]:
        """Every listing record of ``ticker``, oldest first."""
        table, lo, hi = self._contract_rows(ticker)
        return table.slice(lo, hi - lo).to_pylist() if hi > lo else []

    def contract(self, ticker: str, day: dt.date | None) -> dict | None:
        """The record of ``ticker`` in force on ``day``; with ``day=None`` its latest record."""
        records = self.contract_records(ticker)
        if day is None:
            return records[-1] if records else None
        for rec in records:
            if rec["valid_from"] <= day and (rec["valid_to"] is None or day < rec["valid_to"]):
                return rec
        return None

    def contract_known(self, ticker: str) -> bool:
        _, lo, hi = self._contract_rows(ticker)
        return hi > lo

    # -- stock tickers ---------------------------------------------------------------------------
    def ticker_intervals(self) -> pa.Table:
        key = ("tickers", *self._generation("stock_tickers"))
        return self.cache.get_or_compute(key, lambda: _fold(self.store.events("stock_tickers")))

    def tickers_on(self, day: dt.date) -> pa.Table:
        t = self.ticker_intervals()
        return t.filter(_valid_on(t, day)) if t.num_rows else t

    def ticker(self, symbol: str, day: dt.date | None) -> dict | None:
        """The record of ``symbol`` in force on ``day`` (with ``day=None`` any), the latest-starting one."""
        best: dict | None = None
        for rec in self._ticker_records(symbol):
            if day is not None and not (
                rec["valid_from"] <= day and (rec["valid_to"] is None or rec["valid_to"] > day)
            ):
                continue
            if best is None or rec["valid_from"] > best["valid_from"]:
                best = rec
        return dict(best) if best is not None else None

    def _ticker_records(self, symbol: str) -> list[dict]:
        """Every reference record of ``symbol`` in the fold's order (a per-ticker index built once per generation)."""
        key = ("ticker_index", *self._generation("stock_tickers"))

        def build() -> dict[str, list[dict]]:
            index: dict[str, list[dict]] = {}
            for rec in self.ticker_intervals().to_pylist():
                index.setdefault(rec["ticker"], []).append(rec)
            return index

        return self.cache.get_or_compute(key, build).get(symbol, [])

    def dividend_yield(self, symbol: str, day: dt.date) -> float:
        key = ("dividend_yield", symbol, day, *self._generation("stock_tickers"))

        def load() -> float:
            rec = self.ticker(symbol, day) or self.ticker(symbol, None)
            value = rec.get("dividend_yield") if rec else None
            return float(value) if value is not None else 0.0

        return self.cache.get_or_compute(key, load)

    # -- corporate actions and rates --------------------------------------------------------------
    def splits(self, symbol: str, executed_by: dt.date | None = None) -> list[tuple[dt.date, float, float]]:
        """(execution_date, split_from, split_to) of ``symbol``, oldest first; with ``executed_by`` only the
        splits executed on or before that day (a replay or an as-of answer never adjusts for a later one)."""
        key = ("split_index", *self._generation("corporate_actions"))

        def build() -> dict[str, list[tuple[dt.date, float, float]]]:
            table = self.store.events("corporate_actions")
            index: dict[str, list[tuple[dt.date, float, float]]] = {}
            if table.num_rows:
                table = table.filter(pc.equal(table["type"], "split"))
                for r in table.to_pylist():
                    index.setdefault(r["ticker"], []).append(
                        (r["execution_date"], float(r["split_from"]), float(r["split_to"]))
                    )
            return {ticker: sorted(found) for ticker, found in index.items()}

        out = self.cache.get_or_compute(key, build).get(symbol, [])
        return [x for x in out if executed_by is None or x[0] <= executed_by]

    def rate_curve(self, day: dt.date) -> tuple[np.ndarray, np.ndarray] | None:
        """(tenor_days, rates) of the latest curve published on or before ``day``."""
        latest = self.store.latest_partition_on_or_before("rates", day)
        if latest is None:
            return None
        key = ("rates", latest, *self._generation("rates"))

        def load() -> tuple[np.ndarray, np.ndarray]:
            t = self.store.partition_table("rates", latest).sort_by("tenor_days")
            return t["tenor_days"].to_numpy().astype(np.float64), t["rate"].to_numpy()

        return self.cache.get_or_compute(key, load)

    def risk_free_rates(self, day: dt.date, tenor_days: np.ndarray, default: float) -> np.ndarray:
        """Rates interpolated (flat beyond the ends) to each tenor in calendar days."""
        curve = self.rate_curve(day)
        if curve is None:
            return np.full(len(tenor_days), default, dtype=np.float64)
        tenors, rates = curve
        return np.interp(np.asarray(tenor_days, dtype=np.float64), tenors, rates)


def _latest_per_ticker(table: pa.Table) -> pa.Table:
    if table.num_rows == 0:
        return table
    table = table.sort_by([("ticker", "ascending"), ("valid_from", "descending")])
    tickers = table["ticker"].to_numpy(zero_copy_only=False)
    keep = np.ones(len(tickers), dtype=bool)
    keep[1:] = tickers[1:] != tickers[:-1]
    return table.filter(pa.array(keep))
