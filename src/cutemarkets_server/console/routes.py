"""Page routes under ``/console/`` (thin: pick the template), the console's static files and the chart
library's script, served from the installed ``plotly`` package."""

from __future__ import annotations

import gzip
from functools import lru_cache
from importlib import metadata, resources
from pathlib import Path

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from .. import __version__

HERE = Path(__file__).parent
PAGES: dict[str, str] = {
    "": "Overview",
    "chain": "Option chain",
    "contract": "Contract",
    "stock": "Stock",
    "live": "Live tape",
    "backtests": "Backtests",
}
NAV = [(slug, title) for slug, title in PAGES.items() if slug != "contract"]
PLOTLY_VERSION = metadata.version("plotly")
# The script's URL carries the package version, so browsers may keep it for as long as they like.
CACHE_FOREVER = {"Cache-Control": "public, max-age=31536000, immutable"}

templates = Jinja2Templates(directory=str(HERE / "templates"))
router = APIRouter(include_in_schema=False)


def plotly_script() -> Path:
    """``plotly.min.js`` as shipped inside the installed plotly package."""
    return Path(str(resources.files("plotly") / "package_data" / "plotly.min.js"))


@lru_cache(maxsize=2)
def _plotly_bytes(compressed: bool) -> bytes:
    raw = plotly_script().read_bytes()
    return gzip.compress(raw, compresslevel=6, mtime=0) if compressed else raw


def _page(request: Request, slug: str) -> HTMLResponse:
    if slug not in PAGES:
        raise HTTPException(status_code=404)
    name = slug or "overview"
    return templates.TemplateResponse(
        request,
        f"{name}.html",
        {
            "page": name,
            "slug": slug,
            "title": PAGES[slug],
            "nav": NAV,
            "version": __version__,
            "plotly_js": f"/console/vendor/plotly-{PLOTLY_VERSION}.min.js",
        },
        headers={"Cache-Control": "no-store"},
    )


@router.get("/console", response_class=HTMLResponse)
@router.get("/console/", response_class=HTMLResponse)
def overview(request: Request) -> HTMLResponse:
    return _page(request, "")


@router.get("/console/vendor/plotly-{version}.min.js")
def plotly_js(request: Request, version: str) -> Response:
    """The chart library, compressed once per process rather than on every request."""
    if version != PLOTLY_VERSION:
        raise HTTPException(status_code=404)
    headers = {**CACHE_FOREVER, "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(
            _plotly_bytes(True), media_type="text/javascript", headers={**headers, "Content-Encoding": "gzip"}
        )
    return Response(_plotly_bytes(False), media_type="text/javascript", headers=headers)


@router.get("/console/{slug}", response_class=HTMLResponse)
@router.get("/console/{slug}/", response_class=HTMLResponse)
def page(request: Request, slug: str) -> HTMLResponse:
    return _page(request, slug)


def install(app: FastAPI) -> None:
    app.mount("/console/static", StaticFiles(directory=str(HERE / "static")), name="console-static")
    app.include_router(router)
