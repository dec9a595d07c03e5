"""Polygon options routes: chain and contract snapshots (``/v3/snapshot/options/…``, with ``as_of``) and
the contract reference (``/v3/reference/options/contracts…``), answered by the ``/v1`` options handlers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Depends, Request

from ..auth import Caller
from ..deps import ApiContext, caller, context
from ..envelope import JSONBytes
from ..openapi import params as q
from ..openapi.schemas import ok_body
from ..options.chain import chain as v1_chain
from ..options.contracts import contract_detail as v1_contract_detail
from ..options.contracts import list_contracts as v1_list_contracts
from ..options.snapshot import snapshot as v1_snapshot
from ..routing import Router
from .common import forward, reshape, same_query_as

router = Router(tags=["polygon"])


def _with_underlying(underlying: str) -> Callable[[dict[str, Any]], None]:
    """Adds ``details.underlying_ticker`` (read by cutebacktests) to one snapshot or a list of them."""
    symbol = underlying.strip().upper()

    def change(body: dict[str, Any]) -> None:
        found = body.get("results")
        for snap in found if isinstance(found, list) else [found] if isinstance(found, dict) else []:
            snap.setdefault("details", {})["underlying_ticker"] = symbol

    return change


@router.get(
    "/v3/snapshot/options/{underlying}",
    summary="Option chain snapshot",
    response_class=JSONBytes,
    responses=ok_body("OptionChain"),
    dependencies=[Depends(same_query_as(v1_chain))],
)
def chain(
    request: Request,
    underlying: str = q.stock_ticker("The underlying's symbol"),
    ctx: ApiContext = Depends(context),
    who: Caller = Depends(caller),
) -> JSONBytes:
    """Snapshots of an underlying's listed contracts. Query as ``/v1/options/chain/{underlying}/``:
    ``as_of`` (YYYY-MM-DD = just before that day's 09:30 ET open, or an exact instant), ``strike_price``,
    ``expiration_date`` (with ``.gte/.gt/.lte/.lt``), ``contract_type``, ``sort``, ``order``, ``limit``
    (default 10, maximum 250), ``cursor``."""
    who.require_product("options")
    return reshape(forward(v1_chain, request, ctx, who, underlying=underlying), _with_underlying(underlying))


@router.get(
    "/v3/snapshot/options/{underlying}/{option_contract}",
    summary="Option contract snapshot",
    response_class=JSONBytes,
    responses=ok_body("OptionSnapshotResult"),
    dependencies=[Depends(same_query_as(v1_snapshot))],
)
def contract_snapshot(
    request: Request,
    underlying: str = q.stock_ticker("The underlying's symbol"),
    option_contract: str = q.option_ticker(),
    ctx: ApiContext = Depends(context),
    who: Caller = Depends(caller),
) -> JSONBytes:
    """One contract's snapshot; ``as_of`` as on the chain."""
    who.require_product("options")
    response = forward(v1_snapshot, request, ctx, who, underlying=underlying, option_contract=option_contract)
    return reshape(response, _with_underlying(underlying))


@router.get(
    "/v3/reference/options/contracts",
    summary="List option contracts",
    response_class=JSONBytes,
    responses=ok_body("OptionContracts"),
    dependencies=[Depends(same_query_as(v1_list_contracts))],
)
def list_contracts(request: Request, ctx: ApiContext = Depends(context), who: Caller = Depends(caller)) -> JSONBytes:
    """Contracts as listed on ``as_of`` (default today). Query as ``/v1/options/contracts/``:
    ``underlying_ticker`` (with ranges), ``contract_type``, ``expiration_date`` and ``strike_price`` (with
    ranges), ``expired`` (true: only contracts expired by ``as_of``), ``sort``, ``order``, ``limit`` (default
    10, maximum 1000), ``cursor``. Reference data: any valid key, whatever its products."""
    return forward(v1_list_contracts, request, ctx, who)


@router.get(
    "/v3/reference/options/contracts/{options_ticker}",
    summary="Option contract details",
    response_class=JSONBytes,
    responses=ok_body("OptionContractResult"),
    dependencies=[Depends(same_query_as(v1_contract_detail))],
)
def contract_detail(
    request: Request,
    options_ticker: str = q.option_ticker(),
    ctx: ApiContext = Depends(context),
    who: Caller = Depends(caller),
) -> JSONBytes:
    """One contract's reference record; ``as_of`` = as in force that day. Any valid key."""
    return forward(v1_contract_detail, request, ctx, who, options_ticker=options_ticker)
