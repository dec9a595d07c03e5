"""Order updates fanned out to the WebSocket connections of the key that owns the account.

The ledger's writers run in worker threads and in the fill engine; a connection lives on the event loop.
``publish`` may be called from any thread and hands the event to each subscriber's queue on its loop."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any

QUEUE_EVENTS = 1000


class PaperSubscription:
    def __init__(self, key_id: int, loop: asyncio.AbstractEventLoop) -> None:
        self.key_id = key_id
        self.loop = loop
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=QUEUE_EVENTS)
        self.overflowed = False

    def _put(self, event: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True


class PaperEvents:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subs: dict[int, set[PaperSubscription]] = {}

    def subscribe(self, key_id: int) -> PaperSubscription:
        sub = PaperSubscription(key_id, asyncio.get_running_loop())
        with self._lock:
            self._subs.setdefault(key_id, set()).add(sub)
        return sub

    def unsubscribe(self, sub: PaperSubscription) -> None:
        with self._lock:
            subs = self._subs.get(sub.key_id)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._subs[sub.key_id]

    def publish(self, key_id: int, event: dict[str, Any]) -> None:
        with self._lock:
            subs = list(self._subs.get(key_id, ()))
        for sub in subs:
            with contextlib.suppress(RuntimeError):  # the loop is closed: the connection is gone
                sub.loop.call_soon_threadsafe(sub._put, event)
