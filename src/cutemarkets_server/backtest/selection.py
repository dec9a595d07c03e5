"""Contract selection from the universe listed at decision time: one contract, or a structured rejection.

Order of work: the chain at the decision instant -> standard contracts of the underlying -> type ->
DTE window -> a usable quote -> delta (when ranked by delta) -> open interest -> volume -> spread ->
rank (DTE distance, then delta or moneyness distance, then ticker). When a step empties the pool the
rejection names that step.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .data.base import ChainRow


@dataclass(frozen=True)
class Criteria:
    contract_type: str  # "call" or "put"
    dte_min: int
    dte_max: int
    target_dte: int | None = None
    delta: float | None = None  # target delta (signed: puts negative); ranks by distance to it
    moneyness: float = 0.0  # target strike / underlying - 1, used when ``delta`` is None
    min_open_interest: int = 0
    min_volume: float = 0.0
    max_spread: float = 0.0  # dollars; 0 = no limit
    max_spread_pct: float = 0.0  # of the mid; 0 = no limit

    def __post_init__(self) -> None:
        if self.contract_type not in ("call", "put"):
            raise ValueError("contract_type must be call or put")
        if self.dte_min < 0 or self.dte_max < self.dte_min:
            raise ValueError("need 0 <= dte_min <= dte_max")


@dataclass(frozen=True)
class Selected:
    contract: ChainRow
    facts: dict[str, Any] = field(default_factory=dict)
    ok: bool = True


@dataclass(frozen=True)
class Rejected:
    reason: str
    facts: dict[str, Any] = field(default_factory=dict)
    ok: bool = False


def dte(session: dt.date, row: ChainRow) -> int:
    return (row.expiration - session).days


def standard(rows: Sequence[ChainRow]) -> list[ChainRow]:
    """Contracts on 100 shares of the underlying itself (adjusted deliverables are left out)."""
    return [r for r in rows if r.shares_per_contract == 100 and r.ticker[2:].startswith(r.underlying)]


def select(rows: Sequence[ChainRow], criteria: Criteria, session: dt.date, spot: float) -> Selected | Rejected:
    """Choose one contract from ``rows`` (a chain as of the decision instant)."""
    facts: dict[str, Any] = {"listed": len(rows)}
    pool = standard(rows)
    if not pool:
        return Rejected("no_contract", facts)
    pool = [r for r in pool if r.contract_type == criteria.contract_type]
    pool = [r for r in pool if criteria.dte_min <= dte(session, r) <= criteria.dte_max]
    facts["in_dte_window"] = len(pool)
    steps: list[tuple[str, Any]] = [
        ("no_contract_in_dte_window", None),
        ("no_quote", lambda r: r.bid is not None and r.ask is not None and r.ask > 0),
    ]
    if criteria.delta is not None:
        steps.append(("delta_missing", lambda r: r.delta is not None))
    steps += [
        ("weak_open_interest", lambda r: (r.open_interest or 0) >= criteria.min_open_interest),
        ("low_volume", lambda r: r.volume >= criteria.min_volume),
        ("wide_spread", lambda r: _spread_ok(r, criteria)),
    ]
    for reason, keep in steps:
        if keep is not None:
            pool = [r for r in pool if keep(r)]
        if not pool:
            return Rejected(reason, facts)

    def rank(r: ChainRow) -> tuple:
        d = abs(dte(session, r) - criteria.target_dte) if criteria.target_dte is not None else 0
        if criteria.delta is not None:
            dist = abs((r.delta or 0.0) - criteria.delta)
        else:
            dist = abs(r.strike / spot - 1.0 - criteria.moneyness)
        return (d, round(dist, 12), r.ticker)

    best = min(pool, key=rank)
    facts.update({"candidates": len(pool), "dte": dte(session, best), "delta": best.delta, "strike": best.strike})
    return Selected(best, facts)


def pair_leg(rows: Sequence[ChainRow], primary: ChainRow, width: float, *, further_otm: bool) -> Selected | Rejected:
    """The contract of the same expiry and type ``width`` dollars away (the nearest listed strike to it)."""
    direction = 1 if (primary.contract_type == "call") == further_otm else -1
    target = primary.strike + direction * width
    pool = [
        r
        for r in standard(rows)
        if r.expiration == primary.expiration
        and r.contract_type == primary.contract_type
        and (r.strike - primary.strike) * direction > 0
        and r.bid is not None
        and r.ask is not None
    ]
    if not pool:
        return Rejected("missing_pair_leg", {"target_strike": target})
    best = min(pool, key=lambda r: (abs(r.strike - target), r.ticker))
    return Selected(best, {"target_strike": target, "strike": best.strike})


def _spread_ok(r: ChainRow, c: Criteria) -> bool:
    spread = (r.ask or 0.0) - (r.bid or 0.0)
    if c.max_spread and spread > c.max_spread + 1e-12:
        return False
    mid = r.mid or 0.0
    return not (c.max_spread_pct and spread > c.max_spread_pct * mid + 1e-12)
