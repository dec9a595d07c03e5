"""Builds the ASGI application: routers, middleware and error handlers over one runtime."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import APIRouter, FastAPI

from . import __version__
from .api import handlers, rowjson
from .api.account import router as account_router
from .api.auth import Authenticator
from .api.backtests import router as backtests_router
from .api.clock import router as clock_router
from .api.compression import GzipMiddleware
from .api.cursor import PageTokens
from .api.datasets import router as datasets_router
from .api.deps import ApiContext
from .api.middleware import EdgeMiddleware
from .api.openapi import document as openapi_document
from .api.options import router as options_router
from .api.paper import router as paper_router
from .api.polygon import router as polygon_router
from .api.reference import router as reference_router
from .api.security import ApiCORS, SecurityMiddleware, cors_options
from .api.status import router as status_router
from .api.stocks import router as stocks_router
from .clock import Clock
from .config import Settings
from .console import docs as console_docs
from .console import routes as console_routes
from .paper import open_desk
from .runtime import Runtime
from .services.container import Services
from .store.ratelimit import RateLimitStore
from .workers import EVENTS_FILE, Leadership, RelayedEvents
from .ws.config import StreamConfig
from .ws.gateway import router as ws_router
from .ws.paper import router as paper_ws_router
from .ws.service import StreamService

DESCRIPTION = """\
Self-hosted CuteMarkets v1 market-data API for U.S. options and stocks, built for backtesting.

Authenticate with `Authorization: Bearer cm_…` (or `?apiKey=` for clients that cannot set headers).
Every response is JSON with `status` and `request_id`; list routes page with an absolute `next_url`.
"""


def include_flat(app: FastAPI, router: APIRouter) -> None:
    """Add ``router``'s routes (and those of the routers it includes) to the app's own list of routes.

    FastAPI keeps an included router as one nested route and matches a request against its routes twice (once
    to choose the router, once to choose the route), at every level of nesting; our routers add no prefix,
    dependencies or defaults of their own, so their routes are served as they are, matched once.
    """
    for route in router.routes:
        nested = getattr(route, "original_router", None)
        if isinstance(nested, APIRouter):
            include_flat(app, nested)
        else:
            app.router.routes.append(route)


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    runtime: Runtime | None = None,
    streaming: StreamConfig | None = None,
    leadership: Leadership | None = None,
) -> FastAPI:
    """``leadership``: who writes when several processes serve the data directory (see :mod:`.workers`);
    by default this process is the only one and does everything."""
    settings = settings or Settings()
    leadership = leadership or Leadership()
    streaming = streaming or StreamConfig()
    if clock is None and runtime is None and streaming.mode == "replay":
        clock = streaming.replay_clock()
    rt = runtime or Runtime.open(settings, clock)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(rowjson.warm_up)  # the answers' JSON writer, compiled or loaded from numba's cache
        await asyncio.to_thread(ctx.services.warm, rt.clock.now_ns(), settings.default_risk_free_rate)
        if relay is not None:
            relay.start()
        leadership.on_elected(fill_engine.start)  # only the leader works the paper orders
        await leadership.start()
        await stream.start()
        yield
        await fill_engine.stop()
        await stream.stop()  # the leader's last lake append happens here, before it gives the lock up
        await leadership.stop()
        if relay is not None:
            await relay.stop()
        rt.engine.close()

    app = FastAPI(
        lifespan=lifespan,
        title="cutemarkets-server",
        version=__version__,
        description=DESCRIPTION,
        openapi_url="/openapi.json",
        docs_url=None,  # served by console.docs from installed assets (no CDN)
        redoc_url=None,
        redirect_slashes=False,
    )
    app.router.redirect_slashes = False
    ctx = ApiContext(
        runtime=rt,
        auth=Authenticator(rt.keys, rt.clock, RateLimitStore(settings.layout.usage_db)),
        tokens=PageTokens(settings.signing_secret(), settings.page_token_ttl_s),
        services=Services.build(rt),
    )
    app.state.ctx = ctx
    stream = StreamService(rt, ctx.auth, streaming, writer=leadership.is_leader)
    app.state.stream = stream
    app.state.paper, fill_engine = open_desk(rt, ctx.services)
    relay = None
    if leadership.shared:  # order updates reach the subscribers of every worker
        relay = app.state.paper.events = RelayedEvents(settings.layout.root / EVENTS_FILE)
    app.state.leadership = leadership
    handlers.install(app)
    include_flat(app, status_router)
    include_flat(app, options_router)
    include_flat(app, stocks_router)
    include_flat(app, reference_router)
    include_flat(app, polygon_router)
    include_flat(app, paper_router)
    include_flat(app, paper_ws_router)  # before the market streams' /v1/ws/{market}
    include_flat(app, ws_router)
    openapi_document.install(app)
    include_flat(app, datasets_router)
    include_flat(app, account_router)
    include_flat(app, clock_router)
    include_flat(app, backtests_router)
    console_docs.install(app)
    console_routes.install(app)
    app.add_middleware(EdgeMiddleware, auth=ctx.auth)
    # Quote and trade pages are large; clients send Accept-Encoding: gzip (WebSockets are not affected).
    app.add_middleware(GzipMiddleware, minimum_size=2048, level=1, compress_loopback=settings.gzip_loopback)
    # Outermost: CORS preflights are answered before authentication; size limits and security headers
    # apply to every answer, refusals included.
    if settings.cors_origins:
        app.add_middleware(ApiCORS, **cors_options(settings.cors_origins))
    app.add_middleware(SecurityMiddleware, max_url_bytes=settings.max_url_bytes, max_body_bytes=settings.max_body_bytes)
    return app
