"""The settings of one run: what is tested, over which dates, and the execution model (all validated here)."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from .models.fees import PerContract
from .models.fill import FillPolicy, QuoteLimits, make_fill_policy


@dataclass(frozen=True)
class Execution:
    """The execution model; every field can be set with ``--set name=value``."""

    fill_policy: str = "cross_spread"
    spread_fraction: float = 0.25  # mid_fraction: the share of the spread paid beyond the mid
    latency_ms: int = 1000  # decision to order arrival
    stale_quote_ms: int = 120_000  # the longest wait from decision to a usable quote
    max_spread: float = 0.0  # dollars per share; 0 = no limit
    max_spread_pct: float = 0.5  # of the mid; 0 = no limit
    commission_per_contract: float = 0.65
    initial_cash: float = 100_000.0

    def __post_init__(self) -> None:
        if self.latency_ms < 0:
            raise ValueError("latency_ms must not be negative")
        if self.initial_cash <= 0:
            raise ValueError("initial_cash must be positive")
        self.policy()
        self.limits()
        self.fees()

    def policy(self) -> FillPolicy:
        return make_fill_policy(self.fill_policy, self.spread_fraction)

    def limits(self) -> QuoteLimits:
        return QuoteLimits(self.stale_quote_ms, self.max_spread, self.max_spread_pct)

    def fees(self) -> PerContract:
        return PerContract(self.commission_per_contract)

    @property
    def latency_ns(self) -> int:
        return self.latency_ms * 1_000_000

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def from_values(cls, values: dict[str, Any]) -> Execution:
        kinds = {f.name: type(getattr(cls(), f.name)) for f in fields(cls)}
        out: dict[str, Any] = {}
        for k, v in values.items():
            out[k] = coerce(k, v, kinds[k])
        return cls(**out)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RunSpec:
    strategy: str  # a built-in name or a path to a .py file
    underlying: str
    start: dt.date
    end: dt.date
    params: dict[str, Any] = field(default_factory=dict)
    execution: Execution = field(default_factory=Execution)

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"--to {self.end} is before --from {self.start}")
        if not self.underlying or not self.underlying.replace(".", "").isalnum():
            raise ValueError(f"invalid underlying {self.underlying!r}")


def coerce(name: str, value: Any, kind: type) -> Any:
    """A parameter value of the declared type (``--set`` values arrive as text)."""
    if not isinstance(value, str):
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, kind):
            return value
        raise ValueError(f"{name} must be {kind.__name__}, got {value!r}")
    text = value.strip()
    try:
        if kind is bool:
            if text.lower() in ("true", "1", "yes", "on"):
                return True
            if text.lower() in ("false", "0", "no", "off"):
                return False
            raise ValueError
        if kind is int:
            return int(text)
        if kind is float:
            return float(text)
    except ValueError:
        raise ValueError(f"{name} must be {kind.__name__}, got {value!r}") from None
    return text
