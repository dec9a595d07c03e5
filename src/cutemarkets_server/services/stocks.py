"""Stocks: point-in-time snapshots, movers, grouped daily bars and the ticker reference listing.

A snapshot describes one instant (the caller's horizon) and uses only rows before it:

* the *current session* is the latest XNYS session whose pre-market (04:00 ET) had begun;
* ``day`` is that session so far, built with the consolidated (daily) sale-condition rules, so
  pre-market and after-hours trades add volume but never set the open, high, low or close;
* ``prev_day`` is the newest stored daily bar before the current session, expressed in the current
  session's share terms (a split executed on or before the current session adjusts it);
* ``minute`` is the newest minute bar that had completed, with the volume its day had accumulated;
* ``last_trade`` / ``last_quote`` are the newest ticks, and the change is the last trade price
  against the previous close.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..market import conditions
from ..market.bars import trades_to_bars
from ..market.calendar import MarketCalendar
from ..market.splits import Split, price_factor
from ..market.timestamps import NS_PER_MIN, et_date, et_midnight_ns, et_ns
from ..store.market import MarketStore
from .cache import TTLCache
from .reference import ReferenceData

MOVERS_MIN_VOLUME = 10_000
MOVERS_COUNT = 20
DIRECTIONS = ("gainers", "losers")

# Polygon/Massive ticker type codes (``/v3/reference/tickers/types``): code, description, asset class.
TICKER_TYPES: tuple[tuple[str, str, str], ...] = (
    ("CS", "Common Stock", "stocks"),
    ("PFD", "Preferred Stock", "stocks"),
    ("WARRANT", "Warrant", "stocks"),
    ("RIGHT", "Rights", "stocks"),
    ("BOND", "Corporate Bond", "stocks"),
    ("ETF", "Exchange Traded Fund", "stocks"),
    ("ETN", "Exchange Traded Note", "stocks"),
    ("ETV", "Exchange Traded Vehicle", "stocks"),
    ("SP", "Structured Product", "stocks"),
    ("ADRC", "American Depository Receipt Common", "stocks"),
    ("ADRP", "American Depository Receipt Preferred", "stocks"),
    ("ADRW", "American Depository Receipt Warrants", "stocks"),
    ("ADRR", "American Depository Receipt Rights", "stocks"),
    ("FUND", "Fund", "stocks"),
    ("BASKET", "Basket", "stocks"),
    ("UNIT", "Unit", "stocks"),
    ("LT", "Liquidating Trust", "stocks"),
    ("OS", "Ordinary Shares", "stocks"),
    ("GDR", "Global Depository Receipts", "stocks"),
    ("OTHER", "Other Security Type", "stocks"),
    ("NYRS", "New York Registry Shares", "stocks"),
    ("AGEN", "Agency Bond", "stocks"),
    ("EQLK", "Equity Linked Bond", "stocks"),
    ("ETS", "Single-security ETF", "stocks"),
    ("INDEX", "Index", "indices"),
)
TICKER_SORTS = (
    "ticker",
    "name",
    "market",
    "locale",
    "primary_exchange",
    "type",
    "currency_name",
    "cik",
    "composite_figi",
    "share_class_figi",
    "last_updated_utc",
)


@dataclass
class StockSnapshot:
    """One ticker at one instant; ``None`` parts had no data before the instant."""

    ticker: str
    session: dt.date | None
    day: dict[str, Any] | None
    prev_day: dict[str, Any] | None
    minute: dict[str, Any] | None
    last_trade: dict[str, Any] | None
    last_quote: dict[str, Any] | None
    todays_change: float | None
    todays_change_perc: float | None
    updated: int | None
    otc: bool = False

    @property
    def day_volume(self) -> float:
        return float(self.day["volume"]) if self.day else 0.0


@dataclass(frozen=True)
class TickerQuery:
    """Filters of the ticker listing, all optional except the day and ``active``."""

    day: dt.date
    active: bool = True
    market: str | None = None
    type: str | None = None
    exchange: str | None = None
    search: str | None = None
    ticker_lo: str | None = None
    ticker_lo_inclusive: bool = True
    ticker_hi: str | None = None
    ticker_hi_inclusive: bool = True


def _by_ticker(table: pa.Table) -> dict[str, dict[str, Any]]:
    return {row["ticker"]: row for row in table.to_pylist()}


def _split_factor(splits: list[Split], after: dt.date, upto: dt.date) -> float:
    """Price factor that carries a value from day ``after`` into the share terms of day ``upto``."""
    return price_factor([s for s in splits if s.execution_date <= upto], after)


def aggregate_session(trades: pa.Table) -> dict[str, dict[str, Any]]:
    """Each ticker's daily bar so far from trades sorted by (ticker, time), with the consolidated rules.

    A ticker whose trades so far may only add volume (e.g. pre-market Form T trades) gets its volume,
    VWAP and trade count with ``None`` prices: it has no consolidated open yet.
    """
    if trades.num_rows == 0:
        return {}
    # Rows are sorted by ticker, so dictionary indices (in order of first appearance) never decrease.
    encoded = trades["ticker"].combine_chunks().dictionary_encode()
    names = np.asarray(encoded.dictionary.to_pylist(), dtype=object)
    key = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    ts = trades["sip_timestamp"].to_numpy()
    price = trades["price"].to_numpy()
    size = trades["size"].to_numpy().astype(np.float64)
    conds = trades["conditions"].combine_chunks()
    if conds.null_count:
        conds = pc.fill_null(conds, pa.scalar([], conds.type))
    offsets = conds.offsets.to_numpy()
    codes = conds.flatten().to_numpy(zero_copy_only=False)
    hl, oc, vol = conditions.update_masks("stocks", codes, offsets - offsets[0], intraday=False)
    bars = trades_to_bars(key, ts, price, size, hl, oc, vol, np.zeros(len(ts), dtype=np.int64))
    counted = np.where(vol, size, 0.0)
    volume = np.bincount(key, weights=counted, minlength=len(names))
    notional = np.bincount(key, weights=counted * price, minlength=len(names))
    count = np.bincount(key, weights=vol.astype(np.float64), minlength=len(names))
    out: dict[str, dict[str, Any]] = {}
    for k in np.flatnonzero(count > 0).tolist():
        out[str(names[k])] = {
            "open": None,
            "high": None,
            "low": None,
            "close": None,
            "volume": float(volume[k]),
            "vwap": float(notional[k] / volume[k]) if volume[k] > 0 else None,
            "transactions": int(count[k]),
        }
    for j in range(len(bars)):
        out[str(names[int(bars.key[j])])] = {
            "open": float(bars.open[j]),
            "high": float(bars.high[j]),
            "low": float(bars.low[j]),
            "close": float(bars.close[j]),
            "volume": float(bars.volume[j]),
            "vwap": float(bars.vwap[j]),
            "transactions": int(bars.transactions[j]),
        }
    return out


def _bar_dict(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "open": float(row["open"]),
        "high": float(row["high"]),
        "low": float(row["low"]),
        "close": float(row["close"]),
        "volume": float(row["volume"]),
        "vwap": float(row["vwap"]) if row.get("vwap") is not None else None,
        "transactions": int(row["transactions"]),
    }


def _scaled(bar: dict[str, Any], factor: float) -> dict[str, Any]:
    if factor == 1.0:
        return bar
    out = dict(bar)
    for k in ("open", "high", "low", "close", "vwap"):
        if out.get(k) is not None:
            out[k] = out[k] * factor
    out["volume"] = out["volume"] / factor
    return out


class StockMarket:
    """Multi-ticker stock answers over the lake (one query per part, never one per ticker)."""

    def __init__(self, store: MarketStore, reference: ReferenceData, calendar: MarketCalendar, cache: TTLCache) -> None:
        self.store = store
        self.reference = reference
        self.calendar = calendar
        self.cache = cache

    # -- universe ---------------------------------------------------------------------------------
    def traded_tickers(self) -> list[str]:
        """Tickers that have daily bars in the lake (cached until the manifest changes)."""
        key = ("stock_day_aggs_tickers", self.store.snapshot().generation)
        return self.cache.get_or_compute(key, lambda: self.store.distinct_tickers("stock_day_aggs"))

    def known(self, ticker: str) -> bool:
        """A ticker with a reference record or with bars in the lake."""
        return self.reference.ticker(ticker, None) is not None or ticker in set(self.traded_tickers())

    def otc_tickers(self, day: dt.date) -> set[str]:
        listed = self.reference.tickers_on(day)
        if listed.num_rows == 0:
            return set()
        return set(listed.filter(pc.equal(listed["market"], "otc"))["ticker"].to_pylist())

    def universe(self, day: dt.date, *, include_otc: bool) -> list[str]:
        """Tickers listed and active on ``day``, plus traded tickers the reference data does not know."""
        listed = self.reference.tickers_on(day)
        active = listed.filter(listed["active"]) if listed.num_rows else listed
        if not include_otc and active.num_rows:
            active = active.filter(pc.not_equal(active["market"], "otc"))
        names = set(active["ticker"].to_pylist()) if active.num_rows else set()
        everything = self.reference.ticker_intervals()
        referenced = set(everything["ticker"].to_pylist()) if everything.num_rows else set()
        names |= {t for t in self.traded_tickers() if t not in referenced}
        return sorted(names)

    # -- sessions -----------------------------------------------------------------------------------
    def session_at(self, at_ns: int) -> dt.date | None:
        """The latest session whose pre-market (04:00 ET) had begun by ``at_ns``."""
        day = self.calendar.session_on_or_before(et_date(at_ns))
        while day is not None and self.calendar.hours(day).premarket_open_ns > at_ns:
            day = self.calendar.previous_session(day)
        return day

    def session_bars(self, tickers: list[str] | None, day: dt.date, horizon_ns: int) -> dict[str, dict[str, Any]]:
        """Each ticker's daily bar of ``day`` from trades before ``horizon_ns`` (stored when complete)."""
        if et_midnight_ns(day + dt.timedelta(days=1)) <= horizon_ns + 1:
            return {
                r["ticker"]: _bar_dict(r) for r in self.store.day_bars_on("stock_day_aggs", day, tickers).to_pylist()
            }
        start = et_midnight_ns(day)
        if start > horizon_ns:
            return {}
        wanted = tickers if tickers is not None else self.universe(day, include_otc=True)
        return aggregate_session(self.store.ticks_between("stock_trades", wanted, start, horizon_ns + 1))

    # -- snapshots -------------------------------------------------------------------------------------
    def snapshots(self, tickers: list[str], horizon_ns: int, *, include_quotes: bool) -> list[StockSnapshot]:
        """Snapshots of ``tickers`` (in that order) at ``horizon_ns``; tickers without any data are left out."""
        if not tickers:
            return []
        before = horizon_ns + 1
        session = self.session_at(horizon_ns)
        trades = _by_ticker(self.store.last_ticks("stock_trades", tickers, before))
        quotes = _by_ticker(self.store.last_ticks("stock_quotes", tickers, before)) if include_quotes else {}
        minutes = _by_ticker(self.store.last_minute_bars("stock_minute_aggs", tickers, before - NS_PER_MIN))
        for m in minutes.values():
            m["session"] = self.calendar.session_label(int(m["window_start"]))
        days: dict[str, dict[str, Any]] = {}
        prev: dict[str, dict[str, Any]] = {}
        if session is not None:
            days = self.session_bars(tickers, session, horizon_ns)
            prev = _by_ticker(self.store.last_bars("stock_day_aggs", tickers, session))
        otc = self.otc_tickers(session or et_date(horizon_ns))
        out: list[StockSnapshot] = []
        for t in tickers:
            tr, q, m, d, p = trades.get(t), quotes.get(t), minutes.get(t), days.get(t), prev.get(t)
            if tr is None and m is None and p is None and d is None:
                continue
            splits = [Split(*s) for s in self.reference.splits(t)] if session is not None else []
            prev_day = None
            if p is not None and session is not None:
                p_day = et_date(int(p["window_start"]))
                prev_day = {**_scaled(_bar_dict(p), _split_factor(splits, p_day, session)), "day": p_day}
            day = None
            if d is not None and session is not None:
                day = dict(d)
                if tr is not None and int(tr["sip_timestamp"]) >= et_midnight_ns(session):
                    day["last_updated"] = int(tr["sip_timestamp"])
            change = perc = None
            if tr is not None and prev_day is not None and session is not None and prev_day["close"] > 0:
                price = float(tr["price"]) * _split_factor(splits, et_date(int(tr["sip_timestamp"])), session)
                change = price - prev_day["close"]
                perc = change / prev_day["close"] * 100.0
            stamps = [int(x["sip_timestamp"]) for x in (tr, q) if x is not None]
            out.append(
                StockSnapshot(
                    ticker=t,
                    session=session,
                    day=day,
                    prev_day=prev_day,
                    minute=m,
                    last_trade=tr,
                    last_quote=q,
                    todays_change=change,
                    todays_change_perc=perc,
                    updated=max(stamps) if stamps else None,
                    otc=t in otc,
                )
            )
        return out

    def movers(
        self, direction: str, horizon_ns: int, *, include_quotes: bool, include_otc: bool, limit: int = MOVERS_COUNT
    ) -> list[StockSnapshot]:
        """Top ``limit`` tickers by percent change from the previous close (gainers up, losers down),
        among tickers whose session volume so far is at least ``MOVERS_MIN_VOLUME``."""
        session = self.session_at(horizon_ns)
        if session is None:
            return []
        snaps = self.snapshots(
            self.universe(session, include_otc=include_otc), horizon_ns, include_quotes=include_quotes
        )
        eligible = [s for s in snaps if s.todays_change_perc is not None and s.day_volume >= MOVERS_MIN_VOLUME]
        if direction == "gainers":
            chosen = sorted(
                (s for s in eligible if s.todays_change_perc > 0), key=lambda s: (-s.todays_change_perc, s.ticker)
            )
        else:
            chosen = sorted(
                (s for s in eligible if s.todays_change_perc < 0), key=lambda s: (s.todays_change_perc, s.ticker)
            )
        return chosen[:limit]

    # -- grouped daily ---------------------------------------------------------------------------------
    def grouped_daily(
        self, day: dt.date, *, adjusted: bool, include_otc: bool, horizon_ns: int
    ) -> list[dict[str, Any]]:
        """Every ticker's daily bar of ``day`` (as far as ``horizon_ns`` allows), sorted by ticker.

        Rows carry ``ticker``, the bar fields and ``otc``; ``adjusted`` applies every known split after ``day``.
        """
        if not self.calendar.is_session(day) or et_midnight_ns(day) > horizon_ns:
            return []
        bars = self.session_bars(None, day, horizon_ns)
        otc = self.otc_tickers(day)
        rows = []
        for t in sorted(bars):
            if (t in otc and not include_otc) or bars[t]["open"] is None:
                continue
            bar = bars[t]
            if adjusted:
                executed = self.reference.splits(t, et_date(horizon_ns))
                bar = _scaled(bar, price_factor([Split(*s) for s in executed], day))
            rows.append({"ticker": t, **bar, "otc": t in otc})
        return rows

    @staticmethod
    def close_stamp_ms(day: dt.date) -> int:
        """16:00 ET of ``day`` in ms: the stamp of grouped daily and previous-day bars."""
        return et_ns(day, 16) // 1_000_000

    # -- reference ---------------------------------------------------------------------------------------
    def tickers(
        self, query: TickerQuery, *, sort: str, descending: bool, limit: int, after: list | None
    ) -> tuple[list[dict[str, Any]], list | None]:
        """One page of ticker records matching ``query``, ordered by (``sort``, ticker), continuing after
        the keyset ``after``; returns the page and the keyset of its last row when more rows follow."""
        table = self.reference.tickers_on(query.day)
        rows = [r for r in table.to_pylist() if _matches(r, query)] if table.num_rows else []
        for r in rows:
            r["last_updated_utc"] = _utc_text(et_midnight_ns(r["valid_from"]))

        def key(r: dict[str, Any]) -> tuple[str, str]:
            v = r.get(sort)
            return ("" if v is None else str(v), r["ticker"])

        rows.sort(key=key, reverse=descending)
        if after is not None:
            mark = (str(after[0]), str(after[1]))
            rows = [r for r in rows if (key(r) < mark if descending else key(r) > mark)]
        page = rows[:limit]
        more = len(rows) > limit
        return page, (list(key(page[-1])) if more and page else None)

    def ticker_details(self, symbol: str, day: dt.date, horizon_ns: int) -> dict[str, Any] | None:
        """The record of ``symbol`` in force on ``day`` with its market cap from the latest close by then."""
        rec = self.reference.ticker(symbol, day)
        if rec is None:
            return None
        rec = dict(rec)
        rec["last_updated_utc"] = _utc_text(et_midnight_ns(rec["valid_from"]))
        shares = rec.get("weighted_shares_outstanding") or rec.get("share_class_shares_outstanding")
        horizon_day = et_date(horizon_ns)
        before = min(day + dt.timedelta(days=1), horizon_day)
        last = self.store.last_bars("stock_day_aggs", [symbol], before).to_pylist()
        if shares and last:
            bar_day = et_date(int(last[0]["window_start"]))
            splits = [Split(*s) for s in self.reference.splits(symbol)]
            rec["market_cap"] = float(shares) * float(last[0]["close"]) * _split_factor(splits, bar_day, day)
        return rec

    def related(self, symbol: str, day: dt.date) -> list[dict[str, Any]] | None:
        """Related tickers of ``symbol`` (name and type when the reference data knows them); None when unknown."""
        rec = self.reference.ticker(symbol, day) or self.reference.ticker(symbol, None)
        if rec is None:
            return None
        out = []
        for other in rec.get("related") or []:
            known = self.reference.ticker(other, day)
            row: dict[str, Any] = {"ticker": other}
            if known is not None:
                row["name"] = known["name"]
                if known.get("type"):
                    row["type"] = known["type"]
            out.append(row)
        return out

    @staticmethod
    def ticker_types(asset_class: str | None, locale: str | None) -> list[dict[str, str]]:
        return [
            {"code": code, "description": desc, "asset_class": cls, "locale": "us"}
            for code, desc, cls in TICKER_TYPES
            if (asset_class is None or asset_class == cls) and (locale is None or locale == "us")
        ]


def _matches(r: dict[str, Any], q: TickerQuery) -> bool:
    if bool(r["active"]) != q.active:
        return False
    if q.market is not None and r["market"] != q.market:
        return False
    if q.type is not None and (r.get("type") or "").upper() != q.type:
        return False
    if q.exchange is not None and (r.get("primary_exchange") or "").upper() != q.exchange:
        return False
    if q.search and q.search not in r["ticker"].upper() and q.search not in (r.get("name") or "").upper():
        return False
    t = r["ticker"]
    if q.ticker_lo is not None and (t < q.ticker_lo or (t == q.ticker_lo and not q.ticker_lo_inclusive)):
        return False
    return not (q.ticker_hi is not None and (t > q.ticker_hi or (t == q.ticker_hi and not q.ticker_hi_inclusive)))


def _utc_text(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns // 1_000_000_000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


SESSION_LABELS = (None, "premarket", "regular", "after_hours")


def window_sessions(calendar: MarketCalendar, starts_ns: np.ndarray, width_ns: int) -> np.ndarray:
    """The session of each window [start, start + width) that lies inside one, as an index into
    ``SESSION_LABELS`` (``premarket``/``regular``/``after_hours``); 0 for windows that straddle a session
    boundary or lie outside one."""
    starts = np.asarray(starts_ns, dtype=np.int64)
    if len(starts) == 0:
        return np.zeros(0, dtype=np.int8)
    ends = starts + width_ns - 1
    # The sessions' bounds in time order: premarket open, open, close, after-hours close, then the next
    # session's. The number of bounds at or before an instant, modulo 4, is its label's index.
    first, last = et_date(int(starts.min())), et_date(int(ends.max()))
    flat = calendar.session_bounds(first, last).ravel()

    def labels(ns: np.ndarray) -> np.ndarray:
        """0 outside a session, 1 premarket, 2 regular, 3 after hours."""
        return (np.searchsorted(flat, ns, side="right") % 4).astype(np.int8)

    first_label = labels(starts)
    return np.where(first_label == labels(ends), first_label, 0).astype(np.int8)
