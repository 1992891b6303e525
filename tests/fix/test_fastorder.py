"""The express lane writes exactly what the generic encoder writes, and a session's Lane answers only what
the generic lane accepts, exactly as it would (fixgw/fix/fastorder.py)."""

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


# ------------------------------------------------------------------ Lane: plain orders checked from memory
from fixgw.adapter.orderentry import decimal_of, side_of, tif_of  # noqa: E402 - the generic lane's converters
from fixgw.checks import Limits, SessionCaps  # noqa: E402
from fixgw.orders import Registry  # noqa: E402

_PRICES = ["0.01", "0.5", "0.50", "0.755", "0.9999", "1", "0", "-0.01", " 0.5", "1e-2", "NaN", D("0.5"), D("0.50"),
           D("0.42"), D("1E-2"), 0, 1, 0.5, True, None]
_QTYS = [1, "1", "1.5", D(2), "1e3", 0, -1, 10**7, "10", "99", D("100"), 101, 1.0, False, "x"]
_SYMBOLS = ["KXT", "KXT-26NOV21-T50", "", "A B", "X" * 40, "KX|Y", 7]
_SIDES = ["buy", "BUY", "sell", "no", Side.BUY, Side.SELL, "1", "2", "0", 1]
_TIFS = [None, "ioc", "IOC", "gtc", TimeInForce.IOC, TimeInForce.FOK, TimeInForce.GTD, "gtd", "3"]
_order = st.tuples(st.sampled_from(_SYMBOLS), st.sampled_from(_SIDES), st.sampled_from(_PRICES),
                   st.sampled_from(_QTYS), st.sampled_from(_TIFS))


def _generic_lane(reg: Registry, cl: str, symbol, side, price, qty, tif):
    """What OrderEntry.new_order's generic lane makes of a plain order: (body, values), or the error."""
    try:
        values = dict(cl_ord_id=cl, symbol=symbol, side=side_of(side), order_qty=decimal_of("quantity", qty),
                      price=decimal_of("price", price))
        if tif is not None:
            values["time_in_force"] = tif_of(tif)
        req = NewOrderSingle(**values)
        reg.check_new(req)
        body = express.new_order_body(req, reg.caps.units)
    except (OrderError, ValueError, TypeError) as e:
        return ("error", type(e).__name__)
    reg.lane.learn(req)
    return body, values


@settings(max_examples=400, deadline=None)
@given(st.sampled_from([("event", Units.CENTS), ("event", Units.DOLLARS), ("margin", Units.DOLLARS)]),
       st.lists(_order, max_size=30), st.lists(_order, min_size=1, max_size=30))
def test_the_lane_answers_only_what_the_generic_lane_accepts_and_exactly_as_it_would(kind, taught, asked):
    product, units = kind
    reg = Registry(SessionCaps("nr", product, units, order_entry=True, mass_cancel=True,
                               limits=Limits(max_quantity=D(100), max_notional=D(50), max_symbol_length=20)))
    for i, order in enumerate(taught):
        _generic_lane(reg, f"t{i}", *order)
    for i, order in enumerate(asked):
        fast = reg.lane.express(f"a{i}", *order)
        if fast is not None:  # never an order the generic lane would refuse, and the very same text and values
            assert fast == _generic_lane(Registry(reg.caps), f"a{i}", *order)


def test_the_lane_learns_from_the_generic_lane_and_then_answers_the_same_values_itself():
    reg = Registry(SessionCaps("nr", "event", Units.CENTS, order_entry=True, mass_cancel=True))
    order = ("KXT", "buy", "0.42", 3, "ioc")
    assert reg.lane.express("c1", *order) is None
    body, values = _generic_lane(reg, "c1", *order)
    assert reg.lane.express("c2", *order) == (body.replace("11=c1", "11=c2"), {**values, "cl_ord_id": "c2"})
    assert reg.lane.express("c3", "KXT", "sell", "0.42", 3, "IOC") is None  # "IOC": the generic lane's spelling
    assert reg.lane.express("c4", "KXT", "buy", "0.42", 3, TimeInForce.GTD) is None  # GTD needs expire_time


def test_known_price_and_known_size_still_have_their_notional_checked_per_order():
    reg = Registry(SessionCaps("nr", "event", Units.CENTS, order_entry=True, mass_cancel=True,
                               limits=Limits(max_notional=D(50))))
    for order in (("KXT", "buy", "0.9", 1, None), ("KXT", "buy", "0.1", 99, None)):
        assert _generic_lane(reg, "t", *order)[0] != "error"
    assert reg.lane.express("c", "KXT", "buy", "0.9", 99, None) is None  # $89.10 > $50
    assert reg.lane.express("c", "KXT", "sell", "0.1", 99, None) is None  # a NO at $0.90 each: $89.10
    assert _generic_lane(reg, "c", "KXT", "sell", "0.1", 99, None) == ("error", "OrderError")
    assert reg.lane.express("c", "KXT", "sell", "0.9", 1, None) is not None
