"""Signed, opaque page tokens and the absolute ``next_url`` that carries them.

A token is ``base64url(JSON) "." base64url(HMAC-SHA256[:16])``. The JSON holds the route, every
filter and position needed to continue, and the issue time; a tampered, foreign-route or expired
token is a 400 ``invalid_page_token``. The API key is never put into a token or a URL.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import urllib.parse
from typing import Any

import orjson
from starlette.requests import Request

from .errors import ApiError

_MAC_BYTES = 16


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class PageTokens:
    def __init__(self, secret: bytes, ttl_s: int) -> None:
        self._secret = secret
        self._ttl_ns = ttl_s * 1_000_000_000

    def _mac(self, body: bytes) -> bytes:
        return hmac.new(self._secret, body, hashlib.sha256).digest()[:_MAC_BYTES]

    def encode(self, route: str, state: dict[str, Any], now_ns: int) -> str:
        body = orjson.dumps({"r": route, "s": state, "i": now_ns // 1_000_000_000})
        return _b64(body) + "." + _b64(self._mac(body))

    def decode(self, token: str, route: str, now_ns: int) -> dict[str, Any]:
        invalid = ApiError("invalid_page_token", "Invalid or expired page token; restart the listing without page.")
        try:
            body_txt, mac_txt = token.strip().split(".", 1)
            body = _unb64(body_txt)
            mac = _unb64(mac_txt)
        except (ValueError, TypeError):
            raise invalid from None
        if not hmac.compare_digest(mac, self._mac(body)):
            raise invalid
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise invalid from None
        if not isinstance(data, dict) or data.get("r") != route or not isinstance(data.get("s"), dict):
            raise invalid
        issued = data.get("i")
        if not isinstance(issued, int) or now_ns - issued * 1_000_000_000 > self._ttl_ns:
            raise invalid
        return data["s"]


def base_url(request: Request, public_url: str | None) -> str:
    """The server's absolute base: the configured public URL, else the forwarded or Host header."""
    if public_url:
        return public_url.rstrip("/")
    headers = request.headers
    proto = headers.get("x-forwarded-proto", request.url.scheme).split(",")[0].strip()
    host = headers.get("x-forwarded-host") or headers.get("host") or request.url.netloc
    return f"{proto}://{host.split(',')[0].strip()}"


def absolute_url(request: Request, public_url: str | None, path: str, query: dict[str, str] | None = None) -> str:
    """An absolute URL on this server for ``path`` (which starts with ``/``)."""
    url = base_url(request, public_url) + urllib.parse.quote(path, safe="/:")
    if query:
        url += "?" + urllib.parse.urlencode(query)
    return url


# Polygon-dialect listings (``/v2/…``, ``/v3/…``) call the token ``cursor``; they also accept ``page``.
CURSOR_PATH_PREFIXES = ("/v2/", "/v3/")


def next_page_url(request: Request, public_url: str | None, token: str) -> str:
    """The same path as this request with only ``page=<token>`` (``cursor=<token>`` on dialect paths)."""
    path = request.url.path
    name = "cursor" if path.startswith(CURSOR_PATH_PREFIXES) else "page"
    return absolute_url(request, public_url, path, {name: token})
