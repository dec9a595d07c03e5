"""One producer, many subscribers: a topic index and a bounded frame queue per connection.

The producer never waits for a socket: :meth:`Hub.deliver` appends one frame per subscriber and batch to
that subscriber's queue, and each connection's writer task drains its own queue (merging frames that
piled up). A subscriber whose queue reaches ``warn_at`` frames is sent a ``slow_consumer`` status; one
whose queue reaches ``max_frames`` is disconnected with close code 4413, so it never slows anyone else.
An unpaced replay (as fast as possible) additionally waits for queues to drain, but only so long.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable

from .protocol import CLOSE_SLOW_CONSUMER, Subscriptions, TopicChange, frame, join_frames, status

MAX_MERGED_BYTES = 1 << 20
PACE_FRAMES = 8  # an unpaced replay waits until every queue is shorter than this

_ids = itertools.count(1)


class Subscriber:
    """One connection's side of the fan-out: its topics, its queue and its close request."""

    def __init__(self, market: str, *, max_frames: int, warn_at: int, option_quote_cap: int) -> None:
        self.id = next(_ids)
        self.market = market
        self.user: str | None = None
        self.subscriptions = Subscriptions(market, option_quote_cap)
        self.max_frames = max_frames
        self.warn_at = max(1, min(warn_at, max_frames - 1))
        self.queue: deque[tuple[int, bytes]] = deque()
        self.ready = asyncio.Event()
        self.warned = False
        self.unpaced = False  # an unpaced replay no longer waits for this one
        self.close_request: tuple[int, str] | None = None
        self.close_event = asyncio.Event()
        self.trace: list[list[int]] | None = None  # enqueue times per send (benchmarks)

    def __hash__(self) -> int:
        return self.id

    @property
    def closing(self) -> bool:
        return self.close_request is not None

    def push(self, data: bytes, *, control: bool = False) -> None:
        """Queue one frame; control frames (status answers) are never refused."""
        if self.close_request is not None:
            return
        q = self.queue
        if not control and len(q) >= self.max_frames:
            message = f"slow consumer: {len(q)} messages were waiting to be read"
            self.request_close(
                CLOSE_SLOW_CONSUMER, message, flush=False, final=frame([status("slow_consumer", message)])
            )
            return
        q.append((time.time_ns(), data))
        if not control:
            if len(q) >= self.warn_at and not self.warned:
                self.warn()
            elif self.warned and len(q) < self.warn_at // 2:
                self.warned = False
        self.ready.set()

    def warn(self) -> None:
        """Tell the client it is falling behind (ahead of its backlog, so it arrives with the next send)."""
        self.warned = True
        message = (
            f"You are not reading fast enough: {len(self.queue)} messages are waiting; the connection is closed "
            f"when {self.max_frames} are."
        )
        self.queue.appendleft((time.time_ns(), frame([status("slow_consumer", message)])))
        self.ready.set()

    def request_close(self, code: int, reason: str, *, flush: bool, final: bytes | None = None) -> None:
        """Close after the queued frames (``flush``) or at once, dropping them (``final`` is still sent)."""
        if self.close_request is not None:
            return
        if not flush:
            self.queue.clear()
        if final is not None:
            self.queue.append((time.time_ns(), final))
        self.close_request = (code, reason[:120])
        self.close_event.set()
        self.ready.set()

    def take(self) -> tuple[bytes, list[int]] | None:
        """The queued frames merged into one (oldest first), with their enqueue times."""
        q = self.queue
        if not q:
            return None
        stamps: list[int] = []
        parts: list[bytes] = []
        size = 0
        while q and (not parts or size + len(q[0][1]) <= MAX_MERGED_BYTES):
            at, data = q.popleft()
            stamps.append(at)
            parts.append(data)
            size += len(data)
        return join_frames(parts), stamps

    async def write_loop(
        self, send_text: Callable[[str], Awaitable[None]], close: Callable[[int, str], Awaitable[None]]
    ) -> None:
        """Drain the queue into the socket until a close is requested; then close with its code."""
        while True:
            item = self.take()
            if item is not None:
                await send_text(item[0].decode())
                if self.trace is not None:
                    self.trace.append(item[1])
                item = None  # an idle connection keeps no frame alive
                continue
            if self.close_request is not None:
                code, reason = self.close_request
                await close(code, reason)
                return
            self.ready.clear()
            await self.ready.wait()


class Hub:
    """The subscribers of both markets and the index from topic to subscriber."""

    def __init__(self) -> None:
        self.subscribers: set[Subscriber] = set()
        self._exact: dict[str, dict[tuple[str, str], set[Subscriber]]] = {"stocks": {}, "options": {}}
        self._wild: dict[str, dict[str, set[Subscriber]]] = {"stocks": {}, "options": {}}
        self._targets: dict[tuple[str, str, str], tuple[Subscriber, ...]] = {}
        self.events_delivered = 0

    def add(self, sub: Subscriber) -> None:
        self.subscribers.add(sub)

    def remove(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)
        change = TopicChange(removed=list(sub.subscriptions.topics))
        self.update(sub, change)

    def update(self, sub: Subscriber, change: TopicChange) -> None:
        if not change.added and not change.removed:
            return
        exact, wild = self._exact[sub.market], self._wild[sub.market]
        for channel, symbol in change.added:
            if symbol == "*":
                wild.setdefault(channel, set()).add(sub)
            else:
                exact.setdefault((channel, symbol), set()).add(sub)
        for channel, symbol in change.removed:
            holders = wild.get(channel) if symbol == "*" else exact.get((channel, symbol))
            if holders is not None:
                holders.discard(sub)
        self._targets.clear()

    def targets(self, market: str, channel: str, symbol: str) -> tuple[Subscriber, ...]:
        """Every subscriber of ``channel.symbol`` (by name or by wildcard), each once."""
        key = (market, channel, symbol)
        found = self._targets.get(key)
        if found is None:
            exact = self._exact[market].get((channel, symbol), ())
            wild = self._wild[market].get(channel, ())
            found = tuple(set(exact) | set(wild)) if exact and wild else tuple(exact or wild)
            self._targets[key] = found
        return found

    def deliver(self, routed: Iterable[tuple[tuple[Subscriber, ...], bytes]]) -> None:
        """Queue one frame per subscriber holding, in order, every event routed to it."""
        pending: dict[Subscriber, list[bytes]] = {}
        n = 0
        for subs, payload in routed:
            for sub in subs:
                lst = pending.get(sub)
                if lst is None:
                    pending[sub] = [payload]
                else:
                    lst.append(payload)
                n += 1
        for sub, payloads in pending.items():
            sub.push(b"[" + b",".join(payloads) + b"]")
        self.events_delivered += n

    def broadcast_close(self, code: int, reason: str) -> None:
        for sub in list(self.subscribers):
            sub.request_close(code, reason, flush=False)

    async def wait_for_room(self, timeout_s: float) -> None:
        """Wait until every paced subscriber's queue is short; after ``timeout_s`` stop waiting for the
        laggards (they are warned, and dropped if their queue fills)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            laggards = [s for s in self.subscribers if not s.unpaced and not s.closing and len(s.queue) >= PACE_FRAMES]
            if not laggards:
                return
            if loop.time() >= deadline:
                for s in laggards:
                    s.unpaced = True
                    if not s.warned:
                        s.warn()
                return
            await asyncio.sleep(0.001)
