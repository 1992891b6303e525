"""REST shapes that exist for FCM members and for cash: FcmFill and Balance (pure core).

Same wire rules as :mod:`fixgw.models.rest` (money strings at 4 dp, counts at
2 dp, RFC3339 times, optional fields left out when None).

* ``FcmFill`` - item of ``GET /fcm/fills`` (OpenAPI 3.31 ``FcmFill``): one row per
  trade across the FCM's sub-traders; the maker_* / taker_* fields are set for
  the side(s) the FCM owns.
* ``Balance`` - ``GET /portfolio/balance``: ``balance`` in integer cents next to
  ``balance_dollars``, ``updated_ts`` Unix seconds.
"""

from __future__ import annotations

from typing import ClassVar

from fixgw.models.rest import Count, Dollars, OutcomeSide, Rest, Time


class FcmFill(Rest):  # GET /fcm/fills item
    OMIT: ClassVar[frozenset[str]] = frozenset({
        "created_time", "maker_order_id", "maker_subtrader_id", "maker_fee_cost",
        "taker_order_id", "taker_subtrader_id", "taker_fee_cost"})

    fill_id: str
    exchange_index: int
    ticker: str
    taker_outcome_side: OutcomeSide
    count_fp: Count
    yes_price_dollars: Dollars
    created_time: Time | None = None
    maker_order_id: str | None = None
    maker_subtrader_id: str | None = None
    maker_fee_cost: Dollars | None = None
    taker_order_id: str | None = None
    taker_subtrader_id: str | None = None
    taker_fee_cost: Dollars | None = None


class FcmFillsResponse(Rest):  # GET /fcm/fills
    fills: list[FcmFill]
    cursor: str = ""


class Balance(Rest):  # GET /portfolio/balance
    OMIT: ClassVar[frozenset[str]] = frozenset({"updated_ts"})

    balance: int  # cents
    balance_dollars: Dollars
    updated_ts: int | None = None
