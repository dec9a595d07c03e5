"""``/v1/ws/paper/``: order updates of the paper accounts of the connecting key.

The key comes with the handshake (``Authorization: Bearer`` or ``?api_key=``) or in a first
``{"action":"auth","params":"<key>"}`` message. Frames are JSON arrays of events, as on the market streams:
``status`` events (``connected``, ``auth_success``, ``auth_failed``), then one ``paper.order`` event per order
change (``event`` = ``accepted``, ``new``, ``fill``, ``canceled``, ``expired`` or ``rejected``; ``order`` is the
PaperOrder, ``fill`` the PaperFill of a fill) and ``paper.settlement`` events for expiring options."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

import orjson
from fastapi import APIRouter, WebSocket

from ..api.errors import ApiError
from ..api.middleware import key_from_scope
from ..store.keys import ApiKey
from .protocol import CLOSE_FORBIDDEN, CLOSE_UNAUTHORIZED, frame, status

if TYPE_CHECKING:
    from ..paper.service import PaperDesk

AUTH_TIMEOUT_S = 10.0
router = APIRouter()


@router.websocket("/v1/ws/paper")
@router.websocket("/v1/ws/paper/")
async def paper_updates(websocket: WebSocket) -> None:
    """Paper order updates for the key's accounts."""
    await websocket.accept()
    await websocket.send_text(frame([status("connected", "Connected Successfully")]).decode())
    secret = key_from_scope(websocket.scope)
    if secret is None:
        secret = await _auth_message(websocket)
        if secret is None:
            return
    key = await _authenticate(websocket, secret)
    if key is None:
        return
    desk: PaperDesk = websocket.app.state.paper
    sub = desk.events.subscribe(key.id)
    await websocket.send_text(frame([status("auth_success", "authenticated")]).decode())
    reader = asyncio.create_task(_drain(websocket))
    try:
        while not reader.done():
            getter = asyncio.create_task(sub.queue.get())
            done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:
                getter.cancel()
                break
            events = [getter.result()]
            while not sub.queue.empty():
                events.append(sub.queue.get_nowait())
            await websocket.send_text(frame(events).decode())
    finally:
        desk.events.unsubscribe(sub)
        reader.cancel()
        with contextlib.suppress(BaseException):
            await reader


async def _auth_message(websocket: WebSocket) -> str | None:
    try:
        text = await asyncio.wait_for(websocket.receive_text(), AUTH_TIMEOUT_S)
        message: Any = orjson.loads(text)
    except (TimeoutError, orjson.JSONDecodeError, RuntimeError, KeyError):
        message = None
    if isinstance(message, dict) and message.get("action") == "auth" and isinstance(message.get("params"), str):
        return str(message["params"]).strip()
    await _refuse(websocket, CLOSE_UNAUTHORIZED, 'send {"action":"auth","params":"<key>"} first')
    return None


async def _authenticate(websocket: WebSocket, secret: str) -> ApiKey | None:
    try:
        key = websocket.app.state.ctx.auth.resolve(secret)
    except ApiError:
        await _refuse(websocket, CLOSE_UNAUTHORIZED, "authentication failed")
        return None
    if "paper" not in key.products:
        await _refuse(websocket, CLOSE_FORBIDDEN, "This API key does not include the paper product.")
        return None
    return key  # type: ignore[no-any-return]


async def _refuse(websocket: WebSocket, code: int, message: str) -> None:
    with contextlib.suppress(Exception):
        await websocket.send_text(frame([status("auth_failed", message)]).decode())
        await websocket.close(code, message)


async def _drain(websocket: WebSocket) -> None:
    """Read (and ignore) client messages until the client goes away."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
