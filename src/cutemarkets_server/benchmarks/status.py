"""``/v1/status/`` beside a trivial endpoint mounted on the same app instance."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from ..app import create_app
from ..config import Settings
from .harness import ensure_dir, interleaved, serve_in_thread, timing_table


def run(data_dir: Path, console: Console) -> dict[str, Any]:
    app = create_app(Settings(data_dir=ensure_dir(data_dir)))

    async def trivial() -> dict[str, str]:
        return {"status": "ok"}

    app.add_api_route("/bench/trivial", trivial, include_in_schema=False)
    server, base = serve_in_thread(app)
    try:
        with httpx.Client(base_url=base) as client:
            timings = interleaved(
                {
                    "GET /v1/status/": lambda: client.get("/v1/status/"),
                    "GET trivial endpoint": lambda: client.get("/bench/trivial"),
                },
                rounds=2000,
            )
    finally:
        server.should_exit = True
    timing_table("status vs trivial (sequential keep-alive client)", timings, console)
    ratio = timings["GET /v1/status/"].median_ms / timings["GET trivial endpoint"].median_ms
    console.print(f"status / trivial median latency: {ratio:.2f}x")
    return {k: v.__dict__ for k, v in timings.items()} | {"ratio": ratio}
