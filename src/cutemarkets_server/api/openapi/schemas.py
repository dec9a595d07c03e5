"""JSON Schemas (2020-12, as OpenAPI 3.1 uses) of every response body, written against the wire shapes
in ``api/shapes.py``, ``api/polygon/shapes.py`` and ``services/``. Objects are closed
(``additionalProperties: false``): a field added to a body must be added here as well, and the
schemathesis run in the test suite fails until it is.

Routes refer to a schema by its component name: ``responses=ok_body("OptionSnapshot", page=True)``.
"""

from __future__ import annotations

from typing import Any

from ...store.backtest_runs import ARTIFACTS, RUN_NAME
from ..errors import ERROR_STATUS

INT: dict[str, Any] = {"type": "integer"}
NUM: dict[str, Any] = {"type": "number"}
STR: dict[str, Any] = {"type": "string"}
BOOL: dict[str, Any] = {"type": "boolean"}
DATE: dict[str, Any] = {"type": "string", "format": "date"}
NS: dict[str, Any] = {"type": "integer", "description": "Unix nanoseconds"}
MS: dict[str, Any] = {"type": "integer", "description": "Unix milliseconds"}
REQUEST_ID: dict[str, Any] = {"type": "string", "pattern": "^cm_[0-9a-f]{32}$"}
TIMEFRAME: dict[str, Any] = {"type": "string", "enum": ["REAL-TIME", "DELAYED"]}


def ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


def obj(required: dict[str, Any], optional: dict[str, Any] | None = None, *, closed: bool = True) -> dict[str, Any]:
    """An object with ``required`` and ``optional`` properties (closed unless told otherwise)."""
    props = {**required, **(optional or {})}
    schema: dict[str, Any] = {"type": "object", "properties": props, "required": list(required)}
    if closed:
        schema["additionalProperties"] = False
    return schema


def envelope(fields: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    """``{"status": "OK", "request_id": …, **fields}``."""
    return obj({"status": {"const": "OK"}, "request_id": REQUEST_ID, **fields}, optional)


def listing(item: dict[str, Any], **extra: dict[str, Any]) -> dict[str, Any]:
    """A paged list envelope: ``results`` and, when there is another page, an absolute ``next_url``."""
    return envelope({"results": array(item), **extra}, {"next_url": {"type": "string", "format": "uri"}})


def single(item: dict[str, Any], **extra: dict[str, Any]) -> dict[str, Any]:
    return envelope({"results": item, **extra})


_OPTION_QUOTE = {"ask_price": NUM, "ask_size": INT, "bid_price": NUM, "bid_size": INT, "sip_timestamp": NS}
_OPTION_QUOTE_OPTIONAL = {"ask_exchange": INT, "bid_exchange": INT, "sequence_number": INT}
_OHLC_COMPACT = {"o": NUM, "h": NUM, "l": NUM, "c": NUM, "v": NUM}
_OHLC_LONG = {"open": NUM, "high": NUM, "low": NUM, "close": NUM, "volume": NUM}

COMPONENTS: dict[str, dict[str, Any]] = {
    "Error": obj(
        {
            "status": {"const": "ERROR"},
            "request_id": REQUEST_ID,
            "error": obj({"code": {"type": "string", "enum": sorted(ERROR_STATUS)}, "message": STR}),
        }
    ),
    "Bar": obj(
        {**_OHLC_COMPACT, "n": INT, "t": MS},
        {"vw": NUM, "T": STR, "session": {"type": "string", "enum": ["premarket", "regular", "after_hours"]}},
    ),
    "OptionSnapshot": obj(
        {
            "day": obj(
                {"volume": NUM},
                {
                    **{k: NUM for k in _OHLC_LONG},
                    "vwap": NUM,
                    "previous_close": NUM,
                    "last_updated": NS,
                    "change": NUM,
                    "change_percent": NUM,
                },
            ),
            "details": obj(
                {
                    "contract_type": {"type": "string", "enum": ["call", "put"]},
                    "exercise_style": STR,
                    "expiration_date": DATE,
                    "shares_per_contract": INT,
                    "strike_price": NUM,
                    "ticker": STR,
                },
                {"underlying_ticker": STR},
            ),
        },
        {
            "break_even_price": NUM,
            "greeks": obj({"delta": NUM, "gamma": NUM, "theta": NUM, "vega": NUM}),
            "implied_volatility": NUM,
            "last_quote": obj(
                {
                    "ask": NUM,
                    "ask_size": INT,
                    "ask_exchange": nullable(INT),
                    "bid": NUM,
                    "bid_size": INT,
                    "bid_exchange": nullable(INT),
                    "last_updated": NS,
                    "midpoint": nullable(NUM),
                    "timeframe": TIMEFRAME,
                }
            ),
            "last_trade": obj(
                {
                    "sip_timestamp": NS,
                    "conditions": array(INT),
                    "price": NUM,
                    "size": INT,
                    "exchange": nullable(INT),
                    "timeframe": TIMEFRAME,
                }
            ),
            "open_interest": INT,
            "underlying_asset": obj(
                {"ticker": STR}, {"price": NUM, "change_to_break_even": NUM, "last_updated": NS, "timeframe": TIMEFRAME}
            ),
            "fmv": NUM,
            "fmv_last_updated": NS,
        },
    ),
    "OptionContract": obj(
        {
            "contract_type": {"type": "string", "enum": ["call", "put"]},
            "exercise_style": STR,
            "expiration_date": DATE,
            "shares_per_contract": INT,
            "strike_price": NUM,
            "ticker": STR,
            "underlying_ticker": STR,
        },
        {
            "cfi": STR,
            "primary_exchange": STR,
            "correction": INT,
            "additional_underlyings": array(obj({"type": STR, "underlying": STR, "amount": NUM})),
        },
    ),
    "OptionTrade": obj(
        {"conditions": array(INT), "id": STR, "price": NUM, "sip_timestamp": NS, "size": INT, "decimal_size": STR},
        {"exchange": INT, "sequence_number": INT, "participant_timestamp": NS, "correction": INT},
    ),
    "OptionQuote": obj(_OPTION_QUOTE, _OPTION_QUOTE_OPTIONAL),
    "OptionLastQuote": obj({"ticker": STR, **_OPTION_QUOTE}, _OPTION_QUOTE_OPTIONAL),
    "StockTrade": obj(
        {"conditions": array(INT), "id": STR, "price": NUM, "sip_timestamp": NS, "size": INT},
        {
            "correction": INT,
            "exchange": INT,
            "participant_timestamp": NS,
            "sequence_number": INT,
            "tape": INT,
            "trf_id": INT,
            "trf_timestamp": NS,
        },
    ),
    "StockQuote": obj(
        {"ask_price": NUM, "ask_size": INT, "bid_price": NUM, "bid_size": INT, "sip_timestamp": NS},
        {
            "ask_exchange": INT,
            "bid_exchange": INT,
            "sequence_number": INT,
            "participant_timestamp": NS,
            "tape": INT,
            "conditions": array(INT),
            "indicators": array(INT),
            "trf_timestamp": NS,
        },
    ),
    "LastTrade": obj(
        {"T": STR, "c": array(INT), "ds": STR, "i": STR, "p": NUM, "s": INT, "t": NS},
        {"e": INT, "f": NS, "q": INT, "r": INT, "x": INT, "y": NS, "z": INT},
    ),
    "StockLastQuote": obj(
        {"T": STR, "P": NUM, "S": INT, "p": NUM, "s": INT, "t": NS},
        {"q": INT, "z": INT, "x": INT, "y": INT, "X": INT},
    ),
    "LastNBBO": obj(
        {"T": STR, "P": NUM, "S": INT, "p": NUM, "s": INT, "t": NS},
        {"X": INT, "x": INT, "c": array(INT), "i": array(INT), "f": NS, "q": INT, "y": NS, "z": INT},
    ),
    "StockBar": obj({**_OHLC_COMPACT, **_OHLC_LONG}, {"vw": NUM, "vwap": NUM, "t": MS, "last_updated": NS}),
    "StockSnapshot": obj(
        {"ticker": STR, "day": ref("StockBar")},
        {
            "todaysChange": NUM,
            "todaysChangePerc": NUM,
            "prevDay": ref("StockBar"),
            "min": obj(
                {**_OHLC_COMPACT, **_OHLC_LONG, "av": INT, "n": INT, "t": MS},
                {
                    "vw": NUM,
                    "vwap": NUM,
                    "session": {"type": "string", "enum": ["premarket", "regular", "after_hours"]},
                },
            ),
            "lastTrade": obj(
                {
                    "c": array(INT),
                    "i": STR,
                    "p": NUM,
                    "s": INT,
                    "t": NS,
                    "conditions": array(INT),
                    "id": STR,
                    "price": NUM,
                    "size": INT,
                    "sip_timestamp": NS,
                    "timeframe": TIMEFRAME,
                },
                {"x": INT, "exchange": INT},
            ),
            "lastQuote": obj(
                {
                    "P": NUM,
                    "S": INT,
                    "p": NUM,
                    "s": INT,
                    "t": NS,
                    "ask_price": NUM,
                    "ask_size": INT,
                    "bid_price": NUM,
                    "bid_size": INT,
                    "sip_timestamp": NS,
                    "timeframe": TIMEFRAME,
                }
            ),
            "updated": NS,
            "otc": BOOL,
        },
    ),
    "StockTicker": obj(
        {"ticker": STR},
        {
            "name": STR,
            "market": STR,
            "locale": STR,
            "primary_exchange": STR,
            "type": STR,
            "active": BOOL,
            "currency_name": STR,
            "cik": STR,
            "composite_figi": STR,
            "share_class_figi": STR,
            "last_updated_utc": STR,
            "market_cap": NUM,
            "share_class_shares_outstanding": NUM,
            "weighted_shares_outstanding": NUM,
            "list_date": DATE,
            "description": STR,
            "homepage_url": STR,
            "sic_code": STR,
            "round_lot": NUM,
        },
    ),
    "GroupedBar": obj({"T": STR, **_OHLC_COMPACT, "n": INT, "t": MS}, {"vw": NUM, "otc": BOOL}),
    "Aggregates": envelope(
        {"ticker": STR, "adjusted": BOOL, "queryCount": INT, "resultsCount": INT, "count": INT},
        {"results": array(ref("Bar")), "next_url": {"type": "string", "format": "uri"}},
    ),
    "Indicator": single(
        obj(
            {
                "values": array(
                    obj(
                        {"timestamp": MS, "value": nullable(NUM)}, {"signal": nullable(NUM), "histogram": nullable(NUM)}
                    )
                )
            },
            {"underlying": obj({"url": {"type": "string", "format": "uri"}}, {"aggregates": array(ref("Bar"))})},
        )
    ),
    "OpenClose": envelope(
        {
            "symbol": STR,
            "from": DATE,
            "open": NUM,
            "high": NUM,
            "low": NUM,
            "close": NUM,
            "volume": NUM,
            "adjusted": BOOL,
        },
        {"preMarket": NUM, "afterHours": NUM},
    ),
}

# Bodies that are used by one route only, named here so every route refers to bodies the same way.
BODIES: dict[str, dict[str, Any]] = {
    "OptionChain": listing(ref("OptionSnapshot")),
    "OptionSnapshotResult": single(ref("OptionSnapshot")),
    "OptionContracts": listing(ref("OptionContract")),
    "OptionContractResult": single(ref("OptionContract")),
    "OptionTrades": listing(ref("OptionTrade")),
    "OptionQuotes": listing(ref("OptionQuote")),
    "LastTradeResult": single(ref("LastTrade")),
    "OptionLastQuoteResult": single(ref("OptionLastQuote")),
    "StockTrades": listing(ref("StockTrade")),
    "Trades": listing({"anyOf": [ref("StockTrade"), ref("OptionTrade")]}),
    "Quotes": listing({"anyOf": [ref("StockQuote"), ref("OptionQuote")]}),
    "StockQuotes": listing(ref("StockQuote")),
    "StockLastQuoteResult": single(ref("StockLastQuote")),
    "LastNBBOResult": single(ref("LastNBBO")),
    "StockSnapshots": envelope({"count": INT, "tickers": array(ref("StockSnapshot"))}),
    "StockMovers": envelope({"tickers": array(ref("StockSnapshot"))}),
    "StockSnapshotResult": single(ref("StockSnapshot")),
    "StockSnapshotTicker": envelope({"ticker": ref("StockSnapshot")}),
    "StockTickers": listing(ref("StockTicker")),
    "StockTickersCounted": listing(ref("StockTicker"), count=INT),
    "StockTickerResult": single(ref("StockTicker")),
    "TickerTypes": listing(obj({"code": STR, "description": STR, "asset_class": STR, "locale": STR})),
    "RelatedTickers": listing(obj({"ticker": STR}, {"name": STR, "type": STR})),
    "RelatedCompanies": listing(obj({"ticker": STR}, {"name": STR, "type": STR}), ticker=STR),
    "GroupedDaily": envelope(
        {"adjusted": BOOL, "queryCount": INT, "resultsCount": INT, "count": INT, "results": array(ref("GroupedBar"))}
    ),
    "TickerSearch": listing(obj({"symbol": STR, "name": nullable(STR)})),
    "Expirations": envelope({"ticker": STR, "results": array(DATE)}),
    "News": envelope({"count": {"const": 0}, "results": {"type": "array", "maxItems": 0}}),
    "MarketStatus": obj(
        {
            "market": {"type": "string", "enum": ["open", "extended-hours", "closed"]},
            "serverTime": {"type": "string", "format": "date-time"},
            "earlyHours": BOOL,
            "afterHours": BOOL,
            "exchanges": obj({"nyse": STR, "nasdaq": STR, "otc": STR}),
            "request_id": REQUEST_ID,
        }
    ),
    "MarketHolidays": array(
        obj(
            {
                "exchange": STR,
                "name": STR,
                "date": DATE,
                "status": {"type": "string", "enum": ["closed", "early-close"]},
            },
            {"open": {"type": "string", "format": "date-time"}, "close": {"type": "string", "format": "date-time"}},
        )
    ),
    "Status": obj(
        {
            "status": {"type": "string", "enum": ["ok", "degraded"]},
            "request_id": REQUEST_ID,
            "services": {
                "type": "object",
                "additionalProperties": obj({"status": STR}, closed=False),
            },
        },
        closed=False,
    ),
}


SESSION_LABEL: dict[str, Any] = {
    "type": "string",
    "enum": ["premarket", "regular", "half_day", "after_hours", "closed", "holiday"],
}
_LABELS = {"session_label": SESSION_LABEL, "options_session_label": SESSION_LABEL, "half_day": BOOL}
# A value read from a backtest's manifest.json or summary.json: any JSON.
ANY_JSON: dict[str, Any] = {}
_RUN_FILES = array({"type": "string", "enum": list(ARTIFACTS)})
_RUN_TABLE = nullable(
    obj({"columns": array(STR), "rows": array({"type": "object"}), "total_rows": {"type": "integer", "minimum": 0}})
)

# The console's JSON routes.
CONSOLE: dict[str, dict[str, Any]] = {
    "Datasets": envelope(
        {
            "results": array(
                obj(
                    {
                        "dataset": STR,
                        "daily": {"type": "boolean", "description": "false for as-of-change reference datasets"},
                        "first_day": DATE,
                        "last_day": DATE,
                        "days": INT,
                        "rows": INT,
                        "bytes": INT,
                        "missing_sessions": array(DATE),
                        "coverage": array(obj({"day": DATE, "rows": INT, "bytes": INT})),
                    }
                )
            )
        }
    ),
    "Account": single(
        obj(
            {
                "name": STR,
                "key_prefix": STR,
                "plan": STR,
                "products": array({"type": "string", "enum": ["options", "stocks", "paper"]}),
                "requests_per_minute": {**nullable(INT), "description": "null: unlimited"},
                "requests_per_day": {**nullable(INT), "description": "null: unlimited"},
                "lookback_years": INT,
                "lookback_from": DATE,
                "timeframe": TIMEFRAME,
                "delay_ns": INT,
                "quotes": BOOL,
                "websocket": BOOL,
            }
        )
    ),
    "Clock": single(
        obj(
            {
                "mode": {"type": "string", "enum": ["live", "replay", "off"]},
                "now_ns": NS,
                "now_et": {"type": "string", "format": "date-time"},
                "horizon_ns": NS,
                **_LABELS,
                "replay": nullable(
                    obj(
                        {
                            "day": nullable(DATE),
                            "speed": {**nullable(NUM), "description": "null: as fast as possible"},
                            "start": nullable(
                                {"type": "string", "pattern": r"^[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?$"}
                            ),
                        }
                    )
                ),
            },
            {"at": obj({"ns": NS, "et": {"type": "string", "format": "date-time"}, **_LABELS})},
        )
    ),
    "BacktestRuns": envelope(
        {
            "results": array(
                obj(
                    {"run": {"type": "string", "pattern": RUN_NAME.pattern}, "strategy": ANY_JSON, "files": _RUN_FILES},
                    {
                        k: ANY_JSON
                        for k in (
                            *("created_at", "underlying", "from", "to", "engine_version"),
                            *("total_return", "cagr", "sharpe", "max_drawdown", "win_rate", "trades"),
                        )
                    },
                )
            )
        }
    ),
    "BacktestRun": single(
        obj(
            {
                "run": {"type": "string", "pattern": RUN_NAME.pattern},
                "files": _RUN_FILES,
                "manifest": nullable({"type": "object"}),
                "summary": nullable({"type": "object"}),
                "decisions": _RUN_TABLE,
                "fills": _RUN_TABLE,
                "equity": _RUN_TABLE,
                "trades": _RUN_TABLE,
                "drawdown": nullable(array(nullable(NUM))),
                "rejects_by_reason": {"type": "object", "additionalProperties": INT},
            }
        )
    ),
}


def ok_body(name: str, description: str = "OK", *, status: int = 200) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route whose ``status`` (200 unless told) body is the named component."""
    return {status: {"description": description, "content": {"application/json": {"schema": ref(name)}}}}


def no_body(description: str, *, status: int = 204) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route that answers ``status`` with no body."""
    return {status: {"description": description}}


def request_body(name: str, *, required: bool = True) -> dict[str, Any]:
    """``openapi_extra=`` declaring a JSON request body of the named component."""
    return {"requestBody": {"required": required, "content": {"application/json": {"schema": ref(name)}}}}
