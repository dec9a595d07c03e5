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
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from ..market.bars import trades_to_bars
from ..market.calendar import MarketCalendar
from ..market.conditions import update_masks
from ..market.greeks import bsm_price, iv_and_greeks
from ..market.timestamps import NS_PER_DAY, et_date, et_midnight_ns, et_ns
from ..store.market import MarketStore
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


class OptionSnapshots:
    def __init__(self, store: MarketStore, reference: ReferenceData, calendar: MarketCalendar) -> None:
        self.store = store
        self.reference = reference
        self.calendar = calendar

    # -- helpers ----------------------------------------------------------------------------------
    def expiration_ns(self, day: dt.date) -> int:
        """Contracts stop trading at the session close of their expiration day."""
        if self.calendar.is_session(day):
            return self.calendar.hours(day).close_ns
        return et_ns(day, 16)

    def session_day(self, at_ns: int) -> dt.date | None:
        """The latest session that had opened by ``at_ns``."""
        day = self.calendar.session_on_or_before(et_date(at_ns))
        while day is not None and self.calendar.hours(day).open_ns > at_ns:
            day = self.calendar.previous_session(day)
        return day

    def underlying_mids(self, underlying: str, times: np.ndarray, before_ns: int) -> tuple[np.ndarray, np.ndarray]:
        """The underlying's NBBO mid (last trade as fallback) at or before each instant, and its time."""
        out = np.full(len(times), np.nan)
        when = np.zeros(len(times), dtype=np.int64)
        if len(times) == 0:
            return out, when
        days = sorted({et_date(int(t)) for t in times})
        for day in days:
            lo = et_midnight_ns(day)
            hi = min(et_midnight_ns(day + dt.timedelta(days=1)), before_ns)
            q = self.store.ticks_between("stock_quotes", [underlying], lo, hi)
            sel = np.array([et_date(int(t)) == day for t in times])
            if q.num_rows:
                ts = q["sip_timestamp"].to_numpy()
                bid, ask = q["bid_price"].to_numpy(), q["ask_price"].to_numpy()
                mid = np.where((bid > 0) & (ask > 0), (bid + ask) / 2.0, np.nan)
                idx = np.searchsorted(ts, times[sel], side="right") - 1
                ok = idx >= 0
                vals = np.full(sel.sum(), np.nan)
                w = np.zeros(sel.sum(), dtype=np.int64)
                vals[ok], w[ok] = mid[idx[ok]], ts[idx[ok]]
                out[sel], when[sel] = vals, w
            missing = sel & np.isnan(out)
            if missing.any():
                for i in np.flatnonzero(missing):
                    q1 = self.store.last_tick("stock_quotes", underlying, int(times[i]) + 1)
                    if q1 and q1["bid_price"] > 0 and q1["ask_price"] > 0:
                        out[i], when[i] = (q1["bid_price"] + q1["ask_price"]) / 2, q1["sip_timestamp"]
                    else:
                        t1 = self.store.last_tick("stock_trades", underlying, int(times[i]) + 1)
                        if t1:
                            out[i], when[i] = t1["price"], t1["sip_timestamp"]
        return out, when

    def underlying_now(self, underlying: str, before_ns: int) -> tuple[float | None, int | None]:
        q = self.store.last_tick("stock_quotes", underlying, before_ns)
        if q and q["bid_price"] > 0 and q["ask_price"] > 0:
            return (q["bid_price"] + q["ask_price"]) / 2.0, int(q["sip_timestamp"])
        t = self.store.last_tick("stock_trades", underlying, before_ns)
        if t:
            return float(t["price"]), int(t["sip_timestamp"])
        return None, None

    def day_bars(self, tickers: list[str], pit: PointInTime) -> tuple[dict[str, dict], dict[str, float], int | None]:
        """(bar of the current session so far per ticker, previous close per ticker, session close or None)."""
        session = self.session_day(pit.at_ns)
        if session is None:
            return {}, {}, None
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
        return bars, prev_close, hours.close_ns

    # -- the snapshot ------------------------------------------------------------------------------
    def build(self, contracts: list[dict[str, Any]], pit: PointInTime, opts: SnapshotOptions) -> list[dict[str, Any]]:
        """Snapshots for ``contracts`` (reference rows), all described at the same point in time."""
        if not contracts:
            return []
        tickers = [c["ticker"] for c in contracts]
        quotes = _by_ticker(self.store.last_ticks("option_quotes", tickers, pit.before_ns))
        trades = _by_ticker(self.store.last_ticks("option_trades", tickers, pit.before_ns))
        oi = _by_ticker(self.store.open_interest_before(tickers, pit.before_ns))
        bars, prev_close, _ = self.day_bars(tickers, pit)
        analytics = self._analytics(contracts, quotes, pit, opts)

        spot: dict[str, tuple[float | None, int | None]] = {}
        out = []
        for i, c in enumerate(contracts):
            t = c["ticker"]
            und = c["underlying_ticker"]
            if und not in spot:
                spot[und] = self.underlying_now(und, pit.before_ns)
            s_price, s_time = spot[und]
            q, tr = quotes.get(t), trades.get(t)
            premium = None
            if q is not None and q["ask_price"] > 0:
                premium = (q["bid_price"] + q["ask_price"]) / 2.0
            elif tr is not None:
                premium = float(tr["price"])
            strike = float(c["strike_price"])
            row: dict[str, Any] = {}
            if premium is not None:
                row["break_even_price"] = _num(
                    round(strike + premium if c["contract_type"] == "call" else strike - premium, 6)
                )
            row["day"] = _day_object(bars.get(t), prev_close.get(t))
            row["details"] = {
                "contract_type": c["contract_type"],
                "exercise_style": c["exercise_style"],
                "expiration_date": c["expiration_date"].isoformat(),
                "shares_per_contract": int(c["shares_per_contract"]),
                "strike_price": _num(strike),
                "ticker": t,
            }
            a = analytics[i] or {}
            if a.get("greeks"):
                row["greeks"] = a["greeks"]
                row["implied_volatility"] = a["iv"]
            if opts.include_quotes and q is not None:
                row["last_quote"] = {
                    "ask": _num(q["ask_price"]),
                    "ask_size": int(q["ask_size"]),
                    "ask_exchange": int(q["ask_exchange"]) if q["ask_exchange"] is not None else None,
                    "bid": _num(q["bid_price"]),
                    "bid_size": int(q["bid_size"]),
                    "bid_exchange": int(q["bid_exchange"]) if q["bid_exchange"] is not None else None,
                    "last_updated": int(q["sip_timestamp"]),
                    "midpoint": _num(round((q["bid_price"] + q["ask_price"]) / 2.0, 6)),
                    "timeframe": opts.timeframe,
                }
            if tr is not None:
                row["last_trade"] = {
                    "sip_timestamp": int(tr["sip_timestamp"]),
                    "conditions": [int(x) for x in (tr["conditions"] or [])],
                    "price": _num(tr["price"]),
                    "size": int(tr["size"]),
                    "exchange": int(tr["exchange"]) if tr["exchange"] is not None else None,
                    "timeframe": opts.timeframe,
                }
            if t in oi:
                row["open_interest"] = int(oi[t]["open_interest"])
            if s_price is not None:
                ua: dict[str, Any] = {"ticker": und, "price": _num(round(s_price, 6))}
                if "break_even_price" in row:
                    ua["change_to_break_even"] = _num(round(row["break_even_price"] - s_price, 6))
                ua["last_updated"] = s_time
                ua["timeframe"] = opts.timeframe
                row["underlying_asset"] = ua
            if a.get("fmv") is not None:
                row["fmv"] = a["fmv"]
                row["fmv_last_updated"] = a["fmv_last_updated"]
            out.append({k: v for k, v in row.items() if v is not None})
        return out

    def _analytics(
        self, contracts: list[dict[str, Any]], quotes: dict[str, dict], pit: PointInTime, opts: SnapshotOptions
    ) -> list[dict[str, Any] | None]:
        """IV and greeks per contract (None where not solvable), and FMV from the smoothed smile."""
        n = len(contracts)
        result: list[dict[str, Any] | None] = [None] * n
        idx = [i for i, c in enumerate(contracts) if c["ticker"] in quotes and quotes[c["ticker"]]["ask_price"] > 0]
        if not idx:
            return result
        solved = self._solve([contracts[i] for i in idx], quotes, pit, opts)
        for j, i in enumerate(idx):
            if solved["ok"][j]:
                result[i] = {
                    "iv": float(solved["iv"][j]),
                    "greeks": {
                        "delta": float(solved["delta"][j]),
                        "gamma": float(solved["gamma"][j]),
                        "theta": float(solved["theta"][j]),
                        "vega": float(solved["vega"][j]),
                    },
                }
        if opts.with_fmv:
            self._fmv(contracts, quotes, pit, opts, result)
        return result

    def _solve(
        self, contracts: list[dict[str, Any]], quotes: dict[str, dict], pit: PointInTime, opts: SnapshotOptions
    ) -> dict[str, np.ndarray]:
        n = len(contracts)
        times = np.array([quotes[c["ticker"]]["sip_timestamp"] for c in contracts], dtype=np.int64)
        mids = np.array(
            [(quotes[c["ticker"]]["bid_price"] + quotes[c["ticker"]]["ask_price"]) / 2.0 for c in contracts]
        )
        strikes = np.array([float(c["strike_price"]) for c in contracts])
        is_call = np.array([c["contract_type"] == "call" for c in contracts])
        factor = np.array([_deliverable_factor(c) for c in contracts])
        expiry = np.array([self.expiration_ns(c["expiration_date"]) for c in contracts], dtype=np.int64)
        spot = np.full(n, np.nan)
        for und in {c["underlying_ticker"] for c in contracts}:
            sel = np.array([c["underlying_ticker"] == und for c in contracts])
            s, _ = self.underlying_mids(und, times[sel], pit.before_ns)
            spot[sel] = s
        T = (expiry - times) / YEAR_NS
        day = et_date(pit.at_ns)
        r = self.reference.risk_free_rates(day, np.maximum(T, 0) * 365.0, opts.default_rate)
        q = np.array([self.reference.dividend_yield(c["underlying_ticker"], day) for c in contracts])
        res = iv_and_greeks(mids, spot * factor, strikes, T, r, q, is_call)
        return {
            "ok": np.asarray(res.ok) & np.isfinite(spot),
            "iv": res.iv,
            "delta": res.delta,
            "gamma": res.gamma,
            "theta": res.theta,
            "vega": res.vega,
            "spot": spot * factor,
            "T": T,
            "r": r,
            "q": q,
            "times": times,
            "strikes": strikes,
            "is_call": is_call,
            "mids": mids,
        }

    def _fmv(
        self,
        contracts: list[dict[str, Any]],
        quotes: dict[str, dict],
        pit: PointInTime,
        opts: SnapshotOptions,
        result: list[dict[str, Any] | None],
    ) -> None:
        """Fit one smile per (underlying, expiration) over every listed contract of that expiry."""
        groups: dict[tuple[str, dt.date], list[int]] = {}
        for i, c in enumerate(contracts):
            groups.setdefault((c["underlying_ticker"], c["expiration_date"]), []).append(i)
        from .reference import ContractQuery

        for (und, exp), members in groups.items():
            peers = self.reference.contracts_on(
                pit.day, ContractQuery(underlying=und, expiration_lo=exp, expiration_hi=exp, expired=None)
            ).to_pylist()
            peers = [p for p in peers if int(p["shares_per_contract"]) == 100] or peers
            peer_quotes = _by_ticker(
                self.store.last_ticks("option_quotes", [p["ticker"] for p in peers], pit.before_ns)
            )
            usable = [p for p in peers if p["ticker"] in peer_quotes and peer_quotes[p["ticker"]]["ask_price"] > 0]
            if len(usable) < 3:
                continue
            s = self._solve(usable, peer_quotes, pit, opts)
            ok = s["ok"] & (s["T"] > 0)
            if ok.sum() < 3:
                continue
            T_now = (self.expiration_ns(exp) - pit.at_ns) / YEAR_NS
            if T_now <= 0:
                continue
            fwd = s["spot"] * np.exp((s["r"] - s["q"]) * s["T"])
            k = np.log(s["strikes"] / fwd)
            w = s["iv"] ** 2 * s["T"]
            spread = np.array(
                [peer_quotes[p["ticker"]]["ask_price"] - peer_quotes[p["ticker"]]["bid_price"] for p in usable]
            )
            weight = np.where(ok, s["vega"] / np.maximum(spread, 0.01), 0.0)
            if not np.isfinite(weight).all() or weight.sum() <= 0:
                continue
            coeffs = np.polyfit(k[ok], w[ok] / s["T"][ok], deg=2 if ok.sum() >= 5 else 1, w=np.sqrt(weight[ok]))
            spot_now, _ = self.underlying_now(und, pit.before_ns)
            if spot_now is None:
                continue
            updated = int(max(peer_quotes[p["ticker"]]["sip_timestamp"] for p in usable))
            for i in members:
                c = contracts[i]
                f = _deliverable_factor(c)
                S = spot_now * f
                rate = float(self.reference.risk_free_rates(pit.day, np.array([T_now * 365.0]), opts.default_rate)[0])
                qy = self.reference.dividend_yield(und, pit.day)
                kk = np.log(float(c["strike_price"]) / (S * np.exp((rate - qy) * T_now)))
                var = float(np.polyval(coeffs, kk))
                if not np.isfinite(var) or var <= 0:
                    continue
                price = bsm_price(
                    np.array([S]),
                    np.array([float(c["strike_price"])]),
                    np.array([T_now]),
                    np.array([rate]),
                    np.array([qy]),
                    np.array([np.sqrt(var)]),
                    np.array([c["contract_type"] == "call"]),
                )[0]
                if not np.isfinite(price):
                    continue
                entry = result[i] or {}
                entry["fmv"] = _num(round(float(price), 4))
                entry["fmv_last_updated"] = updated
                result[i] = entry


def _deliverable_factor(contract: dict[str, Any]) -> float:
    """Shares delivered per 100-share multiplier (1.5 for a 150-share adjusted contract)."""
    extra = contract.get("additional_underlyings") or []
    equity = [d for d in extra if d.get("type") == "equity" and d.get("underlying") == contract["underlying_ticker"]]
    if equity:
        return float(equity[0]["amount"]) / 100.0
    return float(contract.get("shares_per_contract") or 100) / 100.0


def _aggregate_day(trades: pa.Table) -> dict[str, dict]:
    if trades.num_rows == 0:
        return {}
    tickers = trades["ticker"].to_numpy(zero_copy_only=False)
    uniq, key = np.unique(tickers, return_inverse=True)
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
    last_ts = {}
    for k, t in zip(key, ts, strict=True):
        last_ts[k] = max(last_ts.get(k, 0), int(t))
    out = {}
    for j in range(len(bars)):
        k = int(bars.key[j])
        out[str(uniq[k])] = {
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
