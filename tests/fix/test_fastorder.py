"""The express lane writes exactly what the generic encoder writes (fixgw/express.py)."""

from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixgw.fix import fastorder as express
from fixgw.errors import OrderError
from fixgw.fix.codec import encode
from fixgw.models.fix import NewOrderSingle, SelfTradePrevention, Side, TimeInForce
from fixgw.pricing import Units

texts = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=20)
prices = st.decimals(min_value=D("0.0001"), max_value=D("0.9999"), places=4) | \
    st.integers(1, 99).map(lambda c: D(c) / 100) | st.decimals(min_value=D(1), max_value=D(500), places=2)
options = st.fixed_dictionaries({}, optional={
    "post_only": st.booleans(), "stp_type": st.sampled_from(SelfTradePrevention), "alloc_account": st.integers(0, 63),
    "order_group_id": st.uuids().map(str), "cancel_order_on_pause": st.booleans(),
    "max_execution_cost": st.decimals(min_value=D("0.01"), max_value=D(100), places=2),
    "ex_destination": st.integers(-1, 5)})


def _generic(req: NewOrderSingle, units: Units) -> str:
    return "".join(f"{t}={v}\x01" for t, v in encode(req, units)[1])


def _outcome(fn, req, units):
    try:
        return ("ok", fn(req, units))
    except OrderError as e:
        return ("error", str(e))


@settings(max_examples=300, deadline=None)
@given(texts, texts, st.sampled_from(Side), st.integers(1, 10_000).map(D) | st.decimals(D("0.01"), D(100), places=2),
       prices, st.none() | st.sampled_from(TimeInForce), options, st.sampled_from(Units))
def test_express_text_equals_the_generic_encoding(cl_ord_id, symbol, side, qty, price, tif, opts, units):
    req = NewOrderSingle(cl_ord_id=cl_ord_id, symbol=symbol, side=side, order_qty=qty, price=price,
                         time_in_force=tif, **opts)
    fast = _outcome(express.new_order_body, req, units)
    plain = not (req.post_only or req.cancel_order_on_pause or req.stp_type is not None or req.alloc_account is not None
                 or req.order_group_id is not None or req.max_execution_cost is not None
                 or req.ex_destination is not None or req.expire_time is not None)
    if not plain:  # the generic lane takes it
        assert fast == ("ok", None)
        return
    assert fast == _outcome(_generic, req, units)


def test_orders_with_options_take_the_generic_lane():
    req = NewOrderSingle(cl_ord_id="c", symbol="S", side=Side.BUY, order_qty=D(1), price=D("0.5"), alloc_account=3)
    assert express.new_order_body(req, Units.CENTS) is None
    plain = req.model_copy(update={"alloc_account": None})
    assert express.new_order_body(plain, Units.CENTS) == "11=c\x0138=1.00\x0140=2\x0144=50\x0154=1\x0155=S\x01"


def test_errors_name_the_field_as_the_generic_lane_does():
    req = NewOrderSingle(cl_ord_id="c", symbol="S", side=Side.BUY, order_qty=D(1), price=D("0.755"))
    with pytest.raises(OrderError, match=r"NewOrderSingle.price \(tag 44\): price 0.755 is not a whole number"):
        express.new_order_body(req, Units.CENTS)
