"""Margin ExecutionReports → ``GET /margin/orders`` (pure core).

Why: margin orders are not event-contract orders. Kalshi's MarginOrder has one
``price`` in dollars, a ``side`` of ``bid``/``ask``, ``fill_count`` /
``remaining_count`` without suffixes, a ``last_update_reason`` and no
``status`` (``status`` is only a query filter). Before this module the margin
reports were folded into the event-contract Order and came out with
``no_price_dollars "-100.2500"`` and ``outcome_side yes``.

The fold itself is :class:`fixgw.translate.Orders` (ids, counts, times, the
newest-report rule, bounded memory); :class:`MarginOrders` only adds why the
order last changed and the MarginOrder shape.

last_update_reason, from the newest non-pending report (FIX carries no such
field, so this is fixgw's table):

* 150=0 New → ``""``; 150=F Trade → ``Trade``; 150=5 Replaced → ``Amend``
  (a FIX replace is an amend, also when it only lowers the quantity).
* 150=4 Canceled / C Expired: by Text(58) first —
  ``TAKER_``/``MAKER_CANCEL_FOR_SELF_TRADE_PREVENTION`` → ``SelfTradeCancel``,
  ``POST_ONLY_CROSS`` → ``PostOnlyCrossCancel``, ``REDUCE_ONLY`` →
  ``ReduceOnlyCancel``; else 150=C → ``ExpiryCancel``; else a cancel that
  answers no request of ours (no 41) at or after the order's expiration time
  → ``ExpiryCancel`` (without 21012 Kalshi reports expiries as 150=4); every
  other cancel (requested, mass cancel, order group, IOC/FOK remainder,
  disconnect) → ``MarginCancel``.

Pending reports never set the reason; a rejected order (150=8, no OrderID) is
not an order and is not listed. ``order_source``/``order_reason`` and
``cancel_order_on_pause`` are not on the ER and are left out.
"""

from __future__ import annotations

from fixgw.models.fix import ExecType, ExecutionReport
from fixgw.models.rest import MarginOrder
from fixgw.translate import MAX_FINISHED, Orders, _Live, when

__all__ = ["CANCEL_TEXT", "MarginOrders", "last_update_reason"]

CANCEL_TEXT = {
    "TAKER_CANCEL_FOR_SELF_TRADE_PREVENTION": "SelfTradeCancel",
    "MAKER_CANCEL_FOR_SELF_TRADE_PREVENTION": "SelfTradeCancel",
    "POST_ONLY_CROSS": "PostOnlyCrossCancel",
    "REDUCE_ONLY": "ReduceOnlyCancel",
}
_BY_EXEC_TYPE = {ExecType.NEW: "", ExecType.TRADE: "Trade", ExecType.REPLACED: "Amend"}
_CANCELS = (ExecType.CANCELED, ExecType.EXPIRED)


def last_update_reason(er: ExecutionReport, expiration=None) -> str | None:
    """The reason this report gives an order (table in the module docstring); None: no change."""
    reason = _BY_EXEC_TYPE.get(er.exec_type)
    if reason is not None or er.exec_type not in _CANCELS:
        return reason
    if er.text in CANCEL_TEXT:
        return CANCEL_TEXT[er.text]
    if er.exec_type is ExecType.EXPIRED:
        return "ExpiryCancel"
    at = when(er)
    if er.orig_cl_ord_id is None and expiration is not None and at is not None and at >= expiration:
        return "ExpiryCancel"
    return "MarginCancel"


class MarginOrders(Orders):
    """Folds margin ExecutionReports into :class:`MarginOrder`s, keyed by 37 OrderID.

    Same rules as :class:`fixgw.translate.Orders` (see there); ``orders()``
    filters on the REST status Kalshi's ``status`` query means (resting,
    canceled, executed) and on the subaccount (79).
    """

    def __init__(self, *, user_id: str = "", max_finished: int = MAX_FINISHED) -> None:
        super().__init__(user_id=user_id, max_finished=max_finished)

    def apply(self, er: ExecutionReport) -> MarginOrder | None:  # type: ignore[override]
        """Fold one report; a rejected order (150=8) never existed on the book and gives None."""
        if er.exec_type is ExecType.REJECTED:
            return None
        return super().apply(er)  # type: ignore[return-value]

    def orders(self, status: str | None = None, subaccount: int | None = None) -> list[MarginOrder]:  # type: ignore[override]
        return [self._snapshot(live) for live in self._live.values()
                if (status is None or live.status == status)
                and (subaccount is None or (live.subaccount or 0) == subaccount)]

    @staticmethod
    def _take(live: _Live, er: ExecutionReport, key: tuple[int, int, int] | None) -> None:
        Orders._take(live, er, key)
        if key is not None:  # a pending report says nothing final
            reason = last_update_reason(er, live.expiration)
            if reason is not None:
                live.reason = reason

    def _snapshot(self, live: _Live) -> MarginOrder:  # type: ignore[override]
        return MarginOrder(
            order_id=live.order_id, user_id=self.user_id, client_order_id=live.client_order_id,
            ticker=live.ticker, side="bid" if live.yes else "ask", last_update_reason=live.reason,
            price=live.price, fill_count=live.filled, remaining_count=live.remaining,
            expiration_time=live.expiration, created_time=live.created, last_update_time=live.updated,
            self_trade_prevention_type=live.stp, order_group_id=live.group)

