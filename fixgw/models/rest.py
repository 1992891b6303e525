"""Kalshi REST / WebSocket wire shapes as pydantic models (pure core).

Why this module exists: a user who swaps REST polling for FIX keeps their
downstream code, so what the gateway emits must be byte-for-byte the JSON that
``GET /portfolio/fills`` & co. return. Attribute names therefore *are* the wire
names (no aliases), fields are declared in the OpenAPI schema's property order
(pydantic dumps in declaration order), and the same models parse REST JSON.

Wire formats, applied by ``model_dump(mode="json")`` / ``model_dump_json()``
(python-mode dumps keep ``Decimal`` / ``datetime``):

* money (``*_dollars``, ``fee_cost``, margin ``price``/``entry_price``/``fees``/
  ``realized_pnl``/``unrealized_pnl``): FixedPointDollars, a string with at least 4
  and at most 6 dp (``0.5600``, ``19.50005``, ``0.012346``), ROUND_HALF_EVEN, no "-0";
* counts (``*_fp``, margin ``count``/``position``): string, exactly 2 dp;
* times: RFC3339 in UTC as Go's ``time.RFC3339Nano`` prints it (Kalshi's backend
  is Go): ``2026-11-21T12:00:00Z``, sub-second digits only when non-zero with
  trailing zeros trimmed (``...:00.25Z``);
* ``ts`` int Unix seconds, ``exchange_index`` int, sides as lower-case words.

Values are held as ``Decimal`` and quantized on validation, so parse → dump →
parse gives an equal object. Floats are refused for money and counts.

Optional fields: a field the schema marks ``x-omitempty`` (or optional without
``x-omitempty: false``) is left out of the JSON when it is ``None``; one marked
``x-omitempty: false`` (Order ``created_time``, ``self_trade_prevention_type``)
or that the brief requires as null (MarginPosition ``margin_used``/``roe``, and
``unrealized_pnl`` when no mark price is given) is emitted as ``null``. Unknown keys in REST input are ignored (Kalshi adds fields).

Deprecated fields, kept only where the current schema (OpenAPI 3.28-3.34) still
lists them: Fill ``trade_id``/``market_ticker`` (required legacy duplicates),
``side``/``action`` (deprecated, optional) and ``ts``; Order ``side``/``action``.
Dropped because the current schema no longer has them: Fill
``client_order_id`` and integer ``count``/``yes_price``/``no_price``; Order
integer cents/counts and ``queue_position``; MarketPosition/EventPosition
integer cents and ``resting_orders_count``. The WebSocket ``market_position``
message is the current dollar-string shape; :meth:`MarketPositionUpdate.legacy`
gives the March-2026 centi-cent shape for clients that still expect it.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, PlainSerializer,
                      model_serializer)

Q2 = Decimal("0.01")
Q4 = Decimal("0.0001")
Q6 = Decimal("0.000001")
UTC = dt.timezone.utc
CENTI_CENTS = Decimal(10_000)


# ---------------------------------------------------------------- wire scalars
def _decimal(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError(f"{value!r}: money and counts must be strings or Decimals, never floats")
    if isinstance(value, (int, str)):
        try:
            out = Decimal(value)
        except ArithmeticError:
            raise ValueError(f"{value!r} is not a decimal number") from None
        if not out.is_finite():
            raise ValueError(f"{value!r} is not finite")
        return out
    raise ValueError(f"{value!r} is not a decimal number")


def fmt(value: Decimal, quantum: Decimal) -> str:
    """Fixed-point string at ``quantum`` (ROUND_HALF_EVEN), never ``-0.00``."""
    q = value.quantize(quantum, ROUND_HALF_EVEN)
    return f"{q.copy_abs() if q.is_zero() else q:f}"


def dollars(value: Decimal) -> str:
    """FixedPointDollars as Kalshi emits it: at most 6 dp, at least 4 (``0.5600``, ``0.012346``)."""
    s = fmt(value, Q6)
    return s[:-2] if s.endswith("00") else s[:-1] if s.endswith("0") else s


def count(value: Decimal) -> str:
    return fmt(value, Q2)


def rfc3339(value: dt.datetime) -> str:
    """UTC RFC3339 as Go's RFC3339Nano prints it."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    elif value.utcoffset():
        value = value.astimezone(UTC)
    base = f"{value.year:04d}-{value.month:02d}-{value.day:02d}T{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    if value.microsecond:
        return f"{base}.{value.microsecond:06d}".rstrip("0") + "Z"
    return base + "Z"


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Dollars = Annotated[Decimal, BeforeValidator(lambda v: _decimal(v).quantize(Q6, ROUND_HALF_EVEN)),
                    PlainSerializer(dollars, return_type=str, when_used="json")]
Count = Annotated[Decimal, BeforeValidator(lambda v: _decimal(v).quantize(Q2, ROUND_HALF_EVEN)),
                  PlainSerializer(count, return_type=str, when_used="json")]
Time = Annotated[dt.datetime, AfterValidator(_utc),
                 PlainSerializer(rfc3339, return_type=str, when_used="json")]
Ratio = Annotated[Decimal, BeforeValidator(lambda v: Decimal(str(v)) if isinstance(v, float) else _decimal(v)),
                  PlainSerializer(float, return_type=float, when_used="json")]  # a JSON double on the wire

OutcomeSide = Literal["yes", "no"]
BookSide = Literal["bid", "ask"]


class Rest(BaseModel):
    """Base: frozen, wire-named, drops the ``OMIT`` fields when they are None."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    OMIT: ClassVar[frozenset[str]] = frozenset()

    @model_serializer(mode="wrap")
    def _drop_empty(self, handler: Any) -> dict[str, Any]:
        data = handler(self)
        for name in self.OMIT:
            if data.get(name, 0) is None:
                del data[name]
        return data


# ---------------------------------------------------------------- event contracts
class Fill(Rest):  # GET /portfolio/fills item
    OMIT: ClassVar[frozenset[str]] = frozenset({"side", "action", "created_time", "subaccount_number", "ts"})

    fill_id: str
    exchange_index: int
    trade_id: str
    order_id: str
    ticker: str
    market_ticker: str
    side: OutcomeSide | None = None  # deprecated
    action: Literal["buy", "sell"] | None = None  # deprecated
    outcome_side: OutcomeSide
    book_side: BookSide
    count_fp: Count
    yes_price_dollars: Dollars
    no_price_dollars: Dollars
    is_taker: bool
    created_time: Time | None = None
    fee_cost: Dollars
    subaccount_number: int | None = None
    ts: int | None = None


class Order(Rest):  # GET /portfolio/orders item
    OMIT: ClassVar[frozenset[str]] = frozenset({
        "side", "action", "expiration_time", "last_update_time", "order_group_id",
        "cancel_order_on_pause", "subaccount_number"})

    order_id: str
    user_id: str
    client_order_id: str
    ticker: str
    side: OutcomeSide | None = None  # deprecated
    action: Literal["buy", "sell"] | None = None  # deprecated
    outcome_side: OutcomeSide
    book_side: BookSide
    type: Literal["limit", "market"] = "limit"
    status: Literal["resting", "canceled", "executed"]
    yes_price_dollars: Dollars
    no_price_dollars: Dollars
    fill_count_fp: Count
    remaining_count_fp: Count
    initial_count_fp: Count
    taker_fill_cost_dollars: Dollars
    maker_fill_cost_dollars: Dollars
    taker_fees_dollars: Dollars
    maker_fees_dollars: Dollars
    expiration_time: Time | None = None
    created_time: Time | None = None
    last_update_time: Time | None = None
    self_trade_prevention_type: Literal["taker_at_cross", "maker"] | None = None
    order_group_id: str | None = None
    cancel_order_on_pause: bool | None = None
    subaccount_number: int | None = None
    exchange_index: int = 0


class MarketPosition(Rest):  # GET /portfolio/positions market_positions item
    ticker: str
    exchange_index: int
    total_traded_dollars: Dollars
    position_fp: Count
    market_exposure_dollars: Dollars
    realized_pnl_dollars: Dollars
    fees_paid_dollars: Dollars
    last_updated_ts: Time  # an RFC3339 string despite the name


class EventPosition(Rest):  # GET /portfolio/positions event_positions item
    event_ticker: str
    total_cost_dollars: Dollars
    total_cost_shares_fp: Count
    event_exposure_dollars: Dollars
    realized_pnl_dollars: Dollars
    fees_paid_dollars: Dollars


class Settlement(Rest):  # GET /portfolio/settlements item
    OMIT: ClassVar[frozenset[str]] = frozenset({"value"})

    ticker: str
    exchange_index: int
    event_ticker: str
    market_result: Literal["yes", "no", "scalar"]
    yes_count_fp: Count
    yes_total_cost_dollars: Dollars
    no_count_fp: Count
    no_total_cost_dollars: Dollars
    revenue: int  # cents
    settled_time: Time
    fee_cost: Dollars
    value: int | None = None  # cents paid per YES contract


class MarketPositionUpdate(Rest):  # WebSocket market_position msg (current shape)
    OMIT: ClassVar[frozenset[str]] = frozenset({"subaccount"})

    user_id: str
    market_ticker: str
    position_fp: Count
    position_cost_dollars: Dollars
    realized_pnl_dollars: Dollars
    fees_paid_dollars: Dollars
    position_fee_cost_dollars: Dollars
    volume_fp: Count
    subaccount: int | None = None

    def legacy(self) -> dict[str, Any]:
        """The March-2026 shape: money as integer centi-cents (dollars x 10,000), int counts."""
        def cc(d: Decimal) -> int:
            return int((d.quantize(Q4, ROUND_HALF_EVEN) * CENTI_CENTS).to_integral_value(ROUND_HALF_EVEN))

        def whole(d: Decimal) -> int:
            return int(d.to_integral_value(ROUND_HALF_EVEN))

        out: dict[str, Any] = {
            "user_id": self.user_id, "market_ticker": self.market_ticker,
            "position": whole(self.position_fp), "position_fp": count(self.position_fp),
            "position_cost": cc(self.position_cost_dollars), "realized_pnl": cc(self.realized_pnl_dollars),
            "fees_paid": cc(self.fees_paid_dollars), "position_fee_cost": cc(self.position_fee_cost_dollars),
            "volume": whole(self.volume_fp), "volume_fp": count(self.volume_fp)}
        if self.subaccount is not None:
            out["subaccount"] = self.subaccount
        return out

    def envelope(self, sid: int, *, legacy: bool = False) -> dict[str, Any]:
        """The whole WebSocket frame ``{"type": "market_position", "sid", "msg"}``."""
        msg = self.legacy() if legacy else self.model_dump(mode="json")
        return {"type": "market_position", "sid": sid, "msg": msg}


# ---------------------------------------------------------------- margin
class MarginFill(Rest):  # GET /margin/fills item
    OMIT: ClassVar[frozenset[str]] = frozenset({"order_source"})

    fill_id: str
    order_id: str
    is_taker: bool
    side: BookSide
    count: Count
    created_time: Time
    ticker: str
    price: Dollars
    entry_price: Dollars
    fees: Dollars
    realized_pnl: Dollars  # this fill's increment
    order_source: Literal["user", "system"] | None = None


class MarginPosition(Rest):  # GET /margin/positions item
    subaccount: int
    market_ticker: str
    position: Count
    entry_price: Dollars
    unrealized_pnl: Dollars | None = None  # null without a mark price (FIX has none)
    margin_used: Dollars | None = None
    fees: Dollars
    roe: Ratio | None = None
    is_portfolio: bool = False


LastUpdateReason = Literal["", "Decrease", "Amend", "MarginCancel", "SelfTradeCancel", "ExpiryCancel", "Trade",
                          "PostOnlyCrossCancel", "ReduceOnlyCancel"]


class MarginOrder(Rest):  # GET /margin/orders item (perps spec MarginOrder; no status field)
    OMIT: ClassVar[frozenset[str]] = frozenset({
        "expiration_time", "created_time", "last_update_time", "self_trade_prevention_type",
        "cancel_order_on_pause", "order_group_id", "order_source", "order_reason"})

    order_id: str
    user_id: str
    client_order_id: str
    ticker: str
    side: BookSide
    last_update_reason: LastUpdateReason
    price: Dollars
    fill_count: Count
    remaining_count: Count
    expiration_time: Time | None = None
    created_time: Time | None = None
    last_update_time: Time | None = None
    self_trade_prevention_type: Literal["taker_at_cross", "maker"] | None = None
    cancel_order_on_pause: bool | None = None
    order_group_id: str | None = None
    order_source: Literal["user", "system"] | None = None
    order_reason: Literal["liquidation", "take_profit_stop_loss"] | None = None


# ---------------------------------------------------------------- response envelopes
class FillsResponse(Rest):
    fills: list[Fill]
    cursor: str = ""


class OrdersResponse(Rest):
    orders: list[Order]
    cursor: str = ""


class PositionsResponse(Rest):
    OMIT: ClassVar[frozenset[str]] = frozenset({"cursor"})

    cursor: str | None = None
    market_positions: list[MarketPosition]
    event_positions: list[EventPosition]


class SettlementsResponse(Rest):
    settlements: list[Settlement]
    cursor: str = ""


class MarginFillsResponse(Rest):
    fills: list[MarginFill]
    cursor: str = ""


class MarginPositionsResponse(Rest):
    positions: list[MarginPosition]


class MarginOrdersResponse(Rest):  # GET /margin/orders
    orders: list[MarginOrder]
    cursor: str = ""
