"""``GET /v1/clock/``: the server's market clock (live, replay or off), its instant and session labels."""

from __future__ import annotations

from fastapi import Depends, Request

from ..market.calendar import MarketCalendar
from ..market.timestamps import ET, datetime_from_ns, et_date, et_ns
from .auth import Caller
from .deps import ApiContext, caller, context
from .envelope import JSONBytes, results
from .openapi import params as q
from .openapi.schemas import ok_body
from .params import clamp_ns, parse_instant
from .routing import Router

router = Router(tags=["reference"])

AT_DOC = "Label this instant instead of now: RFC 3339, an epoch integer, or YYYY-MM-DD (just before its 09:30 ET open)."


def session_labels(cal: MarketCalendar, ns: int) -> dict[str, object]:
    """Stock and option session labels at ``ns``; a shortened session's open hours are ``half_day``."""
    day = et_date(ns)
    half_day = cal.is_session(day) and cal.is_early_close(day)
    labels = {}
    for product in ("stocks", "options"):
        label = cal.session_label(ns, product=product)
        labels[product] = "half_day" if half_day and label == "regular" else label
    return {"session_label": labels["stocks"], "options_session_label": labels["options"], "half_day": half_day}


@router.get(
    "/v1/clock/", summary="Market clock and session labels", response_class=JSONBytes, responses=ok_body("Clock")
)
def clock(
    request: Request,
    at: str | None = q.timestamp(AT_DOC),
    ctx: ApiContext = Depends(context),
    who: Caller = Depends(caller),
) -> JSONBytes:
    """``mode`` is ``live`` (the built-in market clock), ``replay`` (a stored session; its clock is "now" for
    every answer) or ``off``. Session labels follow the timestamps guide: ``premarket``, ``regular``,
    ``after_hours``, ``closed``, ``holiday``, ``half_day`` (a shortened session while it is open)."""
    cal = ctx.runtime.calendar
    now = who.now_ns
    config = request.app.state.stream.config
    replay = None
    if config.mode == "replay":
        replay = {
            "day": config.replay_day.isoformat() if config.replay_day else None,
            "speed": config.replay_speed,
            "start": config.replay_start.isoformat() if config.replay_start else None,
        }
    out: dict[str, object] = {
        "mode": config.mode,
        "now_ns": now,
        "now_et": datetime_from_ns(now, ET).isoformat(),
        "horizon_ns": who.horizon_ns,
        **session_labels(cal, now),
        "replay": replay,
    }
    if at:  # an empty value means now, as for every optional parameter
        instant = parse_instant("at", at)
        at_ns = clamp_ns(et_ns(instant.day, 9, 30) - 1) if instant.day is not None else instant.ns
        out["at"] = {"ns": at_ns, "et": datetime_from_ns(at_ns, ET).isoformat(), **session_labels(cal, at_ns)}
    return results(request, out)
