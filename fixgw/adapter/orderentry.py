"""Order entry for a colocated trading process (adapter).

Every call validates locally (:mod:`fixgw.orders`), passes the client-side rate
limiter, encodes, and sends through QuickFIX; it returns an :class:`~fixgw.orders.Ack`
at once. Nothing reaches the wire when validation fails, the limiter refuses,
or the session is not logged on; in each case the caller gets a precise error
and the ClOrdID stays unused. A plain order made of values the session has
accepted before takes the express lane (:class:`fixgw.fix.fastorder.Lane`): the
same checks answered from memory, the model made once the order is on the wire.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from fixgw.adapter import application, encode
from fixgw.fix import codec, fastorder
from fixgw.errors import OrderError, SessionError
from fixgw.models.fix import (EventResendRequest, NewOrderSingle, OrderCancelReplaceRequest, OrderCancelRequest,
                              OrderGroupAction, OrderGroupRequest, OrderMassCancelRequest,
                              SelfTradePrevention, Side, TimeInForce, subtrader_party)
from fixgw.orders import GROUP_KEY, Ack, new_cl_ord_id
from fixgw.ratelimit import RateLimiter

_SIDES = {"buy": Side.BUY, "yes": Side.BUY, "bid": Side.BUY, "1": Side.BUY,
          "sell": Side.SELL, "no": Side.SELL, "ask": Side.SELL, "2": Side.SELL}
_TIF = {t.name.lower(): t for t in TimeInForce}


def side_of(value) -> Side:
    if isinstance(value, Side):
        return value
    try:
        return _SIDES[str(value).lower()]
    except KeyError:
        raise OrderError(f"side {value!r} must be one of buy/yes/bid or sell/no/ask") from None


def tif_of(value) -> TimeInForce | None:
    if value is None or isinstance(value, TimeInForce):
        return value
    try:
        return _TIF[str(value).lower()]
    except KeyError:
        raise OrderError(f"time_in_force {value!r} must be one of {', '.join(_TIF)}") from None


def decimal_of(name: str, value) -> Decimal:
    if isinstance(value, float):
        raise OrderError(f"{name} {value!r} is a float; pass a Decimal or a string (money is never binary)")
    if value.__class__ is Decimal:
        return value
    try:
        return Decimal(str(value))
    except ArithmeticError:
        raise OrderError(f"{name} {value!r} is not a number") from None


class OrderEntry:
    """Mixed into :class:`fixgw.adapter.gateway.Gateway`."""

    limiter: RateLimiter
    runtimes: dict

    # -- the public calls -------------------------------------------------
    def new_order(self, session: str, symbol: str, side, price, quantity, *, time_in_force=None,
                  expire_time: dt.datetime | None = None, post_only: bool = False, stp=None,
                  subaccount: int | None = None, order_group_id: str | None = None,
                  cancel_on_pause: bool = False, max_cost=None, exchange_index: int | None = None,
                  cl_ord_id: str | None = None, subtrader_id: str | None = None) -> Ack:
        """Send a limit order; ``price`` in dollars (event contracts: the YES price).

        ``subtrader_id`` (FCM members): the sub-trader the order is for, sent as one
        party 453=1, 448=<UUID>, 452=24; its cancels and replaces repeat it.
        """
        cl_ord_id = cl_ord_id or new_cl_ord_id()
        if (expire_time is None and not post_only and stp is None and subaccount is None and order_group_id is None
                and not cancel_on_pause and max_cost is None and exchange_index is None and subtrader_id is None
                and cl_ord_id.__class__ is str):
            sess = self.runtimes.get(session)  # an unknown session: the generic lane says which error comes first
            if sess is not None and sess.registry is not None:
                hit = sess.registry.lane.express(cl_ord_id, symbol, side, price, quantity, time_in_force)
                if hit is not None:
                    return self._express(sess, *hit)
        values = dict(cl_ord_id=cl_ord_id, symbol=symbol, side=side_of(side),
                      order_qty=decimal_of("quantity", quantity), price=decimal_of("price", price))
        # Options left at their defaults are not passed: the model fills them.
        if time_in_force is not None:
            values["time_in_force"] = tif_of(time_in_force)
        if expire_time is not None:
            values["expire_time"] = expire_time
        if post_only:
            values["post_only"] = post_only
        if stp is not None:
            values["stp_type"] = SelfTradePrevention(stp)
        if subaccount is not None:
            values["alloc_account"] = subaccount
        if order_group_id is not None:
            values["order_group_id"] = order_group_id
        if cancel_on_pause:
            values["cancel_order_on_pause"] = cancel_on_pause
        if max_cost is not None:
            values["max_execution_cost"] = decimal_of("max_cost", max_cost)
        if exchange_index is not None:
            values["ex_destination"] = exchange_index
        if subtrader_id is not None:
            values["parties"] = subtrader_party(subtrader_id)
        if fastorder.PLAIN.issuperset(values) and isinstance(values["cl_ord_id"], str) and isinstance(symbol, str):
            # The common order: every value already has its field's exact type (the converters
            # above made them), so pydantic's validator, the costliest step of a cold order
            # path, has nothing to add. Registry.check_new still checks every value.
            req = codec.trusted(NewOrderSingle, values)
        else:
            req = self._build(NewOrderSingle, **values)
        return self._submit(session, req, req.cl_ord_id, lambda reg: reg.check_new(req),
                            lane=fastorder.new_order_body)

    def cancel(self, session: str, cl_ord_id: str, *, new_cl_ord_id_: str | None = None) -> Ack:
        reg = self._registry(session)
        order = reg.resolve_order(cl_ord_id, "cancel")
        req = self._build(OrderCancelRequest, cl_ord_id=new_cl_ord_id_ or new_cl_ord_id(),
                          orig_cl_ord_id=order.cl_ord_id, symbol=order.symbol, side=order.side,
                          order_id=order.order_id, alloc_account=order.alloc_account, parties=order.parties)
        return self._submit(session, req, req.cl_ord_id, lambda r: r.check_cancel(req))

    def replace(self, session: str, cl_ord_id: str, *, quantity, price=None, time_in_force=None,
                expire_time: dt.datetime | None = None, new_cl_ord_id_: str | None = None) -> Ack:
        reg = self._registry(session)
        order = reg.resolve_order(cl_ord_id, "replace")
        req = self._build(OrderCancelReplaceRequest, cl_ord_id=new_cl_ord_id_ or new_cl_ord_id(),
                          orig_cl_ord_id=order.cl_ord_id, symbol=order.symbol, side=order.side,
                          order_qty=decimal_of("quantity", quantity),
                          price=decimal_of("price", price) if price is not None else None,
                          order_id=order.order_id, time_in_force=tif_of(time_in_force),
                          expire_time=expire_time, alloc_account=order.alloc_account, parties=order.parties)
        return self._submit(session, req, req.cl_ord_id, lambda r: r.check_replace(req))

    def mass_cancel(self, session: str, *, subaccount: int | None = None) -> Ack:
        req = OrderMassCancelRequest(cl_ord_id=new_cl_ord_id(), alloc_account=subaccount)
        return self._submit(session, req, req.cl_ord_id, lambda r: r.check_mass_cancel(req), mass=True)

    def order_group(self, session: str, action, *, order_group_id: str | None = None,
                    contracts_limit: int | None = None, subaccount: int | None = None) -> Ack:
        """Create/reset/delete/trigger/update an order group; the ack is the OrderGroupResponse."""
        try:
            act = action if isinstance(action, OrderGroupAction) else OrderGroupAction[str(action).upper()]
        except KeyError:
            raise OrderError(f"order group action {action!r} must be one of "
                             f"{', '.join(a.name.lower() for a in OrderGroupAction)}") from None
        req = self._build(OrderGroupRequest, action=act, order_group_id=order_group_id,
                          contracts_limit=contracts_limit, alloc_account=subaccount)
        return self._submit(session, req, GROUP_KEY, lambda r: r.check_group(req))

    def event_resend(self, session: str, begin_exec_id: str, end_exec_id: str | None = None) -> None:
        """Send EventResendRequest (U1) on a KalshiDC session; answers arrive as events."""
        sess = self.runtime(session)
        if sess.config.type.value != "DC":
            raise OrderError(f"{session}: EventResendRequest goes to a KalshiDC session")
        msg_type, pairs = codec.encode(EventResendRequest(begin_exec_id=begin_exec_id, end_exec_id=end_exec_id),
                                        sess.units)
        fix_session = self._logged_on(sess)
        if not fix_session.send(encode.to_message(msg_type, pairs, sess.config.product.value)):
            raise SessionError(session, "QuickFIX did not send 35=U1")

    # -- plumbing ---------------------------------------------------------
    @staticmethod
    def _build(cls, **values):
        try:
            return cls(**values)
        except ValueError as e:  # pydantic names the field
            raise OrderError(f"{cls.__name__}: {e.errors()[0]['loc'][0]}: {e.errors()[0]['msg']}"
                             if hasattr(e, "errors") else str(e)) from None

    def _bind(self, sess):
        sess.fix_session = self._session(sess.config.name)
        return sess.fix_session

    def _registry(self, session: str):
        sess = self.runtime(session)
        if sess.registry is None:
            raise OrderError(f"{session}: not an order-entry session")
        return sess.registry

    def _express(self, sess, body: str, values: dict) -> Ack:
        """Send a plain order the session's lane checked (:class:`fixgw.fix.fastorder.Lane`): the generic
        lane's steps in its order, minus the model, which is made once the order is on the wire."""
        reg, key = sess.registry, values["cl_ord_id"]
        reg.fresh_id(key)
        fix_session = self._logged_on(sess)
        self.limiter.acquire(f"{sess.config.name} 35=D")
        message = encode.scratch_flat_body("D", body)
        ack = reg.register_plain(key, values["symbol"], values["side"])
        self._send(sess, "D", key, fix_session, message)
        ack.request = codec.trusted(NewOrderSingle, values)  # while the order is on the wire
        return ack

    def _submit(self, session: str, req, key: str, check, mass: bool = False, lane=None) -> Ack:
        sess = self.runtime(session)  # one lookup: the registry is the runtime's
        reg = sess.registry
        if reg is None:
            raise OrderError(f"{session}: not an order-entry session")
        check(reg)
        body = lane(req, sess.units) if lane is not None else None  # a plain order's text, written directly
        if body is None:
            msg_type, pairs = codec.encode(req, sess.units)
        else:  # checked and encoded: the next order with these values takes the express lane
            msg_type, pairs = "D", ()
            reg.lane.learn(req)
        if key == GROUP_KEY and reg.has_pending(key):
            raise OrderError(f"{session}: an order group request is still waiting for its answer")
        fix_session = self._logged_on(sess)
        self.limiter.acquire(f"{session} 35={msg_type}", mass_cancel=mass)
        message = (encode.to_message(msg_type, pairs, sess.config.product.value) if body is None
                   else encode.scratch_flat_body(msg_type, body))
        ack = reg.register(key, req)
        self._send(sess, msg_type, key, fix_session, message)
        return ack

    def _logged_on(self, sess):
        """The session's quickfix.Session, or SessionError if it is not logged on."""
        fix_session = sess.fix_session or self._bind(sess)
        if fix_session is None or not fix_session.isLoggedOn():
            raise SessionError(sess.config.name, "not logged on; nothing was sent")
        return fix_session

    @staticmethod
    def _send(sess, msg_type: str, key: str, fix_session, message) -> None:
        """Hand a registered request to QuickFIX, telling ``toApp`` what it is; if QuickFIX does not
        send it, the registration is undone and SessionError says so."""
        application.sending(sess, msg_type, key, fix_session)
        try:
            ok = fix_session.send(message)
        finally:
            application.sent()
        if not ok:
            sess.registry.unregister(key)
            raise SessionError(sess.config.name, f"QuickFIX did not send 35={msg_type}; nothing was sent")
