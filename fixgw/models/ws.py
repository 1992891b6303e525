"""Kalshi WebSocket ``fill`` and ``user_order`` messages as pydantic models (pure core).

Why: a client that listens to Kalshi's WebSocket instead of polling REST should
get the same frames from fixgw. ``market_position`` lives in
:mod:`fixgw.models.rest` (:class:`~fixgw.models.rest.MarketPositionUpdate`);
this module adds the two channels every trade and order change feeds, in both
shapes Kalshi has:

* event contracts (``/trade-api/ws/v2``): :class:`FillUpdate` (channel
  ``fill``) and :class:`UserOrder` (channel ``user_orders``, type
  ``user_order``), with ``*_dollars``/``*_fp`` names and RFC3339 times next to
  their ``*_ts_ms`` siblings;
* margin (``/trade-api/ws/v2/margin``): :class:`MarginFillUpdate` and
  :class:`MarginUserOrder`, with plain ``price``/``count`` names, ``bid``/``ask``
  sides and only ``*_ts_ms`` times (Kalshi's margin WebSocket has no RFC3339
  strings and no ``market_positions`` channel).

Field lists and their order follow Kalshi's WebSocket documentation as
mirrored by ``kalshi-sdk`` 22.4.0 (``kalshi/ws/models``, ``kalshi/perps/ws/models``).
Money, counts and times use the REST wire formats of :mod:`fixgw.models.rest`.

Where FIX carries nothing (fixgw's choices):

* ``action`` is ``"buy"`` and ``purchased_side`` = ``side`` = ``outcome_side``
  (FIX only buys YES or NO); ``order_source`` is ``"user"`` (the ExecutionReport
  does not say; it is required on the margin channel);
* ``post_position_fp``/``post_position`` is 704 LongQty - 705 ShortQty of the
  trade report, else the position fixgw's ledger holds after the fill;
* ``client_order_id`` is the report's order id (41 on cancels, else 11).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, ClassVar, Literal

from fixgw.models.rest import (BookSide, Count, Dollars, Fill, MarginFill, MarginOrder, Order, OutcomeSide, Rest,
                               Time)

__all__ = ["FillUpdate", "MarginFillUpdate", "MarginUserOrder", "UserOrder", "ts_ms"]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_MS = dt.timedelta(milliseconds=1)


def ts_ms(t: dt.datetime | None) -> int | None:
    """Unix milliseconds of an aware (or naive UTC) datetime."""
    if t is None:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return (t - _EPOCH) // _MS  # exact integer arithmetic, truncating sub-millisecond digits


class _Message(Rest):
    TYPE: ClassVar[str] = ""

    def envelope(self, sid: int) -> dict[str, Any]:
        """The whole WebSocket frame ``{"type", "sid", "msg"}``."""
        return {"type": self.TYPE, "sid": sid, "msg": self.model_dump(mode="json")}


# ---------------------------------------------------------------- event contracts
class FillUpdate(_Message):  # WebSocket `fill` msg (event contracts)
    TYPE: ClassVar[str] = "fill"
    OMIT: ClassVar[frozenset[str]] = frozenset({"client_order_id", "subaccount"})

    trade_id: str
    order_id: str
    market_ticker: str
    exchange_index: int
    is_taker: bool
    side: OutcomeSide  # deprecated, = outcome_side
    yes_price_dollars: Dollars
    count_fp: Count
    fee_cost: Dollars
    action: Literal["buy", "sell", "sell_partial", "sell_to_close", ""]
    outcome_side: OutcomeSide
    book_side: BookSide
    ts: int  # Unix seconds (deprecated)
    ts_ms: int
    post_position_fp: Count
    purchased_side: OutcomeSide
    client_order_id: str | None = None
    subaccount: int | None = None

    @classmethod
    def from_fill(cls, fill: Fill, post_position: Decimal, *, client_order_id: str | None = None) -> FillUpdate:
        when = fill.created_time
        if when is None:
            raise ValueError(f"fill {fill.fill_id} has no time: a WebSocket fill needs ts")
        return cls(trade_id=fill.trade_id, order_id=fill.order_id, market_ticker=fill.ticker,
                   exchange_index=fill.exchange_index, is_taker=fill.is_taker, side=fill.outcome_side,
                   yes_price_dollars=fill.yes_price_dollars, count_fp=fill.count_fp, fee_cost=fill.fee_cost,
                   action="buy", outcome_side=fill.outcome_side, book_side=fill.book_side,
                   ts=int(when.timestamp()), ts_ms=ts_ms(when), post_position_fp=post_position,
                   purchased_side=fill.outcome_side, client_order_id=client_order_id,
                   subaccount=fill.subaccount_number)


class UserOrder(_Message):  # WebSocket `user_order` msg (event contracts; channel user_orders)
    TYPE: ClassVar[str] = "user_order"
    OMIT: ClassVar[frozenset[str]] = frozenset({
        "order_group_id", "self_trade_prevention_type", "last_update_time", "last_updated_ts_ms",
        "expiration_time", "expiration_ts_ms", "subaccount_number"})

    order_id: str
    user_id: str
    ticker: str
    status: Literal["resting", "canceled", "executed"]
    side: OutcomeSide  # deprecated
    is_yes: bool  # deprecated
    outcome_side: OutcomeSide
    book_side: BookSide
    yes_price_dollars: Dollars
    fill_count_fp: Count
    remaining_count_fp: Count
    initial_count_fp: Count
    taker_fill_cost_dollars: Dollars
    maker_fill_cost_dollars: Dollars
    taker_fees_dollars: Dollars
    maker_fees_dollars: Dollars
    client_order_id: str
    created_time: Time | None  # deprecated; null only for an order no report gave a time
    created_ts_ms: int | None
    order_group_id: str | None = None
    self_trade_prevention_type: Literal["taker_at_cross", "maker"] | None = None
    last_update_time: Time | None = None
    last_updated_ts_ms: int | None = None
    expiration_time: Time | None = None
    expiration_ts_ms: int | None = None
    subaccount_number: int | None = None
    exchange_index: int = 0

    @classmethod
    def from_order(cls, order: Order) -> UserOrder:
        return cls(order_id=order.order_id, user_id=order.user_id, ticker=order.ticker, status=order.status,
                   side=order.outcome_side, is_yes=order.outcome_side == "yes", outcome_side=order.outcome_side,
                   book_side=order.book_side, yes_price_dollars=order.yes_price_dollars,
                   fill_count_fp=order.fill_count_fp, remaining_count_fp=order.remaining_count_fp,
                   initial_count_fp=order.initial_count_fp, taker_fill_cost_dollars=order.taker_fill_cost_dollars,
                   maker_fill_cost_dollars=order.maker_fill_cost_dollars,
                   taker_fees_dollars=order.taker_fees_dollars, maker_fees_dollars=order.maker_fees_dollars,
                   client_order_id=order.client_order_id, created_time=order.created_time,
                   created_ts_ms=ts_ms(order.created_time), order_group_id=order.order_group_id,
                   self_trade_prevention_type=order.self_trade_prevention_type,
                   last_update_time=order.last_update_time, last_updated_ts_ms=ts_ms(order.last_update_time),
                   expiration_time=order.expiration_time, expiration_ts_ms=ts_ms(order.expiration_time),
                   subaccount_number=order.subaccount_number, exchange_index=order.exchange_index)


# ---------------------------------------------------------------- margin
class MarginFillUpdate(_Message):  # WebSocket `fill` msg (margin)
    TYPE: ClassVar[str] = "fill"
    OMIT: ClassVar[frozenset[str]] = frozenset({"client_order_id", "subaccount"})

    trade_id: str
    order_id: str
    market_ticker: str
    is_taker: bool
    side: BookSide
    ts_ms: int
    price: Dollars
    count: Count
    fee_cost: Dollars
    post_position: Count
    order_source: Literal["user", "system"] = "user"
    client_order_id: str | None = None
    subaccount: int | None = None

    @classmethod
    def from_fill(cls, fill: MarginFill, post_position: Decimal, *, client_order_id: str | None = None,
                  subaccount: int | None = None) -> MarginFillUpdate:
        return cls(trade_id=fill.fill_id, order_id=fill.order_id, market_ticker=fill.ticker, is_taker=fill.is_taker,
                   side=fill.side, ts_ms=ts_ms(fill.created_time), price=fill.price, count=fill.count,
                   fee_cost=fill.fees, post_position=post_position, client_order_id=client_order_id,
                   subaccount=subaccount)


class MarginUserOrder(_Message):  # WebSocket `user_order` msg (margin)
    TYPE: ClassVar[str] = "user_order"
    OMIT: ClassVar[frozenset[str]] = frozenset({
        "self_trade_prevention_type", "order_group_id", "expiration_ts_ms", "last_updated_ts_ms",
        "subaccount_number"})

    order_id: str
    user_id: str
    client_order_id: str
    ticker: str
    side: BookSide
    price: Dollars
    fill_count: Count
    remaining_count: Count
    created_ts_ms: int | None  # null only for an order no report gave a time
    order_source: Literal["user", "system"] = "user"
    self_trade_prevention_type: Literal["taker_at_cross", "maker"] | None = None
    order_group_id: str | None = None
    expiration_ts_ms: int | None = None
    last_updated_ts_ms: int | None = None
    subaccount_number: int | None = None

    @classmethod
    def from_order(cls, order: MarginOrder, *, subaccount: int | None = None) -> MarginUserOrder:
        return cls(order_id=order.order_id, user_id=order.user_id, client_order_id=order.client_order_id,
                   ticker=order.ticker, side=order.side, price=order.price, fill_count=order.fill_count,
                   remaining_count=order.remaining_count, created_ts_ms=ts_ms(order.created_time),
                   order_source=order.order_source or "user",
                   self_trade_prevention_type=order.self_trade_prevention_type,
                   order_group_id=order.order_group_id, expiration_ts_ms=ts_ms(order.expiration_time),
                   last_updated_ts_ms=ts_ms(order.last_update_time), subaccount_number=subaccount)
