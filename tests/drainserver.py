"""A server process for the shutdown tests: the app exactly as ``cutemarkets serve`` builds and runs it,
plus one slow route whose handler marks when it has started, so a request is known to be in flight.

Usage: ``python tests/drainserver.py DATA_DIR PORT MARKER_FILE``.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from cutemarkets_server.app import create_app
from cutemarkets_server.config import Settings
from cutemarkets_server.ws.config import StreamConfig
from cutemarkets_server.ws.serving import StreamingServer, server_config


def main() -> None:
    data_dir, port, marker = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
    app = create_app(Settings(data_dir=data_dir, secret="test-secret"), streaming=StreamConfig(mode="off"))

    async def slow() -> dict[str, str]:
        marker.write_text("started")
        await asyncio.sleep(2.0)
        return {"status": "OK", "finished": "yes"}

    app.add_api_route("/v1/stocks/slow/", slow)
    StreamingServer(server_config(app, port=port, log_level="warning")).run()


if __name__ == "__main__":
    main()
