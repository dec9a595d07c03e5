"""The tickers the built-in market knows: reference data, price level and the parameters of their models.

Reference fields follow the Polygon ticker-details record; price levels are late-2025 levels. Each ticker
keeps a fixed ``index`` that keys its random streams, so a ticker's data does not depend on which other
tickers a profile includes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class Reference:
    name: str
    primary_exchange: str
    type: str
    cik: str
    composite_figi: str
    share_class_figi: str
    list_date: dt.date
    description: str
    homepage_url: str
    sic_code: str | None
    shares_outstanding: int
    related: tuple[str, ...]


@dataclass(frozen=True)
class VolModel:
    """Heston-like variance process with jumps, in annualised units."""

    long_run_var: float
    mean_reversion: float
    vol_of_var: float
    correlation: float
    jumps_per_year: float
    jump_mean: float
    jump_sd: float
    drift: float = 0.07


@dataclass(frozen=True)
class SurfaceShape:
    """Implied-volatility surface: ATM premium over expected variance, skew and smile in standardised
    moneyness, and where the wings flatten."""

    premium: float
    skew: float
    smile: float
    z_cap: float = 3.5
    risk_neutral_level: float = 1.0  # implied variance reverts to this multiple of its anchor level,
    level_weight: float = 0.0  # which blends the long-run variance with this weight of its slow average
    level_half_life: float = 40.0  # sessions: half-life of the slow average of the variance state


@dataclass(frozen=True)
class Microstructure:
    tape: int
    listing_exchange: int
    spread_cents: int
    activity: float  # relative stock message rate
    option_activity: float  # relative option message rate
    open_interest_scale: float
    penny_options: bool  # $0.01 option tick at every price (else $0.05 from $3.00)
    daily_expirations: bool
    strike_step_frac: float  # near-term strike increment as a fraction of spot
    option_volume: float = 1.0  # option trades per message (SPY trades about twice QQQ's volume on as many quotes)


@dataclass(frozen=True)
class TickerSpec:
    index: int
    ticker: str
    price: float
    dividend_yield: float
    reference: Reference
    vol: VolModel
    surface: SurfaceShape
    micro: Microstructure


INDEX_SURFACE = SurfaceShape(premium=1.02, skew=-0.13, smile=0.025, risk_neutral_level=2.2, level_weight=0.5)
STOCK_SURFACE = SurfaceShape(premium=1.0, skew=-0.07, smile=0.035, risk_neutral_level=2.2, level_weight=0.5)


def _etf_micro(
    tape: int, exchange: int, activity: float, option_activity: float, oi: float, option_volume: float
) -> Microstructure:
    return Microstructure(
        tape=tape,
        listing_exchange=exchange,
        spread_cents=1,
        activity=activity,
        option_activity=option_activity,
        open_interest_scale=oi,
        penny_options=True,
        daily_expirations=True,
        strike_step_frac=0.0015,
        option_volume=option_volume,
    )


def _stock_micro(spread: int, activity: float, option_activity: float, oi: float) -> Microstructure:
    return Microstructure(
        tape=3,
        listing_exchange=12,
        spread_cents=spread,
        activity=activity,
        option_activity=option_activity,
        open_interest_scale=oi,
        penny_options=False,
        daily_expirations=False,
        strike_step_frac=0.011,
    )


UNIVERSE: dict[str, TickerSpec] = {
    s.ticker: s
    for s in (
        TickerSpec(
            index=1,
            ticker="SPY",
            price=660.0,
            dividend_yield=0.0112,
            reference=Reference(
                name="SPDR S&P 500 ETF Trust",
                primary_exchange="ARCX",
                type="ETF",
                cik="0000884394",
                composite_figi="BBG000BDTBL9",
                share_class_figi="BBG001S72SM3",
                list_date=dt.date(1993, 1, 29),
                description="The SPDR S&P 500 ETF Trust seeks to provide investment results that correspond "
                "to the price and yield performance of the S&P 500 Index.",
                homepage_url="https://www.ssga.com",
                sic_code=None,
                shares_outstanding=1_030_000_000,
                related=("IVV", "VOO", "QQQ", "DIA", "IWM"),
            ),
            vol=VolModel(
                long_run_var=0.0225,
                mean_reversion=4.0,
                vol_of_var=0.45,
                correlation=-0.72,
                jumps_per_year=2.0,
                jump_mean=-0.02,
                jump_sd=0.015,
            ),
            surface=INDEX_SURFACE,
            micro=_etf_micro(tape=2, exchange=11, activity=1.4, option_activity=1.6, oi=2.5, option_volume=1.6),
        ),
        TickerSpec(
            index=2,
            ticker="QQQ",
            price=590.0,
            dividend_yield=0.0049,
            reference=Reference(
                name="Invesco QQQ Trust, Series 1",
                primary_exchange="XNAS",
                type="ETF",
                cik="0001067839",
                composite_figi="BBG000BSWKH7",
                share_class_figi="BBG001S71MH5",
                list_date=dt.date(1999, 3, 10),
                description="Invesco QQQ is an exchange-traded fund that tracks the Nasdaq-100 Index, "
                "holding the 100 largest non-financial companies listed on the Nasdaq Stock Market.",
                homepage_url="https://www.invesco.com",
                sic_code=None,
                shares_outstanding=650_000_000,
                related=("SPY", "TQQQ", "XLK", "VGT"),
            ),
            vol=VolModel(
                long_run_var=0.035,
                mean_reversion=3.5,
                vol_of_var=0.55,
                correlation=-0.70,
                jumps_per_year=2.0,
                jump_mean=-0.025,
                jump_sd=0.02,
            ),
            surface=INDEX_SURFACE,
            micro=_etf_micro(tape=3, exchange=12, activity=1.1, option_activity=1.1, oi=1.8, option_volume=0.6),
        ),
        TickerSpec(
            index=3,
            ticker="AAPL",
            price=250.0,
            dividend_yield=0.0041,
            reference=Reference(
                name="Apple Inc.",
                primary_exchange="XNAS",
                type="CS",
                cik="0000320193",
                composite_figi="BBG000B9XRY4",
                share_class_figi="BBG001S5N8V8",
                list_date=dt.date(1980, 12, 12),
                description="Apple designs, manufactures and markets smartphones, personal computers, "
                "tablets, wearables and accessories, and sells a variety of related services.",
                homepage_url="https://www.apple.com",
                sic_code="3571",
                shares_outstanding=14_776_353_000,
                related=("MSFT", "GOOGL", "AMZN", "META"),
            ),
            vol=VolModel(
                long_run_var=0.0625,
                mean_reversion=3.0,
                vol_of_var=0.6,
                correlation=-0.55,
                jumps_per_year=4.0,
                jump_mean=0.0,
                jump_sd=0.035,
            ),
            surface=STOCK_SURFACE,
            micro=_stock_micro(spread=1, activity=0.9, option_activity=0.8, oi=1.2),
        ),
        TickerSpec(
            index=4,
            ticker="MSFT",
            price=480.0,
            dividend_yield=0.0069,
            reference=Reference(
                name="Microsoft Corp",
                primary_exchange="XNAS",
                type="CS",
                cik="0000789019",
                composite_figi="BBG000BPH459",
                share_class_figi="BBG001S5TD05",
                list_date=dt.date(1986, 3, 13),
                description="Microsoft develops and licenses software, cloud services, devices and "
                "solutions, including Azure, Microsoft 365, Windows, LinkedIn and gaming.",
                homepage_url="https://www.microsoft.com",
                sic_code="7372",
                shares_outstanding=7_433_038_000,
                related=("AAPL", "GOOGL", "AMZN", "ORCL"),
            ),
            vol=VolModel(
                long_run_var=0.052,
                mean_reversion=3.0,
                vol_of_var=0.55,
                correlation=-0.55,
                jumps_per_year=4.0,
                jump_mean=0.0,
                jump_sd=0.03,
            ),
            surface=STOCK_SURFACE,
            micro=_stock_micro(spread=2, activity=0.7, option_activity=0.55, oi=0.8),
        ),
        TickerSpec(
            index=5,
            ticker="NFLX",
            price=110.0,
            dividend_yield=0.0,
            reference=Reference(
                name="Netflix Inc",
                primary_exchange="XNAS",
                type="CS",
                cik="0001065280",
                composite_figi="BBG000CL9VN6",
                share_class_figi="BBG001SHY3Y5",
                list_date=dt.date(2002, 5, 23),
                description="Netflix is a streaming entertainment service offering TV series, "
                "documentaries, feature films and games across many genres and languages.",
                homepage_url="https://www.netflix.com",
                sic_code="7841",
                shares_outstanding=4_237_000_000,
                related=("DIS", "ROKU", "WBD", "PARA"),
            ),
            vol=VolModel(
                long_run_var=0.12,
                mean_reversion=3.0,
                vol_of_var=0.8,
                correlation=-0.45,
                jumps_per_year=5.0,
                jump_mean=0.0,
                jump_sd=0.05,
            ),
            surface=STOCK_SURFACE,
            micro=_stock_micro(spread=1, activity=0.6, option_activity=0.5, oi=0.7),
        ),
        TickerSpec(
            index=6,
            ticker="TSLA",
            price=420.0,
            dividend_yield=0.0,
            reference=Reference(
                name="Tesla, Inc. Common Stock",
                primary_exchange="XNAS",
                type="CS",
                cik="0001318605",
                composite_figi="BBG000N9MNX3",
                share_class_figi="BBG001SQKGD7",
                list_date=dt.date(2010, 6, 29),
                description="Tesla designs, develops, manufactures and sells electric vehicles and energy "
                "generation and storage systems.",
                homepage_url="https://www.tesla.com",
                sic_code="3711",
                shares_outstanding=3_325_819_000,
                related=("RIVN", "LCID", "GM", "F"),
            ),
            vol=VolModel(
                long_run_var=0.34,
                mean_reversion=2.5,
                vol_of_var=1.1,
                correlation=-0.35,
                jumps_per_year=6.0,
                jump_mean=0.0,
                jump_sd=0.06,
            ),
            surface=STOCK_SURFACE,
            micro=_stock_micro(spread=3, activity=1.2, option_activity=1.0, oi=1.3),
        ),
        TickerSpec(
            index=7,
            ticker="NVDA",
            price=180.0,
            dividend_yield=0.0002,
            reference=Reference(
                name="NVIDIA Corp",
                primary_exchange="XNAS",
                type="CS",
                cik="0001045810",
                composite_figi="BBG000BBJQV0",
                share_class_figi="BBG001S5TZJ6",
                list_date=dt.date(1999, 1, 22),
                description="NVIDIA designs graphics processing units, accelerated computing platforms and "
                "networking for gaming, data centers, professional visualization and automotive markets.",
                homepage_url="https://www.nvidia.com",
                sic_code="3674",
                shares_outstanding=24_305_000_000,
                related=("AMD", "AVGO", "INTC", "TSM"),
            ),
            vol=VolModel(
                long_run_var=0.19,
                mean_reversion=3.0,
                vol_of_var=0.9,
                correlation=-0.45,
                jumps_per_year=5.0,
                jump_mean=0.0,
                jump_sd=0.05,
            ),
            surface=STOCK_SURFACE,
            micro=_stock_micro(spread=1, activity=1.3, option_activity=1.1, oi=1.5),
        ),
    )
}


def spec(ticker: str) -> TickerSpec:
    try:
        return UNIVERSE[ticker]
    except KeyError:
        raise KeyError(f"{ticker!r} is not in the built-in universe ({', '.join(UNIVERSE)})") from None
