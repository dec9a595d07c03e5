"""What every Polygon-dialect route shares: the ticker's product, delegation to the v1 handlers, and the
Polygon "no data" answers. Nothing here computes market data; it only maps names and shapes."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import Request
from fastapi import params as fastapi_params

from ..auth import Caller
from ..deps import ApiContext
from ..envelope import JSONBytes, ok
from ..openapi import params as q
from ..options.common import is_option_ticker, option_ticker
from ..stocks.common import stock_ticker

INDEX_TICKER = re.compile(r"^I:[A-Z0-9._\-]{1,20}$")
CURSOR_DOC = "Continuation token from next_url (page is accepted as well)"


@dataclass(frozen=True, slots=True)
class Instrument:
    """A path ticker resolved to its canonical spelling, product, and whether the server carries it."""

    ticker: str
    product: str  # "options" | "stocks"
    known: bool

    @property
    def is_option(self) -> bool:
        return self.product == "options"


def product_of(raw: str) -> str:
    """``options`` for ``O:`` tickers and bare OCC symbols, ``stocks`` for everything else."""
    return "options" if is_option_ticker(raw) else "stocks"


def instrument(ctx: ApiContext, who: Caller, raw: str, name: str = "ticker") -> Instrument:
    """Check the caller's product for ``raw`` and resolve it (400 for a malformed symbol).

    Index tickers (``I:VIX1D``) are valid Polygon symbols the server carries no data for.
    """
    product = product_of(raw)
    who.require_product(product)
    if product == "options":
        ticker = option_ticker(raw, name)
        return Instrument(ticker, product, ctx.services.reference.contract_known(ticker))
    text = raw.strip().upper()
    if INDEX_TICKER.match(text) and raw.isascii():
        return Instrument(text, product, False)
    ticker = stock_ticker(raw, name)
    return Instrument(ticker, product, ctx.services.stocks.known(ticker))


def cursor_of(request: Request) -> str | None:
    """The continuation token: Polygon's ``cursor``, or ``page`` as on ``/v1``."""
    qp = request.query_params
    return qp.get("cursor") or qp.get("page") or None


def forward(endpoint: Callable[..., Any], request: Request, ctx: ApiContext, who: Caller, **given: Any) -> Any:
    """Call a ``/v1`` route function with this request's query parameters (read under their ``/v1``
    names and aliases); ``given`` supplies path parameters and overrides, ``page`` comes from ``cursor``."""
    kwargs: dict[str, Any] = dict(given)
    for name, param in inspect.signature(endpoint).parameters.items():
        if name in kwargs or name == "request":
            continue
        if name in ("ctx", "who"):
            kwargs[name] = ctx if name == "ctx" else who
        elif name == "page":
            kwargs[name] = cursor_of(request)
        elif isinstance(param.default, fastapi_params.Query):
            kwargs[name] = request.query_params.get(param.default.alias or name)
        elif isinstance(param.default, fastapi_params.Depends) and param.default.dependency is not None:
            kwargs[name] = _from_query(param.default.dependency, request)
    return endpoint(request, **kwargs)


def _from_query(dependency: Callable[..., Any], request: Request) -> Any:
    """Call a dependency made only of query parameters (e.g. a route's shared filters) with this request's."""
    qp = request.query_params
    return dependency(
        **{
            name: qp.get(param.default.alias or name)
            for name, param in inspect.signature(dependency).parameters.items()
            if isinstance(param.default, fastapi_params.Query)
        }
    )


def same_query_as(endpoint: Callable[..., Any]) -> Callable[..., None]:
    r"""A dependency that declares the query parameters of a ``/v1`` route function (and of its query-only
    dependencies) on the Polygon route that :func:`forward`\ s to it, with ``cursor`` beside ``page``: the
    Polygon route documents exactly what it accepts without repeating the declarations."""
    params: dict[str, inspect.Parameter] = {}

    def add(param: inspect.Parameter) -> None:
        params[param.name] = param.replace(kind=inspect.Parameter.KEYWORD_ONLY)

    for param in inspect.signature(endpoint).parameters.values():
        if isinstance(param.default, fastapi_params.Query):
            add(param)
        elif isinstance(param.default, fastapi_params.Depends) and param.default.dependency is not None:
            for inner in inspect.signature(param.default.dependency).parameters.values():
                if isinstance(inner.default, fastapi_params.Query):
                    add(inner)
    if "page" in params:
        add(
            inspect.Parameter(
                "cursor", inspect.Parameter.KEYWORD_ONLY, default=q.token(CURSOR_DOC), annotation=str | None
            )
        )

    def declared(**_: Any) -> None:
        return None

    declared.__signature__ = inspect.Signature(list(params.values()))  # type: ignore[attr-defined]
    return declared


def reshape(response: JSONBytes, change: Callable[[dict[str, Any]], None]) -> JSONBytes:
    """The same answer with ``change`` applied to its decoded body (Polygon-only fields)."""
    body = orjson.loads(response.body)
    change(body)
    return JSONBytes(body, status_code=response.status_code)


def no_aggregates(request: Request, ticker: str, adjusted: bool, *, with_results: bool = True) -> JSONBytes:
    """Polygon's answer for a ticker it has no bars of: 200, zero counts, no ``next_url``."""
    body: dict[str, Any] = {"ticker": ticker, "adjusted": adjusted, "queryCount": 0, "resultsCount": 0, "count": 0}
    if with_results:
        body["results"] = []
    return ok(request, body)


def no_rows(request: Request) -> JSONBytes:
    """Polygon's answer for a listing without rows: 200 with ``results: []`` and no ``next_url``."""
    return ok(request, {"results": []})
