"""Building blocks of the importers: ordering, external sort, VWAP fill, sightings, symbols, filters."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from cutemarkets_server.ingest.barmerge import fill_vwap
from cutemarkets_server.ingest.context import Filters
from cutemarkets_server.ingest.contracts import contract_from_symbol, underlying_of
from cutemarkets_server.ingest.quarantine import QuarantineWriter
from cutemarkets_server.ingest.sorting import ExternalSorter, OrderCheck, UnsortedInputError, is_sorted, rebatch
from cutemarkets_server.store.ingest_state import IngestState
from cutemarkets_server.store.schemas import dataset

KEYS = ("ticker", "sip_timestamp", "sequence_number")


def random_quotes(n: int, seed: int = 1) -> pa.Table:
    rng = np.random.default_rng(seed)
    seq = rng.integers(0, 5, n)
    return pa.table(
        {
            "ticker": pa.array(rng.choice(["O:A", "O:B", "O:C", "O:D"], n)),
            "sip_timestamp": pa.array(rng.integers(0, 50, n)),
            "sequence_number": pa.array(seq, mask=rng.random(n) < 0.2),
            "payload": pa.array(np.arange(n)),
        }
    )


@pytest.mark.parametrize("run_rows", [7, 100, 10_000])
def test_external_sort_equals_a_stable_in_memory_sort(tmp_path: Path, run_rows: int) -> None:
    table = random_quotes(3_000)
    sorter = ExternalSorter(KEYS, tmp_path, run_rows=run_rows, batch_rows=64)
    for start in range(0, table.num_rows, 111):
        sorter.add(table.slice(start, 111))
    out = pa.concat_tables(list(sorter.sorted()))
    expected = table.sort_by([(k, "ascending") for k in KEYS])
    assert out.column("payload").equals(expected.column("payload"))
    assert is_sorted(out, KEYS)
    assert not list(tmp_path.glob("*.parquet"))  # spilled runs are removed


def test_order_check_and_is_sorted() -> None:
    table = random_quotes(500).sort_by([(k, "ascending") for k in KEYS])
    check = OrderCheck(KEYS)
    check.check(table.slice(0, 250))
    check.check(table.slice(250))
    with pytest.raises(UnsortedInputError):
        check.check(table.slice(0, 10))
    assert not is_sorted(random_quotes(500), KEYS)


def test_rebatch_gives_fixed_size_batches_whatever_the_input_chunks() -> None:
    table = random_quotes(1_000)
    chunks = [table.slice(s, n) for s, n in ((0, 3), (3, 400), (403, 1), (404, 596))]
    sizes = [t.num_rows for t in rebatch(chunks, 128)]
    assert sizes == [128] * 7 + [104]
    assert pa.concat_tables(list(rebatch(chunks, 128))).equals(table)


def test_fill_vwap_keeps_vendor_rows_and_order() -> None:
    schema = dataset("option_minute_aggs").schema
    vendor = pa.Table.from_pylist(
        [
            {
                "ticker": "O:B",
                "window_start": 60,
                "open": 1,
                "high": 1,
                "low": 1,
                "close": 1,
                "volume": 2,
                "transactions": 1,
            },
            {
                "ticker": "O:A",
                "window_start": 0,
                "open": 2,
                "high": 2,
                "low": 2,
                "close": 2,
                "volume": 1,
                "transactions": 1,
            },
            {
                "ticker": "O:A",
                "window_start": 60,
                "open": 3,
                "high": 3,
                "low": 3,
                "close": 3,
                "volume": 1,
                "transactions": 1,
            },
        ],
        schema=schema,
    )
    derived = pa.Table.from_pylist(
        [
            {
                "ticker": "O:A",
                "window_start": 60,
                "open": 3,
                "high": 3,
                "low": 3,
                "close": 3,
                "volume": 1,
                "vwap": 3.5,
                "transactions": 1,
            },
            {
                "ticker": "O:B",
                "window_start": 60,
                "open": 1,
                "high": 1,
                "low": 1,
                "close": 1,
                "volume": 2,
                "vwap": 1.25,
                "transactions": 1,
            },
        ],
        schema=schema,
    )
    filled = fill_vwap(vendor, derived)
    assert filled.column("vwap").to_pylist() == [1.25, None, 3.5]
    assert filled.drop_columns(["vwap"]).equals(vendor.drop_columns(["vwap"]))


def test_first_sightings_do_not_depend_on_the_order_files_arrive(tmp_path: Path) -> None:
    events = [
        (["O:X", "O:Y"], dt.date(2025, 1, 3), "flatfiles:quotes/2025-01-03"),
        (["O:X"], dt.date(2025, 1, 2), "flatfiles:trades/2025-01-02"),
        (["O:Y"], dt.date(2025, 1, 3), "flatfiles:aggs/2025-01-03"),
        (["O:X"], dt.date(2025, 1, 5), "flatfiles:quotes/2025-01-05"),
    ]
    results = []
    for order in (events, events[::-1], events[1:] + events[:1] + events[:1]):
        state = IngestState(tmp_path / f"{len(results)}.sqlite")
        for tickers, day, source in order:
            state.record_seen("options", tickers, day, source)
        results.append(state.sightings("options"))
    assert results[0] == results[1] == results[2]
    x, y = results[0]
    assert (x.first_day, x.first_source, x.last_day) == (
        dt.date(2025, 1, 2),
        "flatfiles:trades/2025-01-02",
        dt.date(2025, 1, 5),
    )
    assert (y.first_day, y.first_source) == (dt.date(2025, 1, 3), "flatfiles:aggs/2025-01-03")


def test_contracts_from_occ_symbols() -> None:
    day = dt.date(2025, 1, 2)
    spxw = contract_from_symbol("O:SPXW250117P05900000", day, "src")
    assert spxw is not None
    assert (spxw["underlying_ticker"], spxw["root"], spxw["exercise_style"], spxw["strike_price"]) == (
        "I:SPX", "SPXW", "european", 5900.0
    )  # fmt: skip
    adjusted = contract_from_symbol("O:NVDA1251219C00150000", day, "src")
    assert adjusted is not None
    assert (adjusted["underlying_ticker"], adjusted["correction"], adjusted["shares_per_contract"]) == ("NVDA1", 1, 100)
    assert contract_from_symbol("O:SPY25121C600", day, "src") is None
    assert underlying_of("AAPL") == "AAPL" and underlying_of("O:SPY250117C00590000") == "SPY"


def test_filters_match_underlyings_roots_and_tickers() -> None:
    tickers = pa.array(["NVDA", "O:NVDA251219C00150000", "O:NVDA1251219C00150000", "O:SPY251219C00600000", "AAPL"])
    keep = Filters(underlyings=frozenset({"NVDA"})).row_mask(tickers)
    assert keep is not None and keep.to_pylist() == [True, True, True, False, False]
    keep = Filters(tickers=frozenset({"AAPL"}), underlyings=frozenset({"SPY"})).row_mask(tickers)
    assert keep is not None and keep.to_pylist() == [False, False, False, True, True]
    assert Filters().row_mask(tickers) is None
    assert Filters(first_day=dt.date(2025, 1, 2)).fingerprint() != Filters().fingerprint()


def test_quarantine_file_appears_atomically_and_a_clean_rerun_removes_it(tmp_path: Path) -> None:
    day = dt.date(2025, 1, 2)
    q = QuarantineWriter(tmp_path, "option_quotes", day, "flatfiles:x.csv.gz")
    q.write_raw(["bad,row"], ["unparseable row: 2 fields instead of 9"])
    assert not q.path.exists()
    path = q.close()
    assert path is not None and path.exists() and q.rows == 1
    again = QuarantineWriter(tmp_path, "option_quotes", day, "flatfiles:x.csv.gz")
    assert again.close() is None and not path.exists()
    assert not list(tmp_path.rglob(".tmp-*"))
