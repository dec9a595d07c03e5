"""Serving the app with uvicorn: WebSocket keepalive pings and a shutdown that closes sockets with a reason.

uvicorn pings every WebSocket every ``PING_INTERVAL_S`` and drops a connection whose pong is
``PING_TIMEOUT_S`` late (close code 1011). On shutdown uvicorn would cut WebSockets with a bare 1012; the
server here first closes every stream socket itself with 1001 ``server shutting down``.
"""

from __future__ import annotations

import socket
from typing import Any

import uvicorn

from ..api.middleware import install_log_redaction
from .config import PING_INTERVAL_S, PING_TIMEOUT_S


class StreamingServer(uvicorn.Server):
    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        service = _stream_service(self.config)
        if service is not None:
            from .protocol import CLOSE_GOING_AWAY
            from .service import SHUTDOWN_REASON

            await service.close_connections(CLOSE_GOING_AWAY, SHUTDOWN_REASON)
        await super().shutdown(sockets)


def _stream_service(config: uvicorn.Config) -> Any:
    """The app's stream service: on the app itself, or (a worker process loading the app from a factory) on the
    loaded app inside uvicorn's wrappers."""
    app: Any = config.app if not isinstance(config.app, str) else getattr(config, "loaded_app", None)
    for _ in range(8):
        if app is None:
            return None
        service = getattr(getattr(app, "state", None), "stream", None)
        if service is not None:
            return service
        app = getattr(app, "app", None)
    return None


def server_config(app: Any, *, host: str = "127.0.0.1", port: int = 8000, **overrides: Any) -> uvicorn.Config:
    """uvicorn settings for the API: keepalive pings on WebSockets, no per-message compression."""
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "access_log": False,
        "log_level": "info",
        "lifespan": "on",
        "ws_ping_interval": PING_INTERVAL_S,
        "ws_ping_timeout": PING_TIMEOUT_S,
        "ws_per_message_deflate": False,
    }
    options.update(overrides)
    config = uvicorn.Config(app, **options)
    install_log_redaction()  # after uvicorn has configured its loggers
    return config
