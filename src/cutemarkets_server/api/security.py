"""Security basics at the outer edge: request size limits, security headers on every answer, and the
CORS policy (cross-origin browser access only for the configured origins)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import orjson
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .envelope import error_body, new_request_id
from .errors import ApiError

log = logging.getLogger("cutemarkets.access")

# The API answers JSON only: nothing may be framed, sniffed or loaded by it.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# HTML pages (the interactive docs) load their scripts and styles from the jsDelivr CDN. ReDoc (served
# offline at /redoc) starts its search worker from a blob: URL.
HTML_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; worker-src 'self' blob:; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'"
)
COMMON_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
)
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
EXPOSED_HEADERS = (
    "X-Request-Id",
    "X-RateLimit-Plan",
    "X-RateLimit-Limit-Minute",
    "X-RateLimit-Remaining-Minute",
    "X-RateLimit-Limit-Day",
    "X-RateLimit-Remaining-Day",
    "Retry-After",
)


class ApiCORS(CORSMiddleware):
    """Starlette's CORS policy, with preflight answers in the API's own shapes: 204 when allowed, the
    error envelope (400) when refused."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        headers = {k: v for k, v in response.headers.items() if k not in ("content-type", "content-length")}
        if response.status_code == 200:
            return Response(status_code=204, headers=headers)
        reason = bytes(response.body).decode("utf-8", "replace")
        body = orjson.dumps(error_body(new_request_id(), "bad_request", f"CORS preflight refused: {reason}."))
        return Response(body, status_code=400, headers=headers, media_type="application/json")


def cors_options(origins: Sequence[str]) -> dict[str, Any]:
    """The CORS policy for browsers from ``origins``: read-only headers, no cookies, errors readable."""
    return {
        "allow_origins": list(origins),
        "allow_methods": ["GET", "POST", "DELETE", "OPTIONS"],
        "allow_headers": ["Authorization", "Content-Type"],
        "expose_headers": list(EXPOSED_HEADERS),
        "allow_credentials": False,  # keys travel in the Authorization header, never in cookies
        "max_age": 600,
    }


class SecurityMiddleware:
    """Refuses oversized URLs (414), headers (431) and bodies (413) before anything else runs, and adds security
    headers to every answer."""

    def __init__(
        self, app: ASGIApp, *, max_url_bytes: int, max_body_bytes: int, max_header_bytes: int = 16 * 1024
    ) -> None:
        self.app = app
        self.max_url_bytes = max_url_bytes
        self.max_body_bytes = max_body_bytes
        self.max_header_bytes = max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        url_bytes = len(scope.get("raw_path") or scope["path"].encode()) + len(scope.get("query_string", b""))
        if url_bytes > self.max_url_bytes:
            await self._refuse(scope, send, ApiError("uri_too_long", f"The URL exceeds {self.max_url_bytes} bytes."))
            return
        raw_headers = scope.get("headers", ())
        if sum(len(k) + len(v) + 4 for k, v in raw_headers) > self.max_header_bytes:
            message = f"The request headers exceed {self.max_header_bytes} bytes."
            await self._refuse(scope, send, ApiError("bad_request", message, status=431))
            return
        headers = dict(raw_headers)
        declared = headers.get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await self._refuse(scope, send, ApiError("bad_request", "Invalid Content-Length header."))
                return
            if int(declared) > self.max_body_bytes:
                await self._refuse(scope, send, self._too_large())
                return
        elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            body = await self._read_body(receive)
            if body is None:
                await self._refuse(scope, send, self._too_large())
                return
            receive = _replay(body)
        secure = scope.get("scheme") == "https" or headers.get(b"x-forwarded-proto", b"").lower() == b"https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = _secured(list(message.get("headers", [])), secure)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _too_large(self) -> ApiError:
        return ApiError("payload_too_large", f"The request body exceeds {self.max_body_bytes} bytes.")

    async def _read_body(self, receive: Receive) -> bytes | None:
        """The whole chunked body, or None once it passes the limit."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(chunks)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _refuse(self, scope: Scope, send: Send, exc: ApiError) -> None:
        rid = new_request_id()
        body = orjson.dumps(error_body(rid, exc.code, exc.message))
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"x-request-id", rid.encode()),
        ]
        await send({"type": "http.response.start", "status": exc.status, "headers": _secured(headers, False)})
        await send({"type": "http.response.body", "body": body})
        log.info("%s %s %s %s", scope["method"], scope["path"][:200], exc.status, rid)


def _secured(headers: list[tuple[bytes, bytes]], secure: bool) -> list[tuple[bytes, bytes]]:
    present = {k.lower() for k, _ in headers}
    content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
    csp = HTML_CSP if content_type.startswith(b"text/html") else API_CSP
    extra = [*COMMON_HEADERS, (b"content-security-policy", csp.encode())]
    if secure:
        extra.append(HSTS)
    return headers + [h for h in extra if h[0] not in present]


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive
