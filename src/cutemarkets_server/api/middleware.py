"""The edge middleware: request ids, authentication and rate limits before routing, response
headers on every answer, and an access log that never contains an API key."""

from __future__ import annotations

import logging
import re
import time
import urllib.parse
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .auth import Admitted, Authenticator, product_for_path
from .envelope import error_body, new_request_id
from .errors import ApiError

log = logging.getLogger("cutemarkets.access")
errors_log = logging.getLogger("cutemarkets.errors")
_SECRET_PARAMS = {"apikey", "api_key"}


def key_from_scope(scope: Scope) -> str | None:
    """The API key from ``Authorization: Bearer``, else from ``?apiKey=`` / ``?api_key=``."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            text = value.decode("latin-1").strip()
            scheme, _, token = text.partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    qs = scope.get("query_string", b"")
    if qs and (b"apikey=" in qs.lower() or b"api_key=" in qs.lower()):
        for k, v in urllib.parse.parse_qsl(qs.decode("latin-1")):
            if k.lower() in _SECRET_PARAMS and v:
                return v
    return None


_KEY_IN_TEXT = re.compile(r"((?:api_?key)=)[^&\s\"']+", re.IGNORECASE)


class RedactKeys(logging.Filter):
    """Masks ``apiKey=…``/``api_key=…`` in log records of other libraries (e.g. uvicorn's WebSocket lines)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = _KEY_IN_TEXT.sub(r"\1***", record.msg)
        if record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            record.args = tuple(_KEY_IN_TEXT.sub(r"\1***", a) if isinstance(a, str) else a for a in args)
        return True


def install_log_redaction() -> None:
    """Attach :class:`RedactKeys` to the loggers that print request paths (idempotent)."""
    for name in ("uvicorn.error", "uvicorn.access", "uvicorn"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactKeys) for f in logger.filters):
            logger.addFilter(RedactKeys())


def _header_pairs(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode(), v.encode()) for k, v in headers.items()]


def _unserved(status: int) -> bool:
    """Answers that are not a service and so are not charged: refusals and server faults."""
    return status in (401, 403, 429) or status >= 500


def redacted_query(qs: bytes) -> str:
    if not qs:
        return ""
    text = qs.decode("latin-1")
    if "api" not in urllib.parse.unquote_plus(text).lower():  # no key parameter in it: logged as sent
        return text
    pairs = urllib.parse.parse_qsl(text, keep_blank_values=True)
    return urllib.parse.urlencode([(k, "***" if k.lower() in _SECRET_PARAMS else v) for k, v in pairs])


class EdgeMiddleware:
    """Admission before routing; after it, every answer — including an unhandled error — is a complete
    response on a connection that stays open, logged with the status actually sent."""

    def __init__(self, app: ASGIApp, auth: Authenticator) -> None:
        self.app = app
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        rid = new_request_id()
        state = scope.setdefault("state", {})
        state["request_id"] = rid
        extra: list[tuple[bytes, bytes]] = [(b"x-request-id", rid.encode())]
        status_holder: dict[str, Any] = {"status": 0}
        product = product_for_path(scope["path"])
        admitted: Admitted | None = None
        if product is not None:
            try:
                admitted = self.auth.admit(self.auth.resolve(key_from_scope(scope)), product)
                state["caller"] = admitted.caller
            except ApiError as exc:
                extra.extend(_header_pairs(exc.headers))
                await self._send_error(send, exc, rid, extra, status_holder)
                self._log(scope, status_holder["status"], started, rid)
                return
        rate_headers = _header_pairs(admitted.headers) if admitted else []

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status = status_holder["status"] = message["status"]
                headers = rate_headers
                if admitted is not None and _unserved(status):
                    headers = _header_pairs(self.auth.refund(admitted))
                existing = {k for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    h for h in (*extra, *headers) if h[0] not in existing
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            if status_holder["status"]:
                errors_log.exception("error after the response started: %s %s %s", scope["method"], scope["path"], rid)
                raise  # the body is cut short: the server must close the connection
            errors_log.exception("unhandled error on %s %s %s", scope["method"], scope["path"], rid)
            if admitted is not None:
                extra.extend(_header_pairs(self.auth.refund(admitted)))
            failure = ApiError("internal_error", "Internal server error; the request id identifies it in the logs.")
            await self._send_error(send, failure, rid, extra, status_holder)
        finally:
            self._log(scope, status_holder["status"], started, rid)

    async def _send_error(
        self, send: Send, exc: ApiError, rid: str, extra: list[tuple[bytes, bytes]], holder: dict[str, Any]
    ) -> None:
        body = orjson.dumps(error_body(rid, exc.code, exc.message))
        holder["status"] = exc.status
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *extra]
        await send({"type": "http.response.start", "status": exc.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    def _log(scope: Scope, status: int, started: float, rid: str) -> None:
        if not log.isEnabledFor(logging.INFO):
            return
        q = redacted_query(scope.get("query_string", b""))
        path = scope["path"] + ("?" + q if q else "")
        log.info("%s %s %s %.1fms %s", scope["method"], path, status, (time.perf_counter() - started) * 1e3, rid)
