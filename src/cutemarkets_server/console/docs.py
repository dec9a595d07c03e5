"""Interactive API docs (``/docs`` Swagger UI, ``/redoc`` ReDoc) with their assets served from the installed
``fastapi-offline`` package, so the docs work on a machine without internet access."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs/assets"
REDOC_JS = "/docs/redoc.standalone.js"
# ReDoc's sidebar attribution loads its logo from a CDN; point it at the bundled icon instead.
REDOC_CDN_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


def assets_dir() -> Path:
    return Path(str(resources.files("fastapi_offline") / "static"))


def redoc_script() -> bytes:
    text = (assets_dir() / "redoc.standalone.js").read_text(encoding="utf-8")
    return text.replace(REDOC_CDN_LOGO, f"{ASSETS}/favicon.png").encode()


def install(app: FastAPI) -> None:
    app.mount(ASSETS, StaticFiles(directory=str(assets_dir())), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    redoc_js: list[bytes] = []

    @app.get(REDOC_JS, include_in_schema=False)
    def redoc_standalone() -> Response:
        if not redoc_js:
            redoc_js.append(redoc_script())
        return Response(redoc_js[0], media_type="text/javascript", headers={"Cache-Control": "public, max-age=3600"})

    @app.get("/docs", include_in_schema=False)
    def swagger() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} — API docs",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon.png",
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} — ReDoc",
            redoc_js_url=REDOC_JS,
            redoc_favicon_url=f"{ASSETS}/favicon.png",
            with_google_fonts=False,
        )
