"""ExecID allocation and the shapes of the simulator's outbound messages (pure core).

Kept apart from matching so that "what happened" (engine) and "how Kalshi
words it to a session with these Logon flags" (here) can be read separately.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal

from fixgw.models.fix import (CollateralChange, ExecType, ExecutionReport, MarketSettlementReport, MiscFee,
                              NewOrderSingle, OrdStatus, OrderCancelReject, OrderCancelReplaceRequest,
                              OrderCancelRequest, OrderMassCancelReport, OrderMassCancelRequest, Received,
                              SettlementParty)
from fixgw.pricing import places
from fixgw.sim.book import ET, Flags, Order
from fixgw.sim.ledger import Payout

PENDING = "-1;-1"  # Kalshi's ExecID on pending reports (and on rejects, which have none)
NO_ORDER = "NONE"  # OrderID(37) when there is no order to name

# The value of one trade field of an ExecutionReport (last_px, trd_match_id, aggressor, fees, ...).
TradeValue = Decimal | str | bool | tuple[MiscFee, ...] | tuple[CollateralChange, ...]


@dataclass(frozen=True)
class Out:
    """One message for one session of one account (``session=None``: account-wide)."""

    account: str
    session: str | None
    message: Received  # every message the exchange sends is one


class ExecIds:
    """``clock;event[;index]``: clock counts matching batches, event counts reports.

    Both only grow, so ExecIDs compared as integer tuples increase strictly in
    the order reports are produced, which is what drop-copy resend relies on.
    """

    def __init__(self, exchange_index: int = 0) -> None:
        self.index = exchange_index
        self.clock = 0
        self.event = 0

    def batch(self) -> None:
        self.clock += 1

    def next(self) -> str:
        self.event += 1
        tail = f";{self.index}" if self.index else ""
        return f"{self.clock};{self.event}{tail}"


def order_report(order: Order, flags: Flags, exec_id: str, exec_type: ExecType, status: OrdStatus,
                 now: dt.datetime, *, last_mkt: int, orig: str | None = None, text: str | None = None,
                 **trade: TradeValue) -> ExecutionReport:
    """An ExecutionReport from the order's current state, as ``flags`` want it worded."""
    qty = order.requested_qty if flags.preserve_qty else order.cum + order.leaves
    return ExecutionReport(
        order_id=order.order_id, exec_id=exec_id, exec_type=exec_type, ord_status=status,
        side=order.side, symbol=order.symbol, cum_qty=order.cum, leaves_qty=order.leaves,
        cl_ord_id=order.cl_ord_id, orig_cl_ord_id=orig, order_qty=qty, price=order.price,
        avg_px=order.avg_px, last_mkt=None if exec_id == PENDING else last_mkt,
        time_in_force=order.tif, expire_time=order.expire_at,
        exec_inst="6" if order.post_only else None, transact_time=now, text=text,
        alloc_account=order.alloc_account, order_group_id=order.group_id,
        stp_type=int(order.stp) if order.stp is not None else None, parties=order.parties, **trade)


def reject_report(req: NewOrderSingle, reason: int, text: str, now: dt.datetime, *,
                  echo_price: bool = True) -> ExecutionReport:
    """150=8/39=8: the order never existed, so there is no OrderID and no ExecID; AvgPx(6) is 0.

    ``echo_price``: False when the client's price is off the tick or beyond what the
    session's units can write; Price(44) is then left out rather than rewritten, and
    so is an OrderQty(38) finer than the 0.01 contract a report can carry."""
    qty = req.order_qty if req.order_qty.is_finite() and places(req.order_qty) <= 2 else None
    return ExecutionReport(
        order_id=NO_ORDER, exec_id=PENDING, exec_type=ExecType.REJECTED, ord_status=OrdStatus.REJECTED,
        side=req.side, symbol=req.symbol, cum_qty=Decimal(0), leaves_qty=Decimal(0), avg_px=Decimal(0),
        cl_ord_id=req.cl_ord_id, order_qty=qty, price=req.price if echo_price else None,
        time_in_force=req.time_in_force, transact_time=now, ord_rej_reason=reason, text=text,
        alloc_account=req.alloc_account, order_group_id=req.order_group_id,
        stp_type=int(req.stp_type) if req.stp_type is not None else None, parties=req.parties)


def cancel_reject(req: OrderCancelRequest | OrderCancelReplaceRequest, order: Order | None,
                  reason: int, text: str) -> OrderCancelReject:
    """35=9, never an ExecutionReport: 434 says whether a cancel (1) or a replace (2) failed."""
    return OrderCancelReject(
        order_id=order.order_id if order else NO_ORDER, cl_ord_id=req.cl_ord_id,
        ord_status=order.status if order else OrdStatus.REJECTED, orig_cl_ord_id=req.orig_cl_ord_id,
        response_to=2 if isinstance(req, OrderCancelReplaceRequest) else 1, reason=reason, text=text,
        alloc_account=req.alloc_account)


def fold_cancel(outs: list[Out], order: Order) -> None:
    """Rewrite the order's last Trade report to show its IOC remainder canceled (sessions without 21007)."""
    for i in range(len(outs) - 1, -1, -1):
        m = outs[i].message
        if isinstance(m, ExecutionReport) and m.order_id == order.order_id and m.exec_type is ExecType.TRADE:
            qty = order.requested_qty if order.flags.preserve_qty else order.cum
            outs[i] = Out(outs[i].account, outs[i].session, m.model_copy(update={
                "leaves_qty": Decimal(0), "ord_status": OrdStatus.CANCELED, "order_qty": qty}))
            return


def mass_cancel_report(req: OrderMassCancelRequest, response: int, total: int | None, reason: int | None,
                       text: str | None) -> OrderMassCancelReport:
    """35=r: ``response`` 6 with the number of orders canceled, or 0 with the reason it was refused."""
    return OrderMassCancelReport(
        order_id=str(uuid.uuid4()), response=response, cl_ord_id=req.cl_ord_id,
        request_type=req.mass_cancel_request_type, reject_reason=reason, total_affected=total, text=text)


def settlement_report(symbol: str, result: str, price: Decimal, now: dt.datetime,
                      rows: list[tuple[str, Payout]]) -> MarketSettlementReport:
    """35=UMS to one account: one party (24, customer account) per (party id, payout) it held."""
    zero = Decimal(0)
    parties = tuple(SettlementParty(
        party_id=party, role=24, long_qty=max(p.position, zero), short_qty=max(-p.position, zero),
        collateral=(CollateralChange(amount=p.payout, kind="PAYOUT"),),
        fees=(MiscFee(amount=p.fee, currency="USD", fee_type="4", basis=0),)) for party, p in rows)
    return MarketSettlementReport(
        report_id=str(uuid.uuid4()), symbol=symbol,
        clearing_business_date=now.astimezone(ET).strftime("%Y%m%d"), market_result=result,
        settlement_price=price, total_reports=1, last_fragment=True, parties=parties)
