"""``/v2/reference/news``: the Polygon news listing. The server has no news source, so every query
answers Polygon's empty listing."""

from __future__ import annotations

from fastapi import Depends, Request

from ..auth import Caller
from ..deps import caller
from ..envelope import JSONBytes, ok
from ..openapi.schemas import ok_body
from ..routing import Router

router = Router(tags=["polygon"])


@router.get(
    "/v2/reference/news", summary="News articles (none served)", response_class=JSONBytes, responses=ok_body("News")
)
def news(request: Request, who: Caller = Depends(caller)) -> JSONBytes:
    """Always ``{count: 0, results: []}``: no news source is configured."""
    return ok(request, {"count": 0, "results": []})
