"""Sale-condition tables and the vectorised per-trade update masks."""

from __future__ import annotations

import numpy as np
import pytest

from cutemarkets_server.market import conditions as cond
from cutemarkets_server.market.conditions import (
    OPTION_TRADE_CONDITIONS,
    STOCK_QUOTE_CONDITIONS,
    STOCK_TRADE_CONDITIONS,
    ConditionRule,
    rules,
    update_masks,
)

ALL = (True, True, True)
HL_VOL = (True, False, True)
VOL = (False, False, True)
NONE = (False, False, False)


def triple(rule: ConditionRule) -> tuple[bool, bool, bool]:
    return (rule.updates_high_low, rule.updates_open_close, rule.updates_volume)


def flatten(lists: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.zeros(len(lists) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(x) for x in lists])
    codes = np.array([c for x in lists for c in x], dtype=np.int64)
    return codes, offsets


# --- the tables -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "name", "expected"),
    [
        (1, "Acquisition", ALL),
        (2, "Average Price Trade", VOL),
        (5, "Bunched Sold Trade", HL_VOL),
        (7, "Cash Sale", VOL),
        (10, "Derivatively Priced", HL_VOL),
        (12, "Form T/Extended Hours", VOL),
        (13, "Extended Hours (Sold Out Of Sequence)", VOL),
        (14, "Intermarket Sweep", ALL),
        (15, "Market Center Official Close", NONE),
        (16, "Market Center Official Open", NONE),
        (20, "Next Day", VOL),
        (21, "Price Variation Trade", VOL),
        (22, "Prior Reference Price", HL_VOL),
        (29, "Seller", VOL),
        (30, "Sold Last", ALL),
        (32, "Sold (Out Of Sequence)", HL_VOL),
        (33, "Sold (Out of Sequence) and Stopped Stock", HL_VOL),
        (37, "Odd Lot Trade", VOL),
        (38, "Corrected Consolidated Close (per listing market)", (True, True, False)),
        (41, "Trade Thru Exempt", ALL),
        (52, "Contingent Trade", VOL),
        (53, "Qualified Contingent Trade", VOL),
    ],
)
def test_stock_rules(code: int, name: str, expected: tuple[bool, bool, bool]) -> None:
    rule = STOCK_TRADE_CONDITIONS[code]
    assert rule.code == code
    assert rule.name == name
    assert triple(rule) == expected


def test_stock_sets_that_restrict_updates() -> None:
    no_ohlc = {c for c, r in STOCK_TRADE_CONDITIONS.items() if not (r.updates_high_low and r.updates_open_close)}
    no_volume = {c for c, r in STOCK_TRADE_CONDITIONS.items() if not r.updates_volume}
    assert no_ohlc == {2, 5, 7, 10, 12, 13, 15, 16, 20, 21, 22, 29, 32, 33, 37, 52, 53}
    assert no_volume == {15, 16, 38}


@pytest.mark.parametrize(
    ("code", "abbreviation", "expected"),
    [
        (201, "CANC", NONE),
        (202, "OSEQ", NONE),
        (203, "CNCL", NONE),
        (204, "LATE", NONE),
        (205, "CNCO", NONE),
        (206, "OPEN", NONE),
        (207, "CNOL", NONE),
        (208, "OPNL", ALL),
        (209, "AUTO", ALL),
        (210, "REOP", ALL),
        (219, "ISOI", ALL),
        (227, "SLAN", ALL),
        (231, "SLFT", ALL),
        (232, "MLET", ALL),
        (236, "MESL", ALL),
        (245, "TFSL", ALL),
        (246, "CBMO", VOL),
        (247, "MCTP", VOL),
        (248, "EXHT", VOL),
    ],
)
def test_option_rules(code: int, abbreviation: str, expected: tuple[bool, bool, bool]) -> None:
    rule = OPTION_TRADE_CONDITIONS[code]
    assert rule.code == code
    assert rule.abbreviation == abbreviation
    assert triple(rule) == expected


def test_option_ids() -> None:
    expected = set(range(201, 211)) | {219} | set(range(227, 249))
    assert set(OPTION_TRADE_CONDITIONS) == expected
    assert len({r.abbreviation for r in OPTION_TRADE_CONDITIONS.values()}) == len(expected)


def test_tables_are_consistent() -> None:
    for table in (STOCK_TRADE_CONDITIONS, OPTION_TRADE_CONDITIONS):
        for code, rule in table.items():
            assert rule.code == code
            assert rule.name
            assert (rule.intraday is not None) == rule.extended_hours
    assert not set(STOCK_TRADE_CONDITIONS) & set(OPTION_TRADE_CONDITIONS)
    assert STOCK_QUOTE_CONDITIONS[1] == "Regular Two-Sided Open"


def test_extended_hours_markers() -> None:
    ext = {c for c, r in STOCK_TRADE_CONDITIONS.items() if r.extended_hours}
    assert ext == {12, 13}
    assert {c for c, r in OPTION_TRADE_CONDITIONS.items() if r.extended_hours} == {248}
    form_t = STOCK_TRADE_CONDITIONS[12]
    assert form_t.updates() == VOL
    assert form_t.updates(intraday=True) == ALL
    # A late extended-hours report never sets the open or close, even in a minute bar.
    assert STOCK_TRADE_CONDITIONS[13].updates(intraday=True) == HL_VOL
    assert OPTION_TRADE_CONDITIONS[248].updates(intraday=True) == ALL
    # Regular codes are the same intraday and daily.
    for rule in STOCK_TRADE_CONDITIONS.values():
        if not rule.extended_hours:
            assert rule.updates(intraday=True) == rule.updates()


def test_rules_lookup() -> None:
    assert rules("stocks") is STOCK_TRADE_CONDITIONS
    assert rules("options") is OPTION_TRADE_CONDITIONS
    with pytest.raises(KeyError):
        rules("crypto")


# --- update_masks ---------------------------------------------------------------------------------


def test_masks_multi_condition_trades() -> None:
    codes, offsets = flatten(
        [
            [],  # regular sale
            [14],  # ISO
            [14, 37],  # ISO + odd lot: volume only
            [10, 14],  # derivatively priced ISO: high/low and volume
            [2, 15],  # average price + official close: nothing
            [12, 37],  # Form T odd lot
            [999],  # unknown id: regular
            [999, 32],  # unknown + sold out of sequence
        ]
    )
    hl, oc, vol = update_masks("stocks", codes, offsets)
    assert hl.tolist() == [True, True, False, True, False, False, True, True]
    assert oc.tolist() == [True, True, False, False, False, False, True, False]
    assert vol.tolist() == [True, True, True, True, False, True, True, True]
    assert hl.dtype == oc.dtype == vol.dtype == np.bool_


def test_masks_intraday_form_t() -> None:
    codes, offsets = flatten([[12], [12, 14], [12, 37], [13], [12, 2], []])
    hl, oc, vol = update_masks("stocks", codes, offsets, intraday=False)
    assert hl.tolist() == [False] * 5 + [True]
    assert oc.tolist() == [False] * 5 + [True]
    hl, oc, vol = update_masks("stocks", codes, offsets, intraday=True)
    assert hl.tolist() == [True, True, False, True, False, True]
    assert oc.tolist() == [True, True, False, False, False, True]
    assert vol.tolist() == [True] * 6
    # The daily answer is unchanged after the intraday table was built (separate caches).
    hl, oc, _ = update_masks("stocks", codes, offsets)
    assert oc.tolist() == [False] * 5 + [True]


def test_masks_options() -> None:
    codes, offsets = flatten([[209], [204], [232], [209, 246], [248], [219, 227], [], [201]])
    hl, oc, vol = update_masks("options", codes, offsets)
    assert hl.tolist() == [True, False, True, False, False, True, True, False]
    assert oc.tolist() == [True, False, True, False, False, True, True, False]
    assert vol.tolist() == [True, False, True, True, True, True, True, False]
    hl, oc, vol = update_masks("options", codes, offsets, intraday=True)
    assert oc.tolist() == [True, False, True, False, True, True, True, False]


def test_masks_asset_tables_are_separate() -> None:
    # 2 is "Average Price Trade" for stocks but unknown (regular) for options; 204 the reverse.
    codes, offsets = flatten([[2], [204]])
    _, s_oc, _ = update_masks("stocks", codes, offsets)
    _, o_oc, o_vol = update_masks("options", codes, offsets)
    assert s_oc.tolist() == [False, True]
    assert o_oc.tolist() == [True, False]
    assert o_vol.tolist() == [True, False]


def test_masks_empty_inputs() -> None:
    for offsets in ([0], []):
        masks = update_masks("stocks", np.array([], dtype=np.int64), np.array(offsets, dtype=np.int64))
        assert all(len(m) == 0 for m in masks)
    # Every trade without conditions.
    hl, oc, vol = update_masks("options", np.array([], dtype=np.int64), np.zeros(5, dtype=np.int64))
    assert hl.tolist() == oc.tolist() == vol.tolist() == [True] * 4


def test_masks_unknown_and_out_of_range_codes() -> None:
    # Out-of-range ids must not alias onto known ones (65536 + 15 would be 15 modulo 2**16).
    codes, offsets = flatten([[-1], [65536 + 15], [1 << 40], [26], [249], [72]])
    for asset in ("stocks", "options"):
        hl, oc, vol = update_masks(asset, codes, offsets)
        assert hl.all() and oc.all() and vol.all()


def test_masks_accept_lists_and_narrow_ints() -> None:
    _, oc, _ = update_masks("stocks", [37, 14], [0, 1, 2])
    assert oc.tolist() == [False, True]
    # Arrow list columns arrive as int16 codes with int32 offsets.
    codes = np.array([12, 37, 14, -5, 248], dtype=np.int16)
    hl, oc, vol = update_masks("stocks", codes, np.array([0, 2, 3, 3, 5], dtype=np.int32))
    assert (hl.tolist(), oc.tolist(), vol.tolist()) == (
        [False, True, True, True],
        [False, True, True, True],
        [True] * 4,
    )


def _reference_masks(asset: str, lists: list[list[int]], intraday: bool) -> np.ndarray:
    table = rules(asset)
    out = []
    for codes in lists:
        flags = [True, True, True]
        for c in codes:
            if c in table:
                r = table[c]
                upd = r.intraday if (intraday and r.intraday is not None) else triple(r)
                flags = [f and u for f, u in zip(flags, upd, strict=True)]
        out.append(flags)
    return np.array(out, dtype=bool).reshape(len(lists), 3)


@pytest.mark.parametrize("asset", ["stocks", "options"])
@pytest.mark.parametrize("intraday", [False, True])
def test_masks_match_per_trade_loop(asset: str, intraday: bool) -> None:
    rng = np.random.default_rng(11 + intraday)
    pool = [*rules(asset), 999, 26, 0, 200, 250]
    lists = [[int(c) for c in rng.choice(pool, size=rng.integers(0, 5))] for _ in range(3000)]
    codes, offsets = flatten(lists)
    got = np.column_stack(update_masks(asset, codes, offsets, intraday=intraday))
    np.testing.assert_array_equal(got, _reference_masks(asset, lists, intraday))
    assert cond._FORBID[(asset, intraday)].dtype == np.uint8
