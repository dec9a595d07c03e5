"""Sale-condition codes (Polygon's unified ids) and which bar fields each one may update.

A trade updates a bar field only if every one of its conditions allows it (consolidated rules).
Codes not in the tables are treated as regular sales. Extended-hours markers (Form T) keep a trade
out of the consolidated daily open/high/low/close but not out of intraday minute bars.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class ConditionRule:
    code: int
    name: str
    updates_high_low: bool
    updates_open_close: bool
    updates_volume: bool
    extended_hours: bool = False


def _table(rows: list[tuple[int, str, bool, bool, bool]], extended: frozenset[int] = frozenset()) -> dict[int, ConditionRule]:
    return {c: ConditionRule(c, n, hl, oc, v, c in extended) for c, n, hl, oc, v in rows}


# Stocks: CTA/UTP sale conditions as Polygon numbers them (consolidated update rules).
STOCK_TRADE_CONDITIONS = _table(
    [
        (0, "Regular Sale", True, True, True),
        (1, "Acquisition", True, True, True),
        (2, "Average Price Trade", False, False, True),
        (3, "Automatic Execution", True, True, True),
        (4, "Bunched Trade", True, True, True),
        (5, "Bunched Sold Trade", True, False, True),
        (6, "CAP Election", True, True, True),
        (7, "Cash Sale", False, False, True),
        (8, "Closing Prints", True, True, True),
        (9, "Cross Trade", True, True, True),
        (10, "Derivatively Priced", True, False, True),
        (11, "Distribution", True, True, True),
        (12, "Form T", False, False, True),
        (13, "Extended Trading Hours (Sold Out of Sequence)", False, False, True),
        (14, "Intermarket Sweep", True, True, True),
        (15, "Market Center Official Close", False, False, False),
        (16, "Market Center Official Open", False, False, False),
        (17, "Market Center Opening Trade", True, True, True),
        (18, "Market Center Reopening Trade", True, True, True),
        (19, "Market Center Closing Trade", True, True, True),
        (20, "Next Day", False, False, True),
        (21, "Price Variation Trade", False, False, True),
        (22, "Prior Reference Price", True, False, True),
        (23, "Rule 155 Trade (AMEX)", True, True, True),
        (25, "Opening Prints", True, True, True),
        (27, "Stopped Stock (Regular Trade)", True, True, True),
        (28, "Re-Opening Prints", True, True, True),
        (29, "Seller", False, False, True),
        (30, "Sold Last", True, True, True),
        (33, "Sold (out of Sequence)", True, False, True),
        (34, "Split Trade", True, True, True),
        (36, "Yellow Flag Regular Trade", True, True, True),
        (37, "Odd Lot Trade", False, False, True),
        (38, "Corrected Consolidated Close (per listing market)", True, True, False),
        (41, "Trade Thru Exempt", True, True, True),
        (52, "Contingent Trade", False, False, True),
        (53, "Qualified Contingent Trade", False, False, True),
    ],
    extended=frozenset({12, 13}),
)

# Options: OPRA message types as Polygon numbers them.
OPTION_TRADE_CONDITIONS = _table(
    [
        (201, "Canceled", False, False, False),
        (202, "Late and Out Of Sequence", True, False, True),
        (203, "Last and Canceled", False, False, False),
        (204, "Late", True, True, True),
        (205, "Opening Trade and Canceled", False, False, False),
        (206, "Opening Trade, Late, and Out Of Sequence", True, False, True),
        (207, "Only Trade and Canceled", False, False, False),
        (208, "Opening Trade and Late", True, True, True),
        (209, "Automatic Execution", True, True, True),
        (210, "Reopening Trade", True, True, True),
        (219, "Intermarket Sweep Order", True, True, True),
        (227, "Single Leg Auction Non ISO", True, True, True),
        (228, "Single Leg Auction ISO", True, True, True),
        (229, "Single Leg Cross Non ISO", True, True, True),
        (230, "Single Leg Cross ISO", True, True, True),
        (231, "Single Leg Floor Trade", True, True, True),
        (232, "Multi Leg Auto Electronic Trade", False, False, True),
        (233, "Multi Leg Auction", False, False, True),
        (234, "Multi Leg Cross", False, False, True),
        (235, "Multi Leg Floor Trade", False, False, True),
        (236, "Multi Leg Auto Electronic Trade Against Single Leg", False, False, True),
        (237, "Stock Options Auction", False, False, True),
        (238, "Multi Leg Auction Against Single Leg", False, False, True),
        (239, "Multi Leg Floor Trade Against Single Leg", False, False, True),
        (240, "Stock Options Auto Electronic Trade", False, False, True),
        (241, "Stock Options Cross", False, False, True),
        (242, "Stock Options Floor Trade", False, False, True),
        (243, "Stock Options Auto Electronic Trade Against Single Leg", False, False, True),
        (244, "Stock Options Auction Against Single Leg", False, False, True),
        (245, "Stock Options Floor Trade Against Single Leg", False, False, True),
        (246, "Multi Leg Floor Trade of Proprietary Products", False, False, True),
    ]
)

_TABLES = {"stocks": STOCK_TRADE_CONDITIONS, "options": OPTION_TRADE_CONDITIONS}


def rules(asset: str) -> dict[int, ConditionRule]:
    return _TABLES[asset]


def _lookup_arrays(asset: str, *, intraday: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    size = 1 << 16
    hl = np.ones(size, dtype=bool)
    oc = np.ones(size, dtype=bool)
    vol = np.ones(size, dtype=bool)
    for code, rule in _TABLES[asset].items():
        idx = code & 0xFFFF
        if intraday and rule.extended_hours:
            continue
        hl[idx], oc[idx], vol[idx] = rule.updates_high_low, rule.updates_open_close, rule.updates_volume
    return hl, oc, vol


_LOOKUPS: dict[tuple[str, bool], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def update_masks(
    asset: str, codes: np.ndarray, offsets: np.ndarray, *, intraday: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-trade (updates_high_low, updates_open_close, updates_volume) from flattened condition lists.

    ``codes`` holds every trade's conditions back to back and ``offsets`` (length n + 1) where each
    trade's list starts, as in an Arrow list array. ``intraday`` lets extended-hours markers update
    minute bars.
    """
    key = (asset, intraday)
    if key not in _LOOKUPS:
        _LOOKUPS[key] = _lookup_arrays(asset, intraday=intraday)
    hl_t, oc_t, vol_t = _LOOKUPS[key]
    n = len(offsets) - 1
    codes = np.asarray(codes, dtype=np.int64) & 0xFFFF
    offsets = np.asarray(offsets, dtype=np.int64)
    counts = np.diff(offsets)
    out = []
    for table in (hl_t, oc_t, vol_t):
        ok = table[codes]
        # A trade passes when none of its codes forbids the update: count failures per trade.
        fails = np.zeros(n, dtype=np.int64)
        if len(codes):
            bad = (~ok).astype(np.int64)
            csum = np.concatenate(([0], np.cumsum(bad)))
            fails = csum[offsets[1:]] - csum[offsets[:-1]]
        out.append((fails == 0) | (counts == 0))
    return out[0], out[1], out[2]
