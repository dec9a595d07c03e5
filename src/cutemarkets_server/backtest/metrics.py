"""The summary of a run, from the daily mark-to-market equity curve and the closed positions."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from typing import Any

from .records import EquityPoint, Fill, Trade

TRADING_DAYS = 252
WALK_FORWARD_METRICS = ("sharpe", "total_return", "sortino", "profit_factor", "win_rate")  # higher is better


def _clean(x: float | None) -> float | None:
    if x is None or not math.isfinite(x):
        return None
    return round(x, 10)


def daily_returns(equity: list[EquityPoint], initial_cash: float) -> list[float]:
    values = [initial_cash] + [e.equity for e in equity]
    return [b / a - 1.0 for a, b in itertools.pairwise(values) if a > 0]


def max_drawdown(equity: list[EquityPoint], initial_cash: float) -> float:
    """The largest fall from a running peak, as a negative fraction (0 when equity never fell)."""
    peak = initial_cash
    worst = 0.0
    for e in equity:
        peak = max(peak, e.equity)
        worst = min(worst, e.equity / peak - 1.0)
    return worst


def drawdown_series(equity: list[EquityPoint], initial_cash: float) -> list[float]:
    peak = initial_cash
    out = []
    for e in equity:
        peak = max(peak, e.equity)
        out.append(e.equity / peak - 1.0)
    return out


def summarize(
    equity: list[EquityPoint], fills: list[Fill], trades: list[Trade], decisions: list, initial_cash: float
) -> dict[str, Any]:
    rets = daily_returns(equity, initial_cash)
    n = len(rets)
    final = equity[-1].equity if equity else initial_cash
    total_return = final / initial_cash - 1.0
    cagr = (final / initial_cash) ** (TRADING_DAYS / n) - 1.0 if n and final > 0 else None
    sharpe = sortino = None
    if n >= 2:
        mean = sum(rets) / n
        sd = math.sqrt(sum((r - mean) ** 2 for r in rets) / (n - 1))
        sharpe = mean / sd * math.sqrt(TRADING_DAYS) if sd > 0 else None
        downside = math.sqrt(sum(min(r, 0.0) ** 2 for r in rets) / n)
        sortino = mean / downside * math.sqrt(TRADING_DAYS) if downside > 0 else None
    closed = [t for t in trades if t.pnl is not None]
    wins = [t.pnl for t in closed if t.pnl is not None and t.pnl > 0]
    losses = [t.pnl for t in closed if t.pnl is not None and t.pnl <= 0]
    gross_loss = -sum(losses)
    filled = [f for f in fills if f.fill_price is not None and f.side in ("buy", "sell")]
    ages = [f.quote_age_ms for f in filled if f.quote_age_ms is not None]
    paid = [
        abs(f.fill_price - (f.bid + f.ask) / 2.0)
        for f in filled
        if f.fill_price is not None and f.bid is not None and f.ask is not None and f.bid > 0 and f.ask > 0
    ]
    rejects = Counter(d.reject_reason for d in decisions if d.reject_reason)
    return {
        "total_return": _clean(total_return),
        "cagr": _clean(cagr),
        "sharpe": _clean(sharpe),
        "sortino": _clean(sortino),
        "max_drawdown": _clean(max_drawdown(equity, initial_cash)),
        "win_rate": _clean(len(wins) / len(closed)) if closed else None,
        "profit_factor": _clean(sum(wins) / gross_loss) if gross_loss > 0 else None,
        "trades": len(trades),
        "closed_trades": len(closed),
        "rejects": dict(sorted(rejects.items())),
        "avg_quote_age_ms": _clean(sum(ages) / len(ages)) if ages else None,
        "avg_spread_paid": _clean(sum(paid) / len(paid)) if paid else None,
        "commissions": _clean(sum(f.commission for f in fills)),
        "final_equity": _clean(final),
        "initial_cash": _clean(initial_cash),
        "sessions": len(equity),
        "decisions": len(decisions),
    }
