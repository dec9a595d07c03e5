"""The compact per-day run index: look-ups of many tickers at once against rows read from the manifest."""

from __future__ import annotations

import numpy as np

from cutemarkets_server.store.dayindex import NO_MAX_TS, NO_MIN_TS, NO_ORDINAL, DayIndex, encode_tickers


def test_rows_are_sorted_and_unknown_bounds_become_sentinels() -> None:
    index = DayIndex.from_rows(
        [("SPY", 10, 5, 100, 200, 3), ("AAPL", 0, 10, None, None, None), ("O:SPY251219C00600000", 15, 2, 7, 9, 4)]
    )
    assert index.tickers.tolist() == [b"AAPL", b"O:SPY251219C00600000", b"SPY"]
    assert index.first_row.tolist() == [0, 15, 10]
    assert index.rows.tolist() == [10, 2, 5]
    assert index.min_ts.tolist() == [NO_MIN_TS, 7, 100]
    assert index.max_ts.tolist() == [NO_MAX_TS, 9, 200]
    assert index.ordinal.tolist() == [NO_ORDINAL, 4, 3]
    assert index.nbytes > 0 and len(index) == 3


def test_find_reports_only_exact_matches() -> None:
    index = DayIndex.from_rows([("AB", 0, 1, 1, 1, 0), ("ABD", 1, 1, 1, 1, 1), ("B", 2, 1, 1, 1, 2)])
    wanted = encode_tickers(["ABC", "AB", "B", "C", "A"])
    pos, found = index.find(wanted)
    hits = {w.decode(): index.first_row[p] for w, p, f in zip(wanted, pos, found, strict=True) if f}
    assert hits == {"AB": 0, "B": 2}


def test_a_wanted_ticker_longer_than_every_indexed_one_is_not_cut_to_a_false_match() -> None:
    index = DayIndex.from_rows([("O:SPY", 0, 1, 1, 1, 0)])
    pos, found = index.find(np.array([b"O:SPY251219C00600000", b"O:SPY"]))
    assert found.tolist() == [False, True] and int(pos[1]) == 0


def test_an_empty_index_finds_nothing() -> None:
    index = DayIndex.from_rows([])
    _, found = index.find(encode_tickers(["SPY"]))
    assert found.tolist() == [False] and len(index) == 0
    assert encode_tickers([]).size == 0
