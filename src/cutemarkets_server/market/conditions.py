"""Sale-condition codes (Polygon/Massive unified ids) and which bar fields each one may update.

Source of the rules. Polygon/Massive publish one row per condition at ``GET /v3/reference/conditions``
with ``update_rules.consolidated.{updates_high_low, updates_open_close, updates_volume}``; their
knowledge-base article "How does Polygon create the OHLCV aggregate bars?" states that aggregates use
the *consolidated* rules, that a trade updates a field only if every one of its conditions allows it,
and that extended-hours trades may still form minute bars. Those consolidated rules restate the sale
condition matrices of the SIP specifications: the CTA output specification and the UTP (UTDF) output
specification for stocks, the OPRA output specification for options ("last sale eligible", high/low,
volume columns). The tables below follow the ids, names and rules of the current Polygon/Massive rows
(stocks: CTA/UTP ids 1-71; options: OPRA ids 201-248).

Rules applied here:

* A trade updates a field only if none of its conditions forbids it; an empty condition list is a
  regular sale. Codes missing from a table (including retired or future ids) count as regular sales.
* Extended-hours markers (stocks 12 "Form T/Extended Hours" and 13 "Extended Hours (Sold Out Of
  Sequence)", options 248 "Extended Hours Trade") update only volume in the consolidated (daily) bar.
  For intraday bars (``intraday=True``) they use their ``intraday`` rule instead, so pre-market and
  after-hours minute bars exist: Form T and OPRA extended-hours trades act as regular sales, and an
  extended-hours late report acts like "Sold (Out Of Sequence)" (high/low and volume, never open/close).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Triple = tuple[bool, bool, bool]


@dataclass(frozen=True, slots=True)
class ConditionRule:
    """One trade condition and the consolidated fields it may update."""

    code: int
    name: str
    updates_high_low: bool
    updates_open_close: bool
    updates_volume: bool
    extended_hours: bool = False
    abbreviation: str = ""
    intraday: Triple | None = None

    def updates(self, *, intraday: bool = False) -> Triple:
        """(updates_high_low, updates_open_close, updates_volume) for daily or intraday bars."""
        if intraday and self.intraday is not None:
            return self.intraday
        return (self.updates_high_low, self.updates_open_close, self.updates_volume)


ALL: Triple = (True, True, True)
HL_VOL: Triple = (True, False, True)
VOL: Triple = (False, False, True)
HL_OC: Triple = (True, True, False)
NONE: Triple = (False, False, False)


def _table(rows: list[tuple[int, str, Triple] | tuple[int, str, Triple, str]]) -> dict[int, ConditionRule]:
    out: dict[int, ConditionRule] = {}
    for row in rows:
        code, name, (hl, oc, vol) = row[0], row[1], row[2]
        abbr = row[3] if len(row) > 3 else ""
        out[code] = ConditionRule(code, name, hl, oc, vol, abbreviation=abbr)
    return out


def _extended(table: dict[int, ConditionRule], code: int, intraday: Triple) -> None:
    rule = table[code]
    table[code] = ConditionRule(
        rule.code,
        rule.name,
        rule.updates_high_low,
        rule.updates_open_close,
        rule.updates_volume,
        extended_hours=True,
        abbreviation=rule.abbreviation,
        intraday=intraday,
    )


# Stocks: CTA/UTP sale conditions with Polygon's ids. Id 0 has no row in the v3 list (a regular-way
# trade carries no condition); it is kept as a regular sale for data that spells it out.
STOCK_TRADE_CONDITIONS = _table(
    [
        (0, "Regular Sale", ALL),
        (1, "Acquisition", ALL),
        (2, "Average Price Trade", VOL),
        (3, "Automatic Execution", ALL),
        (4, "Bunched Trade", ALL),
        (5, "Bunched Sold Trade", HL_VOL),
        (6, "CAP Election", ALL),
        (7, "Cash Sale", VOL),
        (8, "Closing Prints", ALL),
        (9, "Cross Trade", ALL),
        (10, "Derivatively Priced", HL_VOL),
        (11, "Distribution", ALL),
        (12, "Form T/Extended Hours", VOL),
        (13, "Extended Hours (Sold Out Of Sequence)", VOL),
        (14, "Intermarket Sweep", ALL),
        (15, "Market Center Official Close", NONE),
        (16, "Market Center Official Open", NONE),
        (17, "Market Center Opening Trade", ALL),
        (18, "Market Center Reopening Trade", ALL),
        (19, "Market Center Closing Trade", ALL),
        (20, "Next Day", VOL),
        (21, "Price Variation Trade", VOL),
        (22, "Prior Reference Price", HL_VOL),
        (23, "Rule 155 Trade (AMEX)", ALL),
        (24, "Rule 127 (NYSE Only)", ALL),
        (25, "Opening Prints", ALL),
        (27, "Stopped Stock (Regular Trade)", ALL),
        (28, "Re-Opening Prints", ALL),
        (29, "Seller", VOL),
        (30, "Sold Last", ALL),
        (31, "Sold Last and Stopped Stock", ALL),
        (32, "Sold (Out Of Sequence)", HL_VOL),
        (33, "Sold (Out of Sequence) and Stopped Stock", HL_VOL),
        (34, "Split Trade", ALL),
        (35, "Stock Option", ALL),
        (36, "Yellow Flag Regular Trade", ALL),
        (37, "Odd Lot Trade", VOL),
        (38, "Corrected Consolidated Close (per listing market)", HL_OC),
        (41, "Trade Thru Exempt", ALL),
        (52, "Contingent Trade", VOL),
        (53, "Qualified Contingent Trade", VOL),
        (55, "Opening Reopening Trade Detail", ALL),
        (57, "Short Sale Restriction Activated", ALL),
        (58, "Short Sale Restriction Continued", ALL),
        (59, "Short Sale Restriction Deactivated", ALL),
        (60, "Short Sale Restriction In Effect", ALL),
        (62, "Financial Status - Bankrupt", ALL),
        (63, "Financial Status - Deficient", ALL),
        (64, "Financial Status - Delinquent", ALL),
        (65, "Financial Status - Bankrupt and Deficient", ALL),
        (66, "Financial Status - Bankrupt and Delinquent", ALL),
        (67, "Financial Status - Deficient and Delinquent", ALL),
        (68, "Financial Status - Deficient, Delinquent, and Bankrupt", ALL),
        (69, "Financial Status - Liquidation", ALL),
        (70, "Financial Status - Creations Suspended", ALL),
        (71, "Financial Status - Redemptions Suspended", ALL),
    ]
)
_extended(STOCK_TRADE_CONDITIONS, 12, ALL)
_extended(STOCK_TRADE_CONDITIONS, 13, HL_VOL)

# Options: OPRA trade message types with Polygon's ids and OPRA abbreviations.
OPTION_TRADE_CONDITIONS = _table(
    [
        (201, "Canceled", NONE, "CANC"),
        (202, "Late and Out Of Sequence", NONE, "OSEQ"),
        (203, "Last and Canceled", NONE, "CNCL"),
        (204, "Late", NONE, "LATE"),
        (205, "Opening Trade and Canceled", NONE, "CNCO"),
        (206, "Opening Trade, Late, and Out Of Sequence", NONE, "OPEN"),
        (207, "Only Trade and Canceled", NONE, "CNOL"),
        (208, "Opening Trade and Late", ALL, "OPNL"),
        (209, "Automatic Execution", ALL, "AUTO"),
        (210, "Reopening Trade", ALL, "REOP"),
        (219, "Intermarket Sweep Order", ALL, "ISOI"),
        (227, "Single Leg Auction Non ISO", ALL, "SLAN"),
        (228, "Single Leg Auction ISO", ALL, "SLAI"),
        (229, "Single Leg Cross Non ISO", ALL, "SLCN"),
        (230, "Single Leg Cross ISO", ALL, "SLCI"),
        (231, "Single Leg Floor Trade", ALL, "SLFT"),
        (232, "Multi Leg auto-electronic trade", ALL, "MLET"),
        (233, "Multi Leg Auction", ALL, "MLAT"),
        (234, "Multi Leg Cross", ALL, "MLCT"),
        (235, "Multi Leg floor trade", ALL, "MLFT"),
        (236, "Multi Leg auto-electronic trade against single leg(s)", ALL, "MESL"),
        (237, "Stock Options Auction", ALL, "TLAT"),
        (238, "Multi Leg Auction against single leg(s)", ALL, "MASL"),
        (239, "Multi Leg floor trade against single leg(s)", ALL, "MFSL"),
        (240, "Stock Options auto-electronic trade", ALL, "TLET"),
        (241, "Stock Options Cross", ALL, "TLCT"),
        (242, "Stock Options floor trade", ALL, "TLFT"),
        (243, "Stock Options auto-electronic trade against single leg(s)", ALL, "TESL"),
        (244, "Stock Options Auction against single leg(s)", ALL, "TASL"),
        (245, "Stock Options floor trade against single leg(s)", ALL, "TFSL"),
        (246, "Multi Leg Floor Trade of Proprietary Products", VOL, "CBMO"),
        (247, "Multilateral Compression Trade of Proprietary Products", VOL, "MCTP"),
        (248, "Extended Hours Trade", VOL, "EXHT"),
    ]
)
_extended(OPTION_TRADE_CONDITIONS, 248, ALL)

# Stock quote conditions (CTA/UTP quote condition codes with Polygon's ids); names only, since quote
# conditions never enter bar building.
STOCK_QUOTE_CONDITIONS: dict[int, str] = {
    1: "Regular Two-Sided Open",
    2: "Regular One-Sided Open",
    3: "Slow Ask",
    4: "Slow Bid",
    5: "Slow Bid and Ask",
    6: "Slow Due LRP Bid",
    7: "Slow Due LRP Ask",
    9: "Slow Due Set Slow List Bid Ask",
    10: "Manual Ask Automated Bid",
    11: "Manual Bid Automated Ask",
    12: "Manual Bid and Ask",
    13: "Opening",
    14: "Closing",
    15: "Closed",
    16: "Resume",
    17: "Fast Trading",
    18: "Trading Range Indication",
    19: "Market Maker Quotes Closed",
    20: "Non-Firm",
    21: "News Dissemination",
    22: "Order Influx",
    23: "Order Imbalance",
    26: "Additional Information",
    27: "News Pending",
    28: "Additional Information Due To Related Security",
    29: "Due To Related Security",
    30: "In View Of Common",
    32: "No Open No Resume",
    40: "On Demand Auction",
    41: "Cash Only Settlement",
    42: "Next Day Settlement",
    43: "LULD Trading Pause",
    71: "Slow Due LRP Bid and Ask",
    81: "Corrected Price Indication",
    82: "SIP Generated",
    84: "Crossed Market",
    85: "Locked Market",
    94: "CQS Generated",
}

_TABLES = {"stocks": STOCK_TRADE_CONDITIONS, "options": OPTION_TRADE_CONDITIONS}


def rules(asset: str) -> dict[int, ConditionRule]:
    """Trade-condition rules of ``"stocks"`` or ``"options"`` keyed by Polygon id."""
    return _TABLES[asset]


def _forbid_table(asset: str, *, intraday: bool) -> np.ndarray:
    """Per code id (0..max id), a bit set for each field it may not update: 1 high/low, 2 open/close,
    4 volume."""
    table = _TABLES[asset]
    out = np.zeros(max(table) + 1, dtype=np.uint8)
    for code, rule in table.items():
        hl, oc, vol = rule.updates(intraday=intraday)
        out[code] = (not hl) | (not oc) << 1 | (not vol) << 2
    return out


_FORBID: dict[tuple[str, bool], np.ndarray] = {}


def update_masks(
    asset: str, codes: np.ndarray, offsets: np.ndarray, *, intraday: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-trade (updates_high_low, updates_open_close, updates_volume) from flattened condition lists.

    ``codes`` holds every trade's conditions back to back and ``offsets`` (length n + 1, starting at
    0) where each trade's list starts, as in an Arrow list array. A trade passes a field when none of
    its codes forbids it; empty lists and unknown codes pass. ``intraday`` applies the minute-bar
    rules of extended-hours markers.
    """
    key = (asset, intraday)
    forbid_of = _FORBID.get(key)
    if forbid_of is None:
        forbid_of = _FORBID[key] = _forbid_table(asset, intraday=intraday)
    offsets = np.asarray(offsets, dtype=np.int64)
    n = max(len(offsets) - 1, 0)
    forbid = np.zeros(n, dtype=np.uint8)
    if n:
        codes = np.asarray(codes).ravel()[: offsets[-1]]
        if codes.dtype.kind not in "iu":
            codes = codes.astype(np.int64)
        known = (codes >= 0) & (codes < len(forbid_of))
        per_code = np.zeros(len(codes), dtype=np.uint8)
        per_code[known] = forbid_of[codes[known]]
        # OR the bits over each non-empty list; empty lists keep 0 (a regular sale).
        nonempty = np.flatnonzero(offsets[1:] > offsets[:-1])
        if len(nonempty):
            forbid[nonempty] = np.bitwise_or.reduceat(per_code, offsets[nonempty])
    return (forbid & 1) == 0, (forbid & 2) == 0, (forbid & 4) == 0
