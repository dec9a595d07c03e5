"""Reference datasets as day tables: ticker records, contract events, corporate actions and rates."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from ..store.schemas import dataset
from .chain import PRIMARY_EXCHANGE, Contract
from .profiles import SplitPlan
from .rates import RateCurve
from .universe import TickerSpec


def ticker_record(spec: TickerSpec, source: str, *, name: str | None = None, share_factor: float = 1.0) -> dict:
    ref = spec.reference
    shares = round(ref.shares_outstanding * share_factor)
    return {
        "ticker": spec.ticker,
        "name": name or ref.name,
        "market": "stocks",
        "locale": "us",
        "primary_exchange": ref.primary_exchange,
        "type": ref.type,
        "currency_name": "usd",
        "cik": ref.cik,
        "composite_figi": ref.composite_figi,
        "share_class_figi": ref.share_class_figi,
        "active": True,
        "list_date": ref.list_date,
        "description": ref.description,
        "homepage_url": ref.homepage_url,
        "sic_code": ref.sic_code,
        "round_lot": 100,
        "share_class_shares_outstanding": shares,
        "weighted_shares_outstanding": round(shares * 0.998),
        "dividend_yield": spec.dividend_yield,
        "related": list(ref.related),
        "source": source,
    }


def records_table(name: str, rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=dataset(name).schema)


def contract_row(action: str, c: Contract, source: str) -> dict:
    extra = None
    if c.shares != 100:
        extra = [{"type": "equity", "underlying": c.underlying, "amount": float(c.shares)}]
    return {
        "ticker": c.ticker,
        "action": action,
        "underlying_ticker": c.underlying,
        "root": c.root,
        "contract_type": c.contract_type,
        "exercise_style": "american",
        "expiration_date": c.expiration,
        "strike_price": c.strike,
        "shares_per_contract": c.shares,
        "primary_exchange": PRIMARY_EXCHANGE,
        "cfi": c.cfi,
        "correction": None,
        "additional_underlyings": extra,
        "list_date": c.list_date,
        "source": source,
    }


def split_row(plan: SplitPlan, day: dt.date, source: str) -> dict:
    return {
        "ticker": plan.ticker,
        "type": "split",
        "execution_date": day,
        "split_from": float(plan.split_from),
        "split_to": float(plan.split_to),
        "source": source,
    }


def rates_table(curve: RateCurve) -> pa.Table:
    return pa.table(
        {"tenor_days": pa.array(curve.tenors_days, pa.int32()), "rate": pa.array(curve.rates, pa.float64())}
    )
