"""The indexed store answers exactly as the previous store did.

A second server runs over the same lake with the previous implementation (tests/legacy_store.py,
plain DuckDB over every day file); a sample of requests over every dataset, with many ``as_of`` and
timestamp bounds, page sizes, orders and continuations, must give identical bodies from both.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from cutemarkets_server.market.timestamps import et_ns
from legacy_store import LegacyMarketStore

from conftest import RunningServer, auth, start_server

SESSIONS = [dt.date(2025, 11, 25), dt.date(2025, 11, 28), dt.date(2025, 12, 1), dt.date(2025, 12, 2)]


@pytest.fixture(scope="module")
def legacy(server: RunningServer) -> Iterator[str]:
    from cutemarkets_server.services.container import Services

    srv, app, base = start_server(server.data_dir, server.clock)
    rt = app.state.ctx.runtime
    app.state.ctx.services = Services.build(rt, store=LegacyMarketStore(rt.lake, rt.engine))
    yield base
    srv.should_exit = True


def _body(client: httpx.Client, base: str, path: str, params: dict[str, Any], key: str) -> tuple[int, Any]:
    r = client.get(base + path, params=params, headers=auth(key))
    body = r.json()
    body.pop("request_id", None)
    if isinstance(body.get("next_url"), str):
        body["next_url"] = body["next_url"].replace(base, "BASE")
    return r.status_code, body


def _requests(server: RunningServer) -> list[tuple[str, dict[str, Any]]]:
    """A broad sample of requests over every dataset, built from what the test market holds."""
    store = server.app.state.ctx.services.store
    contracts = [t for t, _ in store.busiest_tickers("option_quotes", "O:SPY", 3)]
    contracts += [t for t, _ in store.busiest_tickers("option_trades", "O:QQQ", 2)]
    stocks = ["SPY", "QQQ", "NVDA"]
    out: list[tuple[str, dict[str, Any]]] = []
    instants = [
        "2025-12-02",
        "2025-12-01",
        "2025-11-28",
        "2025-12-01T14:31:00Z",
        "2025-12-01T18:00:00Z",
        "2025-12-01T20:59:59.999999999Z",
        "2025-12-02T21:30:00Z",
        str(et_ns(dt.date(2025, 11, 28), 12, 15)),
        "2025-11-26T15:00:00Z",
    ]
    for as_of in instants:
        out.append(("/v1/options/chain/SPY/", {"limit": 250, "as_of": as_of}))
        out.append(("/v1/options/chain/QQQ/", {"limit": 10, "as_of": as_of, "contract_type": "put"}))
        out.append(("/v3/snapshot/options/SPY", {"limit": 10, "as_of": as_of}))
        for c in contracts[:2]:
            out.append((f"/v1/options/snapshot/SPY/{c}/", {"as_of": as_of}))
    out.append(("/v1/options/chain/SPY/", {"limit": 250}))
    for kind in ("trades", "quotes"):
        for c in contracts:
            for order in ("asc", "desc"):
                out.append((f"/v1/options/{kind}/{c}/", {"limit": 1000, "order": order}))
                out.append((f"/v1/options/{kind}/{c}/", {"limit": 7, "order": order}))
                out.append(
                    (
                        f"/v1/options/{kind}/{c}/",
                        {
                            "limit": 100,
                            "order": order,
                            "timestamp.gte": "2025-12-01T15:00:00Z",
                            "timestamp.lt": "2025-12-01T19:00:00Z",
                        },
                    )
                )
            out.append((f"/v1/options/{kind}/{c}/", {"timestamp": "2025-11-28", "limit": 50}))
            out.append((f"/v1/options/{kind}/{c}/last/", {}))
        for s in stocks:
            for order in ("asc", "desc"):
                out.append((f"/v1/stocks/{kind}/{s}/", {"limit": 1000, "order": order}))
                out.append((f"/v1/stocks/{kind}/{s}/", {"limit": 500, "order": order, "timestamp.gt": "2025-12-01"}))
            out.append((f"/v1/stocks/{kind}/{s}/", {"timestamp.lte": "2025-11-26T15:00:00Z", "limit": 20}))
            out.append((f"/v1/stocks/{kind}/{s}/last/", {}))
            out.append((f"/v3/{kind}/{s}", {"limit": 50}))
    for c in contracts:
        for span in ("1/minute", "5/minute", "1/hour", "1/day"):
            out.append((f"/v1/options/aggs/{c}/{span}/2025-11-20/2025-12-02/", {"limit": 5000}))
        out.append((f"/v1/options/aggs/{c}/prev/", {}))
        out.append((f"/v1/options/open-close/{c}/2025-12-01/", {}))
        out.append((f"/v1/options/indicators/rsi/{c}/", {"timespan": "minute", "limit": 50}))
    for s in stocks:
        for span in ("1/minute", "1/second", "30/minute", "1/day", "1/week"):
            out.append((f"/v1/stocks/aggs/{s}/{span}/2025-11-24/2025-12-02/", {"limit": 50000}))
        out.append((f"/v1/stocks/aggs/{s}/1/day/2025-01-01/2025-12-02/", {"adjusted": "false"}))
        out.append((f"/v1/stocks/aggs/{s}/prev/", {}))
        out.append((f"/v1/stocks/open-close/{s}/2025-12-01/", {}))
        out.append((f"/v1/stocks/snapshots/{s}/", {}))
        out.append((f"/v1/stocks/indicators/macd/{s}/", {"timespan": "day", "limit": 30}))
        out.append((f"/v2/aggs/ticker/{s}/range/1/minute/2025-12-01/2025-12-02", {"limit": 50000}))
        out.append((f"/v2/last/nbbo/{s}", {}))
    out.append(("/v1/stocks/snapshots/", {}))
    out.append(("/v1/stocks/movers/gainers/", {}))
    out.append(("/v2/aggs/grouped/locale/us/market/stocks/2025-12-01", {}))
    return out


def _previous_store_mixed_rows(
    client: httpx.Client, server: RunningServer, path: str, got: tuple[int, Any], want: tuple[int, Any], key: str
) -> bool:
    """The previous store built "last trade" from per-column ``arg_max``, which skips NULLs: a last
    trade without a TRF stamp came back with the TRF fields of an older trade. The new answer must be
    the newest row exactly as the trades page lists it, and differ only in those fields."""
    if not (path.startswith("/v1/stocks/trades/") and path.endswith("/last/")):
        return False
    newest = _body(client, server.base_url, path.removesuffix("last/"), {"order": "desc", "limit": 1}, key)
    new, old = got[1]["results"], want[1]["results"]
    differing = {k for k in set(new) | set(old) if new.get(k) != old.get(k)}
    row = newest[1]["results"][0]
    same_trade = (new["t"], new["q"], new["i"]) == (row["sip_timestamp"], row["sequence_number"], row["id"])
    return same_trade and "trf_timestamp" not in row and differing <= {"f", "r"}  # trf_timestamp, trf_id


def test_every_answer_matches_the_previous_store(server: RunningServer, legacy: str) -> None:
    key = server.key("expert")
    requests = _requests(server)
    assert len(requests) > 150
    mismatches = []
    pages = 0
    with httpx.Client(timeout=120.0) as client:
        for path, params in requests:
            new_url, old_url = server.base_url + path, legacy + path
            new_params: dict[str, Any] | None = params
            old_params: dict[str, Any] | None = params
            for _ in range(4):  # follow a few continuation pages of each
                got = _body(client, server.base_url, new_url.removeprefix(server.base_url), new_params or {}, key)
                want = _body(client, legacy, old_url.removeprefix(legacy), old_params or {}, key)
                pages += 1
                if got != want and not _previous_store_mixed_rows(client, server, path, got, want, key):
                    mismatches.append((path, params, got[0], want[0]))
                    break
                nxt_new, nxt_old = got[1].get("next_url"), want[1].get("next_url")
                if not nxt_new:
                    break
                new_url = nxt_new.replace("BASE", server.base_url)
                old_url = nxt_old.replace("BASE", legacy)
                new_params = old_params = None
    assert pages > 250
    assert not mismatches, f"{len(mismatches)} answers differ, first: {mismatches[:3]}"
