"""A small keep-alive HTTP/1.1 client on the standard library, for ``HttpSource``.

A backtest asks a server a few dozen GETs on one connection. httpx costs a command about a tenth of a
second to import and more to set up its TLS context even for a plain ``http://`` server; this client
imports ``http.client`` (and ``ssl`` only for ``https://``), reuses one connection per origin, retries
a GET once when a kept-alive connection was closed by the server, and follows no redirects.
"""

from __future__ import annotations

import http.client
from typing import Any
from urllib.parse import urlencode, urlsplit

USER_AGENT = "cutemarkets-backtest"


class TransportError(OSError):
    """The request could not be sent or its answer not read."""


class Client:
    def __init__(self, base_url: str, headers: dict[str, str], timeout_s: float) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.origin = (parts.scheme, parts.hostname, parts.port)
        self.prefix = parts.path.rstrip("/")
        self.headers = {"User-Agent": USER_AGENT, "Accept": "application/json", **headers}
        self.timeout_s = timeout_s
        self._conns: dict[tuple[str, str, int | None], http.client.HTTPConnection] = {}

    def close(self) -> None:
        for conn in self._conns.values():
            conn.close()
        self._conns.clear()

    def _connection(self, origin: tuple[str, str, int | None]) -> http.client.HTTPConnection:
        conn = self._conns.get(origin)
        if conn is None:
            scheme, host, port = origin
            if scheme == "https":
                import ssl

                conn = http.client.HTTPSConnection(
                    host, port, timeout=self.timeout_s, context=ssl.create_default_context()
                )
            else:
                conn = http.client.HTTPConnection(host, port, timeout=self.timeout_s)
            self._conns[origin] = conn
        return conn

    def get(self, url: str, params: dict[str, Any] | None = None) -> tuple[int, bytes]:
        """GET a path under the base URL (or an absolute URL, e.g. a ``next_url``): (status, body).
        Raises ``TransportError`` when the request fails."""
        if url.startswith(("http://", "https://")):
            parts = urlsplit(url)
            origin = (parts.scheme, parts.hostname or "", parts.port)
            target = parts.path + (f"?{parts.query}" if parts.query else "")
        else:
            origin, target = self.origin, self.prefix + url
        if params:
            target += ("&" if "?" in target else "?") + urlencode(params)
        return self._exchange(origin, target)

    def _exchange(self, origin: tuple[str, str, int | None], target: str) -> tuple[int, bytes]:
        for attempt in (1, 2):
            conn = self._connection(origin)
            reused = conn.sock is not None
            try:
                conn.request("GET", target, headers=self.headers)
                resp = conn.getresponse()
                body = resp.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                conn.close()
                if reused and attempt == 1:
                    continue  # the server closed an idle kept-alive connection: send once more
                raise TransportError(str(exc)) from exc
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                raise TransportError(str(exc) or type(exc).__name__) from exc
            if resp.will_close:
                conn.close()
            return resp.status, body
        raise AssertionError("unreachable")
