"""Page routes under ``/console/`` (thin: pick the template), the console's static files and the chart
library's script, served from the installed ``plotly`` package."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse
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
CACHE_STATIC = {"Cache-Control": "public, max-age=3600"}

templates = Jinja2Templates(directory=str(HERE / "templates"))
router = APIRouter(include_in_schema=False)


def plotly_script() -> Path:
    """``plotly.min.js`` as shipped inside the installed plotly package."""
    return Path(str(resources.files("plotly") / "package_data" / "plotly.min.js"))


def _page(request: Request, slug: str) -> HTMLResponse:
    if slug not in PAGES:
        raise HTTPException(status_code=404)
    name = slug or "overview"
    return templates.TemplateResponse(
        request,
        f"{name}.html",
        {"page": name, "slug": slug, "title": PAGES[slug], "nav": NAV, "version": __version__},
        headers={"Cache-Control": "no-store"},
    )


@router.get("/console", response_class=HTMLResponse)
@router.get("/console/", response_class=HTMLResponse)
def overview(request: Request) -> HTMLResponse:
    return _page(request, "")


@router.get("/console/vendor/plotly.min.js")
def plotly_js() -> FileResponse:
    return FileResponse(plotly_script(), media_type="text/javascript", headers=CACHE_STATIC)


@router.get("/console/{slug}", response_class=HTMLResponse)
@router.get("/console/{slug}/", response_class=HTMLResponse)
def page(request: Request, slug: str) -> HTMLResponse:
    return _page(request, slug)


def install(app: FastAPI) -> None:
    app.mount("/console/static", StaticFiles(directory=str(HERE / "static")), name="console-static")
    app.include_router(router)
