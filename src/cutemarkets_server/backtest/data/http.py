"""Any CuteMarkets v1 server as a data source (the hosted API, a colleague's server, or our own)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote as urlquote

import orjson

from ...market.timestamps import NS_PER_MIN, et_date, et_midnight_ns
from .base import Bar, ChainRow, DataSourceError, Quote, bar_from_row, chain_row_from_snapshot, quote_from_row
from .transport import Client, TransportError

MAX_PAGES = 10_000


class HttpSource:
    """Reads the v1 REST API with an API key (options and stocks products; quotes need the Expert plan)."""

    kind = "http"

    def __init__(self, base_url: str, api_key: str, *, timeout_s: float = 60.0) -> None:
        if not api_key:
            raise DataSourceError("--api-key is required with --source")
        if not base_url.startswith(("http://", "https://")):
            raise DataSourceError(f"--source must be an http(s) URL, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        try:
            self.client = Client(self.base_url, {"Authorization": f"Bearer {api_key}"}, timeout_s)
        except ValueError as exc:
            raise DataSourceError(f"--source: {exc}") from None
        self.requests = 0
        self._quotes_checked = False

    def close(self) -> None:
        self.client.close()

    # -- transport -----------------------------------------------------------------------------------
    def _get(self, url: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        self.requests += 1
        try:
            status, raw = self.client.get(url, params)
        except TransportError as exc:
            raise DataSourceError(f"{self.base_url}: request failed: {exc}") from exc
        try:
            body = orjson.loads(raw)
        except ValueError:
            raise DataSourceError(f"{self.base_url}{url}: HTTP {status}, not JSON") from None
        if not isinstance(body, dict):
            raise DataSourceError(f"{self.base_url}{url}: HTTP {status}, not a JSON object")
        if status != 200 or body.get("status") == "ERROR":
            err = body.get("error") or {}
            message = err.get("message") if isinstance(err, dict) else str(err)
            raise DataSourceError(f"{self.base_url}: HTTP {status} on {url}: {message or body}")
        return body

    def _all(self, url: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Every result of a listing, following ``next_url``."""
        body = self._get(url, params)
        rows = list(body.get("results") or [])
        pages = 1
        while body.get("next_url"):
            pages += 1
            if pages > MAX_PAGES:
                raise DataSourceError(f"{url}: more than {MAX_PAGES} pages")
            body = self._get(body["next_url"])
            rows += body.get("results") or []
        return rows

    # -- the interface -------------------------------------------------------------------------------
    def minute_bars(self, ticker: str, day: dt.date) -> list[Bar]:
        return self.minute_bars_between(ticker, day, day)

    def minute_bars_between(self, ticker: str, first: dt.date, last: dt.date) -> list[Bar]:
        rows = self._all(
            f"/v1/stocks/aggs/{urlquote(ticker)}/1/minute/{first.isoformat()}/{last.isoformat()}/",
            {"adjusted": "false", "sort": "asc", "limit": 10_000},
        )
        return [bar_from_row(r, NS_PER_MIN) for r in rows]

    def day_bars(self, ticker: str, first: dt.date, last: dt.date) -> list[Bar]:
        rows = self._all(
            f"/v1/stocks/aggs/{urlquote(ticker)}/1/day/{first.isoformat()}/{last.isoformat()}/",
            {"adjusted": "false", "sort": "asc", "limit": 10_000},
        )
        out = []
        for r in rows:
            start = int(r["t"]) * 1_000_000
            bar = bar_from_row(r, 0)
            end = et_midnight_ns(et_date(start) + dt.timedelta(days=1))
            out.append(Bar(start, end, bar.open, bar.high, bar.low, bar.close, bar.volume))
        return out

    def chain(
        self,
        underlying: str,
        at_ns: int,
        expiration_lo: dt.date,
        expiration_hi: dt.date,
        contract_type: str | None = None,
    ) -> list[ChainRow]:
        params: dict[str, Any] = {"contract_type": contract_type} if contract_type else {}
        rows = self._all(
            f"/v1/options/chain/{urlquote(underlying)}/",
            {
                **params,
                "as_of": str(at_ns),
                "expiration_date.gte": expiration_lo.isoformat(),
                "expiration_date.lte": expiration_hi.isoformat(),
                "sort": "ticker",
                "limit": 250,
            },
        )
        if rows and not self._quotes_checked:
            # A plan without quotes serves chains without them; fail now instead of rejecting every order.
            # A chain that carries quotes shows the key has them (its quote requests will say otherwise).
            if not any(r.get("last_quote") for r in rows):
                self.last_quote(rows[0]["details"]["ticker"], at_ns)
            self._quotes_checked = True
        return [chain_row_from_snapshot(r, underlying) for r in rows]

    def quotes(self, ticker: str, lo_ns: int, hi_ns: int) -> list[Quote]:
        rows = self._all(
            f"/v1/options/quotes/{urlquote(ticker)}/",
            {"timestamp.gte": str(lo_ns), "timestamp.lt": str(hi_ns), "order": "asc", "limit": 10_000},
        )
        return [quote_from_row(r) for r in rows]

    def last_quote(self, ticker: str, at_ns: int) -> Quote | None:
        body = self._get(
            f"/v1/options/quotes/{urlquote(ticker)}/", {"timestamp.lte": str(at_ns), "order": "desc", "limit": 1}
        )
        rows = body.get("results") or []
        return quote_from_row(rows[0]) if rows else None

    def describe(self, underlying: str, first: dt.date, last: dt.date) -> dict[str, Any]:
        return {"kind": "http", "url": self.base_url}
