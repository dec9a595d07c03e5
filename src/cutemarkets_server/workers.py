"""Serving with several worker processes over one listening socket, and the leader among them.

``cutemarkets serve --workers N`` binds the socket once and starts N worker processes under uvicorn's
multiprocess supervisor (a dead worker is replaced). Each worker builds the app from the settings and the
stream configuration the parent put in ``CUTEMARKETS_WORKER_CONFIG`` and serves REST and WebSocket requests
on its share of the connections.

What several processes share goes through the data directory: rate limits (``usage.sqlite``), connection
leases (``keys.sqlite``), the page-token secret (``secret.key``, created by the parent before the workers
start), the paper ledger, and the paper order updates (:class:`RelayedEvents`: each update is written to
``paper-events.sqlite`` and every other worker hands it to its own WebSocket subscribers).

Writes are the leader's alone. The leader is the process holding an exclusive ``flock`` on
``DATA_DIR/leader.lock`` (:class:`Leadership`); the others retry every half second, so when the leader dies
(the kernel drops its lock) a survivor takes over within a second. The leader runs the paper fill engine
and appends the live market clock's ticks to the lake (with the session's open interest, its state and the
compaction at its end). Every worker runs the live market clock: the session is generated
deterministically from (seed, day) and the lake at its start, so every worker's WebSocket subscribers get
the same ticks at the same time; only the leader stores them. In a replay every worker replays the same
day from the same wall-clock instant (the parent's start), so all the clocks agree.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import fcntl
import json
import logging
import os
import pickle
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import uvicorn
from uvicorn.supervisors import multiprocess

from .config import Settings
from .paper.events import PaperEvents
from .store.sqlite import ThreadLocalSQLite
from .ws.config import StreamConfig

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger("cutemarkets.workers")

CONFIG_ENV = "CUTEMARKETS_WORKER_CONFIG"
LOCK_FILE = "leader.lock"
EVENTS_FILE = "paper-events.sqlite"
WORKER_HEADER = b"x-cutemarkets-worker"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


# -- the leader ----------------------------------------------------------------------------------------
class Leadership:
    """Who does the writing. ``Leadership()`` (one process) is always the leader; ``Leadership(path)`` is the
    leader while it holds an exclusive non-blocking ``flock`` on ``path``, and retries every ``retry_s``
    until it does. Callbacks given to :meth:`on_elected` run (on the event loop) when it becomes the leader."""

    def __init__(self, path: Path | None = None, *, retry_s: float = 0.5) -> None:
        self.path = path
        self.retry_s = retry_s
        self._fd: int | None = None
        self._leader = path is None
        self._callbacks: list[Callable[[], Awaitable[None]]] = []
        self._watch: asyncio.Task[None] | None = None

    @property
    def shared(self) -> bool:
        """Whether other processes may serve the same data directory (the lock decides who leads)."""
        return self.path is not None

    def is_leader(self) -> bool:
        return self._leader

    def on_elected(self, callback: Callable[[], Awaitable[None]]) -> None:
        self._callbacks.append(callback)

    def try_acquire(self) -> bool:
        """Take the lock if nobody holds it (never blocks)."""
        if self._leader:
            return True
        assert self.path is not None
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{os.getpid()}\n".encode(), 0)
        self._leader = True
        return True

    async def start(self) -> None:
        """Become the leader now if possible (running the callbacks), else keep trying in the background."""
        if self.try_acquire():
            await self._elected()
        else:
            log.info("worker %d serves as a follower (another process leads)", os.getpid())
            self._watch = asyncio.get_running_loop().create_task(self._campaign(), name="leader-campaign")

    async def _campaign(self) -> None:
        while not self.try_acquire():
            await asyncio.sleep(self.retry_s)
        await self._elected()

    async def _elected(self) -> None:
        if self.shared:
            log.info("worker %d is the leader (writes the lake, runs the paper fill engine)", os.getpid())
        for callback in self._callbacks:
            await callback()

    async def stop(self) -> None:
        """Stop campaigning and give the lock up (after the writes have finished)."""
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
            self._watch = None
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the lock
            self._fd = None
            self._leader = False


# -- paper order updates across processes ----------------------------------------------------------------
_EVENTS_DDL = """
CREATE TABLE IF NOT EXISTS paper_events (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    origin  TEXT NOT NULL,
    key_id  INTEGER NOT NULL,
    payload BLOB NOT NULL,
    at      REAL NOT NULL
);
"""
EVENTS_KEEP_S = 120.0


class RelayedEvents(PaperEvents):
    """Paper order updates that reach the subscribers of every worker: published here at once, and written
    to a small SQLite log that the other workers tail (:meth:`run`) to publish to theirs."""

    def __init__(self, path: Path, *, poll_s: float = 0.05) -> None:
        super().__init__()
        self.poll_s = poll_s
        self.origin = f"{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._db = ThreadLocalSQLite(path, _EVENTS_DDL)
        self._task: asyncio.Task[None] | None = None
        self._pruned = 0.0

    def publish(self, key_id: int, event: dict[str, Any]) -> None:
        super().publish(key_id, event)
        try:
            payload = orjson.dumps(event, default=str)
            with self._db.tx() as con:
                con.execute(
                    "INSERT INTO paper_events(origin, key_id, payload, at) VALUES (?, ?, ?, ?)",
                    (self.origin, key_id, payload, time.time()),
                )
        except Exception:  # the ledger has the change; only the other workers' subscribers miss this update
            log.exception("relaying a paper order update to the other workers failed")

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self.run(), name="paper-event-relay")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run(self) -> None:
        row = await asyncio.to_thread(lambda: self._db.con().execute("SELECT MAX(seq) FROM paper_events").fetchone())
        last = int(row[0] or 0)
        while True:
            await asyncio.sleep(self.poll_s)
            try:
                last = await asyncio.to_thread(self._relay, last)
            except Exception:
                log.exception("relaying paper order updates failed")

    def _relay(self, last: int) -> int:
        con = self._db.con()
        rows = con.execute(
            "SELECT seq, origin, key_id, payload FROM paper_events WHERE seq > ? ORDER BY seq", (last,)
        ).fetchall()
        for seq, origin, key_id, payload in rows:
            last = seq
            if origin != self.origin:
                super().publish(int(key_id), orjson.loads(payload))
        now = time.time()
        if now - self._pruned > 30.0:
            self._pruned = now
            with self._db.tx() as tx:
                tx.execute("DELETE FROM paper_events WHERE at < ?", (now - EVENTS_KEEP_S,))
        return last


# -- the worker processes ----------------------------------------------------------------------------------
class WorkerHeader:
    """Tags every answer (and WebSocket handshake) with ``X-Cutemarkets-Worker: <pid>`` of the serving worker."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.value = str(os.getpid()).encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return

        async def tagged(message: Any) -> None:
            if message["type"] in ("http.response.start", "websocket.accept"):
                message = {**message, "headers": [*message.get("headers", []), (WORKER_HEADER, self.value)]}
            await send(message)

        await self.app(scope, receive, tagged)


def encode_config(settings: Settings, streaming: StreamConfig) -> str:
    """The settings and stream configuration as the JSON the workers read from ``CUTEMARKETS_WORKER_CONFIG``."""

    def plain(value: Any) -> Any:
        if isinstance(value, Path):
            return str(value)
        if isinstance(value, dt.date | dt.time):
            return value.isoformat()
        if isinstance(value, tuple):
            return list(value)
        return value

    return json.dumps(
        {
            "settings": {f.name: plain(getattr(settings, f.name)) for f in dataclasses.fields(settings)},
            "streaming": {f.name: plain(getattr(streaming, f.name)) for f in dataclasses.fields(streaming)},
        }
    )


def decode_config(text: str) -> tuple[Settings, StreamConfig]:
    raw = json.loads(text)
    s = dict(raw["settings"])
    s["data_dir"] = Path(s["data_dir"])
    s["backtests_dir"] = Path(s["backtests_dir"]) if s.get("backtests_dir") else None
    s["cors_origins"] = tuple(s.get("cors_origins") or ())
    c = dict(raw["streaming"])
    c["replay_day"] = dt.date.fromisoformat(c["replay_day"]) if c.get("replay_day") else None
    c["replay_start"] = dt.time.fromisoformat(c["replay_start"]) if c.get("replay_start") else None
    return Settings(**s), StreamConfig(**c)


def worker_app() -> FastAPI:
    """The app factory each worker process calls (``cutemarkets_server.workers:worker_app``)."""
    from .api.middleware import install_log_redaction
    from .app import create_app

    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    install_log_redaction()
    text = os.environ.get(CONFIG_ENV)
    if not text:
        raise RuntimeError(f"{CONFIG_ENV} is not set: worker processes are started by `cutemarkets serve --workers`")
    settings, streaming = decode_config(text)
    leadership = Leadership(settings.layout.root / LOCK_FILE)
    app = create_app(settings, streaming=streaming, leadership=leadership)
    app.add_middleware(WorkerHeader)
    return app


def prepare_data_dir(settings: Settings) -> None:
    """Create what every worker opens, once, before they start: the page-token secret (so all sign alike) and
    the shared SQLite databases (so no two processes race to create them)."""
    from .paper import LEDGER_FILE
    from .store.keys import KeyStore
    from .store.leases import LeaseStore
    from .store.paper import PaperLedger
    from .store.ratelimit import RateLimitStore

    layout = settings.layout
    layout.root.mkdir(parents=True, exist_ok=True)
    settings.signing_secret()
    KeyStore(layout.keys_db)
    LeaseStore(layout.keys_db)
    RateLimitStore(layout.usage_db)
    PaperLedger(layout.root / LEDGER_FILE)
    ThreadLocalSQLite(layout.root / EVENTS_FILE, _EVENTS_DDL)


class StreamingProcess(multiprocess.Process):
    """uvicorn's worker process, running our server (WebSockets closed with 1001 on shutdown)."""

    def _healthcheck(self, timeout: float) -> bool | None:
        """uvicorn's ping, but a worker that dies while the ping is pending counts as dead at once.

        The supervisor keeps the child's end of the pipe open, so a killed worker never closes it: uvicorn's
        own ping would wait the whole healthcheck timeout (a minute here) before replacing the worker.
        """
        try:
            self.parent_conn.send(b"ping")
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.parent_conn.poll(min(0.25, max(deadline - time.monotonic(), 0.0))):
                    started: bool = self.parent_conn.recv()
                    return started
                if not self.process.is_alive():
                    return None
            return None
        except (OSError, EOFError, pickle.UnpicklingError):
            return None

    @property
    def server(self) -> uvicorn.Server:
        if self._server is None:
            from .ws.serving import StreamingServer

            self._server = StreamingServer(config=self.config)
        return self._server


def serve_workers(settings: Settings, streaming: StreamConfig, workers: int) -> None:
    """Serve with ``workers`` processes over one socket until SIGINT/SIGTERM (which drains every worker)."""
    from .ws.serving import server_config

    prepare_data_dir(settings)
    if streaming.mode == "replay" and streaming.replay_speed is not None and streaming.replay_anchor is None:
        streaming = dataclasses.replace(streaming, replay_anchor=time.time())
    os.environ[CONFIG_ENV] = encode_config(settings, streaming)
    config = server_config(
        f"{__name__}:worker_app",
        host=settings.host,
        port=settings.port,
        factory=True,
        workers=workers,
        # A worker answers the supervisor's pings from a thread that starts once its imports are done: give a
        # loaded machine time before a slow starter is taken for a hung one.
        timeout_worker_healthcheck=60,
    )
    sock = config.bind_socket()
    # The supervisor creates (and re-creates) its workers through this module-level name.
    multiprocess.Process = StreamingProcess  # type: ignore[misc]
    multiprocess.Multiprocess(config, sockets=[sock]).run()
