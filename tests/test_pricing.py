from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fixgw.errors import OrderError
from fixgw.pricing import (Units, decimal_from_wire, dollars, money_from_wire, money_to_wire,
                           places, price_from_wire, price_to_wire, qty_from_wire, qty_to_wire,
                           settlement_from_wire, settlement_to_wire, validate_order_price,
                           validate_quantity)

C, USD = Units.CENTS, Units.DOLLARS


# ------------------------------------------------------------------ parsing
@pytest.mark.parametrize("text,value", [("75", D("75")), ("0.7500", D("0.75")), ("-7.40", D("-7.4")),
                                        ("10.", D(10)), (".5", D("0.5")), ("007", D(7))])
def test_decimal_from_wire_accepts_fix_floats(text, value):
    assert decimal_from_wire(text) == value


@pytest.mark.parametrize("text", ["", "-", ".", "NaN", "nan", "Infinity", "-inf", "sNaN", "1e5",
                                  "1E-2", " 1", "1 ", "+1", "1_000", "1,5", "0x10", "٣", "1.2.3",
                                  "--1", "abc"])
def test_decimal_from_wire_rejects_garbage(text):
    with pytest.raises(ValueError):
        decimal_from_wire(text)


@pytest.mark.parametrize("value,n", [(D("0.75"), 2), (D("0.7500"), 2), (D("75"), 0), (D("7.5E+1"), 0),
                                     (D("0.0001"), 4), (D("0.00000"), 0), (D("-1.10"), 1),
                                     (D("12.345"), 3)])
def test_places_counts_significant_decimals(value, n):
    assert places(value) == n


# ------------------------------------------------------------------ prices
@pytest.mark.parametrize("price,units,wire", [
    (D("0.75"), C, "75"), (D("0.7500"), C, "75"), (D("0.01"), C, "1"), (D("0.745"), C, "74.5"),
    (D("0.7450"), C, "74.5"), (D("0.7451"), C, "74.51"), (D("0.75"), USD, "0.7500"),
    (D("0.0123"), USD, "0.0123"), (D("19.5"), USD, "19.5000"), (D("1"), USD, "1.0000"),
    (D("0"), C, "0")])
def test_price_to_wire(price, units, wire):
    assert price_to_wire(price, units) == wire


@pytest.mark.parametrize("wire,units,price", [
    ("75", C, D("0.75")), ("74.50", C, D("0.745")), ("1", C, D("0.01")), ("0.7500", USD, D("0.75")),
    ("19.5000", USD, D("19.5"))])
def test_price_from_wire(wire, units, price):
    assert price_from_wire(wire, units) == price


def test_price_from_wire_keeps_wire_precision_in_dollars():
    assert str(price_from_wire("0.7500", USD)) == "0.7500"
    assert str(price_from_wire("75", C)) == "0.75"


def test_price_to_wire_whole_cents_rejects_sub_cent_prices():
    assert price_to_wire(D("0.75"), C, whole_cents=True) == "75"
    with pytest.raises(OrderError, match="0.755 is not a whole number of cents"):
        price_to_wire(D("0.755"), C, whole_cents=True)
    assert price_to_wire(D("0.755"), USD, whole_cents=True) == "0.7550"  # only cents care


@pytest.mark.parametrize("price,units", [(D("0.12345"), USD), (D("0.12345"), C), (D("NaN"), C),
                                         (D("Infinity"), USD)])
def test_price_to_wire_rejects_unrepresentable(price, units):
    with pytest.raises(OrderError):
        price_to_wire(price, units)


def test_price_to_wire_refuses_floats():
    with pytest.raises(OrderError, match="Decimal"):
        price_to_wire(0.75, USD)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["NaN", "", "1e2", "abc", " 75"])
def test_price_from_wire_rejects_garbage(text):
    for units in Units:
        with pytest.raises(ValueError):
            price_from_wire(text, units)


@given(st.integers(-10**12, 10**12), st.sampled_from(Units))
def test_prices_round_trip(n, units):
    price = D(n).scaleb(-4)
    assert price_from_wire(price_to_wire(price, units), units) == price


# ------------------------------------------------------------------ settlement, money, quantities
def test_settlement_price_is_cents_with_two_decimals():
    assert settlement_to_wire(D("0.306")) == "30.60"
    assert settlement_to_wire(D("1")) == "100.00"
    assert settlement_from_wire("30.60") == D("0.306")
    assert settlement_from_wire("100.00") == D(1)
    with pytest.raises(OrderError):
        settlement_to_wire(D("0.30601"))


def test_money_is_dollars_with_two_or_four_decimals():
    assert money_to_wire(D("0.07")) == "0.07"
    assert money_to_wire(D("-7.4")) == "-7.40"
    assert money_to_wire(D("0.0123")) == "0.0123"
    assert money_to_wire(D("-195.125")) == "-195.1250"
    assert money_from_wire("-195.1250") == D("-195.125")
    with pytest.raises(OrderError, match="more than 4 decimal places"):
        money_to_wire(D("0.00001"))


def test_quantities_have_two_decimals():
    assert qty_to_wire(D(10)) == "10.00"
    assert qty_to_wire(D("0.5")) == "0.50"
    assert qty_from_wire("10.00") == D(10)
    assert qty_from_wire("10") == D(10)
    with pytest.raises(OrderError, match="more than 2 decimal places"):
        qty_to_wire(D("1.005"))
    with pytest.raises(ValueError):
        qty_from_wire("ten")


# ------------------------------------------------------------------ order validation
@pytest.mark.parametrize("price,units", [(D("0.01"), C), (D("0.99"), C), (D("0.5"), C),
                                         (D("0.0001"), USD), (D("0.9999"), USD), (D("0.1234"), USD)])
def test_valid_event_prices(price, units):
    assert validate_order_price(price, "event", units) == price


@pytest.mark.parametrize("price,units,message", [
    (D("0"), C, "price 0 is outside 0.01-0.99 for event contracts"),
    (D("1.00"), C, "price 1.00 is outside 0.01-0.99 for event contracts"),
    (D("1"), USD, "price 1 is outside 0.0001-0.9999 for event contracts"),
    (D("-0.5"), C, "outside"),
    (D("0.755"), C, "price 0.755 is not a whole number of cents"),
    (D("0.12345"), USD, "price 0.12345 has more than 4 decimal places"),
    (D("NaN"), USD, "not a finite number"),
])
def test_invalid_event_prices(price, units, message):
    with pytest.raises(OrderError, match=message):
        validate_order_price(price, "event", units)


def test_margin_prices():
    assert validate_order_price(D("19.5000"), "margin", USD) == D("19.5")
    assert validate_order_price(D("120000.0001"), "margin", USD)
    with pytest.raises(OrderError, match="price 0 must be greater than 0"):
        validate_order_price(D("0"), "margin", USD)
    with pytest.raises(OrderError, match="price 19.50001 has more than 4 decimal places"):
        validate_order_price(D("19.50001"), "margin", USD)


def test_unknown_product_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown product"):
        validate_order_price(D("0.5"), "perps", C)


@pytest.mark.parametrize("q", [D(1), D("10.00"), D(5000)])
def test_valid_quantities(q):
    assert validate_quantity(q) == q


@pytest.mark.parametrize("q,message", [(D("1.5"), "quantity 1.5 must be a whole number of contracts"),
                                       (D("0"), "quantity 0 must be greater than 0"),
                                       (D("-3"), "quantity -3 must be greater than 0"),
                                       (D("0.01"), "whole number"), (D("sNaN"), "finite")])
def test_invalid_quantities(q, message):
    with pytest.raises(OrderError, match=message):
        validate_quantity(q)


def test_validation_refuses_floats():
    with pytest.raises(OrderError, match="Decimal"):
        validate_quantity(1.0)  # type: ignore[arg-type]
    with pytest.raises(OrderError, match="Decimal"):
        validate_order_price(0.5, "event", C)  # type: ignore[arg-type]


# ------------------------------------------------------------------ REST text
@pytest.mark.parametrize("value,text", [(D("0.75"), "0.7500"), (D("0.00005"), "0.0000"),
                                        (D("0.00015"), "0.0002"), (D("0.00025"), "0.0002"),
                                        (D("-0.00001"), "0.0000"), (D("12"), "12.0000"),
                                        (D("1E+3"), "1000.0000")])
def test_dollars_rounds_half_even_to_four_places(value, text):
    assert dollars(value) == text


def test_rest_text_refuses_floats_and_non_finite():
    with pytest.raises(TypeError):
        dollars(0.1)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        dollars(D("NaN"))


# ------------------------------------------------------------------ the memo on hot-path functions
MEMOISED = [  # (the memoised function, the same function without its memo, extra arguments)
    (price_to_wire, (Units.CENTS,), {"whole_cents": True}), (price_to_wire, (Units.DOLLARS,), {}),
    (qty_to_wire, (), {}), (validate_order_price, ("event", Units.CENTS), {}),
    (validate_order_price, ("margin", Units.DOLLARS), {}), (validate_quantity, (), {}),
]


def _outcome(fn, d, args, kwargs):
    try:
        return ("ok", str(fn(d, *args, **kwargs)))
    except OrderError as e:
        return ("error", str(e))


@given(st.lists(st.decimals(allow_nan=False, allow_infinity=False, places=5, min_value=-2, max_value=200),
                min_size=1, max_size=6), st.sampled_from(MEMOISED))
def test_memoised_answers_equal_fresh_ones(ds, case):
    fn, args, kwargs = case
    for d in ds + ds:  # the second pass is answered from the memo where it can be
        assert _outcome(fn, d, args, kwargs) == _outcome(fn.__wrapped__, d, args, kwargs)


def test_memo_keeps_the_callers_trailing_zeros():
    assert str(validate_order_price(D("0.5"), "event", Units.DOLLARS)) == "0.5"
    assert str(validate_order_price(D("0.50"), "event", Units.DOLLARS)) == "0.50"


def test_memo_never_answers_for_a_float_or_negative_zero():
    assert price_to_wire(D("0.5"), Units.DOLLARS) == "0.5000"
    with pytest.raises(OrderError, match="float"):
        price_to_wire(0.5, Units.DOLLARS)  # equal and same hash as D("0.5"), still refused
    assert qty_to_wire(D("-0")) == "-0.00" and qty_to_wire(D("0")) == "0.00"
    with pytest.raises(OrderError):
        validate_quantity(D("1.5"))
    with pytest.raises(OrderError):
        validate_quantity(D("1.5"))  # errors are never remembered as answers
