"""Page tokens for a route: load the state a ``page`` carries, and build the next absolute URL."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from .auth import Caller
from .cursor import next_page_url
from .deps import ApiContext


class Pager:
    def __init__(self, request: Request, ctx: ApiContext, caller: Caller, route: str) -> None:
        self.request = request
        self.ctx = ctx
        self.caller = caller
        self.route = route

    def load(self, page: str | None) -> dict[str, Any] | None:
        """The state of a continued listing, or None for a first page (raises 400 on a bad token)."""
        if not page:
            return None
        return self.ctx.tokens.decode(page, self.route, self.caller.now_ns)

    def next_url(self, state: dict[str, Any]) -> str:
        token = self.ctx.tokens.encode(self.route, state, self.caller.now_ns)
        return next_page_url(self.request, self.ctx.public_url, token)
