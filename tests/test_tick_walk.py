"""A tick page reads only the days from the requested end that fill it; whatever the bounds, order and
continuation, it is the rows a plain filter and sort of all the ticker's rows gives."""

from __future__ import annotations

import datetime as dt

import pytest

from cutemarkets_server.market.timestamps import et_ns
from cutemarkets_server.store.market import Position

from conftest import RunningServer

DAY = dt.date(2025, 11, 26)


@pytest.mark.parametrize("name", ["option_trades", "option_quotes", "stock_trades"])
def test_pages_are_the_filtered_sorted_rows(server: RunningServer, name: str) -> None:
    store = server.app.state.ctx.services.store
    ticker = store.busiest_tickers(name, "O:SPY" if name.startswith("option") else "SPY", 1)[0][0]
    cases = [
        (None, None, True, 1000, None),
        (None, None, False, 1000, None),
        (None, None, True, 7, None),
        (et_ns(DAY, 12), None, False, 500, None),
        (None, et_ns(DAY, 12), True, 500, None),
        (et_ns(DAY, 10), et_ns(DAY + dt.timedelta(days=5), 15), True, 2000, None),
        (None, None, False, 300, Position(et_ns(DAY, 11), 1)),
        (None, None, True, 300, Position(et_ns(DAY, 11), 0)),
    ]

    everything = store.ticks_between(name, [ticker], 0, 2**62).to_pylist()
    assert len(everything) > 300
    # The oracle: ticks_between keeps the stored order (time, then each day file's row order).
    for lo, hi, desc, limit, after in cases:
        got = store.tick_page(name, ticker, lo, hi, descending=desc, limit=limit, after=after).to_pylist()
        low = max(lo or 0, after.ts if after and not desc else 0)
        high = min(hi or 2**62, after.ts + 1 if after and desc else 2**62)
        want = [r for r in everything if low <= r["sip_timestamp"] < high]
        if desc:
            want.reverse()
        skip = after.skip if after else 0
        assert got == want[skip : skip + limit], (lo, hi, desc, limit, after)
        assert got, "every case returns rows"
