"""Option contract snapshots (chain rows and single contracts) at a point in time.

Every field comes only from rows knowable before ``PointInTime.before_ns``: the last NBBO quote and
trade, the session's bar so far, the previous close, open interest reported before the instant and
the underlying's NBBO mid. Implied volatility and greeks are Black-Scholes-Merton values solved at
the instant of the contract's last quote from its mid and the underlying's mid at that same instant,
with the risk-free curve interpolated to the expiry and the underlying's dividend yield. ``fmv`` is
the model value from a smoothed smile: total implied variance fitted per expiry as a weighted
quadratic in log-moneyness.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..market.bars import trades_to_bars
from ..market.calendar import MarketCalendar
from ..market.conditions import update_masks
from ..market.greeks import bsm_price, iv_and_greeks
from ..market.timestamps import NS_PER_DAY, et_date, et_midnight_ns, et_ns
from ..store.market import MarketStore
from .cache import TTLCache
from .pointintime import PointInTime
from .reference import ReferenceData

YEAR_NS = 365 * NS_PER_DAY


@dataclass(frozen=True)
class SnapshotOptions:
    include_quotes: bool
    timeframe: str
    default_rate: float
    with_fmv: bool = True


def _by_ticker(table: pa.Table) -> dict[str, dict[str, Any]]:
    return {row["ticker"]: row for row in table.to_pylist()}


def _num(x: float) -> float | int:
    """JSON-friendly number: integral floats become ints (e.g. strikes, volumes)."""
    if x is None:
        return x
    f = float(x)
    return int(f) if f.is_integer() and abs(f) < 2**53 else f


@dataclass(frozen=True)
class _Facts:
    """What snapshot rows say about a set of contracts at one instant, by ticker (and spot by underlying)."""

    quotes: dict[str, dict[str, Any]]
    trades: dict[str, dict[str, Any]]
    oi: dict[str, dict[str, Any]]
    bars: dict[str, dict]
    prev_close: dict[str, float]
    spot: dict[str, tuple[float, int | None]]
    analytics: dict[str, dict[str, Any]]


# Listings (a chain at one instant) whose facts are kept for their next pages (tens of MB each).
LISTING_FACTS_CACHED = 2


class OptionSnapshots:
    def __init__(self, store: MarketStore, reference: ReferenceData, calendar: MarketCalendar) -> None:
        self.store = store
        self.reference = reference
        self.calendar = calendar
        self._expiry_cache: dict[dt.date, int] = {}
        self._listing_facts = TTLCache(maxsize=LISTING_FACTS_CACHED, ttl_s=600.0)

    # -- helpers ----------------------------------------------------------------------------------
    def expiration_ns(self, day: dt.date) -> int:
        """Contracts stop trading at the session close of their expiration day."""
        found = self._expiry_cache.get(day)
        if found is None:
            found = self.calendar.hours(day).close_ns if self.calendar.is_session(day) else et_ns(day, 16)
            self._expiry_cache[day] = found
        return found

    def session_day(self, at_ns: int) -> dt.date | None:
        """The latest session that had opened by ``at_ns``."""
        day = self.calendar.session_on_or_before(et_date(at_ns))
        while day is not None and self.calendar.hours(day).open_ns > at_ns:
            day = self.calendar.previous_session(day)
        return day

    def underlying_mids(self, underlying: str, times: np.ndarray) -> np.ndarray:
        """The underlying's NBBO mid at or before each instant (its last trade where no quote exists).

        A day's quote series is loaded once and kept in the cache for as long as its partition is current.
        """
        out = np.full(len(times), np.nan)
        if len(times) == 0:
            return out
        first = et_date(int(times.min()))
        if first == et_date(int(times.max())):
            days = np.full(len(times), first, dtype=object)
        else:
            days = np.array([et_date(int(t)) for t in times], dtype=object)
        for day in set(days.tolist()):
            sel = days == day
            ts, mid = self._mid_series(underlying, day)
            if len(ts):
                idx = np.searchsorted(ts, times[sel], side="right") - 1
                vals = np.where(idx >= 0, mid[np.maximum(idx, 0)], np.nan)
                out[sel] = vals
        for j in np.flatnonzero(np.isnan(out)):
            out[j], _ = self.underlying_now(underlying, int(times[j]) + 1)
        return out

    def _mid_series(self, underlying: str, day: dt.date) -> tuple[np.ndarray, np.ndarray]:
        part = self.store.snapshot().partition("stock_quotes", day)
        if part is None:
            return np.empty(0, dtype=np.int64), np.empty(0)

        def build() -> tuple[np.ndarray, np.ndarray]:
            table = self.store.quote_series(underlying, day)
            bid = table["bid_price"].to_numpy()
            ask = table["ask_price"].to_numpy()
            mid = np.where((bid > 0) & (ask > 0), (bid + ask) / 2.0, np.nan)
            return table["sip_timestamp"].to_numpy(), mid

        return self.reference.cache.get_or_compute(("mid_series", underlying, day, part.sha256), build)

    def underlying_now(self, underlying: str, before_ns: int) -> tuple[float, int | None]:
        q = self.store.last_tick("stock_quotes", underlying, before_ns)
        if q and q["bid_price"] > 0 and q["ask_price"] > 0:
            return (q["bid_price"] + q["ask_price"]) / 2.0, int(q["sip_timestamp"])
        t = self.store.last_tick("stock_trades", underlying, before_ns)
        if t:
            return float(t["price"]), int(t["sip_timestamp"])
        return float("nan"), None

    def day_bars(self, tickers: list[str], pit: PointInTime) -> tuple[dict[str, dict], dict[str, float]]:
        """(bar of the current session so far per ticker, previous close per ticker)."""
        session = self.session_day(pit.at_ns)
        if session is None:
            return {}, {}
        hours = self.calendar.hours(session)
        bars: dict[str, dict] = {}
        if hours.close_ns <= pit.at_ns:
            for row in self.store.day_bars_on("option_day_aggs", session, tickers).to_pylist():
                row["last_updated"] = hours.close_ns
                bars[row["ticker"]] = row
        else:
            trades = self.store.ticks_between("option_trades", tickers, et_midnight_ns(session), pit.before_ns)
            bars = _aggregate_day(trades)
        prev = self.store.last_bars("option_day_aggs", tickers, session)
        prev_close = {r["ticker"]: float(r["close"]) for r in prev.to_pylist()}
        return bars, prev_close

    # -- the snapshot ------------------------------------------------------------------------------
    def build(
        self,
        contracts: list[dict[str, Any]],
        pit: PointInTime,
        opts: SnapshotOptions,
        *,
        listing: pa.Table | None = None,
        listing_key: Hashable | None = None,
    ) -> list[dict[str, Any]]:
        """Snapshots for ``contracts`` (reference rows), all described at the same point in time.

        A client paging through a chain passes the whole ``listing`` the pages come from (and a key naming
        it): its facts are then gathered once for every listed contract and kept, so each later page of the
        same listing at the same instant costs only its own rows."""
        if not contracts:
            return []
        facts: _Facts | None = None
        if listing is not None and listing_key is not None:
            key = (
                self.store.snapshot().generation, listing_key, pit.before_ns, pit.at_ns, pit.day,
                opts.default_rate, opts.with_fmv,
            )  # fmt: skip
            facts = self._listing_facts.get_or_compute(key, lambda: self._facts(listing.to_pylist(), pit, opts))
            if any(c["ticker"] not in facts.analytics for c in contracts):
                facts = None
        if facts is None:
            facts = self._facts(contracts, pit, opts)
        return [self._row(c, facts, opts) for c in contracts]

    def _facts(self, contracts: list[dict[str, Any]], pit: PointInTime, opts: SnapshotOptions) -> _Facts:
        """Everything a snapshot row says about each of ``contracts``, read and solved for all of them at once."""
        tickers = [c["ticker"] for c in contracts]
        quotes = _by_ticker(self.store.last_ticks("option_quotes", tickers, pit.before_ns))
        trades = _by_ticker(self.store.last_ticks("option_trades", tickers, pit.before_ns))
        oi = _by_ticker(self.store.open_interest_before(tickers, pit.before_ns))
        bars, prev_close = self.day_bars(tickers, pit)
        spot = {u: self.underlying_now(u, pit.before_ns) for u in {c["underlying_ticker"] for c in contracts}}
        analytics = self._analytics(contracts, quotes, pit, opts, spot)
        by_ticker = {c["ticker"]: a for c, a in zip(contracts, analytics, strict=True)}
        return _Facts(quotes, trades, oi, bars, prev_close, spot, by_ticker)

    def _row(self, c: dict[str, Any], facts: _Facts, opts: SnapshotOptions) -> dict[str, Any]:
        quotes, trades, oi, bars, prev_close, spot = (
            facts.quotes,
            facts.trades,
            facts.oi,
            facts.bars,
            facts.prev_close,
            facts.spot,
        )
        a = facts.analytics[c["ticker"]]
        t = c["ticker"]
        q, tr = quotes.get(t), trades.get(t)
        s_price, s_time = spot[c["underlying_ticker"]]
        premium = None
        if q is not None and q["ask_price"] > 0:
            premium = (q["bid_price"] + q["ask_price"]) / 2.0
        elif tr is not None:
            premium = float(tr["price"])
        strike = float(c["strike_price"])
        row: dict[str, Any] = {}
        if premium is not None:
            be = strike + premium if c["contract_type"] == "call" else strike - premium
            row["break_even_price"] = _num(round(be, 6))
        row["day"] = _day_object(bars.get(t), prev_close.get(t))
        row["details"] = {
            "contract_type": c["contract_type"],
            "exercise_style": c["exercise_style"],
            "expiration_date": c["expiration_date"].isoformat(),
            "shares_per_contract": int(c["shares_per_contract"]),
            "strike_price": _num(strike),
            "ticker": t,
        }
        if "greeks" in a:
            row["greeks"] = a["greeks"]
            row["implied_volatility"] = a["iv"]
        if opts.include_quotes and q is not None:
            row["last_quote"] = _quote_object(q, opts.timeframe)
        if tr is not None:
            row["last_trade"] = {
                "sip_timestamp": int(tr["sip_timestamp"]),
                "conditions": [int(x) for x in (tr["conditions"] or [])],
                "price": _num(tr["price"]),
                "size": int(tr["size"]),
                "exchange": None if tr["exchange"] is None else int(tr["exchange"]),
                "timeframe": opts.timeframe,
            }
        if t in oi:
            row["open_interest"] = int(oi[t]["open_interest"])
        if np.isfinite(s_price):
            ua: dict[str, Any] = {"ticker": c["underlying_ticker"], "price": _num(round(s_price, 6))}
            if "break_even_price" in row:
                ua["change_to_break_even"] = _num(round(row["break_even_price"] - s_price, 6))
            ua["last_updated"] = s_time
            ua["timeframe"] = opts.timeframe
            row["underlying_asset"] = ua
        if "fmv" in a:
            row["fmv"] = a["fmv"]
            row["fmv_last_updated"] = a["fmv_last_updated"]
        return {k: v for k, v in row.items() if v is not None}

    def _smile(
        self,
        key: tuple[str, dt.date],
        page: list[dict[str, Any]],
        pit: PointInTime,
        opts: SnapshotOptions,
        known: dict[str, dict],
        asked: set[str],
    ) -> tuple[np.ndarray | None, int | None]:
        """The smile fitted to every standard contract of one (underlying, expiry) listed on the day, and the
        newest quote it used. It does not depend on the page asking, so it is computed once per instant and
        generation: paging through a chain at one ``as_of`` fits each expiry once."""
        from .reference import ContractQuery

        und, exp = key
        listed = self.reference.contracts_on(
            pit.day, ContractQuery(underlying=und, expiration_lo=exp, expiration_hi=exp, expired=None)
        )
        names = set(listed["ticker"].to_pylist())
        # A page contract not listed that day (rare) joins the fit, and keys the cache entry.
        extra = sorted(
            (
                c
                for c in page
                if c["underlying_ticker"] == und
                and c["expiration_date"] == exp
                and c["ticker"] not in names
                and int(c["shares_per_contract"]) == 100
            ),
            key=lambda c: c["ticker"],
        )
        ck = (
            "smile", self.store.snapshot().generation, und, exp, pit.before_ns, pit.at_ns, opts.default_rate,
            tuple(c["ticker"] for c in extra),
        )  # fmt: skip

        def fit() -> tuple[np.ndarray | None, int | None]:
            rows = [p for p in listed.to_pylist() if int(p["shares_per_contract"]) == 100] + extra
            rows.sort(key=lambda c: c["ticker"])
            # Quotes the caller already read are reused; only the rest of the expiry is read here.
            missing = [c["ticker"] for c in rows if c["ticker"] not in asked]
            quotes = {t: known[t] for t in (c["ticker"] for c in rows) if t in asked and t in known}
            if missing:
                quotes |= _by_ticker(self.store.last_ticks("option_quotes", missing, pit.before_ns))
            live = [c for c in rows if _quotable(quotes.get(c["ticker"])) and self.expiration_ns(exp) > pit.at_ns]
            if not live:
                return None, None
            updated = max(int(quotes[c["ticker"]]["sip_timestamp"]) for c in live)
            if len(live) < 3:
                return None, updated
            solved = self._solve(live, quotes, pit, opts)
            members = np.arange(len(live), dtype=np.int64)
            return _smile_fit(solved, members, quotes, [c["ticker"] for c in live]), updated

        return self.reference.cache.get_or_compute(ck, fit)

    def _analytics(
        self,
        contracts: list[dict[str, Any]],
        quotes: dict[str, dict],
        pit: PointInTime,
        opts: SnapshotOptions,
        spot_now: dict[str, tuple[float, int | None]],
    ) -> list[dict[str, Any]]:
        """Per page contract: IV and greeks (when solvable) and the FMV from the smoothed smile."""
        result: list[dict[str, Any]] = [{} for _ in contracts]
        live = [
            c
            for c in contracts
            if _quotable(quotes.get(c["ticker"])) and self.expiration_ns(c["expiration_date"]) > pit.at_ns
        ]
        if live:
            solved = self._solve(live, quotes, pit, opts)
            index = {c["ticker"]: j for j, c in enumerate(live)}
            for i, c in enumerate(contracts):
                j = index.get(c["ticker"])
                if j is not None and solved.ok[j]:
                    result[i]["iv"] = float(solved.iv[j])
                    result[i]["greeks"] = {
                        "delta": float(solved.delta[j]),
                        "gamma": float(solved.gamma[j]),
                        "theta": float(solved.theta[j]),
                        "vega": float(solved.vega[j]),
                    }
        if opts.with_fmv:
            self._fmv(contracts, quotes, pit, opts, spot_now, result)
        return result

    def _solve(
        self, rows: list[dict[str, Any]], quotes: dict[str, dict], pit: PointInTime, opts: SnapshotOptions
    ) -> Solved:
        """IV and greeks of each row at the instant of its last quote."""
        qs = [quotes[c["ticker"]] for c in rows]
        times = np.array([q["sip_timestamp"] for q in qs], dtype=np.int64)
        mids = np.array([(q["bid_price"] + q["ask_price"]) / 2.0 for q in qs])
        strikes = np.array([float(c["strike_price"]) for c in rows])
        is_call = np.array([c["contract_type"] == "call" for c in rows])
        factor = np.array([_deliverable_factor(c) for c in rows])
        expiry = np.array([self.expiration_ns(c["expiration_date"]) for c in rows], dtype=np.int64)
        underlyings = np.array([c["underlying_ticker"] for c in rows])
        spot = np.full(len(rows), np.nan)
        q_yield = np.zeros(len(rows))
        for und in set(underlyings.tolist()):
            sel = underlyings == und
            spot[sel] = self.underlying_mids(und, times[sel])
            q_yield[sel] = self.reference.dividend_yield(und, pit.day)
        t_years = (expiry - times) / YEAR_NS
        rate = self.reference.risk_free_rates(pit.day, np.maximum(t_years, 0) * 365.0, opts.default_rate)
        res = iv_and_greeks(mids, spot * factor, strikes, t_years, rate, q_yield, is_call)
        ok = np.asarray(res.ok) & np.isfinite(spot)
        return Solved(
            ok, res.iv, res.delta, res.gamma, res.theta, res.vega, spot * factor, t_years, rate, q_yield, strikes
        )

    def _fmv(
        self,
        contracts: list[dict[str, Any]],
        quotes: dict[str, dict],
        pit: PointInTime,
        opts: SnapshotOptions,
        spot_now: dict[str, tuple[float, int | None]],
        result: list[dict[str, Any]],
    ) -> None:
        """The model value of each page contract from its expiry's smile (total variance fitted as a weighted
        quadratic in log-moneyness), priced in one vectorised call."""
        keys = {(c["underlying_ticker"], c["expiration_date"]) for c in contracts}
        asked = {c["ticker"] for c in contracts}
        smiles = {key: self._smile(key, contracts, pit, opts, quotes, asked) for key in keys}
        terms: dict[tuple[str, dt.date], tuple[float, float, float]] = {}
        for key, (fit, _) in smiles.items():
            if fit is None:
                continue
            t_now = (self.expiration_ns(key[1]) - pit.at_ns) / YEAR_NS
            rate = float(
                self.reference.risk_free_rates(pit.day, np.array([max(t_now, 0) * 365.0]), opts.default_rate)[0]
            )
            terms[key] = (t_now, rate, self.reference.dividend_yield(key[0], pit.day))
        todo: list[int] = []
        inputs: list[tuple[float, float, float, float, float, bool]] = []
        coefs: list[np.ndarray] = []
        for i, c in enumerate(contracts):
            key = (c["underlying_ticker"], c["expiration_date"])
            fit = smiles[key][0]
            s_now, _ = spot_now[c["underlying_ticker"]]
            if fit is None or not np.isfinite(s_now):
                continue
            t_now, rate, q_yield = terms[key]
            if t_now <= 0:
                continue
            todo.append(i)
            coefs.append(fit)
            s_eff = s_now * _deliverable_factor(c)
            inputs.append((s_eff, float(c["strike_price"]), t_now, rate, q_yield, c["contract_type"] == "call"))
        if not todo:
            return
        s_, k_, t_, r_, q_, call = (np.array(col) for col in zip(*inputs, strict=True))
        # Each contract's fitted polynomial at its log-moneyness, by Horner's rule like ``np.polyval`` (a
        # degree-1 fit has a leading zero, which leaves the result bit for bit the same).
        abc = np.array([np.concatenate((np.zeros(3 - len(f)), f)) for f in coefs])
        a, b, c_ = abc[:, 0], abc[:, 1], abc[:, 2]
        x = np.log(k_ / (s_ * np.exp((r_ - q_) * t_)))
        var = (a * x + b) * x + c_
        good = np.isfinite(var) & (var > 0)
        todo = [i for i, g in zip(todo, good.tolist(), strict=True) if g]
        if not todo:
            return
        s_, k_, t_, r_, q_, call = s_[good], k_[good], t_[good], r_[good], q_[good], call[good]
        sig = np.sqrt(var[good])
        prices = bsm_price(s_, k_, t_, r_, q_, sig, call)  # one vectorised call for the page
        for i, price in zip(todo, prices.tolist(), strict=True):
            if np.isfinite(price):
                result[i]["fmv"] = _num(round(price, 4))
                result[i]["fmv_last_updated"] = smiles[
                    (contracts[i]["underlying_ticker"], contracts[i]["expiration_date"])
                ][1]


@dataclass
class Solved:
    ok: np.ndarray
    iv: np.ndarray
    delta: np.ndarray
    gamma: np.ndarray
    theta: np.ndarray
    vega: np.ndarray
    spot: np.ndarray
    t_years: np.ndarray
    rate: np.ndarray
    q_yield: np.ndarray
    strikes: np.ndarray


def _quotable(q: dict | None) -> bool:
    return q is not None and q["ask_price"] > 0 and q["bid_price"] >= 0


def _smile_fit(solved: Solved, members: np.ndarray, quotes: dict[str, dict], tickers: list[str]) -> np.ndarray | None:
    """Polynomial coefficients of implied variance against log-moneyness, weighted by vega over spread."""
    ok = solved.ok[members] & (solved.t_years[members] > 0)
    if ok.sum() < 3:
        return None
    m = members[ok]
    fwd = solved.spot[m] * np.exp((solved.rate[m] - solved.q_yield[m]) * solved.t_years[m])
    k = np.log(solved.strikes[m] / fwd)
    spread = np.array(
        [quotes[t]["ask_price"] - quotes[t]["bid_price"] for t, good in zip(tickers, ok, strict=True) if good]
    )
    weight = solved.vega[m] / np.maximum(spread, 0.01)
    if not np.isfinite(weight).all() or weight.sum() <= 0:
        return None
    return np.polyfit(k, solved.iv[m] ** 2, deg=2 if len(m) >= 5 else 1, w=np.sqrt(weight))


def _quote_object(q: dict[str, Any], timeframe: str) -> dict[str, Any]:
    return {
        "ask": _num(q["ask_price"]),
        "ask_size": int(q["ask_size"]),
        "ask_exchange": None if q["ask_exchange"] is None else int(q["ask_exchange"]),
        "bid": _num(q["bid_price"]),
        "bid_size": int(q["bid_size"]),
        "bid_exchange": None if q["bid_exchange"] is None else int(q["bid_exchange"]),
        "last_updated": int(q["sip_timestamp"]),
        "midpoint": _num(round((q["bid_price"] + q["ask_price"]) / 2.0, 6)),
        "timeframe": timeframe,
    }


def _deliverable_factor(contract: dict[str, Any]) -> float:
    """Shares delivered per 100-share multiplier (1.5 for a 150-share adjusted contract)."""
    extra = contract.get("additional_underlyings") or []
    equity = [d for d in extra if d.get("type") == "equity" and d.get("underlying") == contract["underlying_ticker"]]
    if equity:
        return float(equity[0]["amount"]) / 100.0
    return float(contract.get("shares_per_contract") or 100) / 100.0


def _aggregate_day(trades: pa.Table) -> dict[str, dict]:
    """The day-so-far bar of each ticker from its trades (sorted by ticker, then time)."""
    if trades.num_rows == 0:
        return {}
    encoded = pc.dictionary_encode(trades["ticker"].combine_chunks())
    key = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)  # ascending: sorted by ticker
    uniq = encoded.dictionary.to_pylist()
    ts = trades["sip_timestamp"].to_numpy()
    conds = trades["conditions"].combine_chunks()
    codes = conds.flatten().to_numpy(zero_copy_only=False)
    offsets = conds.offsets.to_numpy()
    hl, oc, vol = update_masks("options", codes, offsets - offsets[0])
    bars = trades_to_bars(
        key,
        ts,
        trades["price"].to_numpy(),
        trades["size"].to_numpy().astype(float),
        hl,
        oc,
        vol,
        np.zeros(len(ts), dtype=np.int64),
    )
    ends = np.append(np.flatnonzero(key[1:] != key[:-1]), len(key) - 1)  # each ticker's last (latest) trade
    last_ts = dict(zip(key[ends].tolist(), ts[ends].tolist(), strict=True))
    out = {}
    for j in range(len(bars)):
        k = int(bars.key[j])
        out[uniq[k]] = {
            "open": bars.open[j],
            "high": bars.high[j],
            "low": bars.low[j],
            "close": bars.close[j],
            "volume": bars.volume[j],
            "vwap": bars.vwap[j],
            "last_updated": last_ts[k],
        }
    return out


def _day_object(bar: dict | None, prev_close: float | None) -> dict[str, Any]:
    if bar is None:
        day: dict[str, Any] = {"volume": 0}
        if prev_close is not None:
            day["previous_close"] = _num(prev_close)
        return day
    close = float(bar["close"])
    day = {
        "open": _num(bar["open"]),
        "high": _num(bar["high"]),
        "low": _num(bar["low"]),
        "close": _num(close),
        "volume": _num(bar["volume"]),
        "vwap": _num(round(float(bar["vwap"]), 6)),
        "last_updated": int(bar["last_updated"]),
    }
    if prev_close:
        day["change"] = _num(round(close - prev_close, 6))
        day["change_percent"] = _num(round((close - prev_close) / prev_close * 100.0, 4))
        day["previous_close"] = _num(prev_close)
    return day
