"""A router whose every route answers with and without the trailing slash (never a redirect), and the
choice of where a synchronous endpoint runs."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter


class Router(APIRouter):
    def add_api_route(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().add_api_route(path, endpoint, **kwargs)
        alt = path[:-1] if path.endswith("/") else path + "/"
        if alt and alt != path:
            alias = {**kwargs, "include_in_schema": False}
            if alias.get("operation_id"):
                alias["operation_id"] = alias["operation_id"] + "_alt"
            super().add_api_route(alt, endpoint, **alias)


Endpoint = Callable[..., Any]


def on_loop(endpoint: Endpoint) -> Endpoint:
    """Serve a quick synchronous endpoint on the event loop instead of a worker thread.

    For an answer whose work is bounded by its page limit and is mostly in warm caches (a tick page, bars),
    the hop to a worker thread and back costs 0.3-0.5 ms, a quarter of the answer; the work holds the GIL
    either way.
    """

    @functools.wraps(endpoint)
    async def run(*args: Any, **kwargs: Any) -> Any:
        return endpoint(*args, **kwargs)

    return run
