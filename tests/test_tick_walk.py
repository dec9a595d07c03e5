"""A tick page asks the row index for its ticker's runs a window of days at a time from the requested end;
whatever the window, the page is the same rows as one look-up over the whole range."""

from __future__ import annotations

import datetime as dt

import pytest

from cutemarkets_server.market.timestamps import et_ns
from cutemarkets_server.store import market
from cutemarkets_server.store.market import Position

from conftest import RunningServer

DAY = dt.date(2025, 11, 26)


@pytest.mark.parametrize("name", ["option_trades", "option_quotes", "stock_trades"])
def test_pages_do_not_depend_on_the_walk_window(
    server: RunningServer, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
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

    def pages() -> list:
        return [
            store.tick_page(name, ticker, lo, hi, descending=desc, limit=limit, after=after).to_pylist()
            for lo, hi, desc, limit, after in cases
        ]

    monkeypatch.setattr(market, "WALK_WINDOW_DAYS", 10**6)
    whole = pages()
    assert any(len(p) >= 7 for p in whole)
    monkeypatch.setattr(market, "WALK_WINDOW_DAYS", 1)
    assert pages() == whole
