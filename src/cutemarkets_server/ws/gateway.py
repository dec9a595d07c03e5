"""The WebSocket routes and the life of one connection.

``/v1/ws/{options|stocks}/`` (CuteMarkets: the key comes with the handshake) and ``/options``, ``/stocks``
(Polygon/Massive: the key comes in an ``auth`` message) are one hybrid endpoint: the server always sends
``connected`` first, authenticates at once when the handshake carried a key, and otherwise waits up to
the auth timeout for an ``auth`` message. Refusals are a status event followed by a close code.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, WebSocket
from fastapi.responses import JSONResponse

from ..api.envelope import error_body, new_request_id
from ..api.errors import ApiError
from ..api.middleware import key_from_scope
from ..plans import plan
from ..store.keys import ApiKey
from .fanout import Subscriber
from .leases import user_of
from .protocol import (
    CLOSE_FORBIDDEN,
    CLOSE_MAX_CONNECTIONS,
    CLOSE_UNAUTHORIZED,
    MARKETS,
    ProtocolError,
    frame,
    parse_message,
    status,
)

if TYPE_CHECKING:
    from .service import StreamService

CLOSE_GRACE_S = 5.0  # how long a closing connection may take to flush before it is dropped

router = APIRouter()


async def _stream(websocket: WebSocket, market: str) -> None:
    service: StreamService = websocket.app.state.stream
    if market not in MARKETS:
        body = error_body(new_request_id(), "not_found", f"Unknown market {market!r}: use options or stocks.")
        await websocket.send_denial_response(JSONResponse(body, status_code=404))
        return
    await Connection(service, websocket, market).run()


@router.websocket("/v1/ws/{market}")
@router.websocket("/v1/ws/{market}/")
async def cutemarkets_stream(websocket: WebSocket, market: str) -> None:
    """The CuteMarkets stream of one market (key in ``Authorization: Bearer`` or ``?api_key=``)."""
    await _stream(websocket, market)


@router.websocket("/stocks")
@router.websocket("/stocks/")
async def polygon_stocks(websocket: WebSocket) -> None:
    """The Polygon/Massive protocol for stocks (``{"action":"auth","params":KEY}`` after connecting)."""
    await _stream(websocket, "stocks")


@router.websocket("/options")
@router.websocket("/options/")
async def polygon_options(websocket: WebSocket) -> None:
    """The Polygon/Massive protocol for options."""
    await _stream(websocket, "options")


class Connection:
    def __init__(self, service: StreamService, websocket: WebSocket, market: str) -> None:
        cfg = service.config
        self.service = service
        self.websocket = websocket
        self.market = market
        self.sub = Subscriber(
            market,
            max_frames=cfg.queue_frames,
            warn_at=int(cfg.queue_frames * cfg.warn_fraction),
            option_quote_cap=cfg.option_quote_cap,
        )
        self.holder = service.leases.new_holder()
        self.key: ApiKey | None = None
        self.authenticated = asyncio.Event()

    # -- life --------------------------------------------------------------------------------------
    async def run(self) -> None:
        await self.websocket.accept()
        hub = self.service.hub
        hub.add(self.sub)
        self.service.connections.add(self)
        tasks: list[asyncio.Task[Any]] = []
        try:
            self.sub.push(frame([status("connected", "Connected Successfully")]), control=True)
            tasks.append(asyncio.create_task(self._write()))
            secret = key_from_scope(self.websocket.scope)
            if secret:
                await self._authenticate(secret)
            tasks.append(asyncio.create_task(self._read()))
            tasks.append(asyncio.create_task(self._watch()))
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(BaseException):
                    await task
            hub.remove(self.sub)
            self.service.connections.discard(self)
            await self.service.leases.release(self.holder)

    def close(self, code: int, reason: str, *, flush: bool = True) -> None:
        self.sub.request_close(code, reason, flush=flush)

    async def _write(self) -> None:
        async def send_text(text: str) -> None:
            await self.websocket.send({"type": "websocket.send", "text": text})

        async def close(code: int, reason: str) -> None:
            await self.websocket.close(code, reason)

        with contextlib.suppress(Exception):
            await self.sub.write_loop(send_text, close)

    async def _read(self) -> None:
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("text")
            if data is None:
                data = message.get("bytes")
            if data is not None and not self.sub.closing:
                await self._handle(data)

    async def _watch(self) -> None:
        """Close an unauthenticated connection after the auth timeout; drop a closing one that cannot flush."""
        if not self.authenticated.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.authenticated.wait(), self.service.config.auth_timeout_s)
            if not self.authenticated.is_set() and not self.sub.closing:
                self._refuse(
                    CLOSE_UNAUTHORIZED,
                    "auth_failed",
                    'authentication timed out: send {"action":"auth","params":"<key>"} within '
                    f"{self.service.config.auth_timeout_s:g} s",
                )
        await self.sub.close_event.wait()
        await asyncio.sleep(CLOSE_GRACE_S)

    # -- messages ----------------------------------------------------------------------------------
    async def _handle(self, data: str | bytes) -> None:
        try:
            message = parse_message(data)
        except ProtocolError as exc:
            self.sub.push(frame([status("error", str(exc))]), control=True)
            return
        if message.action == "auth":
            await self._auth_action(message.params)
            return
        if self.key is None:
            self.sub.push(
                frame([status("error", 'not authenticated: send {"action":"auth","params":"<key>"} first')]),
                control=True,
            )
            return
        statuses, change = self.sub.subscriptions.apply(message.action, message.params)
        self.service.hub.update(self.sub, change)
        self.sub.push(frame(statuses), control=True)

    async def _auth_action(self, secret: str) -> None:
        if self.key is None:
            await self._authenticate(secret.strip())
            return
        try:
            other = self.service.auth.resolve(secret.strip())
        except ApiError:
            other = None
        if other is not None and user_of(other) == user_of(self.key):
            self.sub.push(frame([status("auth_success", "authenticated")]), control=True)
        else:
            self.sub.push(
                frame([status("auth_failed", "authentication failed: this connection is another user's")]),
                control=True,
            )

    async def _authenticate(self, secret: str) -> None:
        try:
            key = self.service.auth.resolve(secret)
        except ApiError:
            self._refuse(CLOSE_UNAUTHORIZED, "auth_failed", "authentication failed")
            return
        if self.market not in key.products:
            self._refuse(
                CLOSE_FORBIDDEN,
                "auth_failed",
                f"This API key does not include the {self.market} product; use a key with the {self.market} product.",
            )
            return
        if not plan(key.plan).websocket:
            self._refuse(CLOSE_FORBIDDEN, "auth_failed", "WebSocket streams require an Expert or Commercial plan.")
            return
        user = user_of(key)
        lost = self._lease_lost
        if not await self.service.leases.acquire(user, self.holder, self.market, lost):
            self._refuse(CLOSE_MAX_CONNECTIONS, "max_connections", "Maximum number of connections exceeded.")
            return
        self.key = key
        self.sub.user = user
        self.authenticated.set()
        self.sub.push(frame([status("auth_success", "authenticated")]), control=True)

    def _lease_lost(self) -> None:
        self.sub.push(frame([status("max_connections", "Maximum number of connections exceeded.")]), control=True)
        self.close(CLOSE_MAX_CONNECTIONS, "connection lease lost")

    def _refuse(self, code: int, state: str, message: str) -> None:
        self.sub.push(frame([status(state, message)]), control=True)
        self.close(code, message)
