"""The causal loop: advances decision time bar by bar, hands the strategy only what is knowable, and
fills orders from quotes that arrive after the decision.

Per session: load the underlying's unadjusted minute bars; at the close of each regular-session bar
(the decision instant) apply fills that have happened by then, let the exit rules of open positions
act, then call the strategy. An order decided at T arrives at T + latency and meets the first quote
at or after that instant; a multi-leg package fills at the latest of its legs' first quotes, each
leg at its prevailing quote then. At the close, expiring positions settle against the underlying's
last regular-session close and the book is marked at the mid (and at bid/ask).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from ..market.calendar import MarketCalendar
from ..market.timestamps import et_midnight_ns
from .config import Execution
from .context import Context
from .data.base import Bar, DataSource, DataSourceError, Quote
from .models.expiration import intrinsic_value
from .orders import Book, ExitRules, Leg, Position, settlement_liability
from .quotebook import QuoteBook
from .records import Decision, EquityPoint, Fill, Trade, rfc3339
from .selection import Rejected, Selected
from .strategies.base import Strategy

MARKET = "US_OPTIONS"
DAILY_LOOKBACK_DAYS = 370
BAR_READ_SESSIONS = 10  # minute bars are read for this many sessions at once (~9,600 bars, one API page)


class NoDataError(DataSourceError):
    """The date range holds no sessions with data for the underlying."""


@dataclass
class RunResult:
    decisions: list[Decision] = field(default_factory=list)
    fills: list[Fill] = field(default_factory=list)
    equity: list[EquityPoint] = field(default_factory=list)
    trades: list[Trade] = field(default_factory=list)
    sessions: list[dt.date] = field(default_factory=list)
    skipped_sessions: list[dt.date] = field(default_factory=list)
    initial_cash: float = 0.0
    stats: dict = field(default_factory=dict)


@dataclass(frozen=True)
class OrderTerms:
    """Market by default; with ``limit``, the most the package may cost per share (negative: the least
    credit), resting for ``valid_ms`` after arrival (None: until the session's close)."""

    limit: float | None = None
    valid_ms: int | None = None

    def __post_init__(self) -> None:
        if self.valid_ms is not None and self.valid_ms <= 0:
            raise ValueError("a limit order's validity must be positive")


@dataclass
class _Attempt:
    fill_ns: int
    quotes: list[Quote | None]
    reasons: list[str | None]
    ages: list[float | None]


@dataclass
class _Pending:
    fill_ns: int
    apply: Callable[[], None]


class Engine:
    def __init__(
        self,
        source: DataSource,
        strategy: Strategy,
        underlying: str,
        execution: Execution,
        calendar: MarketCalendar,
    ) -> None:
        self.source = source
        self.strategy = strategy
        self.underlying = underlying
        self.execution = execution
        self.calendar = calendar
        self.policy = execution.policy()
        self.limits = execution.limits()
        self.fees = execution.fees()
        self.book = Book(cash=execution.initial_cash)
        self.quotes = QuoteBook(source)
        self.result = RunResult(initial_cash=execution.initial_cash)
        self.pending: list[_Pending] = []
        self.chain_queries = 0
        self._decision_id = 0
        self._order_id = 0
        self._session_close_ns = 0
        self._day_bars: list[Bar] = []
        self._minute_bars: dict[dt.date, list[Bar]] = {}  # the sessions read ahead, until their turn
        self._reserved_costs: dict[int, float] = {}  # cash committed by entries not filled yet

    # -- the loop ----------------------------------------------------------------------------------
    def run(self, first: dt.date, last: dt.date, progress: Callable[[dt.date], None] | None = None) -> RunResult:
        sessions = self.calendar.sessions_in_range(first, last)
        if not sessions:
            raise NoDataError(f"no trading sessions between {first} and {last}")
        ctx = Context(self)
        ctx.daily = self._daily_bars(first, last)
        for i, day in enumerate(sessions):
            if day not in self._minute_bars:
                self._read_minute_bars(sessions[i : i + BAR_READ_SESSIONS])
            self._run_session(ctx, day, self._minute_bars.pop(day))
            if progress is not None:
                progress(day)
        if not self.result.sessions:
            raise NoDataError(f"no minute bars for {self.underlying} between {first} and {last}")
        self.result.trades = [self._trade(p) for p in self.book.positions]
        self.result.stats = {
            "chain_queries": self.chain_queries,
            "quote_series_loaded": self.quotes.loads,
            "decisions": len(self.result.decisions),
        }
        return self.result

    def _daily_bars(self, first: dt.date, last: dt.date) -> list[Bar]:
        """The run's daily bars (a year of history before it), each knowable at its session's close."""
        out = []
        for b in self.source.day_bars(self.underlying, first - dt.timedelta(days=DAILY_LOOKBACK_DAYS), last):
            day = _day(b.start_ns)
            if self.calendar.is_session(day):
                close = self.calendar.hours(day).close_ns
                out.append(Bar(b.start_ns, close, b.open, b.high, b.low, b.close, b.volume))
        return out

    def _read_minute_bars(self, days: list[dt.date]) -> None:
        """One read for the next sessions' minute bars, kept by ET day until each session runs."""
        self._minute_bars = {d: [] for d in days}
        bounds = [(et_midnight_ns(d), et_midnight_ns(d + dt.timedelta(days=1)), self._minute_bars[d]) for d in days]
        k = 0
        for b in self.source.minute_bars_between(self.underlying, days[0], days[-1]):  # oldest first
            while k < len(bounds) and b.start_ns >= bounds[k][1]:
                k += 1
            if k < len(bounds) and b.start_ns >= bounds[k][0]:
                bounds[k][2].append(b)

    def _run_session(self, ctx: Context, day: dt.date, day_bars: list[Bar]) -> None:
        hours = self.calendar.hours(day)
        bars = [b for b in day_bars if hours.open_ns <= b.start_ns < hours.close_ns]
        if not bars:
            self.result.skipped_sessions.append(day)
            return
        bars = [Bar(b.start_ns, min(b.end_ns, hours.close_ns), b.open, b.high, b.low, b.close, b.volume) for b in bars]
        self.result.sessions.append(day)
        self.quotes.start_session(day)
        self._session_close_ns = hours.close_ns
        self._day_bars = bars
        ctx.session, ctx.open_ns, ctx.close_ns = day, hours.open_ns, hours.close_ns
        ctx._bars, ctx._chains, ctx.state = bars, {}, {}
        ctx.now_ns, ctx.signal_bar = hours.open_ns, None
        self.strategy.on_session_start(ctx)
        for bar in bars:
            ctx.now_ns, ctx.signal_bar = bar.end_ns, bar
            self._apply_pending(bar.end_ns)
            self._check_exits(ctx)
            self.strategy.on_bar(ctx)
        self._apply_pending(hours.close_ns)
        self._settle_expiring(ctx, day, bars[-1])
        self._mark(day, hours.close_ns)

    def has_pending(self) -> bool:
        return bool(self.pending)

    def _apply_pending(self, now_ns: int) -> None:
        due = [p for p in self.pending if p.fill_ns <= now_ns]
        self.pending = [p for p in self.pending if p.fill_ns > now_ns]
        for p in sorted(due, key=lambda p: p.fill_ns):
            p.apply()

    # -- decisions ---------------------------------------------------------------------------------
    def _label(self, ns: int) -> str:
        label = self.calendar.session_label(ns, product="options")
        if label == "regular" and self.calendar.is_early_close(_day(ns)):
            return "half_day"
        return label

    def record_decision(
        self,
        ctx: Context,
        action: str,
        contract: str | None,
        reject_reason: str | None,
        position_id: int | None,
        detail: dict | None,
    ) -> int:
        self._decision_id += 1
        bar = ctx.signal_bar
        self.result.decisions.append(
            Decision(
                decision_id=self._decision_id,
                signal_bar_start=bar.start_ns if bar else None,
                signal_bar_end=bar.end_ns if bar else None,
                decision_timestamp=ctx.now_ns,
                session_label=self._label(ctx.now_ns),
                underlying=self.underlying,
                action=action,
                contract=contract,
                reject_reason=reject_reason,
                position_id=position_id,
                detail=json.dumps(detail, sort_keys=True) if detail else None,
            )
        )
        return self._decision_id

    def enter(
        self,
        ctx: Context,
        action: str,
        legs: list[tuple[Selected | Rejected, int]],
        exits: ExitRules,
        order: OrderTerms | None = None,
    ) -> int:
        rejected = [sel for sel, _ in legs if not sel.ok]
        chosen = [(sel.contract, qty) for sel, qty in legs if sel.ok]
        names = ",".join(c.ticker for c, _ in chosen) or None
        if rejected:
            r = rejected[0]
            return self.record_decision(ctx, action, names, r.reason, None, r.facts)
        if not legs or any(qty == 0 for _, qty in chosen):
            raise ValueError("a package needs at least one leg and non-zero quantities")
        if len({c.expiration for c, _ in chosen}) > 1:
            return self.record_decision(ctx, action, names, "mixed_expirations", None, None)
        position_id = self.book.next_position_id
        decision_id = self.record_decision(ctx, action, names, None, position_id, None)
        outcome = self._fill_package(ctx, decision_id, position_id, chosen, order)
        if outcome is None:
            return decision_id
        fill_ns, prices, fills = outcome
        cash_delta = -sum(q * p * c.shares_per_contract for (c, q), p in zip(chosen, prices, strict=True))
        commissions = sum(self.fees.commission(q) for _, q in chosen)
        need = settlement_liability(chosen)
        free = self.book.cash - self.book.reserved() - sum(self._pending_cost())
        if math.isinf(need) or free + cash_delta - commissions - need < 0:
            self._reject_fills(fills, "insufficient_cash")
            self._set_decision_reject(decision_id, "insufficient_cash")
            return decision_id
        self.book.next_position_id += 1
        position = Position(
            position_id=position_id,
            action=action,
            legs=[Leg(c, q, p) for (c, q), p in zip(chosen, prices, strict=True)],
            exits=exits,
            opened_ns=fill_ns,
            entry_decision_id=decision_id,
            commissions=commissions,
            closing=True,  # until filled
        )
        self.book.positions.append(position)
        self._reserved_costs[position_id] = -cash_delta + commissions

        def apply() -> None:
            self.book.cash = round(self.book.cash + cash_delta - commissions, 6)
            position.closing = False
            self._reserved_costs.pop(position_id, None)

        self.pending.append(_Pending(fill_ns, apply))
        return decision_id

    def _pending_cost(self) -> list[float]:
        return [max(v, 0.0) for v in self._reserved_costs.values()]

    def close(self, ctx: Context, position: Position, reason: str, order: OrderTerms | None = None) -> int:
        if not position.is_open or position.closing:
            raise ValueError(f"position {position.position_id} is not open or is already closing")
        legs = [(leg.contract, -leg.quantity) for leg in position.legs if leg.open]
        decision_id = self.record_decision(
            ctx, "close", position.tickers(), None, position.position_id, {"exit_reason": reason}
        )
        outcome = self._fill_package(ctx, decision_id, position.position_id, legs, order)
        if outcome is None:
            return decision_id
        fill_ns, prices, _ = outcome
        proceeds = -sum(q * p * c.shares_per_contract for (c, q), p in zip(legs, prices, strict=True))
        commissions = sum(self.fees.commission(q) for _, q in legs)
        position.closing = True

        def apply() -> None:
            self.book.cash = round(self.book.cash + proceeds - commissions, 6)
            position.commissions = round(position.commissions + commissions, 6)
            position.exit_value = round(position.exit_value + proceeds, 6)
            position.closed_ns = fill_ns
            position.exit_reason = reason
            for leg in position.legs:
                leg.open = False

        self.pending.append(_Pending(fill_ns, apply))
        return decision_id

    def _set_decision_reject(self, decision_id: int, reason: str) -> None:
        d = self.result.decisions[decision_id - 1]
        assert d.decision_id == decision_id
        d.reject_reason = reason
        d.position_id = None

    def _reject_fills(self, fills: list[Fill], reason: str) -> None:
        for f in fills:
            f.reject_reason = reason
            f.fill_price = None
            f.fill_timestamp = None
            f.position_id = None
            f.commission = 0.0

    # -- fills -------------------------------------------------------------------------------------
    def _fill_package(
        self,
        ctx: Context,
        decision_id: int,
        position_id: int,
        legs: list,
        order: OrderTerms | None = None,
    ) -> tuple[int, list[float], list[Fill]] | None:
        """Fill every leg or none; record one fill row per leg. None when the package is rejected."""
        order = order or OrderTerms()
        decided = ctx.now_ns
        arrival = decided + self.execution.latency_ns
        if arrival >= self._session_close_ns:
            attempt = _Attempt(arrival, [None] * len(legs), ["session_closed"] * len(legs), [None] * len(legs))
        elif order.limit is None:
            attempt = self._market_attempt(legs, decided, arrival)
        else:
            attempt = self._limit_attempt(legs, arrival, order)
        reasons = attempt.reasons
        failed = any(r is not None for r in reasons)
        first_reason = next((r for r in reasons if r is not None), None)
        if failed:
            reasons = [r or "package_leg_rejected" for r in reasons]
        fills: list[Fill] = []
        prices: list[float] = []
        for (contract, qty), q, reason, age in zip(legs, attempt.quotes, reasons, attempt.ages, strict=True):
            side = "buy" if qty > 0 else "sell"
            price = None if failed or q is None else round(self.policy.price(q, side), 6)
            event_ns = attempt.fill_ns if not failed else (q.ts_ns if q is not None else decided)
            self._order_id += 1
            fills.append(
                Fill(
                    order_id=self._order_id,
                    decision_id=decision_id,
                    position_id=None if failed else position_id,
                    contract=contract.ticker,
                    side=side,
                    quantity=abs(qty),
                    order_type="market" if order.limit is None else "limit",
                    limit_price=order.limit,
                    decision_timestamp=decided,
                    next_quote_timestamp=q.ts_ns if q is not None else None,
                    quote_age_ms=age,
                    bid=q.bid if q is not None else None,
                    ask=q.ask if q is not None else None,
                    fill_timestamp=None if failed else attempt.fill_ns,
                    fill_price=price,
                    commission=0.0 if failed else self.fees.commission(qty),
                    fill_policy=self.policy.label,
                    reject_reason=reason,
                    event_timestamp_utc=rfc3339(event_ns),
                    event_timestamp_et=rfc3339(event_ns, et=True),
                    session_label=self._label(event_ns),
                    market=MARKET,
                    source="quotes",
                )
            )
            if price is not None:
                prices.append(price)
        self.result.fills.extend(fills)
        if failed:
            assert first_reason is not None
            self._set_decision_reject(decision_id, first_reason)
            return None
        return attempt.fill_ns, prices, fills

    def _market_attempt(self, legs: list, decided: int, arrival: int) -> _Attempt:
        """Each leg's first quote at or after arrival; the package fills at the latest of them, each leg
        at its prevailing quote then. ``quote_age_ms`` = quote time - decision time, at most the stale limit."""
        stale_ns = self.limits.stale_quote_ms * 1_000_000
        firsts = [self.quotes.first_after(c.ticker, arrival, self._session_close_ns) for c, _ in legs]
        reasons: list[str | None] = [
            "no_quote" if q is None else "stale_quote" if q.ts_ns - decided > stale_ns else None for q in firsts
        ]
        fill_ns = max((q.ts_ns for q in firsts if q is not None), default=arrival)
        used: list[Quote | None] = list(firsts)
        if all(r is None for r in reasons):
            used = [self.quotes.latest(c.ticker, fill_ns) for c, _ in legs]
            reasons = [
                self.limits.reject_reason(q, _side(qty)) if q is not None else "no_quote"
                for q, (_, qty) in zip(used, legs, strict=True)
            ]
        ages = [(q.ts_ns - decided) / 1e6 if q is not None else None for q in used]
        return _Attempt(fill_ns, used, reasons, ages)

    def _limit_attempt(self, legs: list, arrival: int, order: OrderTerms) -> _Attempt:
        """The first instant at or after arrival (and before the order lapses) when every leg has a usable
        quote no older than the stale limit and the package's net price per share (quantities divided by
        the smallest) is at or below the limit (negative = a credit of at least that much).
        ``quote_age_ms`` = fill instant - quote time."""
        assert order.limit is not None
        deadline = self._session_close_ns
        if order.valid_ms is not None:
            deadline = min(deadline, arrival + order.valid_ms * 1_000_000)
        stale_ns = self.limits.stale_quote_ms * 1_000_000
        unit = min(abs(q) for _, q in legs)
        series = [self.quotes.series(c.ticker) for c, _ in legs]
        firsts = [self.quotes.first_after(c.ticker, arrival, deadline) for c, _ in legs]
        if any(q is None for q in firsts):
            reasons = ["no_quote" if q is None else None for q in firsts]
            return _Attempt(arrival, firsts, reasons, [None] * len(legs))
        start = max(q.ts_ns for q in firsts if q is not None)
        instants = sorted({t for ts, _ in series for t in ts if start <= t < deadline})
        last: list[Quote | None] = [None] * len(legs)
        for t in instants:
            used = [self.quotes.latest(c.ticker, t) for c, _ in legs]
            last = used
            if any(q is None or t - q.ts_ns > stale_ns for q in used):
                continue
            if any(self.limits.reject_reason(q, _side(qty)) for q, (_, qty) in zip(used, legs, strict=True)):
                continue
            net = sum(
                qty / unit * self.policy.price(q, _side(qty)) for q, (_, qty) in zip(used, legs, strict=True)
            )
            if net <= order.limit + 1e-9:
                ages = [(t - q.ts_ns) / 1e6 for q in used]  # type: ignore[union-attr]
                return _Attempt(t, used, [None] * len(legs), ages)
        return _Attempt(arrival, last, ["limit_not_reached"] * len(legs), [None] * len(legs))

    # -- exits and expiration ----------------------------------------------------------------------
    def _check_exits(self, ctx: Context) -> None:
        for position in list(self.book.open_positions()):
            if position.closing or position.opened_ns > ctx.now_ns:
                continue
            reason = self._exit_reason(ctx, position)
            if reason is not None:
                self.close(ctx, position, reason)

    def _exit_reason(self, ctx: Context, position: Position) -> str | None:
        rules = position.exits
        if rules.exit_dte is not None and (position.expiration - ctx.session).days <= rules.exit_dte:
            return "dte"
        if rules.exit_minute_et is not None and ctx.minute_et >= rules.exit_minute_et:
            return "time"
        if rules.profit_target_pct is None and rules.stop_loss_pct is None:
            return None
        value = 0.0
        for leg in position.legs:
            q = self.quotes.latest(leg.contract.ticker, ctx.now_ns)
            # Premium exits need a quote that arrived after the entry filled.
            if q is None or q.ts_ns < position.opened_ns:
                return None
            price = q.bid if leg.quantity > 0 else q.ask
            if price <= 0 and leg.quantity < 0:
                return None
            value += leg.quantity * price * leg.multiplier
        pnl = value - position.entry_value
        basis = abs(position.entry_value)
        if basis <= 0:
            return None
        if rules.profit_target_pct is not None and pnl >= rules.profit_target_pct * basis:
            return "profit_target"
        if rules.stop_loss_pct is not None and pnl <= -rules.stop_loss_pct * basis:
            return "stop_loss"
        return None

    def _settle_expiring(self, ctx: Context, day: dt.date, last_bar: Bar) -> None:
        close_price = last_bar.close
        for position in list(self.book.open_positions()):
            if position.expiration != day:
                continue
            ctx.now_ns, ctx.signal_bar = self._session_close_ns, last_bar
            total = 0.0
            itm = False
            decision_id = self.record_decision(
                ctx, "settle", position.tickers(), None, position.position_id, {"underlying_close": close_price}
            )
            for leg in position.legs:
                if not leg.open:
                    continue
                value = intrinsic_value(leg.contract.contract_type, leg.contract.strike, close_price)
                itm = itm or value > 0
                total += leg.quantity * value * leg.multiplier
                self._order_id += 1
                ts = self._session_close_ns
                self.result.fills.append(
                    Fill(
                        order_id=self._order_id,
                        decision_id=decision_id,
                        position_id=position.position_id,
                        contract=leg.contract.ticker,
                        side="settle",
                        quantity=abs(leg.quantity),
                        order_type="expiration",
                        limit_price=None,
                        decision_timestamp=ts,
                        next_quote_timestamp=None,
                        quote_age_ms=None,
                        bid=None,
                        ask=None,
                        fill_timestamp=ts,
                        fill_price=value,
                        commission=0.0,
                        fill_policy="expiration@1",
                        reject_reason=None,
                        event_timestamp_utc=rfc3339(ts),
                        event_timestamp_et=rfc3339(ts, et=True),
                        session_label=self._label(ts),
                        market=MARKET,
                        source="underlying_close",
                    )
                )
                leg.open = False
            self.book.cash = round(self.book.cash + total, 6)
            position.exit_value = round(position.exit_value + total, 6)
            position.closed_ns = self._session_close_ns
            position.exit_reason = "expired_itm" if itm else "expired_otm"

    def _mark(self, day: dt.date, close_ns: int) -> None:
        mid_value = 0.0
        liq_value = 0.0
        open_positions = self.book.open_positions()
        for position in open_positions:
            for leg in position.legs:
                if not leg.open:
                    continue
                q = self.quotes.latest(leg.contract.ticker, close_ns)
                if q is None or q.bid <= 0 or q.ask <= 0:
                    mid = side_price = leg.entry_price
                    if q is not None:
                        side_price = q.bid if leg.quantity > 0 else (q.ask if q.ask > 0 else leg.entry_price)
                else:
                    mid = q.mid
                    side_price = q.bid if leg.quantity > 0 else q.ask
                mid_value += leg.quantity * mid * leg.multiplier
                liq_value += leg.quantity * side_price * leg.multiplier
        cash = self.book.cash
        self.result.equity.append(
            EquityPoint(
                session=day.isoformat(),
                timestamp=close_ns,
                cash=round(cash, 6),
                positions_value=round(mid_value, 6),
                positions_value_bid_ask=round(liq_value, 6),
                equity=round(cash + mid_value, 6),
                equity_bid_ask=round(cash + liq_value, 6),
                open_positions=len(open_positions),
            )
        )

    def _trade(self, p: Position) -> Trade:
        return Trade(
            position_id=p.position_id,
            action=p.action,
            contracts=p.tickers(),
            opened_timestamp=p.opened_ns,
            closed_timestamp=p.closed_ns,
            entry_value=round(p.entry_value, 6),
            exit_value=p.exit_value if p.closed_ns is not None else None,
            commissions=round(p.commissions, 6),
            pnl=p.pnl if p.closed_ns is not None else None,
            exit_reason=p.exit_reason,
        )


def _side(quantity: int) -> str:
    return "buy" if quantity > 0 else "sell"


def _day(ns: int) -> dt.date:
    from ..market.timestamps import et_date

    return et_date(ns)
