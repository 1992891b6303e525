"""The express lanes for the order most callers send (pure core).

A plain limit order - ClOrdID, symbol, side, quantity, price and at most a
TimeInForce; no post-only, parties or other option - is most of what a trading
process sends. :func:`new_order_body` writes that order's FIX body text directly,
skipping the generic encoder's walk over every NewOrderSingle field and the pair
list it builds, with the very encoders of :mod:`fixgw.fix.codec_tables` and their
error wording; anything else returns None and goes the generic way
(:func:`fixgw.fix.codec.encode`, then :func:`fixgw.adapter.encode.to_message`).
:class:`Lane` goes further for a plain order made of values the session has
already accepted: their checks and wire text come from memory, and the model is
made only once the order is on the wire. ``tests/fix/test_fastorder.py`` checks both
against the generic lane for arbitrary orders.
"""

from __future__ import annotations

from decimal import Decimal

from fixgw.fix import codec_tables as T
from fixgw.errors import OrderError
from fixgw.models.fix import NewOrderSingle, Side, TimeInForce
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


_TIF_NAMES = {t.name.lower(): t for t in TimeInForce if t is not TimeInForce.GTD}  # GTD needs expire_time
_SIDE_NAMES = {"buy": Side.BUY, "yes": Side.BUY, "bid": Side.BUY, "1": Side.BUY,
               "sell": Side.SELL, "no": Side.SELL, "ask": Side.SELL, "2": Side.SELL}
_LANE_MAX = 4096  # values remembered per kind; then forgotten and learned again


def _key(value: object) -> str | None:
    """A price or quantity as the text it was learned under (a Decimal's str round-trips exactly)."""
    cls = value.__class__
    return value if cls is str else str(value) if cls is Decimal or cls is int else None


class Lane:
    """A session's plain orders, checked from memory (pure core).

    The generic lane checks every value of an order (the model, then
    :meth:`fixgw.checks.Checks.check_new`, then :func:`new_order_body`); a trading
    process sends the same few tickers, prices and sizes over and over. Once a
    value has passed there, :meth:`learn` keeps its typed value and wire text,
    per session, since what passes depends on the session's product, units and
    limits. :meth:`express` answers a plain order whose every value it has kept
    and whose ClOrdID is fresh with its body text and typed values; for anything
    else (a value not seen yet, a bad value, an option, GTD) it returns None and
    the caller takes the generic lane, which raises the generic lane's error or
    accepts the order and teaches this lane its values. Only the order's notional
    (price times quantity) is computed per order. The caller still holds the
    registry's checks of ClOrdID reuse (:meth:`fixgw.orders.Registry.register_plain`).
    """

    def __init__(self, units: Units, product: str, max_notional: Decimal):
        self.units, self.event, self.max_notional = units, product == "event", max_notional
        self.prices: dict[str, tuple[Decimal, str]] = {}
        self.quantities: dict[str, tuple[Decimal, str]] = {}
        self.symbols: set[str] = set()

    def learn(self, req: NewOrderSingle) -> None:
        """``req`` passed the generic lane's checks as a plain order: keep its values."""
        enc = _ENC[self.units]
        for memo, value, name in ((self.prices, req.price, "price"), (self.quantities, req.order_qty, "order_qty")):
            if len(memo) >= _LANE_MAX:
                memo.clear()
            memo[str(value)] = (value, enc[name][1](value))  # type: ignore[operator]
        if len(self.symbols) >= _LANE_MAX:
            self.symbols.clear()
        self.symbols.add(req.symbol)

    def express(self, cl_ord_id: str, symbol: object, side: object, price: object, quantity: object,
                tif: object) -> tuple[str, dict] | None:
        """(body text, the NewOrderSingle's values) of a plain order made of known values, or None."""
        px = self.prices.get(_key(price))  # type: ignore[arg-type]
        qty = self.quantities.get(_key(quantity))  # type: ignore[arg-type]
        if px is None or qty is None or symbol.__class__ is not str or symbol not in self.symbols:
            return None
        s = side if side.__class__ is Side else _SIDE_NAMES.get(side) if side.__class__ is str else None
        if s is None:
            return None
        if tif is None:
            t = None
        elif tif.__class__ is TimeInForce:
            t = None if tif is TimeInForce.GTD else tif
            if t is None:
                return None
        else:
            t = _TIF_NAMES.get(tif) if tif.__class__ is str else None  # type: ignore[call-overload]
            if t is None:
                return None
        each = 1 - px[0] if self.event and s is Side.SELL else px[0]
        if qty[0] * each > self.max_notional:
            return None
        body = f"11={cl_ord_id}\x0138={qty[1]}\x0140=2\x0144={px[1]}\x0154={s.value}\x0155={symbol}\x01"
        values = {"cl_ord_id": cl_ord_id, "symbol": symbol, "side": s, "order_qty": qty[0], "price": px[0]}
        if t is not None:
            values["time_in_force"] = t
            body = f"{body}59={t.value}\x01"
        return body, values
