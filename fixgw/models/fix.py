"""FIX application messages as frozen pydantic models (pure core).

Conventions every module relies on:

* **Prices are Decimal dollars** in every model, whatever the session's wire
  units: the codec converts integer cents (event contracts without UseDollars)
  at the boundary. Event-contract prices are the YES price.
* Quantities are Decimal contracts (Kalshi sends ``10.00``).
* Field names are the FIX names in snake_case; the tag is in each comment.
* Models are data: a reject is a model, never an exception.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import IntEnum, StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class Side(StrEnum):  # 54
    BUY = "1"  # buy YES (event) / bid (margin)
    SELL = "2"  # sell YES = buy NO (event) / ask (margin)


class ExecType(StrEnum):  # 150
    NEW = "0"
    CANCELED = "4"
    REPLACED = "5"
    PENDING_CANCEL = "6"
    REJECTED = "8"
    PENDING_NEW = "A"
    EXPIRED = "C"
    PENDING_REPLACE = "E"
    TRADE = "F"


class OrdStatus(StrEnum):  # 39
    NEW = "0"
    PARTIALLY_FILLED = "1"
    FILLED = "2"
    CANCELED = "4"
    REPLACED = "5"
    PENDING_CANCEL = "6"
    REJECTED = "8"
    PENDING_NEW = "A"
    EXPIRED = "C"
    PENDING_REPLACE = "E"


class TimeInForce(StrEnum):  # 59
    DAY = "0"
    GTC = "1"
    IOC = "3"
    FOK = "4"
    GTD = "6"


class OrderGroupAction(IntEnum):  # 20131
    CREATE = 1
    RESET = 2
    DELETE = 3
    TRIGGER = 4
    UPDATE = 5


class SelfTradePrevention(IntEnum):  # 2964
    TAKER_AT_CROSS = 1
    MAKER = 2


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Party(Model):  # group 453
    party_id: str  # 448: the FCM sub-trader's UUID (452=24)
    source: str | None = None  # 447
    role: int | None = None  # 452: 24 customer account, 12 executing trader (operator)


CUSTOMER_ACCOUNT = 24  # 452


def subtrader_party(subtrader_id: str) -> tuple[Party, ...]:
    """The one party an FCM order on behalf of a sub-trader carries: 453=1, 448=UUID, 452=24."""
    return (Party(party_id=subtrader_id, role=CUSTOMER_ACCOUNT),)


def subtrader_of(parties: tuple[Party, ...]) -> str | None:
    """The customer account (452=24) among the parties, or None."""
    for p in parties:
        if p.role == CUSTOMER_ACCOUNT:
            return p.party_id
    return None


class Anomaly(Model):
    """Something in a received message the dictionary does not allow, kept instead of dropped.

    Kalshi's FIX changes (a new enum value, a repeated tag, a tag inside a group): the
    lenient decoder (:func:`fixgw.fix.lenient.decode`) keeps the message and lists
    each such thing here. ``value`` is the text as received.
    """

    tag: int
    value: str | None
    problem: str

    def __str__(self) -> str:
        return f"{self.tag}={self.value!r}: {self.problem}" if self.value is not None else f"{self.tag}: {self.problem}"


class Received(Model):
    """A message from the exchange; ``anomalies`` is empty unless it broke the dictionary."""

    anomalies: tuple[Anomaly, ...] = ()


# An enum field of a received message holds the raw text (a plain str) when the value is not
# one the dictionary lists: kept and flagged in ``anomalies``, never mapped to a guess
# (left to right: the enum is tried first, so a listed value never stays text).
_LISTED_FIRST = Field(union_mode="left_to_right")
SideOrText = Annotated[Side | str, _LISTED_FIRST]
ExecTypeOrText = Annotated[ExecType | str, _LISTED_FIRST]
OrdStatusOrText = Annotated[OrdStatus | str, _LISTED_FIRST]
TimeInForceOrText = Annotated[TimeInForce | str, _LISTED_FIRST]
OrderGroupActionOrText = Annotated[OrderGroupAction | str, _LISTED_FIRST]


# ---------------------------------------------------------------- requests (client -> exchange)
class NewOrderSingle(Model):  # 35=D
    cl_ord_id: str  # 11
    symbol: str  # 55
    side: Side  # 54
    order_qty: Decimal  # 38
    price: Decimal  # 44, dollars
    time_in_force: TimeInForce | None = None  # 59
    expire_time: dt.datetime | None = None  # 126 (GTD)
    post_only: bool = False  # 18=6
    stp_type: SelfTradePrevention | None = None  # 2964
    alloc_account: int | None = None  # 79 subaccount
    order_group_id: str | None = None  # 526 SecondaryClOrdID
    cancel_order_on_pause: bool = False  # 21006
    max_execution_cost: Decimal | None = None  # 21009, dollars
    ex_destination: int | None = None  # 100 exchange index
    parties: tuple[Party, ...] = ()  # 453 (FCM: the sub-trader)


class OrderCancelRequest(Model):  # 35=F
    cl_ord_id: str  # 11
    orig_cl_ord_id: str  # 41
    symbol: str  # 55
    side: Side  # 54
    order_id: str | None = None  # 37
    alloc_account: int | None = None  # 79
    parties: tuple[Party, ...] = ()  # 453 (must match the order's)


class OrderCancelReplaceRequest(Model):  # 35=G
    cl_ord_id: str  # 11
    orig_cl_ord_id: str  # 41
    symbol: str  # 55
    side: Side  # 54
    order_qty: Decimal  # 38, new total quantity
    price: Decimal | None = None  # 44, dollars
    order_id: str | None = None  # 37
    time_in_force: TimeInForce | None = None  # 59
    expire_time: dt.datetime | None = None  # 126
    alloc_account: int | None = None  # 79
    parties: tuple[Party, ...] = ()  # 453 (must match the order's)


class OrderMassCancelRequest(Model):  # 35=q
    cl_ord_id: str  # 11
    mass_cancel_request_type: int = 6  # 530 (6 = cancel for the session)
    alloc_account: int | None = None  # 79


class OrderGroupRequest(Model):  # 35=UOG
    action: OrderGroupAction  # 20131
    order_group_id: str | None = None  # 20130
    contracts_limit: int | None = None  # 20132
    alloc_account: int | None = None  # 79


class EventResendRequest(Model):  # 35=U1
    begin_exec_id: str  # 21001 inclusive
    end_exec_id: str | None = None  # 21002 inclusive


# ---------------------------------------------------------------- responses (exchange -> client)
class MiscFee(Model):  # group 136
    amount: Decimal  # 137, dollars
    currency: str | None = None  # 138
    fee_type: str | None = None  # 139 (4 = exchange fees)
    basis: int | None = None  # 891


class CollateralChange(Model):  # group 1703
    amount: Decimal  # 1704, dollars
    kind: str | None = None  # 1705 BALANCE | PAYOUT


class ExecutionReport(Received):  # 35=8
    order_id: str  # 37
    exec_id: str  # 17 "clock;event[;index]", "-1;-1" on pending reports
    exec_type: ExecTypeOrText  # 150
    ord_status: OrdStatusOrText  # 39
    side: SideOrText  # 54
    symbol: str  # 55
    cum_qty: Decimal  # 14
    leaves_qty: Decimal  # 151
    cl_ord_id: str | None = None  # 11
    orig_cl_ord_id: str | None = None  # 41
    order_qty: Decimal | None = None  # 38
    price: Decimal | None = None  # 44, dollars
    avg_px: Decimal | None = None  # 6, dollars
    last_px: Decimal | None = None  # 31, dollars (YES price on event contracts)
    last_qty: Decimal | None = None  # 32
    last_mkt: int | None = None  # 30 exchange index
    time_in_force: TimeInForceOrText | None = None  # 59
    expire_time: dt.datetime | None = None  # 126
    exec_inst: str | None = None  # 18
    transact_time: dt.datetime | None = None  # 60
    ord_rej_reason: int | None = None  # 103
    text: str | None = None  # 58
    alloc_account: int | None = None  # 79
    order_group_id: str | None = None  # 526
    stp_type: int | None = None  # 2964
    long_qty: Decimal | None = None  # 704 net YES after the trade
    short_qty: Decimal | None = None  # 705 net NO after the trade
    trd_match_id: str | None = None  # 880 trade id
    aggressor: bool | None = None  # 1057 Y = taker
    fees: tuple[MiscFee, ...] = ()  # 136 group
    collateral: tuple[CollateralChange, ...] = ()  # 1703 group
    single_market_collateral_return: Decimal | None = None  # 21030
    ranged_market_collateral_return: Decimal | None = None  # 21031
    clearing_business_date: str | None = None  # 715
    ex_destination: int | None = None  # 100
    parties: tuple[Party, ...] = ()  # 453, echoed when the order used them (FCM sub-trader)
    poss_dup: bool = False  # header 43: a resend
    # header 52 SendingTime, decoded from raw text only when 60 is absent: the time of a
    # report without TransactTime (fixgw.translate falls back to it, never to the epoch).
    sending_time: dt.datetime | None = None

    @property
    def subtrader(self) -> str | None:
        """The FCM sub-trader (party with 452=24) the order was for, or None."""
        return subtrader_of(self.parties) if self.parties else None

    @property
    def fee_total(self) -> Decimal:
        return sum((f.amount for f in self.fees), Decimal(0))

    @property
    def is_pending(self) -> bool:
        return self.exec_id == "-1;-1"


class OrderCancelReject(Received):  # 35=9
    order_id: str  # 37
    cl_ord_id: str  # 11
    ord_status: OrdStatusOrText  # 39
    orig_cl_ord_id: str | None = None  # 41
    response_to: int | None = None  # 434: 1 cancel, 2 cancel/replace
    reason: int | None = None  # 102
    text: str | None = None  # 58
    alloc_account: int | None = None  # 79


class BusinessMessageReject(Received):  # 35=j
    ref_msg_type: str  # 372
    reason: int  # 380 (8 = rate limit)
    ref_seq_num: int | None = None  # 45
    ref_id: str | None = None  # 379
    text: str | None = None  # 58


class SessionReject(Received):  # 35=3
    ref_seq_num: int  # 45
    ref_tag_id: int | None = None  # 371
    ref_msg_type: str | None = None  # 372
    reason: int | None = None  # 373
    text: str | None = None  # 58


class OrderMassCancelReport(Received):  # 35=r
    order_id: str  # 37
    response: int  # 531: 6 all cancelled, 0 rejected
    cl_ord_id: str | None = None  # 11
    request_type: int | None = None  # 530
    reject_reason: int | None = None  # 532
    total_affected: int | None = None  # 533
    text: str | None = None  # 58


class OrderGroupResponse(Received):  # 35=UOH
    order_group_id: str  # 20130
    action: OrderGroupActionOrText | None = None  # 20131
    contracts_limit: int | None = None  # 20132
    alloc_account: int | None = None  # 79
    text: str | None = None  # 58


class EventResendComplete(Received):  # 35=U2
    ref_seq_num: int  # 45
    count: int  # 21003


class EventResendReject(Received):  # 35=U3
    ref_seq_num: int  # 45
    reason: int  # 21004
    text: str | None = None  # 58


class SettlementParty(Model):  # group 20108
    party_id: str  # 20109
    role: int | None = None  # 20110
    long_qty: Decimal | None = None  # 704 YES contracts
    short_qty: Decimal | None = None  # 705 NO contracts
    collateral: tuple[CollateralChange, ...] = ()  # nested 1703 (PAYOUT)
    fees: tuple[MiscFee, ...] = ()  # nested 136


class MarketSettlementReport(Received):  # 35=UMS
    report_id: str  # 20105
    symbol: str  # 55
    clearing_business_date: str  # 715 YYYYMMDD
    market_result: str  # 20107 yes | no | scalar
    settlement_price: Decimal | None = None  # 730, dollars (wire: cents, 2 dp)
    total_reports: int | None = None  # 20106
    last_fragment: bool | None = None  # 893
    parties: tuple[SettlementParty, ...] = ()


def exec_id_key(exec_id: str) -> tuple[int, int, int]:
    """Order ExecIDs numerically: (exchange index, clock, event). Never compare them as strings."""
    parts = exec_id.split(";")
    if len(parts) not in (2, 3):
        raise ValueError(f"ExecID {exec_id!r} is not clock;event[;index]")
    clock, event = int(parts[0]), int(parts[1])
    return (int(parts[2]) if len(parts) == 3 else 0, clock, event)

