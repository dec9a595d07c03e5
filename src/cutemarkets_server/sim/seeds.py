"""Independent, reproducible random streams.

Every random draw of the generator comes from a Generator keyed by (seed, ticker index, day, stream),
so any (ticker, day) can be generated on its own, in any process and in any order, with the same result.
"""

from __future__ import annotations

import datetime as dt
from enum import IntEnum

import numpy as np


class Stream(IntEnum):
    SKELETON = 1
    RATES = 2
    PATH = 3
    STOCK_QUOTES = 4
    STOCK_TRADES = 5
    OPTION_QUOTES = 6
    OPTION_TRADES = 7
    OPEN_INTEREST = 8
    DAY_BARS = 9
    OPTION_DAY_BARS = 10


def rng_for(seed: int, ticker_index: int, day: dt.date | None, stream: Stream) -> np.random.Generator:
    """The generator of one stream for one ticker on one day (``day=None`` for whole-history streams)."""
    ordinal = 0 if day is None else day.toordinal()
    return np.random.default_rng([int(seed), int(ticker_index), ordinal, int(stream)])
