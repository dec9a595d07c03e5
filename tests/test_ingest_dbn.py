"""Databento DBN files written from the test market and imported into fresh data directories."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import databento_dbn as dbn
import numpy as np
import pytest

from cutemarkets_server.ingest.exchanges import OPTION_EXCHANGE_IDS, PUBLISHER_VENUE, exchange_ids, publisher_for
from cutemarkets_server.ingest.export import export_dbn, prevailing_quotes, sampled_quotes
from cutemarkets_server.market.timestamps import NS_PER_S, et_midnight_ns, et_ns
from ingestkit import cli, ingest, manifest, partitions, without

DAY = dt.date(2025, 12, 2)
OPRA_MAIN = ("definition", "trades", "cmbp-1", "statistics")


@pytest.fixture(scope="module")
def dbn_dir(market_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dbn")
    export_dbn(market_dir, out)
    return out


def files(dbn_dir: Path, *schemas: str, equities: bool = False) -> list[Path]:
    folder = dbn_dir / ("EQUS.ALL" if equities else "OPRA.PILLAR")
    return sorted(f for s in schemas for f in folder.glob(f"*.{s}.dbn.zst"))


@pytest.fixture(scope="module")
def imported(dbn_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    data_dir = tmp_path_factory.mktemp("dbn-imported")
    paths = files(dbn_dir, *OPRA_MAIN) + files(dbn_dir, "trades", "mbp-1", equities=True)
    summary, _ = ingest(data_dir, "dbn", paths)
    return data_dir, summary


def test_every_record_is_accounted_for(imported: tuple) -> None:
    _, summary = imported
    assert summary.outcomes and not summary.failed
    for o in summary.outcomes:
        assert o.rows_read == o.rows_stored > 0 and o.rows_quarantined == 0, o


def test_definitions_give_the_same_contract_universe_with_listings_and_delistings(
    imported: tuple, market_dir: Path
) -> None:
    data_dir, _ = imported
    mine, theirs = partitions(data_dir, "option_contracts"), partitions(market_dir, "option_contracts")
    assert mine.keys() == theirs.keys()
    for day in theirs:
        key = [("ticker", "ascending"), ("action", "ascending")]
        a, b = mine[day].sort_by(key), theirs[day].sort_by(key)
        assert without(a, "source").equals(without(b, "source")), day
        assert all(s.startswith("definition:OPRA.PILLAR/") for s in a["source"].to_pylist())
    delists = [r for t in mine.values() for r in t.to_pylist() if r["action"] == "delist"]
    assert delists and all(r["root"] == "NVDA" for r in delists)


def test_open_interest_comes_from_statistics_on_the_morning_it_was_reported(imported: tuple, market_dir: Path) -> None:
    data_dir, _ = imported
    mine, theirs = manifest(data_dir), manifest(market_dir)
    days = sorted(d for n, d in theirs if n == "option_open_interest")
    assert days and all(mine[("option_open_interest", d)][2] == theirs[("option_open_interest", d)][2] for d in days)


def test_option_trades_map_price_size_time_exchange_and_sequence(imported: tuple, market_dir: Path) -> None:
    data_dir, _ = imported
    mine, theirs = partitions(data_dir, "option_trades"), partitions(market_dir, "option_trades")
    assert mine.keys() == theirs.keys()
    absent = ("conditions", "correction", "participant_timestamp")
    for day in theirs:
        assert without(mine[day], *absent).equals(without(theirs[day], *absent)), day
        assert mine[day]["conditions"].to_pylist() == [[]] * mine[day].num_rows
    for name in ("option_day_aggs", "option_minute_aggs"):  # every OPRA condition of the test market counts
        # bars are derived from the trades: the days that have them, byte for byte, and no others
        assert {d: m[2] for (n, d), m in manifest(data_dir).items() if n == name} == {
            d: m[2] for (n, d), m in manifest(market_dir).items() if n == name and d in theirs
        }


def test_days_before_the_tick_window_carry_definitions_and_statistics_and_no_bars(
    dbn_dir: Path, imported: tuple, market_dir: Path
) -> None:
    """The option history's days are exported as definitions and statistics (their round trip is checked
    above); DBN has no bars the importer takes (OHLCV files are refused) and no trades to derive them from."""
    data_dir, _ = imported
    tick_days = set(partitions(market_dir, "option_trades"))
    history = sorted(set(partitions(market_dir, "option_open_interest")) - tick_days)
    assert len(history) > len(tick_days) > 0
    for day in history:
        names = {p.name for p in (dbn_dir / "OPRA.PILLAR").glob(f"{day.isoformat()}.*")}
        assert names == {f"{day.isoformat()}.{s}.dbn.zst" for s in ("definition", "statistics")}, day
    mine = manifest(data_dir)
    assert {d for n, d in mine if n == "option_open_interest"} >= set(history)
    assert {d for n, d in mine if n == "option_day_aggs"} == tick_days


def test_cmbp1_quotes_are_the_nbbo_without_sequence_numbers(imported: tuple, market_dir: Path) -> None:
    data_dir, _ = imported
    mine, theirs = partitions(data_dir, "option_quotes"), partitions(market_dir, "option_quotes")
    assert mine.keys() == theirs.keys()
    for day in theirs:
        assert without(mine[day], "sequence_number").equals(without(theirs[day], "sequence_number"))


def test_equity_trades_and_mbp1_quotes(imported: tuple, market_dir: Path) -> None:
    data_dir, _ = imported
    mine, theirs = partitions(data_dir, "stock_trades")[DAY], partitions(market_dir, "stock_trades")[DAY]
    for col in ("ticker", "sip_timestamp", "price", "size", "exchange", "trf_id", "sequence_number"):
        assert mine[col].equals(theirs[col]), col
    assert mine["conditions"].to_pylist() == [[]] * mine.num_rows
    assert mine["tape"].null_count == mine["id"].null_count == mine.num_rows
    q, sq = partitions(data_dir, "stock_quotes")[DAY], partitions(market_dir, "stock_quotes")[DAY]
    for col in ("ticker", "sip_timestamp", "bid_price", "ask_price", "bid_size", "ask_size", "bid_exchange"):
        assert q[col].equals(sq[col]), col
    assert q["ask_exchange"].equals(q["bid_exchange"])  # one venue's book per record


@pytest.mark.parametrize(("schema", "interval"), [("cbbo-1s", NS_PER_S), ("cbbo-1m", 60 * NS_PER_S)])
def test_sampled_consolidated_quotes(
    dbn_dir: Path, market_dir: Path, tmp_path: Path, schema: str, interval: int
) -> None:
    summary, _ = ingest(tmp_path / "data", "dbn", files(dbn_dir, "definition", schema))
    assert not summary.failed
    mine = partitions(tmp_path / "data", "option_quotes")[DAY]
    expected = sampled_quotes(partitions(market_dir, "option_quotes")[DAY], interval)
    assert 0 < mine.num_rows == expected.num_rows < partitions(market_dir, "option_quotes")[DAY].num_rows
    assert without(mine, "sequence_number").equals(without(expected, "sequence_number"))


def test_tcbbo_gives_the_quote_prevailing_at_each_trade(dbn_dir: Path, market_dir: Path, tmp_path: Path) -> None:
    summary, _ = ingest(tmp_path / "data", "dbn", files(dbn_dir, "definition", "tcbbo"))
    assert not summary.failed
    mine = partitions(tmp_path / "data", "option_quotes")[DAY]
    trades = partitions(market_dir, "option_trades")[DAY]
    expected = prevailing_quotes(trades, partitions(market_dir, "option_quotes")[DAY])
    expected = without(expected, "trade_price", "trade_size", "sequence_number").sort_by(
        [("ticker", "ascending"), ("sip_timestamp", "ascending")]
    )
    assert mine.num_rows == expected.num_rows > 0
    assert without(mine, "sequence_number").equals(expected.cast(without(mine, "sequence_number").schema))


def test_instrument_ids_resolve_from_earlier_definitions_without_metadata_mappings(
    market_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "files"
    export_dbn(market_dir, out, schemas=("definition", "trades"), days=[DAY], mappings=False, compress=False)
    trades = sorted(out.glob("OPRA.PILLAR/*.trades.dbn"))
    lonely, _ = ingest(tmp_path / "alone", "dbn", trades)
    o = lonely.outcomes[0]
    assert o.rows_stored == 0 and o.rows_quarantined == o.rows_read > 0
    assert o.reasons == {"unknown instrument_id (no definition or symbol mapping for the day)": o.rows_read}
    summary, _ = ingest(tmp_path / "data", "dbn", sorted(out.glob("OPRA.PILLAR/*.dbn")))
    assert not summary.failed and summary.outcomes[0].dataset == "OPRA.PILLAR definition"
    mine, theirs = partitions(tmp_path / "data", "option_trades")[DAY], partitions(market_dir, "option_trades")[DAY]
    assert mine["ticker"].equals(theirs["ticker"]) and mine["price"].equals(theirs["price"])
    # the definitions are remembered: a later run with the trades file alone resolves too
    again, _ = ingest(tmp_path / "data", "dbn", trades, force=True)
    assert again.outcomes[0].rows_stored == theirs.num_rows


def _write_dbn(path: Path, schema: str, records: list, dataset: str = "OPRA.PILLAR") -> Path:
    meta = dbn.Metadata(
        dataset=dataset,
        start=et_midnight_ns(DAY),
        stype_in=dbn.SType.RAW_SYMBOL,
        stype_out=dbn.SType.INSTRUMENT_ID,
        schema=dbn.Schema.from_str(schema),
        symbols=["ALL_SYMBOLS"],
        mappings=[],
    )
    path.write_bytes(bytes(meta) + b"".join(bytes(r) for r in records))
    return path


def _definition(iid: int, raw: str, cls: dbn.InstrumentClass, action: str = "A") -> dbn.InstrumentDefMsg:
    ts = et_ns(DAY, 6)
    return dbn.InstrumentDefMsg(
        publisher_id=30,
        instrument_id=iid,
        ts_event=ts,
        ts_recv=ts,
        min_price_increment=10_000_000,
        display_factor=1_000_000_000,
        raw_symbol=raw,
        asset="SPY",
        security_type="OOF",
        instrument_class=cls,
        security_update_action=dbn.SecurityUpdateAction(action),
        strike_price=600 * 10**9,
        expiration=et_ns(dt.date(2025, 12, 19), 16),
        contract_multiplier=100,
        underlying="SPY",
    )


def test_undefined_values_unknown_statistics_and_spreads_are_quarantined(tmp_path: Path) -> None:
    defs = _write_dbn(
        tmp_path / "d.definition.dbn",
        "definition",
        [
            _definition(1, "SPY   251219C00600000", dbn.InstrumentClass.CALL),
            _definition(2, "SPY   251219P00600000", dbn.InstrumentClass.PUT),
            _definition(3, "SPY-SPREAD", dbn.InstrumentClass.MIXED_SPREAD),
            _definition(4, "SPY   25X219C00600000", dbn.InstrumentClass.CALL),
        ],
    )
    ts = et_ns(DAY, 10)
    trade = dict(action=dbn.Action.TRADE, side=dbn.Side.NONE, depth=0, flags=0)
    trades = _write_dbn(
        tmp_path / "t.trades.dbn",
        "trades",
        [
            dbn.TradeMsg(publisher_id=36, instrument_id=1, ts_event=ts, price=2 * 10**9, size=3, ts_recv=ts, **trade),
            dbn.TradeMsg(
                publisher_id=37, instrument_id=2, ts_event=ts + 1, price=dbn.UNDEF_PRICE, size=3, ts_recv=ts, **trade
            ),
            dbn.TradeMsg(publisher_id=36, instrument_id=9, ts_event=ts + 2, price=10**9, size=3, ts_recv=ts, **trade),
        ],
    )
    stats = _write_dbn(
        tmp_path / "s.statistics.dbn",
        "statistics",
        [
            dbn.StatMsg(
                publisher_id=30,
                instrument_id=iid,
                ts_event=et_ns(DAY, 6, 30),
                ts_recv=et_ns(DAY, 6, 30),
                ts_ref=dbn.UNDEF_TIMESTAMP,
                price=dbn.UNDEF_PRICE,
                quantity=q,
                stat_type=st,
            )
            for iid, q, st in ((1, 120, dbn.StatType.OPEN_INTEREST), (2, 7, dbn.StatType.CLEARED_VOLUME))
        ],
    )
    summary, _ = ingest(tmp_path / "data", "dbn", [trades, stats, defs])
    by_name = {o.path.name: o for o in summary.outcomes}
    assert summary.outcomes[0].path.name == defs.name  # definitions are imported first
    d = by_name[defs.name]
    assert (d.rows_read, d.rows_stored, d.rows_quarantined) == (4, 2, 2)
    assert d.reasons == {"not stored: instrument class M (only calls and puts)": 1, "bad OCC option symbol": 1}
    t = by_name[trades.name]
    assert (t.rows_read, t.rows_stored, t.rows_quarantined) == (3, 1, 2)
    assert t.reasons == {
        "missing value for price": 1,
        "unknown instrument_id (no definition or symbol mapping for the day)": 1,
    }
    stored = partitions(tmp_path / "data", "option_trades")[DAY].to_pylist()
    assert [(r["ticker"], r["price"], r["exchange"]) for r in stored] == [("O:SPY251219C00600000", 2.0, 325)]
    s = by_name[stats.name]
    assert s.reasons == {"not stored: statistic type 6 (cleared_volume)": 1}
    oi = partitions(tmp_path / "data", "option_open_interest")[DAY].to_pylist()
    assert [(r["ticker"], r["open_interest"], r["trading_date"]) for r in oi] == [
        ("O:SPY251219C00600000", 120, dt.date(2025, 12, 1))  # ts_ref undefined: the previous session
    ]


def test_plain_dbn_files_and_a_truncated_zstd_file(market_dir: Path, tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    export_dbn(market_dir, plain, schemas=("definition", "statistics"), days=[DAY], compress=False)
    summary, _ = ingest(tmp_path / "data", "dbn", [plain])
    assert not summary.failed and len(summary.outcomes) == 2
    zst = tmp_path / "zst"
    (path,) = export_dbn(market_dir, zst, schemas=("trades",), days=[DAY])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    result = cli("ingest", "dbn", str(path), "--data-dir", str(tmp_path / "data2"), "--no-progress")
    text = result.stdout + result.stderr
    assert result.returncode == 1 and "Traceback" not in text
    assert "truncated" in " ".join(text.split())
    assert not manifest(tmp_path / "data2")


def test_ohlcv_files_are_refused_with_a_pointer_to_trades(tmp_path: Path) -> None:
    path = _write_dbn(tmp_path / "x.ohlcv-1m.dbn", "ohlcv-1m", [])
    result = cli("ingest", "dbn", str(path), "--data-dir", str(tmp_path / "data"), "--no-progress")
    text = " ".join((result.stdout + result.stderr).split())
    assert result.returncode == 1 and "not imported" in text and "derived from trades" in text


def test_publisher_ids_map_to_the_served_exchange_ids() -> None:
    opra = [p for p, mic in PUBLISHER_VENUE.items() if 20 <= p <= 37]
    ids = exchange_ids(np.array(opra), "options")
    for pub, ex in zip(opra, ids, strict=True):
        mic = PUBLISHER_VENUE[pub]
        assert ex == OPTION_EXCHANGE_IDS.get(mic, -1)
        if ex >= 0:
            assert PUBLISHER_VENUE[publisher_for(int(ex), "options", "OPRA.PILLAR")] == mic
    assert exchange_ids(np.array([2, 66, 17, 68, 36, 999, -1]), "stocks").tolist() == [12, 12, 4, 4, -1, -1, -1]
    assert exchange_ids(np.array([37]), "options").tolist() == [-1]  # MEMX Options: no served id


def test_a_day_split_across_utc_day_files_is_whole_whatever_the_import_order(market_dir: Path, tmp_path: Path) -> None:
    """Databento splits downloads by UTC day: trades after 19:00 ET (EST) of one ET day are in the next file."""
    days = [dt.date(2025, 12, 1), DAY]
    utc = tmp_path / "utc"
    paths = export_dbn(market_dir, utc, schemas=("equities:trades",), days=days, utc_days=True)
    assert [p.name.split(".")[0] for p in paths] == ["2025-12-01", "2025-12-02", "2025-12-03"]
    whole = tmp_path / "whole"
    export_dbn(market_dir, whole, schemas=("equities:trades",), days=days)
    reference, _ = ingest(tmp_path / "ref", "dbn", sorted(whole.rglob("*.dbn.zst")))
    assert not reference.failed

    def trades_manifest(data_dir: Path) -> dict:
        return {k: v[2] for k, v in manifest(data_dir).items() if k[0] == "stock_trades"}

    expected = trades_manifest(tmp_path / "ref")
    ingest(tmp_path / "forward", "dbn", paths)
    backward = tmp_path / "backward"
    for p in reversed(paths):  # one run per file, newest first
        summary, _ = ingest(backward, "dbn", [p])
        o = summary.outcomes[0]
        assert not summary.failed and o.rows_read == o.rows_stored + o.rows_quarantined
    assert trades_manifest(tmp_path / "forward") == trades_manifest(backward) == expected
    again, _ = ingest(backward, "dbn", [paths[1]], force=True)  # re-import the middle file
    assert trades_manifest(backward) == expected
    lo, hi = (int(dt.datetime(2025, 12, d, tzinfo=dt.UTC).timestamp()) * NS_PER_S for d in (2, 3))
    in_file = sum(
        int(((t >= lo) & (t < hi)).sum())
        for t in (partitions(market_dir, "stock_trades")[d]["sip_timestamp"].to_numpy() for d in days)
    )
    assert again.outcomes[0].rows_stored == again.outcomes[0].rows_read == in_file
