"""Paper trading routes ``/v1/paper/…``: a thin face over the paper desk (see ``paper/``).

Accounts belong to the key that created them; another key gets 404 for them. Account and order payloads are
flat objects next to ``status`` and ``request_id``; lists use the standard envelope with ``next_url``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import orjson
from fastapi import Depends, Path, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from ..paper import wire
from ..paper.rules import OPEN_STATUSES, STATUSES, PaperInputError
from ..paper.service import Owner, PaperDesk, PaperNotFoundError
from ..plans import DELAY_NS
from .auth import Caller
from .deps import ApiContext, caller, context
from .envelope import JSONBytes, ok, results
from .errors import bad_request, not_found
from .openapi import params as q
from .openapi.schemas import no_body, ok_body, request_body
from .paging import Pager
from .params import parse_bool, parse_limit
from .routing import Router

UUID = {"type": "string", "format": "uuid"}
ACCOUNT_ID = q.path(UUID, "The account's id")
ORDER_ID = q.path(UUID, "The order's id")
ORDER_FILTERS = ("open", "closed", "all", *STATUSES)

router = Router(tags=["paper"])
T = TypeVar("T")

PAGE_DEFAULT = 100
PAGE_MAX = 1000
ACCOUNT = "/v1/paper/accounts/{account_id}/"
ORDER_STATUSES = ("all", "open", "closed", *STATUSES)
CANCEL_REFUSED = {400: {"description": "The order is no longer open (only " + ", ".join(OPEN_STATUSES) + " can be)"}}


def account_id_param() -> Any:
    return Path(..., description="A paper account id of this key (another key's is 404)")


def order_id_param() -> Any:
    return Path(..., description="An order id of the account")


def page_size() -> Any:
    return q.limit(default=PAGE_DEFAULT, maximum=PAGE_MAX)


def desk(request: Request) -> PaperDesk:
    return request.app.state.paper  # type: ignore[no-any-return]


def owner_of(who: Caller) -> Owner:
    return Owner(key_id=who.key.id, user=who.key.name, delay_ns=DELAY_NS if who.plan.delayed else 0)


async def run(fn: Callable[..., T], *args: Any) -> T:
    """Call the desk in a worker thread, answering its refusals as 400/404 envelopes."""
    try:
        return await run_in_threadpool(fn, *args)
    except PaperInputError as exc:
        raise bad_request(str(exc) if str(exc).endswith(".") else f"{exc}.") from None
    except PaperNotFoundError as exc:
        raise not_found(str(exc)) from None


async def json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise bad_request("Invalid body: malformed JSON.") from None


def account_payload(d: PaperDesk, row: dict[str, Any]) -> dict[str, Any]:
    return {"account": wire.account(row), "summary": wire.summary(d.summary(row))}


# -- accounts ---------------------------------------------------------------------------------------
@router.get(
    "/v1/paper/accounts/",
    summary="List paper accounts",
    response_class=JSONBytes,
    responses=ok_body("PaperAccounts", "accounts, oldest first"),
)
async def list_accounts(
    request: Request,
    include_archived: str | None = q.boolean("true to include archived accounts"),
    limit: str | None = page_size(),
    page: str | None = q.token(),
    ctx: ApiContext = Depends(context),
    who: Caller = Depends(caller),
) -> JSONBytes:
    pager = Pager(request, ctx, who, "paper_accounts")
    state = pager.load(page) or {
        "arch": parse_bool("include_archived", include_archived, default=False),
        "l": parse_limit(limit, default=PAGE_DEFAULT, maximum=PAGE_MAX),
        "after": 0,
    }
    rows = await run(
        lambda: desk(request).accounts(
            owner_of(who), include_archived=state["arch"], after_seq=state["after"], limit=state["l"] + 1
        )
    )
    more = len(rows) > state["l"]
    rows = rows[: state["l"]]
    next_url = pager.next_url({**state, "after": rows[-1]["seq"]}) if more else None
    return results(request, [wire.account(r) for r in rows], next_url=next_url)


@router.post(
    "/v1/paper/accounts/",
    summary="Create a paper account",
    response_class=JSONBytes,
    status_code=201,
    openapi_extra=request_body("PaperAccountCreate", required=False),
    responses=ok_body("PaperAccountPayload", "the new account and its summary", status=201),
)
async def create_account(request: Request, who: Caller = Depends(caller)) -> JSONBytes:
    """At most 20 active accounts per user; a 21st is a 400."""
    body = await json_body(request)
    d = desk(request)
    payload = await run(lambda: account_payload(d, d.create_account(owner_of(who), body)))
    return ok(request, payload, status=201)


@router.get(
    ACCOUNT,
    summary="Get a paper account",
    response_class=JSONBytes,
    responses=ok_body("PaperAccountPayload", "account"),
)
async def get_account(
    request: Request, account_id: str = account_id_param(), who: Caller = Depends(caller)
) -> JSONBytes:
    d = desk(request)
    return ok(request, await run(lambda: account_payload(d, d.account(owner_of(who), account_id))))


@router.patch(
    ACCOUNT,
    summary="Rename a paper account",
    response_class=JSONBytes,
    openapi_extra=request_body("PaperAccountUpdate"),
    responses=ok_body("PaperAccountPayload", "account"),
)
async def update_account(
    request: Request, account_id: str = account_id_param(), who: Caller = Depends(caller)
) -> JSONBytes:
    body = await json_body(request)
    d = desk(request)
    return ok(request, await run(lambda: account_payload(d, d.rename(owner_of(who), account_id, body))))


@router.delete(
    ACCOUNT,
    summary="Archive a paper account",
    status_code=204,
    response_class=Response,
    responses=no_body("archived (open orders canceled); listed again with include_archived=true"),
)
async def delete_account(
    request: Request, account_id: str = account_id_param(), who: Caller = Depends(caller)
) -> Response:
    await run(desk(request).archive, owner_of(who), account_id)
    return Response(status_code=204)


@router.post(
    ACCOUNT + "reset/",
    summary="Reset a paper account",
    response_class=JSONBytes,
    openapi_extra=request_body("PaperAccountReset"),
    responses=ok_body("PaperAccountPayload", "account in its new generation"),
)
async def reset_account(
    request: Request, account_id: str = account_id_param(), who: Caller = Depends(caller)
) -> JSONBytes:
    """Cancels open orders, leaves positions and history behind, restores the cash and increments ``generation``."""
    body = await json_body(request)
    d = desk(request)
    return ok(request, await run(lambda: account_payload(d, d.reset(owner_of(who), account_id, body))))


@router.get(
    ACCOUNT + "account/",
    summary="Paper account summary",
    response_class=JSONBytes,
    responses=ok_body("PaperAccountSummary", "summary"),
)
async def account_summary(
    request: Request, account_id: str = account_id_param(), who: Caller = Depends(caller)
) -> JSONBytes:
    d = desk(request)
    return ok(request, await run(lambda: wire.summary(d.summary(d.account(owner_of(who), account_id)))))


@router.get(
    ACCOUNT + "portfolio/history/",
    summary="Paper equity history",
    response_class=JSONBytes,
    responses=ok_body("PaperEquityHistory", "equity snapshots, oldest first"),
)
async def portfolio_history(
    request: Request,
    account_id: str = account_id_param(),
    limit: str | None = page_size(),
    page: str | None = q.token(),
    ctx: ApiContext = Depends(context),
    who: Caller = Depends(caller),
) -> JSONBytes:
    """Snapshots of the current generation: at creation and reset, after each fill, every minute of the regular
    session while the clock runs, and at each close."""
    pager = Pager(request, ctx, who, "paper_history")
    state = pager.load(page) or {"l": parse_limit(limit, default=PAGE_DEFAULT, maximum=PAGE_MAX), "after": 0}
    d = desk(request)

    def load() -> list[dict[str, Any]]:
        account = d.account(owner_of(who), account_id)
        return d.ledger.snapshots(account_id, account["generation"], after_seq=state["after"], limit=state["l"] + 1)

    rows = await run(load)
    more = len(rows) > state["l"]
    rows = rows[: state["l"]]
    next_url = pager.next_url({**state, "after": rows[-1]["seq"]}) if more else None
    return results(request, [wire.snapshot(r) for r in rows], next_url=next_url)


# -- orders -----------------------------------------------------------------------------------------
@router.get(
    ACCOUNT + "orders/",
    summary="List paper orders",
    response_class=JSONBytes,
    responses=ok_body("PaperOrders", "orders, newest first"),
)
async def list_orders(
    request: Request,
    account_id: str = account_id_param(),
    status: str | None = q.choice(ORDER_STATUSES, "all (default), open, closed or one order status"),
    limit: str | None = page_size(),
    page: str | None = q.token(),
    ctx: ApiContext = Depends(context),
    who: Caller = Depends(caller),
) -> JSONBytes:
    pager = Pager(request, ctx, who, "paper_orders")
    d = desk(request)
    state = pager.load(page)
    if state is None:
        statuses = await run(d.status_filter, status)
        state = {
            "s": list(statuses) if statuses is not None else None,
            "l": parse_limit(limit, default=PAGE_DEFAULT, maximum=PAGE_MAX),
            "before": None,
        }

    def load() -> list[dict[str, Any]]:
        account = d.account(owner_of(who), account_id)
        return d.ledger.orders(
            account_id, account["generation"], state["s"], before_seq=state["before"], limit=state["l"] + 1
        )

    rows = await run(load)
    more = len(rows) > state["l"]
    rows = rows[: state["l"]]
    next_url = pager.next_url({**state, "before": rows[-1]["seq"]}) if more else None
    return results(request, [wire.order(r) for r in rows], next_url=next_url)


@router.post(
    ACCOUNT + "orders/",
    summary="Submit a paper order",
    response_class=JSONBytes,
    status_code=201,
    openapi_extra=request_body("PaperOrderRequest"),
    responses={
        **ok_body("PaperOrderResult", "the new order (already filled when the market made it marketable)", status=201),
        **ok_body("PaperOrderResult", "the order sent earlier with the same client_order_id and payload"),
    },
)
async def submit_order(
    request: Request, account_id: str = account_id_param(), who: Caller = Depends(caller)
) -> JSONBytes:
    """Market orders fill at the ask (buy) or bid (sell) of the current NBBO; limit orders when the NBBO reaches
    the limit. Outside the regular session the order stays ``accepted`` until the next session opens."""
    body = await json_body(request)
    row, created = await run(desk(request).submit, owner_of(who), account_id, body)
    return ok(request, wire.order(row), status=201 if created else 200)


@router.get(
    ACCOUNT + "orders:by_client_order_id",
    summary="Get a paper order by client_order_id",
    response_class=JSONBytes,
    responses=ok_body("PaperOrderResult", "order"),
)
async def order_by_client_order_id(
    request: Request,
    account_id: str = account_id_param(),
    client_order_id: str = q.required({"type": "string", "minLength": 1}, "the client_order_id sent with the order"),
    who: Caller = Depends(caller),
) -> JSONBytes:
    if not client_order_id:
        raise bad_request("Invalid client_order_id: required.")
    row = await run(desk(request).order_by_client_id, owner_of(who), account_id, client_order_id)
    return ok(request, wire.order(row))


@router.get(
    ACCOUNT + "orders/{order_id}/",
    summary="Get a paper order",
    response_class=JSONBytes,
    responses=ok_body("PaperOrderResult", "order"),
)
async def get_order(
    request: Request,
    account_id: str = account_id_param(),
    order_id: str = order_id_param(),
    who: Caller = Depends(caller),
) -> JSONBytes:
    row = await run(desk(request).order, owner_of(who), account_id, order_id)
    return ok(request, wire.order(row))


@router.delete(
    ACCOUNT + "orders/{order_id}/",
    summary="Cancel a paper order",
    response_class=JSONBytes,
    responses={**ok_body("PaperOrderResult", "the canceled order"), **CANCEL_REFUSED},
)
async def cancel_order(
    request: Request,
    account_id: str = account_id_param(),
    order_id: str = order_id_param(),
    who: Caller = Depends(caller),
) -> JSONBytes:
    """Only ``new``, ``accepted`` or ``partially_filled`` orders can be canceled; others are a 400."""
    row = await run(desk(request).cancel, owner_of(who), account_id, order_id)
    return ok(request, wire.order(row))


# -- positions and fills ------------------------------------------------------------------------------
@router.get(
    ACCOUNT + "positions/",
    summary="Paper positions",
    response_class=JSONBytes,
    responses=ok_body("PaperPositions", "open positions by symbol"),
)
async def positions(request: Request, account_id: str = account_id_param(), who: Caller = Depends(caller)) -> JSONBytes:
    d = desk(request)
    rows = await run(lambda: d.positions(d.account(owner_of(who), account_id)))
    return results(request, rows)


@router.get(
    ACCOUNT + "fills/",
    summary="Paper fills",
    response_class=JSONBytes,
    responses=ok_body("PaperFills", "fills, newest first"),
)
async def fills(
    request: Request,
    account_id: str = account_id_param(),
    limit: str | None = page_size(),
    page: str | None = q.token(),
    ctx: ApiContext = Depends(context),
    who: Caller = Depends(caller),
) -> JSONBytes:
    pager = Pager(request, ctx, who, "paper_fills")
    state = pager.load(page) or {"l": parse_limit(limit, default=PAGE_DEFAULT, maximum=PAGE_MAX), "before": None}
    d = desk(request)

    def load() -> list[dict[str, Any]]:
        account = d.account(owner_of(who), account_id)
        return d.ledger.fills(account_id, account["generation"], before_seq=state["before"], limit=state["l"] + 1)

    rows = await run(load)
    more = len(rows) > state["l"]
    rows = rows[: state["l"]]
    next_url = pager.next_url({**state, "before": rows[-1]["seq"]}) if more else None
    return results(request, [wire.fill(r) for r in rows], next_url=next_url)
