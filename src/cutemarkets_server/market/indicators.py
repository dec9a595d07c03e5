"""Technical indicators over a series of completed bar values (SMA, EMA, MACD, RSI).

Every function takes the values of consecutive bars, oldest first, and returns arrays of the same
length: element ``i`` is the indicator after bar ``i`` closed (the value an API reports with bar
``i``'s timestamp) and is NaN while too few bars exist. Values must be finite.

Definitions (those of the Polygon/Massive ``/v1/indicators`` endpoints; seeding follows the classic
convention that TA-Lib calls "most widely documented", which Appel uses for MACD and Wilder for RSI):

* SMA(w): mean of the last ``w`` values; first value at index ``w - 1``.
* EMA(w): smoothing ``2 / (w + 1)``, seeded with the SMA of the first ``w`` values, so it too starts
  at index ``w - 1`` and equals the SMA there.
* MACD(s, l, g): line = EMA(s) - EMA(l), from index ``max(s, l) - 1``; signal = EMA(g) of the line,
  seeded with the mean of its first ``g`` values, from index ``max(s, l) + g - 2``; histogram =
  line - signal. (TA-Lib's MACD seeds its short EMA at the long EMA's first bar instead, so its early
  values differ until the seeds have decayed; here the line always equals the served EMAs' difference.)
* RSI(w): Wilder's RSI on bar-to-bar changes; average gain and loss are seeded with the mean of the
  first ``w`` changes and then smoothed with ``1 / w``; first value at index ``w`` (``w + 1`` bars).
  RSI = 100 * gain / (gain + loss); a series with neither gains nor losses is neutral (50).
"""

from __future__ import annotations

import numpy as np
from scipy.signal import lfilter


def _as_series(values: np.ndarray) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError("values must be one-dimensional")
    return arr


def _check_window(window: int, name: str = "window") -> int:
    if isinstance(window, bool) or int(window) != window or window < 1:
        raise ValueError(f"{name} must be a positive integer")
    return int(window)


def _seeded_smoothing(x: np.ndarray, window: int, alpha: float) -> np.ndarray:
    """y[w-1] = mean(x[:w]); y[i] = alpha * x[i] + (1 - alpha) * y[i-1] after; NaN before."""
    out = np.full(len(x), np.nan)
    if len(x) < window:
        return out
    seed = float(np.mean(x[:window]))
    out[window - 1] = seed
    if len(x) > window:
        decay = 1.0 - alpha
        out[window:], _ = lfilter([alpha], [1.0, -decay], x[window:], zi=[decay * seed])
    return out


def sma(values: np.ndarray, window: int) -> np.ndarray:
    """Simple moving average of the last ``window`` values (NaN before index ``window - 1``)."""
    x = _as_series(values)
    w = _check_window(window)
    out = np.full(len(x), np.nan)
    if len(x) < w:
        return out
    # Sums of deviations from the first value keep the running sum small and make flat series exact.
    base = x[0]
    csum = np.concatenate(([0.0], np.cumsum(x - base)))
    out[w - 1 :] = base + (csum[w:] - csum[:-w]) / w
    return out


def ema(values: np.ndarray, window: int) -> np.ndarray:
    """Exponential moving average with smoothing ``2 / (window + 1)``, seeded with the first SMA."""
    x = _as_series(values)
    w = _check_window(window)
    return _seeded_smoothing(x, w, 2.0 / (w + 1.0))


def macd(
    values: np.ndarray, short_window: int = 12, long_window: int = 26, signal_window: int = 9
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(MACD line, signal line, histogram), each NaN until it is defined."""
    x = _as_series(values)
    s = _check_window(short_window, "short_window")
    lw = _check_window(long_window, "long_window")
    g = _check_window(signal_window, "signal_window")
    line = ema(x, s) - ema(x, lw)
    signal = np.full(len(x), np.nan)
    first = max(s, lw) - 1
    if len(x) > first:
        signal[first:] = ema(line[first:], g)
    return line, signal, line - signal


def rsi(values: np.ndarray, window: int = 14) -> np.ndarray:
    """Wilder's relative strength index (0-100); NaN before index ``window``."""
    x = _as_series(values)
    w = _check_window(window)
    out = np.full(len(x), np.nan)
    if len(x) <= w:
        return out
    change = np.diff(x)
    gain = _seeded_smoothing(np.maximum(change, 0.0), w, 1.0 / w)[w - 1 :]
    loss = _seeded_smoothing(np.maximum(-change, 0.0), w, 1.0 / w)[w - 1 :]
    total = gain + loss
    with np.errstate(invalid="ignore", divide="ignore"):
        out[w:] = np.where(total > 0.0, 100.0 * (gain / np.where(total > 0.0, total, 1.0)), 50.0)
    return out
