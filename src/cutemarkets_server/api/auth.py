"""API keys, products, plans, rate limits, lookback and delay: who is calling and what they may see."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

from ..clock import Clock
from ..market.timestamps import et_date
from ..plans import DELAY_NS, Plan, plan
from ..store.keys import ApiKey, KeyStore
from .errors import ApiError

UNLIMITED_REMAINING = "2147483647"
KEY_CACHE_TTL_S = 5.0


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated caller of one request, with the instant the request is answered at."""

    key: ApiKey
    plan: Plan
    now_ns: int

    @property
    def horizon_ns(self) -> int:
        """The newest instant whose data this caller may see (15 minutes ago on delayed plans)."""
        return self.now_ns - DELAY_NS if self.plan.delayed else self.now_ns

    @property
    def timeframe(self) -> str:
        return self.plan.timeframe

    @property
    def today(self) -> dt.date:
        return et_date(self.now_ns)

    def require_product(self, product: str) -> None:
        if product not in self.key.products:
            raise ApiError(
                "forbidden",
                f"This API key does not include the {product} product; use a key with the {product} product.",
            )

    def require_quotes(self) -> None:
        if not self.plan.quotes:
            raise ApiError("forbidden", "This endpoint requires a Expert Plan subscription.")

    @property
    def lookback_floor(self) -> dt.date:
        today = self.today
        try:
            return today.replace(year=today.year - self.plan.lookback_years)
        except ValueError:  # 29 February
            return today.replace(year=today.year - self.plan.lookback_years, day=28)

    def check_lookback(self, day: dt.date) -> None:
        """403 ``lookback_exceeded`` for a date older than the plan's rolling window."""
        if day < self.lookback_floor:
            raise ApiError(
                "lookback_exceeded",
                f"Your {self.plan.display} plan allows up to {self.plan.lookback_years} years of historical lookback.",
            )


class Authenticator:
    """Resolves keys (with a short cache so a revocation bites within seconds) and counts requests."""

    def __init__(self, keys: KeyStore, clock: Clock) -> None:
        self.keys = keys
        self.clock = clock
        self._cache: dict[str, tuple[float, ApiKey | None]] = {}

    def resolve(self, secret: str | None) -> ApiKey:
        if not secret:
            raise ApiError("unauthorized", "Missing API key: send Authorization: Bearer <key>.")
        now = time.monotonic()
        hit = self._cache.get(secret)
        if hit is None or now - hit[0] > KEY_CACHE_TTL_S:
            hit = (now, self.keys.lookup(secret))
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[secret] = hit
        key = hit[1]
        if key is None or not key.active:
            raise ApiError("unauthorized", "Invalid or inactive API key.")
        return key

    def admit(self, key: ApiKey) -> tuple[Caller, dict[str, str]]:
        """Count the request; raise 429 past the plan's limit. Returns the caller and rate-limit headers."""
        p = plan(key.plan)
        now_ns = self.clock.now_ns()
        minute_window = "m:" + time.strftime("%Y-%m-%dT%H:%M", time.gmtime(now_ns // 1_000_000_000))
        day_window = "d:" + time.strftime("%Y-%m-%d", time.gmtime(now_ns // 1_000_000_000))
        if p.per_minute is None and p.per_day is None:
            headers = {
                "X-RateLimit-Plan": p.display,
                "X-RateLimit-Limit-Minute": "unlimited",
                "X-RateLimit-Remaining-Minute": UNLIMITED_REMAINING,
                "X-RateLimit-Limit-Day": "unlimited",
                "X-RateLimit-Remaining-Day": UNLIMITED_REMAINING,
            }
            return Caller(key, p, now_ns), headers
        minute_count, day_count = self.keys.count_request(key.id, (minute_window, day_window))
        headers = {
            "X-RateLimit-Plan": p.display,
            "X-RateLimit-Limit-Minute": str(p.per_minute) if p.per_minute else "unlimited",
            "X-RateLimit-Remaining-Minute": str(max(0, (p.per_minute or 0) - minute_count))
            if p.per_minute
            else UNLIMITED_REMAINING,
            "X-RateLimit-Limit-Day": str(p.per_day) if p.per_day else "unlimited",
            "X-RateLimit-Remaining-Day": str(max(0, (p.per_day or 0) - day_count))
            if p.per_day
            else UNLIMITED_REMAINING,
        }
        if p.per_minute and minute_count > p.per_minute:
            retry = 60 - (now_ns // 1_000_000_000) % 60
            raise ApiError(
                "rate_limit_exceeded",
                f"Rate limit exceeded: your {p.display} plan allows {p.per_minute} requests per minute.",
                headers={**headers, "Retry-After": str(retry)},
            )
        if p.per_day and day_count > p.per_day:
            raise ApiError(
                "rate_limit_exceeded",
                f"Rate limit exceeded: your {p.display} plan allows {p.per_day} requests per day.",
                headers={**headers, "Retry-After": "3600"},
            )
        return Caller(key, p, now_ns), headers


def product_for_path(path: str) -> str | None:
    """The product a path belongs to; ``""`` for routes any valid key may call; None for public routes."""
    if path.startswith("/v1/options/") or path.startswith("/v1/tickers/expirations"):
        return "options"
    if path.startswith("/v1/stocks/"):
        return "stocks"
    if path.startswith("/v1/paper/"):
        return "paper"
    any_key = ("/v1/tickers/", "/v1/indicators/", "/v1/open-close/", "/v1/marketstatus/", "/v1/related-companies/")
    any_key += ("/v1/datasets", "/v1/account", "/v1/clock", "/v1/backtests")
    if path.startswith((*any_key, "/v2/", "/v3/")):
        return ""
    return None
