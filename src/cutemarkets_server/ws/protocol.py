"""The wire protocol: client messages, topics and their rules, status frames and event shapes.

Client messages are JSON objects ``{"action": "auth"|"subscribe"|"unsubscribe", "params": "..."}``;
``params`` of a subscription is a comma list of ``CHANNEL.SYMBOL`` topics split at the first dot. Every
server frame is a JSON array of events with an ``ev`` key; timestamps on the wire are Unix milliseconds.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import pyarrow as pa

from ..market.timestamps import NS_PER_MS

MARKETS = ("stocks", "options")
CHANNELS = ("T", "Q", "A", "AM")
ACTIONS = ("auth", "subscribe", "unsubscribe")
WILDCARD = "*"
OPTION_PREFIX = "O:"

# Close codes (application range 4000-4999, plus the standard 1001 for a shutdown).
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_SLOW_CONSUMER = 4413
CLOSE_MAX_CONNECTIONS = 4409
CLOSE_GOING_AWAY = 1001

# A routed event: (channel, symbol, JSON bytes of the event object).
Event = tuple[str, str, bytes]


class ProtocolError(ValueError):
    """A client message that cannot be understood; answered with an ``error`` status."""


@dataclass(frozen=True, slots=True)
class ClientMessage:
    action: str
    params: str


def status(status: str, message: str) -> dict[str, str]:
    return {"ev": "status", "status": status, "message": message}


def frame(events: Sequence[dict[str, Any]]) -> bytes:
    """One server frame: a JSON array of events."""
    return orjson.dumps(list(events))


def join_frames(frames: Sequence[bytes]) -> bytes:
    """Several frames as one JSON array (their events in order)."""
    if len(frames) == 1:
        return frames[0]
    return b"[" + b",".join(f[1:-1] for f in frames if len(f) > 2) + b"]"


def parse_message(text: str | bytes) -> ClientMessage:
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise ProtocolError('invalid JSON: send {"action": "subscribe", "params": "T.AAPL"}') from None
    if not isinstance(data, dict):
        raise ProtocolError("a message is a JSON object with action and params")
    action = data.get("action")
    if action not in ACTIONS:
        raise ProtocolError(f"unknown action {action!r}: use auth, subscribe or unsubscribe")
    params = data.get("params")
    if not isinstance(params, str):
        raise ProtocolError(f'params of {action} must be a string, e.g. "T.AAPL,Q.AAPL"')
    return ClientMessage(action, params)


def split_topics(params: str) -> list[str]:
    return [t.strip() for t in params.split(",") if t.strip()]


def split_topic(topic: str) -> tuple[str, str] | None:
    """``Q.O:SPY241220P00720000`` -> (``Q``, ``O:SPY241220P00720000``); None when malformed."""
    channel, dot, symbol = topic.partition(".")
    if not dot or not channel or not symbol:
        return None
    return channel, symbol


@dataclass
class TopicChange:
    """How one subscription message changed a connection's topics (for the fan-out index)."""

    added: list[tuple[str, str]] = field(default_factory=list)
    removed: list[tuple[str, str]] = field(default_factory=list)


class Subscriptions:
    """One connection's topics (symbols per channel, interned so that connections share them) and the
    rules that bound them."""

    def __init__(self, market: str, option_quote_cap: int = 1000) -> None:
        self.market = market
        self.option_quote_cap = option_quote_cap
        self.by_channel: dict[str, set[str]] = {}

    @property
    def topics(self) -> list[tuple[str, str]]:
        return [(channel, symbol) for channel, symbols in self.by_channel.items() for symbol in symbols]

    @property
    def option_quote_contracts(self) -> int:
        if self.market != "options":
            return 0
        return len(self.by_channel.get("Q", ()))

    def apply(self, action: str, params: str) -> tuple[list[dict[str, str]], TopicChange]:
        """Subscribe or unsubscribe every topic of ``params``; one status per topic."""
        statuses: list[dict[str, str]] = []
        change = TopicChange()
        topics = split_topics(params)
        if not topics:
            statuses.append(status("error", f"{action} needs at least one topic, e.g. T.AAPL"))
        quotes = self.option_quote_contracts
        for topic in topics:
            parsed = split_topic(topic)
            problem = self._problem(topic, parsed)
            if problem is not None:
                statuses.append(status("error", problem))
                continue
            assert parsed is not None
            channel, symbol = parsed
            symbol = sys.intern(symbol.upper())
            held = self.by_channel.setdefault(channel, set())
            shown = f"{channel}.{symbol}"
            counted = self.market == "options" and channel == "Q"
            if action == "subscribe":
                if symbol not in held:
                    if counted:
                        if quotes >= self.option_quote_cap:
                            statuses.append(
                                status(
                                    "error",
                                    f"subscription limit reached: at most {self.option_quote_cap:,} option "
                                    f"contracts on Q per connection; {shown} was not subscribed",
                                )
                            )
                            continue
                        quotes += 1
                    held.add(symbol)
                    change.added.append((channel, symbol))
                statuses.append(status("success", f"subscribed to: {shown}"))
            else:
                if symbol in held:
                    held.discard(symbol)
                    change.removed.append((channel, symbol))
                    if counted:
                        quotes -= 1
                statuses.append(status("success", f"unsubscribed to: {shown}"))
        return statuses, change

    def _problem(self, topic: str, parsed: tuple[str, str] | None) -> str | None:
        if parsed is None:
            return f"invalid topic {topic!r}: use CHANNEL.SYMBOL, e.g. T.AAPL or Q.O:SPY251219C00650000"
        channel, symbol = parsed
        if channel not in CHANNELS:
            return f"unknown channel {channel!r} in {topic}; {self.market} channels are T, Q, A and AM"
        if symbol == WILDCARD:
            if self.market == "options" and channel == "Q":
                return (
                    f"Q.* is not available on options: subscribe to at most {self.option_quote_cap:,} "
                    "contracts by ticker"
                )
            return None
        is_option = symbol.upper().startswith(OPTION_PREFIX)
        if self.market == "options" and not is_option:
            return f"invalid option ticker {symbol!r} in {topic}: option topics use O: tickers"
        if self.market == "stocks" and is_option:
            return f"{topic} is an option topic: option tickers stream on /v1/ws/options/"
        return None


# -- event shapes -------------------------------------------------------------------------------------

TICK_CHANNELS: dict[str, tuple[str, str]] = {
    "stock_trades": ("stocks", "T"),
    "stock_quotes": ("stocks", "Q"),
    "option_trades": ("options", "T"),
    "option_quotes": ("options", "Q"),
}


def _ms(ns: int) -> int:
    return ns // NS_PER_MS


def _cols(table: pa.Table, names: Sequence[str]) -> list[list[Any]]:
    return [table.column(n).to_pylist() for n in names]


def encode_stock_trades(table: pa.Table, keep: Sequence[bool]) -> list[bytes | None]:
    cols = _cols(
        table,
        (
            "ticker",
            "exchange",
            "id",
            "tape",
            "price",
            "size",
            "conditions",
            "sip_timestamp",
            "sequence_number",
            "trf_id",
            "trf_timestamp",
            "participant_timestamp",
        ),
    )
    out: list[bytes | None] = []
    dumps = orjson.dumps
    for wanted, (sym, x, i, z, p, s, c, t, q, trfi, trft, pt) in zip(keep, zip(*cols, strict=True), strict=True):
        if not wanted:
            out.append(None)
            continue
        ev: dict[str, Any] = {"ev": "T", "sym": sym, "x": x, "i": i, "z": z, "p": p, "s": s}
        if c:
            ev["c"] = c
        ev["t"] = t // NS_PER_MS
        ev["q"] = q
        if trfi is not None:
            ev["trfi"] = trfi
            if trft is not None:
                ev["trft"] = trft // NS_PER_MS
        if pt is not None:
            ev["pt"] = pt // NS_PER_MS
        out.append(dumps(ev))
    return out


def encode_stock_quotes(table: pa.Table, keep: Sequence[bool]) -> list[bytes | None]:
    cols = _cols(
        table,
        (
            "ticker",
            "bid_exchange",
            "bid_price",
            "bid_size",
            "ask_exchange",
            "ask_price",
            "ask_size",
            "conditions",
            "indicators",
            "sip_timestamp",
            "sequence_number",
            "tape",
        ),
    )
    out: list[bytes | None] = []
    dumps = orjson.dumps
    for wanted, (sym, bx, bp, bs, ax, ap, as_, c, i, t, q, z) in zip(keep, zip(*cols, strict=True), strict=True):
        if not wanted:
            out.append(None)
            continue
        ev: dict[str, Any] = {"ev": "Q", "sym": sym, "bx": bx, "bp": bp, "bs": bs, "ax": ax, "ap": ap, "as": as_}
        if c:
            ev["c"] = c[0]
        if i:
            ev["i"] = i
        ev["t"] = t // NS_PER_MS
        ev["q"] = q
        ev["z"] = z
        out.append(dumps(ev))
    return out


def encode_option_trades(table: pa.Table, keep: Sequence[bool]) -> list[bytes | None]:
    cols = _cols(table, ("ticker", "exchange", "price", "size", "conditions", "sip_timestamp", "sequence_number"))
    out: list[bytes | None] = []
    dumps = orjson.dumps
    for wanted, (sym, x, p, s, c, t, q) in zip(keep, zip(*cols, strict=True), strict=True):
        if not wanted:
            out.append(None)
            continue
        ev: dict[str, Any] = {"ev": "T", "sym": sym, "x": x, "p": p, "s": s}
        if c:
            ev["c"] = c
        ev["t"] = t // NS_PER_MS
        ev["q"] = q
        out.append(dumps(ev))
    return out


def encode_option_quotes(table: pa.Table, keep: Sequence[bool]) -> list[bytes | None]:
    cols = _cols(
        table,
        (
            "ticker",
            "bid_exchange",
            "ask_exchange",
            "bid_price",
            "ask_price",
            "bid_size",
            "ask_size",
            "sip_timestamp",
            "sequence_number",
        ),
    )
    out: list[bytes | None] = []
    dumps = orjson.dumps
    for wanted, (sym, bx, ax, bp, ap, bs, as_, t, q) in zip(keep, zip(*cols, strict=True), strict=True):
        if not wanted:
            out.append(None)
            continue
        out.append(
            dumps(
                {
                    "ev": "Q",
                    "sym": sym,
                    "bx": bx,
                    "ax": ax,
                    "bp": bp,
                    "ap": ap,
                    "bs": bs,
                    "as": as_,
                    "t": t // NS_PER_MS,
                    "q": q,
                }
            )
        )
    return out


ENCODERS: dict[str, Callable[[pa.Table, Sequence[bool]], list[bytes | None]]] = {
    "stock_trades": encode_stock_trades,
    "stock_quotes": encode_stock_quotes,
    "option_trades": encode_option_trades,
    "option_quotes": encode_option_quotes,
}


def aggregate_event(
    channel: str,
    sym: str,
    *,
    start_ns: int,
    end_ns: int,
    open_: float,
    high: float,
    low: float,
    close: float,
    volume: float,
    vwap: float,
    transactions: int,
    day_volume: float,
    day_vwap: float | None,
    day_open: float | None,
) -> bytes:
    """An ``A`` (second) or ``AM`` (minute) aggregate event."""
    ev: dict[str, Any] = {"ev": channel, "sym": sym, "v": int(volume), "av": int(day_volume)}
    if day_open is not None:
        ev["op"] = day_open
    ev["vw"] = round(vwap, 4)
    ev["o"] = open_
    ev["c"] = close
    ev["h"] = high
    ev["l"] = low
    if day_vwap is not None:
        ev["a"] = round(day_vwap, 4)
    ev["z"] = int(volume // transactions) if transactions else 0
    ev["s"] = _ms(start_ns)
    ev["e"] = _ms(end_ns)
    return orjson.dumps(ev)
