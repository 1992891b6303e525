"""The express lane for the order most callers send (pure core).

A plain limit order - ClOrdID, symbol, side, quantity, price and at most a
TimeInForce - is most of what a trading process sends, and on a cold CPU the
generic encoder (a walk over every NewOrderSingle field) and the pair list it
builds cost more than the rest of the order path. :func:`new_order_body` writes
that order's FIX body text directly, with the very encoders of
:mod:`fixgw.fields_tables` and their error wording; anything else returns None
and goes the generic way. ``tests/test_express.py`` checks the text against
:func:`fixgw.fields.encode` for arbitrary orders.
"""

from __future__ import annotations

from fixgw import fields_tables as T
from fixgw.errors import OrderError
from fixgw.models.fix import NewOrderSingle
from fixgw.pricing import Units

_OPTIONS = ("expire_time", "stp_type", "alloc_account", "order_group_id", "max_execution_cost", "ex_destination")
_TAGS = {11: "cl_ord_id", 38: "order_qty", 44: "price", 54: "side", 55: "symbol", 59: "time_in_force"}
PLAIN = frozenset(_TAGS.values())  # the fields a plain order may set; anything else is an option


def _encoders(units: Units) -> dict[str, tuple[int, object]]:
    lv = T.BY_MODEL[units][NewOrderSingle]
    return {name: (tag, enc) for tag, name, enc in lv.enc if tag in _TAGS}


_ENC = {units: _encoders(units) for units in Units}
# The same encoders in body order, for the one-expression text below.
_IN_ORDER = {units: tuple(enc[name][1] for name in ("cl_ord_id", "order_qty", "price", "side", "symbol",
                                                      "time_in_force"))
             for units, enc in _ENC.items()}


def _wire(enc: dict, d: dict, name: str) -> str:
    tag, fn = enc[name]
    try:
        s = fn(d[name])  # type: ignore[operator]
    except (ValueError, TypeError, ArithmeticError) as exc:
        raise OrderError(f"NewOrderSingle.{name} (tag {tag}): {exc}") from None
    if s is None:  # cannot happen for these fields; keep the generic lane's answer if it did
        raise OrderError(f"NewOrderSingle.{name} (tag {tag}): no wire value")
    return s


def new_order_body(req: NewOrderSingle, units: Units) -> str | None:
    """``11=..|38=..|40=2|44=..|54=..|55=..[|59=..]|`` (SOH-separated), or None if not plain."""
    d = req.__dict__
    if d["post_only"] or d["cancel_order_on_pause"] or any(d[name] is not None for name in _OPTIONS):
        return None
    cl, qty, px, side, sym, tif = _IN_ORDER[units]
    try:  # one expression, no call per field; a failure is explained field by field below
        parts = (cl(d["cl_ord_id"]), qty(d["order_qty"]), px(d["price"]), side(d["side"]), sym(d["symbol"]))
        tif_text = None if d["time_in_force"] is None else tif(d["time_in_force"])
    except (ValueError, TypeError, ArithmeticError):
        return _field_by_field(d, units)
    if None in parts:
        return _field_by_field(d, units)
    body = f"11={parts[0]}\x0138={parts[1]}\x0140=2\x0144={parts[2]}\x0154={parts[3]}\x0155={parts[4]}\x01"
    return body if tif_text is None else f"{body}59={tif_text}\x01"


def _field_by_field(d: dict, units: Units) -> str:
    """The same text built one checked field at a time: raises naming the first bad field."""
    enc = _ENC[units]
    body = (f"11={_wire(enc, d, 'cl_ord_id')}\x0138={_wire(enc, d, 'order_qty')}\x0140=2\x01"
            f"44={_wire(enc, d, 'price')}\x0154={_wire(enc, d, 'side')}\x0155={_wire(enc, d, 'symbol')}\x01")
    if d["time_in_force"] is not None:
        body += f"59={_wire(enc, d, 'time_in_force')}\x01"
    return body
