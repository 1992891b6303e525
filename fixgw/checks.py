"""Pre-trade checks: what an order request may be, before a byte is sent (pure core).

Prices and quantities (via :mod:`fixgw.pricing`), the configured limits
(:class:`Limits`: quantity, notional, symbol length), ClOrdID shape and reuse,
time-in-force rules, subaccounts, order groups, FCM parties, and cancels and
replaces of orders this gateway does not know or no longer holds open.
:class:`Checks` is the part of :class:`fixgw.orders.Registry` that answers
these questions from the registry's own tables; every failure is an
:class:`fixgw.errors.OrderError` that names the value and the rule.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from fixgw.errors import OrderError
from fixgw.models.fix import (NewOrderSingle, OrderCancelReplaceRequest, OrderCancelRequest, OrderGroupRequest,
                              OrderMassCancelRequest, Side, TimeInForce)
from fixgw.pricing import Units, validate_order_price, validate_quantity

if TYPE_CHECKING:
    from fixgw.orders import Tracked

CL_ORD_ID = re.compile(r"[-A-Za-z0-9_:+=/]{1,64}")  # whole string (fullmatch): ASCII, no trailing newline
_BAD_SYMBOL = re.compile("[\x01|= ]")  # SOH, and what would break a FIX or log line
MAX_SUBACCOUNT = 63


@dataclass(frozen=True)
class Limits:
    """What one order may be; ``[limits]`` in the config (:class:`fixgw.config.LimitsConfig`)."""

    max_quantity: Decimal = Decimal(1_000_000)  # contracts
    max_notional: Decimal = Decimal(1_000_000)  # dollars the order costs at its limit price
    max_symbol_length: int = 128


@dataclass(frozen=True)
class SessionCaps:
    name: str
    product: str
    units: Units
    order_entry: bool  # NR/RT and not a listener
    mass_cancel: bool  # NR only
    limits: Limits = Limits()


class Checks:
    """The registry's checks of a request; the :class:`fixgw.orders.Registry` they are mixed
    into provides ``caps``, ``_orders`` (open orders by ClOrdID), ``_used`` (ClOrdIDs of
    finished orders and mass cancels) and ``_lock`` (which guards both)."""

    caps: SessionCaps
    _orders: dict[str, "Tracked"]
    _used: set[str]
    _lock: threading.Lock

    def _writable(self, what: str) -> None:
        if not self.caps.order_entry:
            raise OrderError(f"{self.caps.name}: {what} is not possible on this session "
                             "(drop copy or listener sessions are read-only)")

    def fresh_id(self, cl_ord_id: str) -> None:
        if not CL_ORD_ID.fullmatch(cl_ord_id):
            raise OrderError(f"ClOrdID {cl_ord_id!r} must be 1-64 characters of letters, digits and -_:+=/")
        self._unused(cl_ord_id)

    def _unused(self, cl_ord_id: str) -> None:
        """Not the ClOrdID of an order or request this session already has (the registry asks again
        under its lock when registering: two callers may both pass here before either registers)."""
        if cl_ord_id in self._orders or cl_ord_id in self._used:
            raise OrderError(f"ClOrdID {cl_ord_id!r} was already used on {self.caps.name}")

    def check_new(self, req: NewOrderSingle) -> None:
        self._writable("order entry")
        self.fresh_id(req.cl_ord_id)
        longest = self.caps.limits.max_symbol_length
        if len(req.symbol) > longest:
            raise OrderError(f"symbol is {len(req.symbol)} characters ({req.symbol[:20]!r}...); the limit is "
                             f"{longest} (limits.max_symbol_length)")
        if not req.symbol or _BAD_SYMBOL.search(req.symbol):
            raise OrderError(f"symbol {req.symbol!r} is not a market ticker")
        validate_order_price(req.price, self.caps.product, self.caps.units)
        validate_quantity(req.order_qty)
        self._within_limits(req.side, req.price, req.order_qty)
        tif = req.time_in_force
        if tif is TimeInForce.GTD:
            if req.expire_time is None:
                raise OrderError("time_in_force GTD needs expire_time")
            if req.expire_time <= dt.datetime.now(dt.timezone.utc):
                raise OrderError(f"expire_time {req.expire_time.isoformat()} is in the past")
        elif req.expire_time is not None:
            raise OrderError("expire_time is only valid with time_in_force GTD")
        if req.post_only and tif in (TimeInForce.IOC, TimeInForce.FOK):
            raise OrderError(f"post_only orders must rest; time_in_force {tif.name} never rests")
        if req.alloc_account is not None:
            self._subaccount(req.alloc_account)
        if req.order_group_id is not None:
            _uuid("order_group_id", req.order_group_id)
        if req.parties:
            if len(req.parties) != 1 or req.parties[0].role != 24:
                raise OrderError("an FCM order carries exactly one party, the sub-trader (452=24)")
            _uuid("subtrader_id", req.parties[0].party_id)
        if req.ex_destination is not None and (self.caps.product != "event" or req.ex_destination < -1):
            raise OrderError("exchange_index (100) is an event-contract option: -1 or a shard number >= 0")
        if req.max_execution_cost is not None:
            if self.caps.product != "event":
                raise OrderError("max_execution_cost is an event-contract option")
            if req.max_execution_cost <= 0 or req.max_execution_cost.as_tuple().exponent < -4:
                raise OrderError(f"max_execution_cost {req.max_execution_cost} must be positive dollars (4 dp)")

    def _within_limits(self, side, price: Decimal | None, qty: Decimal) -> None:
        limits = self.caps.limits
        if qty > limits.max_quantity:
            raise OrderError(f"quantity {qty} is above the limit of {limits.max_quantity} contracts per order "
                             "(limits.max_quantity)")
        if price is None:
            return
        # What the order costs at its limit price: event contracts pay the YES price to buy and
        # 1 - price (the NO price) to sell; margin contracts are priced in dollars.
        each = 1 - price if self.caps.product == "event" and side is Side.SELL else price
        cost = qty * each
        if cost > limits.max_notional:
            raise OrderError(f"order notional ${cost} ({qty} x ${each}) is above the limit of "
                             f"${limits.max_notional} per order (limits.max_notional)")

    @staticmethod
    def _subaccount(n: int | None) -> None:
        if n is not None and not 0 <= n <= MAX_SUBACCOUNT:
            raise OrderError(f"subaccount {n} is outside 0-{MAX_SUBACCOUNT}")

    def resolve_order(self, cl_ord_id: str, what: str) -> Tracked:
        """The open order ``cl_ord_id`` names (a cancel or replace is built from it). Read under the
        registry's lock: an answer resolves its ack before it updates the order, under that lock, so
        a caller the answer woke reads the order as the answer left it."""
        with self._lock:
            order = self._orders.get(cl_ord_id)
            used = order is None and cl_ord_id in self._used
        if order is None:
            if used:
                raise OrderError(f"{what} of order {cl_ord_id!r}: it is no longer open")
            raise OrderError(f"{what} of unknown order {cl_ord_id!r}: this gateway never sent it")
        return order

    def check_replace(self, req: OrderCancelReplaceRequest) -> None:
        self._writable("cancel/replace")
        order = self.resolve_order(req.orig_cl_ord_id, "replace")
        self.fresh_id(req.cl_ord_id)
        if (req.symbol, req.side) != (order.symbol, order.side):
            raise OrderError("replace must keep the order's symbol and side")
        if req.price is not None:
            validate_order_price(req.price, self.caps.product, self.caps.units)
        validate_quantity(req.order_qty)
        self._within_limits(req.side, req.price, req.order_qty)

    def check_cancel(self, req: OrderCancelRequest) -> None:
        self._writable("cancel")
        self.resolve_order(req.orig_cl_ord_id, "cancel")
        self.fresh_id(req.cl_ord_id)

    def check_mass_cancel(self, req: OrderMassCancelRequest) -> None:
        self._writable("mass cancel")
        if not self.caps.mass_cancel:
            raise OrderError(f"{self.caps.name}: Kalshi accepts OrderMassCancelRequest on KalshiNR only")
        self.fresh_id(req.cl_ord_id)
        self._subaccount(req.alloc_account)

    def check_group(self, req: OrderGroupRequest) -> None:
        self._writable("order groups")
        from fixgw.models.fix import OrderGroupAction as A
        if req.action is A.CREATE:
            if req.order_group_id is not None:
                raise OrderError("order group create: the exchange assigns the id; do not pass one")
        elif req.order_group_id is None:
            raise OrderError(f"order group {req.action.name.lower()}: order_group_id is required")
        else:
            _uuid("order_group_id", req.order_group_id)
        if req.action in (A.CREATE, A.UPDATE):
            if req.contracts_limit is None or not 1 <= req.contracts_limit <= 1_000_000:
                raise OrderError("contracts_limit must be 1-1,000,000 for create/update")
        self._subaccount(req.alloc_account)


def _uuid(name: str, value: str) -> None:
    try:
        uuid.UUID(value)
    except ValueError:
        raise OrderError(f"{name} {value!r} is not a UUID") from None
