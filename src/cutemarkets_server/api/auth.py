"""API keys, products, plans, rate limits, lookback and delay: who is calling and what they may see."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

from ..clock import Clock
from ..market.timestamps import et_date
from ..plans import DELAY_NS, Plan, plan
from ..store.keys import ApiKey, KeyStore, hash_key
from ..store.ratelimit import RateLimitStore, Window
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


@dataclass(frozen=True, slots=True)
class Admitted:
    """An admitted request: its caller, the rate-limit headers to send, and the charge to refund if unserved."""

    caller: Caller
    headers: dict[str, str]
    charge_id: int | None = None


class Authenticator:
    """Resolves keys (with a short cache so a revocation bites within seconds) and admits requests.

    Rate limits are sliding windows (any 60 s, any 24 h) kept in a store shared by every server process.
    Only admitted requests are charged: a request refused for its product or for a full window is not.
    """

    def __init__(self, keys: KeyStore, clock: Clock, limits: RateLimitStore) -> None:
        self.keys = keys
        self.clock = clock
        self.limits = limits
        self._cache: dict[str, tuple[float, ApiKey | None]] = {}

    def resolve(self, secret: str | None) -> ApiKey:
        if not secret:
            raise ApiError("unauthorized", "Missing API key: send Authorization: Bearer <key>.")
        now = time.monotonic()
        digest = hash_key(secret)  # the cache is keyed by the hash: no secret compared byte by byte
        hit = self._cache.get(digest)
        if hit is None or now - hit[0] > KEY_CACHE_TTL_S:
            hit = (now, self.keys.lookup(secret))
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = hit
        key = hit[1]
        if key is None or not key.active:
            raise ApiError("unauthorized", "Invalid or inactive API key.")
        return key

    def admit(self, key: ApiKey, product: str = "") -> Admitted:
        """Check the product, then charge the request; 403 or 429 (uncharged) when it may not be served."""
        p = plan(key.plan)
        now_ns = self.clock.now_ns()
        caller = Caller(key, p, now_ns)
        windows = _windows(p)
        if product and product not in key.products:
            remaining = self.limits.peek(key.id, now_ns, windows) if windows else None
            try:
                caller.require_product(product)
            except ApiError as exc:
                exc.headers.update(_headers(p, remaining))
                raise
        if not windows:
            return Admitted(caller, _headers(p, None))
        admission = self.limits.admit(key.id, now_ns, windows)
        headers = _headers(p, admission.remaining)
        if not admission.admitted:
            blocked = windows[admission.blocked or 0]
            span = "minute" if blocked.span_ns == MINUTE_NS else "day"
            retry_s = -(-admission.retry_after_ns // 1_000_000_000)
            raise ApiError(
                "rate_limit_exceeded",
                f"Rate limit exceeded: your {p.display} plan allows {blocked.limit} requests per {span}.",
                headers={**headers, "Retry-After": str(retry_s)},
            )
        return Admitted(caller, headers, admission.charge_id)

    def refund(self, admitted: Admitted) -> dict[str, str]:
        """Give back the charge of a request that was not served; returns the corrected headers."""
        if admitted.charge_id is None:
            return admitted.headers
        self.limits.refund(admitted.charge_id)
        p = admitted.caller.plan
        return _headers(p, self.limits.peek(admitted.caller.key.id, self.clock.now_ns(), _windows(p)))


MINUTE_NS = 60 * 1_000_000_000
DAY_NS = 24 * 3600 * 1_000_000_000


def _windows(p: Plan) -> tuple[Window, ...]:
    out = []
    if p.per_minute:
        out.append(Window(MINUTE_NS, p.per_minute))
    if p.per_day:
        out.append(Window(DAY_NS, p.per_day))
    return tuple(out)


def _headers(p: Plan, remaining: tuple[int, ...] | None) -> dict[str, str]:
    """``X-RateLimit-*`` headers; ``remaining`` follows :func:`_windows` (None on unlimited plans)."""
    left = list(remaining or ())
    minute_left = str(left.pop(0)) if p.per_minute else UNLIMITED_REMAINING
    day_left = str(left.pop(0)) if p.per_day else UNLIMITED_REMAINING
    return {
        "X-RateLimit-Plan": p.display,
        "X-RateLimit-Limit-Minute": str(p.per_minute) if p.per_minute else "unlimited",
        "X-RateLimit-Remaining-Minute": minute_left,
        "X-RateLimit-Limit-Day": str(p.per_day) if p.per_day else "unlimited",
        "X-RateLimit-Remaining-Day": day_left,
    }


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
