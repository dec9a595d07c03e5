"""The plan table: every limit, freshness rule and entitlement in one place."""

from __future__ import annotations

from dataclasses import dataclass

from .market.timestamps import NS_PER_MIN

DELAY_NS = 15 * NS_PER_MIN
PRODUCTS = ("options", "stocks", "paper")


@dataclass(frozen=True, slots=True)
class Plan:
    key: str
    display: str
    per_minute: int | None  # None = unlimited
    per_day: int | None
    lookback_years: int
    delayed: bool
    quotes: bool
    websocket: bool

    @property
    def timeframe(self) -> str:
        """The freshness label snapshots carry: ``DELAYED`` or ``REAL-TIME``."""
        return "DELAYED" if self.delayed else "REAL-TIME"


PLANS: dict[str, Plan] = {
    p.key: p
    for p in (
        Plan("free", "Free", 10, 5_000, 3, True, False, False),
        Plan("base", "Base", 60, 20_000, 5, True, False, False),
        Plan("developer", "Developer", None, None, 7, True, False, False),
        Plan("expert", "Expert", None, None, 10, False, True, True),
        Plan("commercial", "Commercial", None, None, 10, False, True, True),
    )
}


def plan(key: str) -> Plan:
    try:
        return PLANS[key.lower()]
    except KeyError:
        raise ValueError(f"unknown plan {key!r}; choose one of {', '.join(PLANS)}") from None


def parse_products(text: str) -> tuple[str, ...]:
    """``"options,stocks"`` → ``("options", "stocks")``, validated and de-duplicated in table order."""
    wanted = {p.strip().lower() for p in text.split(",") if p.strip()}
    unknown = wanted - set(PRODUCTS)
    if unknown:
        raise ValueError(f"unknown product(s) {', '.join(sorted(unknown))}; choose from {', '.join(PRODUCTS)}")
    if not wanted:
        raise ValueError("at least one product is required")
    return tuple(p for p in PRODUCTS if p in wanted)
