"""Measure a market's option activity and volatility surface through the HTTP API, as a new user would.

For each of the last ``--sessions`` sessions of ``--underlying`` it reads the whole option chain as of the
session's close (``as_of`` = 16:00 ET) and the NBBO quotes of the at-the-money contracts, then prints one
row per session and a summary:

* option volume of the day, the share of same-day expirations, total open interest;
* the at-the-money contracts of the nearest non-same-day expiration: day volume and open interest;
* contracts the official scanner example keeps (calls expiring within 14 days, open interest >= 100,
  day volume >= 25);
* NBBO updates of the same-day at-the-money call during the session;
* 30-day and 91-day at-the-money implied volatility (interpolated in total variance), and the 30-day IV
  over the 20-session realized volatility of the underlying's daily closes.

    python scripts/market_realism.py --base-url http://127.0.0.1:8000 --api-key cm_... --underlying SPY

The key needs the options and stocks products on a plan with quotes (Expert or Commercial).
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import math
import statistics
import sys
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import httpx

ET = ZoneInfo("America/New_York")


@dataclass
class Session:
    day: dt.date
    volume: float
    same_day_share: float
    open_interest: float
    atm_volume: float
    atm_open_interest: float
    scanner: int
    quote_updates: int
    iv30: float | None
    iv91: float | None
    realized20: float | None


def _pages(client: httpx.Client, url: str, params: dict[str, object]) -> list[dict]:
    rows: list[dict] = []
    next_url: str | None = url
    first = True
    while next_url:
        resp = client.get(next_url, params=params if first else None)
        if resp.status_code != 200:
            raise SystemExit(f"GET {next_url} -> {resp.status_code}: {resp.text[:300]}")
        body = resp.json()
        rows.extend(body.get("results") or [])
        next_url = body.get("next_url")
        first = False
    return rows


def _daily_closes(client: httpx.Client, underlying: str, end: dt.date) -> list[tuple[dt.date, float]]:
    start = end - dt.timedelta(days=800)
    rows = _pages(client, f"/v1/stocks/aggs/{underlying}/1/day/{start}/{end}/", {"limit": 50_000, "sort": "asc"})
    return [(dt.datetime.fromtimestamp(r["t"] / 1000, ET).date(), float(r["c"])) for r in rows]


def _atm_iv(rows: list[dict], spot: float, day: dt.date) -> dict[int, float]:
    """At-the-money IV per expiration (calendar days to expiry -> IV), from the strike nearest the spot."""
    by_exp: dict[str, list[dict]] = {}
    for r in rows:
        if r.get("implied_volatility"):
            by_exp.setdefault(r["details"]["expiration_date"], []).append(r)
    out: dict[int, float] = {}
    for exp, members in by_exp.items():
        days = (dt.date.fromisoformat(exp) - day).days
        if days <= 0:
            continue
        strike = min((r["details"]["strike_price"] for r in members), key=lambda k: abs(k - spot))
        ivs = [r["implied_volatility"] for r in members if r["details"]["strike_price"] == strike]
        out[days] = sum(ivs) / len(ivs)
    return out


def _interpolate(term: dict[int, float], days: int) -> float | None:
    """IV at ``days`` by linear interpolation of total variance between the neighbouring expirations."""
    below = [d for d in term if d <= days]
    above = [d for d in term if d >= days]
    if not below or not above:
        return None
    d0, d1 = max(below), min(above)
    if d0 == d1:
        return term[d0]
    w0, w1 = term[d0] ** 2 * d0, term[d1] ** 2 * d1
    return math.sqrt((w0 + (w1 - w0) * (days - d0) / (d1 - d0)) / days)


def _realized(closes: list[tuple[dt.date, float]], day: dt.date, n: int = 20) -> float | None:
    past = [c for d, c in closes if d <= day][-(n + 1) :]
    if len(past) < n + 1:
        return None
    rets = [math.log(b / a) for a, b in itertools.pairwise(past)]
    return statistics.pstdev(rets) * math.sqrt(252)


def measure_session(
    client: httpx.Client, underlying: str, day: dt.date, closes: list[tuple[dt.date, float]]
) -> Session:
    as_of = dt.datetime.combine(day, dt.time(16, 0), ET).isoformat()
    rows = _pages(client, f"/v1/options/chain/{underlying}/", {"as_of": as_of, "limit": 250})
    if not rows:
        raise SystemExit(f"empty {underlying} chain as of {as_of}")
    spot = next(float(r["underlying_asset"]["price"]) for r in rows if r.get("underlying_asset"))
    vol = lambda r: float((r.get("day") or {}).get("volume") or 0.0)  # noqa: E731
    oi = lambda r: float(r.get("open_interest") or 0.0)  # noqa: E731
    total = sum(vol(r) for r in rows)
    same_day = [r for r in rows if r["details"]["expiration_date"] == day.isoformat()]
    later = sorted({r["details"]["expiration_date"] for r in rows if r["details"]["expiration_date"] > day.isoformat()})
    nearest = [r for r in rows if later and r["details"]["expiration_date"] == later[0]]
    atm = [
        r
        for r in nearest
        if r["details"]["strike_price"]
        == min((x["details"]["strike_price"] for x in nearest), key=lambda k: abs(k - spot))
    ]
    horizon = (day + dt.timedelta(days=14)).isoformat()
    scanner = sum(
        1
        for r in rows
        if r["details"]["contract_type"] == "call"
        and r["details"]["expiration_date"] <= horizon
        and oi(r) >= 100
        and vol(r) >= 25
    )
    updates = 0
    calls = [r for r in same_day if r["details"]["contract_type"] == "call"]
    if calls:
        ticker = min(calls, key=lambda r: abs(r["details"]["strike_price"] - spot))["details"]["ticker"]
        quotes = _pages(client, f"/v1/options/quotes/{ticker}/", {"timestamp": day.isoformat(), "limit": 10_000})
        updates = len(quotes)
    term = _atm_iv(rows, spot, day)
    return Session(
        day=day,
        volume=total,
        same_day_share=sum(vol(r) for r in same_day) / total if total else 0.0,
        open_interest=sum(oi(r) for r in rows),
        atm_volume=statistics.mean(vol(r) for r in atm) if atm else 0.0,
        atm_open_interest=statistics.mean(oi(r) for r in atm) if atm else 0.0,
        scanner=scanner,
        quote_updates=updates,
        iv30=_interpolate(term, 30),
        iv91=_interpolate(term, 91),
        realized20=_realized(closes, day),
    )


def _fmt(x: float | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base-url", default="http://127.0.0.1:8000")
    ap.add_argument("--api-key", required=True)
    ap.add_argument("--underlying", default="SPY")
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--end", type=dt.date.fromisoformat, default=dt.date.today(), help="last day considered")
    args = ap.parse_args(argv)
    headers = {"Authorization": f"Bearer {args.api_key}"}
    with httpx.Client(base_url=args.base_url, headers=headers, timeout=120.0) as client:
        closes = _daily_closes(client, args.underlying, args.end)
        days = [d for d, _ in closes][-args.sessions :]
        sessions = [measure_session(client, args.underlying, d, closes) for d in days]
    print(
        "| session | volume | same-day share | open interest | ATM next-expiry volume | ATM next-expiry OI "
        "| scanner hits | same-day ATM call NBBO updates | IV 30d | IV 91d | realized 20d |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for s in sessions:
        print(
            f"| {s.day} | {s.volume:,.0f} | {s.same_day_share:.1%} | {s.open_interest:,.0f} | {s.atm_volume:,.0f} "
            f"| {s.atm_open_interest:,.0f} | {s.scanner} | {s.quote_updates:,} | {_fmt(s.iv30, '.3f')} "
            f"| {_fmt(s.iv91, '.3f')} | {_fmt(s.realized20, '.3f')} |"
        )
    both = [s for s in sessions if s.iv30 is not None and s.iv91 is not None]
    inverted = sum(1 for s in both if s.iv30 > s.iv91)  # type: ignore[operator]
    premium = [s.iv30 / s.realized20 for s in sessions if s.iv30 and s.realized20]
    print()
    print(f"sessions: {len(sessions)} ({days[0]}..{days[-1]})")
    print(f"mean daily option volume: {statistics.mean(s.volume for s in sessions):,.0f} contracts")
    same_day = sum(s.same_day_share * s.volume for s in sessions) / max(sum(s.volume for s in sessions), 1.0)
    print(f"same-day expirations' share of volume: {same_day:.1%}")
    print(f"mean open interest: {statistics.mean(s.open_interest for s in sessions):,.0f} contracts")
    print(
        f"ATM next-expiry contract: median volume {statistics.median(s.atm_volume for s in sessions):,.0f}, "
        f"median open interest {statistics.median(s.atm_open_interest for s in sessions):,.0f}"
    )
    print(f"scanner hits (median): {statistics.median(s.scanner for s in sessions):,.0f}")
    print(f"same-day ATM call NBBO updates (median): {statistics.median(s.quote_updates for s in sessions):,.0f}")
    print(f"30-day ATM IV above 91-day: {inverted} of {len(both)} sessions")
    if premium:
        print(f"30-day ATM IV / 20-session realized volatility (median): {statistics.median(premium):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
