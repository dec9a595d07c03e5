"""The pure paper-trading rules: average-cost accounting, marketability, settlement of calls, puts and
adjusted contracts, and payload canonicalisation for idempotent retries."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cutemarkets_server.paper.rules import (
    FLAT,
    PaperInputError,
    Quote,
    apply_fill,
    classify_symbol,
    drawdown,
    fill_price,
    parse_order,
    settlement_price,
)

D = Decimal


def test_average_cost_and_realized_pnl() -> None:
    first = apply_fill(FLAT, "buy", D("2"), D("10"), 1)
    second = apply_fill(first.position, "buy", D("2"), D("14"), 1)
    assert second.position.qty == 4 and second.position.avg_entry_price == 12
    assert first.cash_delta + second.cash_delta == D("-48")
    sale = apply_fill(second.position, "sell", D("3"), D("15"), 1)
    assert sale.realized_pl == D("9") and sale.cash_delta == D("45")
    assert sale.position.qty == 1 and sale.position.avg_entry_price == 12
    closed = apply_fill(sale.position, "sell", D("1"), D("11"), 1)
    assert closed.position.qty == 0 and closed.realized_pl == D("-1")
    assert closed.position.realized_pl == D("8")
    with pytest.raises(ValueError, match="exceeds"):
        apply_fill(closed.position, "sell", D("1"), D("11"), 1)


def test_option_premiums_use_the_contract_multiplier() -> None:
    effect = apply_fill(FLAT, "buy", D("3"), D("1.25"), 100)
    assert effect.gross_amount == D("375.0000") and effect.position.cost_basis == D("3.75")


def test_marketability_against_the_nbbo() -> None:
    q = Quote(D("9.90"), D("10.10"), 0)
    assert fill_price("buy", "market", None, q) == D("10.10")
    assert fill_price("sell", "market", None, q) == D("9.90")
    assert fill_price("buy", "limit", D("10.00"), q) is None
    assert fill_price("buy", "limit", D("10.50"), q) == D("10.10"), "the ask, not the limit"
    assert fill_price("sell", "limit", D("9.95"), q) is None
    assert fill_price("sell", "limit", D("9.50"), q) == D("9.90")


def test_settlement_of_calls_puts_and_adjusted_deliverables() -> None:
    call = classify_symbol("O:SPY251219C00600000")
    put = classify_symbol("O:SPY251219P00600000")
    assert settlement_price(call, D("612.34"), D("100")) == D("12.34")
    assert settlement_price(call, D("590"), D("100")) == 0
    assert settlement_price(put, D("590"), D("100")) == D("10")
    assert settlement_price(put, D("612.34"), D("100")) == 0
    # A 3-for-2 adjusted call delivers 150 shares against 100 x strike: 150 x 70 - 100 x 100 = 500 per contract.
    adjusted = classify_symbol("O:NVDA1251219C00100000")
    assert adjusted.underlying == "NVDA1"
    assert settlement_price(adjusted, D("70"), D("150")) == D("5")


def test_drawdown_is_a_fraction_of_the_peak() -> None:
    assert drawdown(D("100"), D("90")) == D("0.1")
    assert drawdown(D("100"), D("120")) == 0


def test_equivalent_payloads_share_a_fingerprint() -> None:
    a = parse_order({"symbol": "aapl", "qty": "1.0", "side": "BUY", "type": "market"})
    b = parse_order({"symbol": "AAPL", "qty": "1", "side": "buy", "type": "market", "time_in_force": "day"})
    c = parse_order({"symbol": "AAPL", "qty": "2", "side": "buy", "type": "market"})
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()
    option = parse_order({"symbol": "SPY251219C00600000", "qty": "2", "side": "buy", "type": "market"})
    assert option.instrument.symbol == "O:SPY251219C00600000" and option.instrument.multiplier == 100


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"symbol": "AAPL", "qty": True, "side": "buy", "type": "market"}, "qty"),
        ({"symbol": "AAPL", "qty": "Infinity", "side": "buy", "type": "market"}, "qty"),
        ({"symbol": "AAPL", "qty": "1e30", "side": "buy", "type": "market"}, "qty"),
        ({"symbol": "O:SPY251319C00600000", "qty": "1", "side": "buy", "type": "market"}, "symbol"),
        ({"symbol": "AAPL", "qty": "1", "side": "buy", "type": "market", "limit_price": "5"}, "limit_price"),
        ({"symbol": "AAPL", "qty": "1", "side": "buy", "type": "market", "notional": "100"}, "notional"),
        ({"symbol": "AAPL", "qty": "1", "side": "buy", "type": "market", "extended_hours": True}, "extended_hours"),
        ({"symbol": "AAPL", "qty": "1", "side": "buy", "type": "market", "order_class": "bracket"}, "order_class"),
    ],
)
def test_refusals_name_the_field(body: dict[str, object], field: str) -> None:
    with pytest.raises(PaperInputError) as info:
        parse_order(body)
    assert info.value.field == field
