"""The implied-volatility surface the built-in market quotes options from.

A quote's mid is the Black-Scholes-Merton value (dividend yield of the underlying, the day's zero rate
for the time to expiry) at the underlying's prevailing NBBO mid, with the volatility given by
:func:`implied_vol`:

* ATM level: ``premium * sqrt(expected average variance over T)`` under the Heston-like variance process,
  starting from the day's variance state and reverting to ``risk_neutral_level`` times an anchor that
  blends the long-run variance with the slow average of the variance state (weight ``level_weight``;
  half-life ``level_half_life`` sessions, :func:`~.skeleton.slow_step`). The variance state is
  right-skewed (calm most of the time), and in a lasting high-variance regime the anchor follows it, so the
  term structure slopes upward on most days and inverts only when the state jumps well above its recent
  average, in stress (on about one day in sixteen over a long history);
* skew and smile in standardised moneyness ``z = ln(K / F) / (atm * sqrt(T))``, capped at ``+-z_cap``:
  ``vol = atm * (1 + skew * z + smile * z**2)`` (puts richer than calls, some curvature).

Time is measured in 365-day years from the quote's ``sip_timestamp`` to the regular close of the
expiration day (:func:`expiry_ns`, :func:`year_fraction`). For an adjusted contract (e.g. ``NVDA1`` with a
150-share deliverable) the spot is the value of the deliverable per 100 shares (1.5 times the stock price).

Everything needed to recompute a quote's volatility is recorded in the lake meta ``market`` JSON;
:func:`load_surface_states` turns it into one :class:`SurfaceState` per (underlying, tick session)::

    states = load_surface_states(data_dir)
    st = states[("SPY", day)]
    st.iv(spot=mid, strike=660.0, t_years=year_fraction(ts, expiry_ns(expiration)))
    st.rate(t_years), st.dividend_yield
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..market.calendar import xnys
from ..market.timestamps import NS_PER_DAY
from ..store.lake import Lake
from .rates import RateCurve
from .universe import TickerSpec

YEAR_NS = 365 * NS_PER_DAY
MIN_T_YEARS = 1e-7


@dataclass(frozen=True)
class SurfaceParams:
    long_run_var: float
    mean_reversion: float
    premium: float
    skew: float
    smile: float
    z_cap: float
    risk_neutral_level: float = 1.0
    level_weight: float = 0.0
    level_half_life: float = 40.0

    @classmethod
    def of(cls, spec: TickerSpec) -> SurfaceParams:
        return cls(
            spec.vol.long_run_var,
            spec.vol.mean_reversion,
            spec.surface.premium,
            spec.surface.skew,
            spec.surface.smile,
            spec.surface.z_cap,
            spec.surface.risk_neutral_level,
            spec.surface.level_weight,
            spec.surface.level_half_life,
        )


def expiry_ns(expiration: dt.date) -> int:
    """The instant an option stops trading: the regular close of its expiration session."""
    return xnys().hours(expiration).close_ns


def year_fraction(t_ns: np.ndarray | int, expiry: np.ndarray | int) -> np.ndarray:
    """Time to expiry in 365-day years, floored at a few seconds."""
    t = (np.asarray(expiry, dtype=np.int64) - np.asarray(t_ns, dtype=np.int64)) / YEAR_NS
    return np.maximum(t, MIN_T_YEARS)


def atm_vol(params: SurfaceParams, variance: float, slow_variance: float, t_years: np.ndarray | float) -> np.ndarray:
    """At-the-money implied volatility for ``t_years`` from the day's variance state and its slow average."""
    t = np.maximum(np.asarray(t_years, dtype=np.float64), MIN_T_YEARS)
    kt = params.mean_reversion * t
    weight = np.where(kt > 1e-8, -np.expm1(-kt) / np.maximum(kt, 1e-8), 1.0)
    anchor = (1.0 - params.level_weight) * params.long_run_var + params.level_weight * slow_variance
    level = anchor * params.risk_neutral_level
    avg_var = level + (variance - level) * weight
    return params.premium * np.sqrt(avg_var)


def implied_vol(
    params: SurfaceParams,
    variance: float,
    slow_variance: float,
    spot: np.ndarray | float,
    strike: np.ndarray | float,
    t_years: np.ndarray | float,
    rate: np.ndarray | float,
    dividend_yield: float,
) -> np.ndarray:
    """Volatility used for a contract of ``strike`` expiring in ``t_years`` when the underlying is at ``spot``."""
    t = np.maximum(np.asarray(t_years, dtype=np.float64), MIN_T_YEARS)
    atm = atm_vol(params, variance, slow_variance, t)
    fwd = np.asarray(spot, dtype=np.float64) * np.exp((np.asarray(rate) - dividend_yield) * t)
    z = np.clip(np.log(np.asarray(strike, dtype=np.float64) / fwd) / (atm * np.sqrt(t)), -params.z_cap, params.z_cap)
    return atm * (1.0 + params.skew * z + params.smile * z * z)


@dataclass(frozen=True)
class SurfaceState:
    """What the generator used for one underlying on one tick session."""

    underlying: str
    day: dt.date
    variance: float
    params: SurfaceParams
    dividend_yield: float
    curve: RateCurve
    slow_variance: float

    def rate(self, t_years: np.ndarray | float) -> np.ndarray:
        return self.curve.rate(t_years)

    def iv(self, spot: np.ndarray | float, strike: np.ndarray | float, t_years: np.ndarray | float) -> np.ndarray:
        rate, q = self.rate(t_years), self.dividend_yield
        return implied_vol(self.params, self.variance, self.slow_variance, spot, strike, t_years, rate, q)


def surface_meta(
    specs: list[TickerSpec], variances: dict[str, dict[dt.date, tuple[float, float]]]
) -> dict[str, dict[str, object]]:
    """The ``surface`` section of the market meta JSON; ``variances`` holds (variance state, slow average)
    per underlying and tick session."""
    return {
        s.ticker: {
            "params": asdict(SurfaceParams.of(s)),
            "dividend_yield": s.dividend_yield,
            "variance": {d.isoformat(): v for d, (v, _) in sorted(variances[s.ticker].items())},
            "slow_variance": {d.isoformat(): w for d, (_, w) in sorted(variances[s.ticker].items())},
        }
        for s in specs
    }


def load_surface_states(data_dir: Path) -> dict[tuple[str, dt.date], SurfaceState]:
    """Surface states of every (option underlying, tick session) of a built market."""
    raw = Lake(Path(data_dir) / "lake").get_meta("market")
    if raw is None:
        raise LookupError(f"no built-in market recorded under {data_dir}")
    meta = json.loads(raw)
    curves = {dt.date.fromisoformat(d): RateCurve.from_json(c) for d, c in meta["rates"].items()}
    out: dict[tuple[str, dt.date], SurfaceState] = {}
    for underlying, section in meta["surface"].items():
        params = SurfaceParams(**section["params"])
        slow = section.get("slow_variance", {})
        for day_text, variance in section["variance"].items():
            day = dt.date.fromisoformat(day_text)
            out[(underlying, day)] = SurfaceState(
                underlying,
                day,
                float(variance),
                params,
                float(section["dividend_yield"]),
                curves[day],
                float(slow.get(day_text, params.long_run_var)),
            )
    return out
