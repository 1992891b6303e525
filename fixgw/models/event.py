"""The dispatcher's output: one :class:`Event` per received message (a data shape).

:class:`fixgw.dispatch.Dispatcher` makes one for each message a session
received, with the REST shapes the report stands for, and hands it to every
subscriber; :meth:`Event.websocket` gives the Kalshi WebSocket messages it
stands for.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from fixgw.models.fix import ExecutionReport
from fixgw.models.rest import Fill, MarginFill, MarginOrder, Order
from fixgw.models.ws import FillUpdate, MarginFillUpdate, MarginUserOrder, UserOrder


@dataclass(frozen=True, slots=True)
class Event:
    session: str
    message: object | None  # a fixgw.models.fix model; None when undecodable
    fill: object | None = None  # fixgw.models.rest.Fill or MarginFill, on trades
    order: object | None = None  # fixgw.models.rest.Order (margin: MarginOrder) after this report
    position: object | None = None  # fixgw.models.rest.MarketPositionUpdate after a fill (WebSocket shape)
    settlement: object | None = None  # fixgw.models.rest.Settlement, from a 35=UMS
    raw: str | None = None  # the FIX message as received (SOH-separated)
    error: str | None = None
    post_position: Decimal | None = None  # on fills: net position after it (704 - 705, else the ledger's)

    def websocket(self) -> list:
        """The Kalshi WebSocket messages this event stands for, as models with ``.envelope(sid)``:
        ``fill`` (FillUpdate / MarginFillUpdate), ``user_order`` (UserOrder / MarginUserOrder) and,
        for event contracts, ``market_position`` (MarketPositionUpdate). Built on demand."""
        er = self.message
        sub = er.alloc_account if isinstance(er, ExecutionReport) else None
        out: list = []
        own_id = getattr(self.order, "client_order_id", None) or getattr(er, "cl_ord_id", None)
        if isinstance(self.fill, Fill) and self.post_position is not None:
            out.append(FillUpdate.from_fill(self.fill, self.post_position, client_order_id=own_id))
        elif isinstance(self.fill, MarginFill) and self.post_position is not None:
            out.append(MarginFillUpdate.from_fill(self.fill, self.post_position, client_order_id=own_id,
                                                  subaccount=sub))
        if isinstance(self.order, Order):
            out.append(UserOrder.from_order(self.order))
        elif isinstance(self.order, MarginOrder):
            out.append(MarginUserOrder.from_order(self.order, subaccount=sub))
        if self.position is not None:
            out.append(self.position)
        return out
