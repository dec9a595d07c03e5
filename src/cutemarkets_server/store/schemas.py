"""Arrow schemas of every lake dataset, and how each is sorted and partitioned.

Every dataset is partitioned by an Eastern Time calendar day. Tick and bar datasets are sorted by
(ticker, timestamp) so that DuckDB can skip row groups on point lookups. Reference datasets
(contracts, tickers) are event logs: a day's partition holds the records that took effect that day,
and a point-in-time answer for day D folds every partition up to D.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

CONDITIONS = pa.list_(pa.int16())
# Small row groups: a lookup decodes a few thousand rows around the ones it returns, not 65k.
TICK_ROW_GROUP = 8_192
DELIVERABLE = pa.list_(pa.struct([("type", pa.string()), ("underlying", pa.string()), ("amount", pa.float64())]))


@dataclass(frozen=True)
class Dataset:
    name: str
    schema: pa.Schema
    sort_keys: tuple[str, ...]
    time_column: str | None
    row_group_size: int = 65_536
    description: str = ""
    keeps_last: bool = False  # day files get a sidecar with each ticker's last row (point-in-time state)
    pack_period: str | None = None  # "month" | "year": kept in sorted packs too
    # Tick datasets are packed only when asked (they double their disk), except sparse ones: a busy contract's
    # 1,000 trades span weeks of day files, its 1,000 quotes a few minutes of one.
    packed_by_default: bool = False

    @property
    def columns(self) -> list[str]:
        return self.schema.names


def _f(name: str, typ: pa.DataType, nullable: bool = True) -> pa.Field:
    return pa.field(name, typ, nullable=nullable)


STOCK_TRADES = Dataset(
    "stock_trades",
    pa.schema(
        [
            _f("ticker", pa.string(), False),
            _f("sip_timestamp", pa.int64(), False),
            _f("participant_timestamp", pa.int64()),
            _f("trf_timestamp", pa.int64()),
            _f("price", pa.float64(), False),
            _f("size", pa.int64(), False),
            _f("exchange", pa.int16()),
            _f("conditions", CONDITIONS),
            _f("correction", pa.int8()),
            _f("id", pa.string()),
            _f("sequence_number", pa.int64()),
            _f("tape", pa.int8()),
            _f("trf_id", pa.int16()),
        ]
    ),
    sort_keys=("ticker", "sip_timestamp", "sequence_number"),
    time_column="sip_timestamp",
    row_group_size=TICK_ROW_GROUP,
    keeps_last=True,
    pack_period="month",
    packed_by_default=True,
    description="SIP stock trades (ns timestamps, Polygon condition ids)",
)

STOCK_QUOTES = Dataset(
    "stock_quotes",
    pa.schema(
        [
            _f("ticker", pa.string(), False),
            _f("sip_timestamp", pa.int64(), False),
            _f("participant_timestamp", pa.int64()),
            _f("trf_timestamp", pa.int64()),
            _f("bid_price", pa.float64(), False),
            _f("bid_size", pa.int64(), False),
            _f("bid_exchange", pa.int16()),
            _f("ask_price", pa.float64(), False),
            _f("ask_size", pa.int64(), False),
            _f("ask_exchange", pa.int16()),
            _f("conditions", CONDITIONS),
            _f("indicators", CONDITIONS),
            _f("sequence_number", pa.int64()),
            _f("tape", pa.int8()),
        ]
    ),
    sort_keys=("ticker", "sip_timestamp", "sequence_number"),
    time_column="sip_timestamp",
    row_group_size=TICK_ROW_GROUP,
    keeps_last=True,
    pack_period="month",
    description="SIP stock NBBO quotes",
)

OPTION_TRADES = Dataset(
    "option_trades",
    pa.schema(
        [
            _f("ticker", pa.string(), False),
            _f("sip_timestamp", pa.int64(), False),
            _f("participant_timestamp", pa.int64()),
            _f("price", pa.float64(), False),
            _f("size", pa.int64(), False),
            _f("exchange", pa.int16()),
            _f("conditions", CONDITIONS),
            _f("correction", pa.int8()),
            _f("sequence_number", pa.int64()),
        ]
    ),
    sort_keys=("ticker", "sip_timestamp", "sequence_number"),
    time_column="sip_timestamp",
    row_group_size=TICK_ROW_GROUP,
    keeps_last=True,
    pack_period="month",
    packed_by_default=True,
    description="OPRA option trades",
)

OPTION_QUOTES = Dataset(
    "option_quotes",
    pa.schema(
        [
            _f("ticker", pa.string(), False),
            _f("sip_timestamp", pa.int64(), False),
            _f("bid_price", pa.float64(), False),
            _f("bid_size", pa.int64(), False),
            _f("bid_exchange", pa.int16()),
            _f("ask_price", pa.float64(), False),
            _f("ask_size", pa.int64(), False),
            _f("ask_exchange", pa.int16()),
            _f("sequence_number", pa.int64()),
        ]
    ),
    sort_keys=("ticker", "sip_timestamp", "sequence_number"),
    time_column="sip_timestamp",
    row_group_size=TICK_ROW_GROUP,
    keeps_last=True,
    pack_period="month",
    description="OPRA option NBBO quotes",
)

_AGG_SCHEMA = pa.schema(
    [
        _f("ticker", pa.string(), False),
        _f("window_start", pa.int64(), False),
        _f("open", pa.float64(), False),
        _f("high", pa.float64(), False),
        _f("low", pa.float64(), False),
        _f("close", pa.float64(), False),
        _f("volume", pa.float64(), False),
        _f("vwap", pa.float64()),
        _f("transactions", pa.int64(), False),
    ]
)


def _aggs(name: str, what: str, period: str) -> Dataset:
    return Dataset(
        name,
        _AGG_SCHEMA,
        ("ticker", "window_start"),
        "window_start",
        row_group_size=TICK_ROW_GROUP,
        description=what,
        pack_period=period,
    )


STOCK_MINUTE_AGGS = _aggs("stock_minute_aggs", "one-minute stock bars (window_start = minute start, ns)", "month")
STOCK_DAY_AGGS = _aggs("stock_day_aggs", "daily stock bars (window_start = 00:00 ET, ns)", "year")
OPTION_MINUTE_AGGS = _aggs("option_minute_aggs", "one-minute option bars", "month")
OPTION_DAY_AGGS = _aggs("option_day_aggs", "daily option bars (window_start = 00:00 ET, ns)", "year")

OPTION_CONTRACTS = Dataset(
    "option_contracts",
    pa.schema(
        [
            _f("ticker", pa.string(), False),
            _f("action", pa.string(), False),  # "list" | "delist"
            _f("underlying_ticker", pa.string(), False),
            _f("root", pa.string(), False),
            _f("contract_type", pa.string(), False),
            _f("exercise_style", pa.string(), False),
            _f("expiration_date", pa.date32(), False),
            _f("strike_price", pa.float64(), False),
            _f("shares_per_contract", pa.int32(), False),
            _f("primary_exchange", pa.string()),
            _f("cfi", pa.string()),
            _f("correction", pa.int32()),
            _f("additional_underlyings", DELIVERABLE),
            _f("list_date", pa.date32(), False),
            _f("source", pa.string()),
        ]
    ),
    sort_keys=("ticker",),
    time_column=None,
    description="option contract reference events (a listing, or a delisting such as a split adjustment)",
)

OPTION_OPEN_INTEREST = Dataset(
    "option_open_interest",
    pa.schema(
        [
            _f("ticker", pa.string(), False),
            _f("open_interest", pa.int64(), False),
            _f("trading_date", pa.date32(), False),  # the session the figure describes
            _f("reported_timestamp", pa.int64(), False),  # when it became known (ns)
        ]
    ),
    sort_keys=("ticker",),
    time_column="reported_timestamp",
    description="daily open interest, partitioned by the day it was reported",
)

STOCK_TICKERS = Dataset(
    "stock_tickers",
    pa.schema(
        [
            _f("ticker", pa.string(), False),
            _f("name", pa.string(), False),
            _f("market", pa.string(), False),
            _f("locale", pa.string(), False),
            _f("primary_exchange", pa.string()),
            _f("type", pa.string()),
            _f("currency_name", pa.string()),
            _f("cik", pa.string()),
            _f("composite_figi", pa.string()),
            _f("share_class_figi", pa.string()),
            _f("active", pa.bool_(), False),
            _f("list_date", pa.date32()),
            _f("description", pa.string()),
            _f("homepage_url", pa.string()),
            _f("sic_code", pa.string()),
            _f("round_lot", pa.int32()),
            _f("share_class_shares_outstanding", pa.int64()),
            _f("weighted_shares_outstanding", pa.int64()),
            _f("dividend_yield", pa.float64()),
            _f("related", pa.list_(pa.string())),
            _f("source", pa.string()),
        ]
    ),
    sort_keys=("ticker",),
    time_column=None,
    description="stock ticker reference events (a full record each time something changes)",
)

CORPORATE_ACTIONS = Dataset(
    "corporate_actions",
    pa.schema(
        [
            _f("ticker", pa.string(), False),
            _f("type", pa.string(), False),  # "split"
            _f("execution_date", pa.date32(), False),
            _f("split_from", pa.float64(), False),
            _f("split_to", pa.float64(), False),
            _f("source", pa.string()),
        ]
    ),
    sort_keys=("ticker",),
    time_column=None,
    description="splits, partitioned by execution date",
)

RATES = Dataset(
    "rates",
    pa.schema([_f("tenor_days", pa.int32(), False), _f("rate", pa.float64(), False)]),
    sort_keys=("tenor_days",),
    time_column=None,
    description="risk-free rate curve (continuously compounded) known on the day",
)

ALL: dict[str, Dataset] = {
    d.name: d
    for d in (
        STOCK_TRADES,
        STOCK_QUOTES,
        OPTION_TRADES,
        OPTION_QUOTES,
        STOCK_MINUTE_AGGS,
        STOCK_DAY_AGGS,
        OPTION_MINUTE_AGGS,
        OPTION_DAY_AGGS,
        OPTION_CONTRACTS,
        OPTION_OPEN_INTEREST,
        STOCK_TICKERS,
        CORPORATE_ACTIONS,
        RATES,
    )
}


def dataset(name: str) -> Dataset:
    try:
        return ALL[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(sorted(ALL))}") from None
