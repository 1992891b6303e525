"""The express lane for the order most callers send (pure core).

A plain limit order - ClOrdID, symbol, side, quantity, price and at most a
TimeInForce; no post-only, parties or other option - is most of what a trading
process sends. :func:`new_order_body` writes that order's FIX body text directly,
skipping the generic encoder's walk over every NewOrderSingle field and the pair
list it builds, with the very encoders of :mod:`fixgw.fields_tables` and their
error wording; anything else returns None and goes the generic way
(:func:`fixgw.fields.encode`, then :func:`fixgw.codec.to_message`). ``tests/test_express.py`` checks the text against
:func:`fixgw.fields.encode` for arbitrary orders.
"""

from __future__ import annotations

from fixgw.fix import codec_tables as T
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
_BODY = ("cl_ord_id", "order_qty", "price", "side", "symbol")  # 40=2 goes between qty and price
# The same encoders in body order, then TimeInForce's: called directly on the common path.
_IN_ORDER = {units: tuple(enc[name][1] for name in (*_BODY, "time_in_force")) for units, enc in _ENC.items()}


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
    if d["post_only"] or d["cancel_order_on_pause"] or d["parties"] or any(d[name] is not None for name in _OPTIONS):
        return None
    tif = d["time_in_force"]
    cl, qty, px, side, sym, tif_enc = _IN_ORDER[units]
    try:  # no call per field on the common path...
        parts = (cl(d["cl_ord_id"]), qty(d["order_qty"]), px(d["price"]), side(d["side"]), sym(d["symbol"]),
                 None if tif is None else tif_enc(tif))
        checked = None not in parts[:5]
    except (ValueError, TypeError, ArithmeticError):
        checked = False
    if not checked:  # ...and field by field to raise the generic lane's error for the first bad one
        enc = _ENC[units]
        parts = (*(_wire(enc, d, name) for name in _BODY), None if tif is None else _wire(enc, d, "time_in_force"))
    body = f"11={parts[0]}\x0138={parts[1]}\x0140=2\x0144={parts[2]}\x0154={parts[3]}\x0155={parts[4]}\x01"
    return body if parts[5] is None else f"{body}59={parts[5]}\x01"
