"""Typed declarations of query and path parameters.

Handlers receive the raw text (``str | None``) and validate it themselves, so that every bad value is a 400
naming the parameter and the Polygon routes can forward raw query strings. These helpers give each
parameter the JSON Schema of exactly what its parser accepts, so the OpenAPI document tells the truth:

    limit: str | None = q.limit(default=10, maximum=250)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import Path, Query

DATE: dict[str, Any] = {"type": "string", "format": "date"}
DATE_TIME: dict[str, Any] = {"type": "string", "format": "date-time"}
EPOCH: dict[str, Any] = {"type": "integer", "minimum": 0}
BOOLEAN: dict[str, Any] = {"type": "boolean"}

# A date, or an RFC 3339 timestamp whose date part is used.
DAY: dict[str, Any] = {"anyOf": [DATE, DATE_TIME]}
# A date (a whole America/New_York day), an epoch integer (unit from its digits) or an RFC 3339 timestamp.
TIMESTAMP: dict[str, Any] = {"anyOf": [DATE, DATE_TIME, EPOCH]}

_MONTH_DAY = (
    r"(?:(?:0[13578]|1[02])(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)(?:0[1-9]|[12][0-9]|30)|02(?:0[1-9]|1[0-9]|2[0-8]))"
)
_YYMMDD = r"(?:[0-9]{2}" + _MONTH_DAY + r"|(?:[02468][048]|[13579][26])0229)"
OPTION_TICKER_PATTERN = r"^(?:[Oo]:)?[A-Za-z0-9]{1,6}" + _YYMMDD + r"[CcPp][0-9]{8}$"
STOCK_TICKER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9.\-]{0,19}$"
INDEX_TICKER_PATTERN = r"^[Ii]:[A-Za-z0-9._\-]{1,20}$"

OPTION_TICKER: dict[str, Any] = {"type": "string", "pattern": OPTION_TICKER_PATTERN}
STOCK_TICKER: dict[str, Any] = {"type": "string", "pattern": STOCK_TICKER_PATTERN}
ANY_TICKER: dict[str, Any] = {
    "anyOf": [STOCK_TICKER, OPTION_TICKER, {"type": "string", "pattern": INDEX_TICKER_PATTERN}]
}
_KEPT = ("title", "description", "examples")


def _exact(schema: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    """A ``json_schema_extra`` hook that replaces the generated ``string | null`` schema with ``schema``."""

    def replace(generated: dict[str, Any], *_: Any) -> None:
        kept = {k: generated[k] for k in _KEPT if k in generated}
        generated.clear()
        generated.update(schema)
        generated.update(kept)

    return replace


def query(schema: dict[str, Any], description: str | None = None, *, alias: str | None = None, **kw: Any) -> Any:
    """An optional query parameter documented with ``schema``."""
    return Query(None, alias=alias, description=description, json_schema_extra=_exact(schema), **kw)


def required(schema: dict[str, Any], description: str | None = None, *, alias: str | None = None) -> Any:
    """A required query parameter documented with ``schema`` (a missing one is a 400 naming it)."""
    return Query(..., alias=alias, description=description, json_schema_extra=_exact(schema))


def path(schema: dict[str, Any], description: str | None = None, *, example: str | None = None) -> Any:
    examples = [example] if example is not None else None
    return Path(..., description=description, json_schema_extra=_exact(schema), examples=examples)


def choice(values: Sequence[str], description: str | None = None, *, alias: str | None = None) -> Any:
    return query({"type": "string", "enum": list(values)}, description, alias=alias)


def boolean(description: str | None = None, *, alias: str | None = None) -> Any:
    return query(BOOLEAN, description, alias=alias)


def integer(description: str | None = None, *, minimum: int = 1, maximum: int | None = None) -> Any:
    schema: dict[str, Any] = {"type": "integer", "minimum": minimum}
    if maximum is not None:
        schema["maximum"] = maximum
    return query(schema, description)


def number(description: str | None = None, *, alias: str | None = None) -> Any:
    return query({"type": "number"}, description, alias=alias)


def text(description: str | None = None, *, alias: str | None = None) -> Any:
    return query({"type": "string"}, description, alias=alias)


def limit(*, default: int, maximum: int, what: str = "Rows per page") -> Any:
    """A page size: an integer ≥ 1; values above ``maximum`` are served as ``maximum`` (as the SDKs expect)."""
    return query(
        {"type": "integer", "minimum": 1, "default": default},
        f"{what}: default {default}, maximum {maximum} (larger values are served as {maximum})",
    )


def day(description: str | None = None, *, alias: str | None = None) -> Any:
    return query(DAY, description, alias=alias)


def timestamp(description: str | None = None, *, alias: str | None = None) -> Any:
    return query(TIMESTAMP, description, alias=alias)


def token(description: str = "Continuation token from next_url") -> Any:
    return query({"type": "string", "minLength": 1}, description)


def option_ticker(description: str | None = "An OCC option ticker; the O: prefix is optional") -> Any:
    return path(OPTION_TICKER, description, example="O:SPY251219C00650000")


def stock_ticker(description: str | None = "A stock symbol") -> Any:
    return path(STOCK_TICKER, description, example="SPY")


def any_ticker(description: str | None = "A stock symbol, an O: option ticker or an I: index") -> Any:
    return path(ANY_TICKER, description, example="SPY")


def path_choice(values: Sequence[str], description: str | None = None) -> Any:
    return path({"type": "string", "enum": list(values)}, description, example=values[0])


def path_day(description: str | None = "YYYY-MM-DD") -> Any:
    return path(DAY, description, example="2025-12-01")


# Bars of ``multiplier`` × ``timespan``: at most 10,000 units (a 10,000-year bar is the longest).
MAX_MULTIPLIER = 10_000


def multiplier() -> Any:
    return path(
        {"type": "integer", "minimum": 1, "maximum": MAX_MULTIPLIER}, "Bar length in timespan units", example="1"
    )


def range_bound(name: str) -> Any:
    """A range end in the path: a date (a whole ET day), epoch milliseconds or RFC 3339."""
    return path(
        TIMESTAMP, f"`{name}`: YYYY-MM-DD (a whole ET day), epoch milliseconds or RFC 3339", example="2025-12-01"
    )


ANY_STOCK_OR_OPTION: dict[str, Any] = {"anyOf": [STOCK_TICKER, OPTION_TICKER]}

# A comma-separated list of stock symbols (empty items are ignored).
TICKER_LIST: dict[str, Any] = {
    "type": "string",
    "pattern": r"^(?:[A-Za-z0-9][A-Za-z0-9.\-]{0,19})?(?:,(?:[A-Za-z0-9][A-Za-z0-9.\-]{0,19})?)*$",
}
