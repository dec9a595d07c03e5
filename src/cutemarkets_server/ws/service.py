"""What the app starts and stops: the fan-out hub, the connection leases and the producer feeding them.

The service is the producer's :class:`~cutemarkets_server.sim.tape.TickSink`: it turns each released
batch of ticks into wire events (only those somebody subscribed to are encoded), adds the second and
minute aggregates that closed, and hands everything to the hub in one go.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..api.auth import Authenticator
from ..clock import ReplayClock
from ..runtime import Runtime
from ..sim.tape import TICK_DATASETS, SessionTape, TickBatch
from ..store.leases import LeaseStore
from ..store.market import MarketStore
from .bars import StreamBars
from .config import StreamConfig
from .fanout import Hub, Subscriber
from .leases import ConnectionLeases
from .protocol import CLOSE_GOING_AWAY, ENCODERS, MARKETS, TICK_CHANNELS

if TYPE_CHECKING:
    from ..sim.live import MarketClock
    from .gateway import Connection

log = logging.getLogger("cutemarkets.ws")

TRADE_DATASETS = {"stock_trades": "stocks", "option_trades": "options"}
SHUTDOWN_REASON = "server shutting down"


class StreamService:
    def __init__(
        self, runtime: Runtime, auth: Authenticator, config: StreamConfig, *, writer: Callable[[], bool] | None = None
    ) -> None:
        self.runtime = runtime
        # Whether this process stores what the live market clock releases (the leader of several workers);
        # the others only publish it.
        self.writer = writer or (lambda: True)
        self.auth = auth
        self.config = config
        self.hub = Hub()
        self.leases = ConnectionLeases(
            LeaseStore(runtime.settings.layout.keys_db), ttl_s=config.lease_ttl_s, refresh_s=config.lease_refresh_s
        )
        self.connections: set[Connection] = set()
        self.bars = {market: StreamBars(market) for market in MARKETS}
        self.loop: asyncio.AbstractEventLoop | None = None
        self.producer: asyncio.Task[None] | None = None
        self.market_clock: MarketClock | None = None
        self.batches = 0
        self.events_released = 0
        self._routed: list[tuple[tuple[Subscriber, ...], bytes]] = []

    # -- lifecycle ---------------------------------------------------------------------------------
    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.leases.start()
        if self.config.mode == "replay":
            self.start_replay()
        elif self.config.mode == "live":
            self.producer = self.loop.create_task(self._run_live(), name="ws-market-clock")

    def start_replay(self, tape: SessionTape | None = None) -> None:
        """Start replaying ``tape`` (default: the configured day from the lake) on the server's loop."""
        assert self.loop is not None, "the service has not started"
        self.producer = self.loop.create_task(self._run_replay(tape), name="ws-replay")

    async def stop(self) -> None:
        await self.close_connections(CLOSE_GOING_AWAY, SHUTDOWN_REASON)
        if self.producer is not None:
            self.producer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.producer
            self.producer = None
        await self.leases.stop()

    async def close_connections(self, code: int, reason: str, timeout_s: float = 3.0) -> None:
        """Close every socket with ``code`` and ``reason`` and wait (a little) for them to go."""
        self.hub.broadcast_close(code, reason)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while self.connections and loop.time() < deadline:
            await asyncio.sleep(0.02)

    async def _run_replay(self, tape: SessionTape | None) -> None:
        from ..sim.replay import load_session, replay

        clock = self.runtime.clock
        if not isinstance(clock, ReplayClock) or (tape is None and self.config.replay_day is None):
            raise RuntimeError("a replay needs a ReplayClock as the server clock and a day")
        store = MarketStore(self.runtime.lake, self.runtime.engine)
        try:
            if tape is None:
                tape = await asyncio.to_thread(load_session, store, self.config.replay_day)
            log.info("replaying %s (%d events) at %s", tape.day, len(tape), clock.speed or "full speed")
            await replay(tape, clock, self, step_s=self.config.step_s)
            log.info("replay of %s finished", tape.day)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("the replay stopped")
            raise

    async def _run_live(self) -> None:
        from ..sim.live import MarketClock

        market_clock = self.market_clock = MarketClock.for_runtime(self.runtime, self, self.config, writer=self.writer)
        if market_clock is None:
            log.info("the lake holds no built-in market: the live market clock is off")
            return
        try:
            await market_clock.run()
        except asyncio.CancelledError:
            await asyncio.shield(market_clock.flush())
            raise
        except Exception:
            log.exception("the live market clock stopped")
            raise

    # -- the producer's sink -----------------------------------------------------------------------
    def publish(self, batch: TickBatch) -> None:
        self.batches += 1
        self.events_released += batch.size
        for name, market in TRADE_DATASETS.items():
            bars = self.bars[market]
            bars.start_day(batch.day)
            table = batch.tables.get(name)
            if table is not None:
                bars.add(table)
        if batch.silent or not self.hub.subscribers:
            for bars in self.bars.values():
                bars.flush(batch.until_ns, emit=False)
            return
        routed = self._routed
        routed.extend(self._route_ticks(batch))
        hub = self.hub
        for market, bars in self.bars.items():
            for channel, symbol, payload in bars.flush(batch.until_ns):
                targets = hub.targets(market, channel, symbol)
                if targets:
                    routed.append((targets, payload))

    def commit(self) -> None:
        if self._routed:
            routed, self._routed = self._routed, []
            self.hub.deliver(routed)

    def _route_ticks(self, batch: TickBatch) -> list[tuple[tuple[Subscriber, ...], bytes]]:
        hub = self.hub
        columns: dict[int, tuple[list[tuple[Subscriber, ...]], list[bytes | None]]] = {}
        for name, table in batch.tables.items():
            market, channel = TICK_CHANNELS[name]
            targets = [hub.targets(market, channel, s) for s in table.column("ticker").to_pylist()]
            keep = [bool(t) for t in targets]
            if any(keep):
                columns[TICK_DATASETS.index(name)] = (targets, ENCODERS[name](table, keep))
        if not columns:
            return []
        routed: list[tuple[tuple[Subscriber, ...], bytes]] = []
        if len(columns) == 1:
            ((targets, payloads),) = columns.values()
            for t, p in zip(targets, payloads, strict=True):
                if t:
                    routed.append((t, p))  # type: ignore[arg-type]
            return routed
        cursor = dict.fromkeys(columns, 0)
        for source in batch.order.tolist():
            entry = columns.get(source)
            if entry is None:
                continue
            i = cursor[source]
            cursor[source] = i + 1
            t = entry[0][i]
            if t:
                routed.append((t, entry[1][i]))  # type: ignore[arg-type]
        return routed

    async def wait_for_room(self) -> None:
        await self.hub.wait_for_room(self.config.drain_wait_s)
