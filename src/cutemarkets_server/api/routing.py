"""A router whose every route answers with and without the trailing slash (never a redirect)."""

from __future__ import annotations

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
