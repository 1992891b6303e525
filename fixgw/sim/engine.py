"""The simulator's matching engine for one product (pure core, no quickfix).

It is the independent oracle the gateway is tested against, so it knows
nothing of the gateway's translation or position code. Each request is one
matching batch (one ExecID clock tick) and returns every message it causes,
addressed to the session that should receive it: the requester gets its
answers, a resting order's owner hears about its own fills and cancels, and
each report is worded by the flags of the session that receives it.
"""

from __future__ import annotations

import datetime as dt
import itertools
import time
import uuid
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Callable

from fixgw.models.fix import (CollateralChange, ExecType, MiscFee, NewOrderSingle, OrdStatus,
                              OrderCancelReplaceRequest, OrderCancelRequest, OrderGroupRequest,
                              OrderMassCancelRequest, SelfTradePrevention, Side, TimeInForce)
from fixgw.models.fix import subtrader_of
from fixgw.sim import fcm
from fixgw.sim.book import TICK, Book, Flags, Order, day_end, fillable, on_tick, taker_fee, valid_qty
from fixgw.sim.cash import Cash
from fixgw.sim.groups import Group, Groups
from fixgw.sim.ledger import Applied, Ledger, Payout
from fixgw.sim.reports import (PENDING, ExecIds, Out, TradeValue, cancel_reject, fold_cancel, mass_cancel_report,
                               order_report, reject_report, settlement_report)

__all__ = ["Engine", "Flags", "Out"]

ZERO = Decimal(0)
MASS_CANCEL_INTERVAL = 1.0  # seconds between accepted mass cancels per account
MAX_SUBACCOUNT = 63
IMMEDIATE = (TimeInForce.IOC, TimeInForce.FOK)


class Engine:
    def __init__(self, product: str, *, clock: Callable[[], float] = time.time,
                 markets: set[str] | None = None, exchange_index: int = 0) -> None:
        self.product = str(product)
        if self.product not in ("event", "margin"):
            raise ValueError(f"unknown product {product!r}")
        self.clock = clock
        self.markets = markets
        self.exchange_index = exchange_index
        self.ledger = Ledger(self.product, exchange_index)
        self.cash = Cash()  # every BALANCE/PAYOUT change reported, per owner
        self.fcm: dict[str, frozenset[str]] = {}  # FCM member account -> its sub-traders
        self.books: dict[str, Book] = {}
        self.orders: dict[str, Order] = {}  # every accepted order, by OrderID
        self.resting: dict[str, Order] = {}  # the orders in a book, by OrderID
        self.groups = Groups()
        self.closed: set[str] = set()
        self._by_cl: dict[tuple[str, str], Order] = {}  # (account, any ClOrdID it ever had)
        self._ids = ExecIds(exchange_index)
        self._seq = itertools.count(1)
        self._last_mass: dict[str, float] = {}
        self._t = 0.0
        self._now = dt.datetime.fromtimestamp(0, dt.timezone.utc)

    # ------------------------------------------------------------ requests
    def new_order(self, account: str, session: str | None, req: NewOrderSingle, flags: Flags) -> list[Out]:
        now = self._begin()
        rejected = self._check_new(account, req, flags)
        if rejected:  # the client's own price is echoed only if the session's units can carry it
            return [Out(account, session, reject_report(req, *rejected, now,
                                                        echo_price=on_tick(self.product, req.price, flags)))]
        tif = req.time_in_force
        expire_at = req.expire_time if tif is TimeInForce.GTD else day_end(now) if tif is TimeInForce.DAY else None
        order = Order(order_id=str(uuid.uuid4()), account=account, session=session, flags=flags,
                      cl_ord_id=req.cl_ord_id, symbol=req.symbol, side=req.side, price=req.price,
                      requested_qty=req.order_qty, leaves=req.order_qty, seq=next(self._seq), tif=tif,
                      expire_at=expire_at, post_only=req.post_only, stp=req.stp_type,
                      subaccount=req.alloc_account or 0, alloc_account=req.alloc_account,
                      group_id=req.order_group_id, parties=req.parties)
        self.orders[order.order_id] = order
        self._by_cl[(account, order.cl_ord_id)] = order
        outs: list[Out] = []
        if not flags.skip_pending:
            self._report(outs, order, ExecType.PENDING_NEW, OrdStatus.PENDING_NEW, pending=True)
        past_gtd = expire_at is not None and expire_at <= now  # a GTD already past acts as IOC
        self._enter(order, outs, immediate=tif in IMMEDIATE or past_gtd)
        return outs

    def cancel(self, account: str, session: str | None, req: OrderCancelRequest, flags: Flags) -> list[Out]:
        self._begin()
        order, rejected = self._find(account, req)
        if rejected:
            return [Out(account, session, rejected)]
        old = self._take_over(order, session, flags, req.cl_ord_id)
        outs: list[Out] = []
        if not flags.skip_pending:
            self._report(outs, order, ExecType.PENDING_CANCEL, OrdStatus.PENDING_CANCEL, pending=True, orig=old)
        self._kill(outs, order, None, orig=old)
        return outs

    def replace(self, account: str, session: str | None, req: OrderCancelReplaceRequest,
                flags: Flags) -> list[Out]:
        self._begin()
        order, rejected = self._find(account, req)
        if rejected:
            return [Out(account, session, rejected)]
        price = order.price if req.price is None else req.price
        problem = None
        if not valid_qty(req.order_qty):
            problem = (99, "INVALID_ORDER")
        elif not on_tick(self.product, price, flags):
            problem = (18, "INVALID_ORDER")
        elif req.order_qty < order.cum:
            problem = (2, "INVALID_AMEND_QTY_FOR_ORDER")
        elif any(o.account == account for o in self._book(order.symbol).crossing(order.side, price)):
            problem = (18, "SELF_CROSS_ATTEMPT")
        if problem:
            return [Out(account, session, cancel_reject(req, order, *problem))]
        old = self._take_over(order, session, flags, req.cl_ord_id)
        outs: list[Out] = []
        if not flags.skip_pending:
            self._report(outs, order, ExecType.PENDING_REPLACE, OrdStatus.PENDING_REPLACE, pending=True,
                         orig=old)
        if req.order_qty == order.cum:  # nothing left to trade: the amend cancels the order
            self._kill(outs, order, None, orig=old)
            return outs
        # Only a smaller quantity at the same price keeps the order's place in the queue.
        requeue = price != order.price or req.order_qty > order.cum + order.leaves
        if requeue:
            self._unrest(order)
            order.seq = next(self._seq)
        order.price, order.requested_qty, order.leaves = price, req.order_qty, req.order_qty - order.cum
        self._report(outs, order, ExecType.REPLACED, OrdStatus.REPLACED, orig=old)
        order.status = OrdStatus.PARTIALLY_FILLED if order.cum else OrdStatus.NEW
        if requeue:
            self._enter(order, outs, immediate=False)
        return outs

    def mass_cancel(self, account: str, session: str | None, req: OrderMassCancelRequest,
                    flags: Flags) -> list[Out]:
        self._begin()

        def answer(response: int, total: int | None = None, reason: int | None = None,
                   text: str | None = None) -> Out:
            return Out(account, session, mass_cancel_report(req, response, total, reason, text))

        last = self._last_mass.get(account)
        if last is not None and self._t - last < MASS_CANCEL_INTERVAL:
            return [answer(0, reason=99, text="TOO_MANY_REQUESTS")]
        if req.mass_cancel_request_type != 6:
            return [answer(0, reason=0, text="UNSUPPORTED_MASS_CANCEL_REQUEST_TYPE")]
        self._last_mass[account] = self._t
        victims = [o for o in self._resting_of(account)
                   if req.alloc_account is None or o.subaccount == req.alloc_account]
        outs = [answer(6, total=len(victims))]
        for o in victims:
            self._kill(outs, o, None)
        return outs

    def order_group(self, account: str, session: str | None, req: OrderGroupRequest,
                    flags: Flags) -> list[Out]:
        self._begin()
        reply, doomed = self.groups.request(account, req, self._t)
        outs = [Out(account, session, reply)]
        if doomed is not None:
            self._cancel_group(doomed, outs)
        return outs

    def disconnect(self, account: str, session: str | None, flags: Flags) -> list[Out]:
        """8013: a session that asked for it loses its resting orders when it goes away."""
        self._begin()
        outs: list[Out] = []
        if flags.cancel_on_disconnect:
            for o in self._resting_of(account):
                if o.session == session:
                    self._kill(outs, o, None)
        return outs

    def expire(self) -> list[Out]:
        """Cancel GTD/Day orders whose time has come (150=C instead of 4 for sessions with 21012)."""
        now = self._begin()
        outs: list[Out] = []
        for o in sorted(self.resting.values(), key=lambda o: o.seq):
            if o.expire_at is not None and o.expire_at <= now:
                self._kill(outs, o, None, expiry=True)
        return outs

    def settle(self, symbol: str, result: str, value: Decimal | None = None) -> list[Out]:
        """Close an event market: resting orders expire, then one UMS per account that held contracts."""
        if self.product != "event":
            raise ValueError("margin markets do not settle")
        if result not in ("yes", "no", "scalar") or (result == "scalar") != (value is not None):
            raise ValueError("result is yes or no, or scalar with the value of one YES contract")
        now = self._begin()
        outs: list[Out] = []
        for o in sorted(self.resting.values(), key=lambda o: o.seq):
            if o.symbol == symbol:
                self._kill(outs, o, None, expiry=True)
        self.closed.add(symbol)
        payouts = self.ledger.settle(symbol, result, value)
        price = value if value is not None else (Decimal(1) if result == "yes" else ZERO)
        accounts: dict[str, list[tuple[str, Payout]]] = {}
        for name, rows in payouts.items():  # ledger owners -> (account, party id)
            account, _, subtrader = name.partition("/")
            for p in rows:
                party = subtrader or (account if p.subaccount == 0 else f"{account}:{p.subaccount}")
                accounts.setdefault(account, []).append((party, p))
                self.cash.credit(name, p.payout, now)
        for account, rows in accounts.items():
            outs.append(Out(account, None, settlement_report(symbol, result, price, now, rows)))
        return outs

    # ------------------------------------------------------------ matching
    def _enter(self, order: Order, outs: list[Out], *, immediate: bool) -> None:
        """Match an arriving (or re-priced) order, then rest it or cancel what is left."""
        book = self._book(order.symbol)
        reach = book.crossing(order.side, order.price)
        if order.post_only and reach:
            return self._kill(outs, order, "POST_ONLY_CROSS")
        if order.tif is TimeInForce.FOK and fillable(order, reach) < order.leaves:
            return self._kill(outs, order, "FOK_INSUFFICIENT_VOLUME")
        if order.flags.always_new and not order.acked:
            self._report(outs, order, ExecType.NEW, OrdStatus.NEW)
            order.acked = True
        stop = self._match(order, book, reach, outs)
        if order.leaves == 0:
            return None
        if stop:
            self._kill(outs, order, stop)
        elif immediate:
            if order.flags.ioc_cancel_report or order.cum == 0:
                self._kill(outs, order, "IMMEDIATE_OR_CANCELLED")
            else:  # the last Trade report already says the rest is gone
                order.leaves, order.status = ZERO, OrdStatus.CANCELED
                fold_cancel(outs, order)
        else:
            book.add(order)
            self.resting[order.order_id] = order
            if not order.acked:
                self._report(outs, order, ExecType.NEW, OrdStatus.NEW)
                order.acked = True
        return None

    def _match(self, order: Order, book: Book, reach: list[Order], outs: list[Out]) -> str | None:
        """Trade down the book; return a Text if the incoming order's remainder must be canceled."""
        for maker in reach:
            if order.leaves == 0:
                break
            if maker.order_id not in self.resting:  # canceled by a group trigger mid-batch
                continue
            if maker.owner == order.owner:  # an FCM's sub-traders are separate customers
                if order.stp is SelfTradePrevention.MAKER:
                    self._kill(outs, maker, "MAKER_CANCEL_FOR_SELF_TRADE_PREVENTION")
                    continue
                return "TAKER_CANCEL_FOR_SELF_TRADE_PREVENTION"
            if self._trade(order, maker, min(order.leaves, maker.leaves), outs):
                return "ORDER_GROUP_CANCEL"
        return None

    def _trade(self, taker: Order, maker: Order, qty: Decimal, outs: list[Out]) -> bool:
        """One print at the maker's price; returns True if it tripped the taker's order group."""
        px, match_id = maker.price, str(uuid.uuid4())
        for o in (taker, maker):
            o.fill(qty, px)
        if maker.leaves == 0:
            self._unrest(maker)
        for o, is_taker in ((taker, True), (maker, False)):
            fee = taker_fee(self.product, qty, px) if is_taker else ZERO
            applied = self.ledger.record(o.owner, o.subaccount, o.symbol, order_id=o.order_id,
                                         trade_id=match_id, side=o.side, qty=qty, price=px, fee=fee,
                                         is_taker=is_taker, when=self._now)
            pos, cash = applied.position, self._balance(o.side, qty, px, fee, applied)
            self.cash.credit(o.owner, cash, self._now)
            self._report(outs, o, ExecType.TRADE, o.status, last_px=px, last_qty=qty, trd_match_id=match_id,
                         aggressor=is_taker, long_qty=max(pos, ZERO), short_qty=max(-pos, ZERO),
                         fees=(MiscFee(amount=fee, currency="USD", fee_type="4", basis=0),),
                         collateral=(CollateralChange(amount=cash, kind="BALANCE"),))
            o.acked = True
        tripped = False
        for o in (maker, taker):
            if o.group_id is None:
                continue
            group = self.groups.record_fill(o.account, o.group_id, qty, self._t)
            if group is not None:
                self._cancel_group(group, outs)
                tripped = tripped or o is taker
        return tripped

    def _balance(self, side: Side, qty: Decimal, px: Decimal, fee: Decimal, applied: Applied) -> Decimal:
        """Cash moved by one fill: event pays the side's price and gets $1 per YES+NO pair redeemed;
        margin moves realized PnL less fees, rounded half-even to the 4 dp a 1704 amount carries (an
        entry price averaged to 6 dp gives a 6-dp PnL)."""
        if self.product == "event":
            own = px if side is Side.BUY else 1 - px
            return -(qty * own) - fee + applied.netted
        return (applied.realized - fee).quantize(TICK, ROUND_HALF_EVEN)

    # ------------------------------------------------------------ helpers
    def _begin(self) -> dt.datetime:
        """Start a matching batch: one clock tick, one timestamp (ms) for all it reports."""
        self._ids.batch()
        self._t = float(self.clock())
        t = dt.datetime.fromtimestamp(self._t, dt.timezone.utc)
        self._now = t.replace(microsecond=t.microsecond // 1000 * 1000)
        return self._now

    def _book(self, symbol: str) -> Book:
        return self.books.setdefault(symbol, Book())

    def _report(self, outs: list[Out], order: Order, exec_type: ExecType, status: OrdStatus, *,
                pending: bool = False, why: str | None = None, orig: str | None = None, text: str | None = None,
                **trade: TradeValue) -> None:
        exec_id = PENDING if pending else self._ids.next()
        outs.append(Out(order.account, order.session, order_report(
            order, order.flags, exec_id, exec_type, status, self._now, last_mkt=self.exchange_index, orig=orig,
            text=text, **trade)))
        self.ledger.order_event(order, exec_type, why or text, self._now, pending)

    def _kill(self, outs: list[Out], order: Order, text: str | None, *, orig: str | None = None,
              expiry: bool = False) -> None:
        """Take what is left of an order off the market and say so (150=4, or C for 21012 expiries)."""
        self._unrest(order)
        order.leaves = ZERO
        kind = (ExecType.EXPIRED, OrdStatus.EXPIRED) if expiry and order.flags.use_expired else (
            ExecType.CANCELED, OrdStatus.CANCELED)
        order.status = kind[1]
        self._report(outs, order, *kind, orig=orig, text=text, why="expiry" if expiry else None)

    def _unrest(self, order: Order) -> None:
        if self.resting.pop(order.order_id, None) is not None:
            self._book(order.symbol).remove(order)

    def _resting_of(self, account: str) -> list[Order]:
        return sorted((o for o in self.resting.values() if o.account == account), key=lambda o: o.seq)

    def _cancel_group(self, group: Group, outs: list[Out]) -> None:
        for o in self._resting_of(group.account):
            if o.group_id == group.group_id:
                self._kill(outs, o, "ORDER_GROUP_CANCEL")

    def _open_cl(self, account: str, cl_ord_id: str) -> bool:
        o = self._by_cl.get((account, cl_ord_id))
        return o is not None and o.live

    def _take_over(self, order: Order, session: str | None, flags: Flags, cl_ord_id: str) -> str:
        """The session that last changed an order owns its later reports; returns the old ClOrdID."""
        old = order.cl_ord_id
        order.session, order.flags, order.cl_ord_id = session, flags, cl_ord_id
        self._by_cl[(order.account, cl_ord_id)] = order
        return old

    def _check_new(self, account: str, req: NewOrderSingle, flags: Flags) -> tuple[int, str] | None:
        if self.markets is not None and req.symbol not in self.markets:
            return 1, "MARKET_NOT_FOUND"
        if req.symbol in self.closed:
            return 2, "MARKET_ALREADY_CLOSED"
        if req.alloc_account is not None and not 0 <= req.alloc_account <= MAX_SUBACCOUNT:
            return 15, "CUSTOMER_ACCOUNT_NOT_FOUND"
        refused = fcm.check(self.fcm, account, req.parties)
        if refused:
            return refused
        if not on_tick(self.product, req.price, flags):  # off the grid, or sub-cent on a cents session
            return 11, "INVALID_ORDER"
        if not valid_qty(req.order_qty):
            return 13, "INVALID_ORDER"
        if req.time_in_force is TimeInForce.GTD and req.expire_time is None:
            return 11, "INVALID_ORDER"
        if self._open_cl(account, req.cl_ord_id):
            return 6, "ORDER_ALREADY_EXISTS"
        if req.order_group_id is not None:
            group = self.groups.find(account, req.order_group_id, req.alloc_account)
            if group is None:
                return 11, "ORDER_GROUP_NOT_FOUND"
            if group.blocked:
                return 3, "EXCEEDED_ORDER_GROUP_RISK_LIMIT"
        return None

    def _find(self, account: str, req: OrderCancelRequest | OrderCancelReplaceRequest):
        """The live order a cancel/replace names, or the OrderCancelReject to answer with."""
        order = self._by_cl.get((account, req.orig_cl_ord_id))
        if order is None or order.cl_ord_id != req.orig_cl_ord_id or order.symbol != req.symbol \
                or order.side != req.side or (req.order_id not in (None, order.order_id)) \
                or (req.alloc_account or 0) != order.subaccount or subtrader_of(req.parties) != order.subtrader:
            return None, cancel_reject(req, order, 1, "UNKNOWN_ORDER")
        if order.status is OrdStatus.FILLED:
            if isinstance(req, OrderCancelReplaceRequest):
                return None, cancel_reject(req, order, 2, "CANNOT_UPDATE_FILLED_ORDER")
            return None, cancel_reject(req, order, 0, "TOO_LATE_TO_CANCEL")
        if not order.live:
            return None, cancel_reject(req, order, 1, "UNKNOWN_ORDER")
        if self._open_cl(account, req.cl_ord_id):
            return None, cancel_reject(req, order, 99, "ORDER_ALREADY_EXISTS")
        return order, None

