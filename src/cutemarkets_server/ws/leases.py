"""The one-connection-per-user rule as a lease with a time to live.

A connection takes its user's lease when it authenticates and gives it back when it ends. While it lives,
the lease is refreshed every ``refresh_s``; if the process holding it dies, nobody refreshes it and it
expires after ``ttl_s``. Leases are stored in SQLite beside the keys, so every server process over the
same data directory honours them.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable

from ..store.keys import ApiKey
from ..store.leases import LeaseStore

log = logging.getLogger("cutemarkets.ws")


def user_of(key: ApiKey) -> str:
    """The user a key belongs to: keys created with the same name are one user's keys."""
    return key.name


class ConnectionLeases:
    def __init__(self, store: LeaseStore, *, ttl_s: float, refresh_s: float) -> None:
        self.store = store
        self.ttl_s = ttl_s
        self.refresh_s = refresh_s
        self.instance = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._seq = itertools.count(1)
        self._held: dict[str, tuple[str, Callable[[], None]]] = {}
        self._task: asyncio.Task[None] | None = None

    def new_holder(self) -> str:
        return f"{self.instance}:{next(self._seq)}"

    async def acquire(self, user: str, holder: str, market: str, on_lost: Callable[[], None]) -> bool:
        """Take ``user``'s lease for ``holder``; False while another live connection holds it."""
        lease = await asyncio.to_thread(self.store.acquire, user, holder, market, time.time(), self.ttl_s)
        if lease is None:
            return False
        self._held[holder] = (user, on_lost)
        return True

    async def release(self, holder: str) -> None:
        held = self._held.pop(holder, None)
        if held is not None:
            await asyncio.to_thread(self.store.release, held[0], holder)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._refresh_forever(), name="ws-lease-refresh")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        holders = list(self._held)
        self._held.clear()
        if holders:
            await asyncio.to_thread(self.store.release_all, holders)

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_s)
            held = [(user, holder) for holder, (user, _) in self._held.items()]
            if not held:
                continue
            try:
                lost = await asyncio.to_thread(self.store.refresh, held, time.time(), self.ttl_s)
            except Exception:
                log.exception("refreshing WebSocket leases failed")
                continue
            for _, holder in lost:
                entry = self._held.pop(holder, None)
                if entry is not None:
                    entry[1]()
