"""``GET /v1/clock/``: the server's market clock (live, replay or off), its instant and session labels."""

from __future__ import annotations

from fastapi import Depends, Request

from ..market.timestamps import ET, datetime_from_ns, et_date
from .auth import Caller
from .deps import ApiContext, caller, context
from .envelope import JSONBytes, results
from .routing import Router

router = Router(tags=["reference"])


@router.get("/v1/clock/", summary="Market clock and session labels", response_class=JSONBytes)
def clock(request: Request, ctx: ApiContext = Depends(context), who: Caller = Depends(caller)) -> JSONBytes:
    """``mode`` is ``live`` (the built-in market clock), ``replay`` (a stored session; its clock is "now" for
    every answer) or ``off``. Session labels follow the timestamps guide: ``premarket``, ``regular``,
    ``after_hours``, ``closed``, ``holiday``, ``half_day`` (a shortened session while it is open)."""
    cal = ctx.runtime.calendar
    now = who.now_ns
    config = request.app.state.stream.config
    day = et_date(now)
    half_day = cal.is_session(day) and cal.is_early_close(day)
    labels = {}
    for product in ("stocks", "options"):
        label = cal.session_label(now, product=product)
        labels[product] = "half_day" if half_day and label == "regular" else label
    replay = None
    if config.mode == "replay":
        replay = {
            "day": config.replay_day.isoformat() if config.replay_day else None,
            "speed": config.replay_speed,
            "start": config.replay_start.isoformat() if config.replay_start else None,
        }
    return results(
        request,
        {
            "mode": config.mode,
            "now_ns": now,
            "now_et": datetime_from_ns(now, ET).isoformat(),
            "horizon_ns": who.horizon_ns,
            "session_label": labels["stocks"],
            "options_session_label": labels["options"],
            "half_day": half_day,
            "replay": replay,
        },
    )
