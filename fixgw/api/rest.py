"""Kalshi's REST paths over the recorder's views (pure core: no web framework, no QuickFIX).

Each endpoint is one row of :data:`ENDPOINTS`: its path under ``/trade-api/v2``,
the query parameters it accepts (:mod:`fixgw.api.params`), and a function from
(source, params) to the response body (JSON data, or JSON text already encoded). The functions only call
:mod:`fixgw.recorder.views` and slice; numbers are never computed here.

Pagination: list endpoints return ``limit`` rows (1..1000, default 100) and a
``cursor`` naming the next page; an empty cursor means the last page. Rows come
in the views' order (store order for fills, first-seen for orders, ticker for
positions, settled time for settlements), so rows stored later land after the
ones a cursor has passed.

Bodies are in the source's schema profile (:mod:`fixgw.profiles`): the seed
profile changes the positions bodies (GET /portfolio/positions, /fcm/positions);
every other body is the same in both.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Callable

from fixgw.api.params import ApiError, Params, bad, page, parse  # noqa: F401 - parse: app and sim use it from here
from fixgw.models.fcm import FcmFillsResponse
from fixgw.models.rest import (
    MarginFillsResponse, MarginOrdersResponse, MarginPositionsResponse, OrdersResponse,
    SettlementsResponse)
from fixgw.recorder.store import Store
from fixgw.recorder.views import Query

PREFIX = "/trade-api/v2"


@dataclass
class Source:
    """Where the views read: one store, one recorded account, and what the config says of it."""

    store: Store
    account: str
    profile: str = "default"
    user_id: str = ""
    party_id: str | None = None
    starting_balance: Decimal | None = None

    def query(self, p: Params, product: str = "event", *, subtrader: str | None = None) -> Query:
        return Query(self.store, self.account, product, ticker=p.ticker, event_ticker=p.event_ticker,
                     subaccount=p.subaccount, min_ts=p.min_ts, max_ts=p.max_ts, user_id=self.user_id,
                     subtrader=subtrader, party_id=self.party_id)


def _json(model) -> dict:
    return json.loads(model.model_dump_json())


# ------------------------------------------------------------------ event contracts
def fills(src: Source, p: Params) -> str:
    from fixgw.api import fillpage

    return fillpage.answer(src, p)


def _orders(src: Source, p: Params, subtrader: str | None = None) -> dict:
    q = src.query(p, subtrader=subtrader)  # FCM: the configured user_id too, as the gateway's sub-trader books
    items, cursor = page(q.orders(p.status), p)
    return _json(OrdersResponse(orders=items, cursor=cursor))


def orders(src: Source, p: Params) -> dict:
    return _orders(src, p)


def order(src: Source, p: Params, order_id: str) -> dict:
    for o in src.query(Params(subaccount=p.subaccount)).orders():
        if o.order_id == order_id:
            return {"order": _json(o)}
    raise ApiError(404, "not_found", f"order {order_id!r} is not in the recorder's store "
                   f"(account {src.account})")


def _positions(src: Source, p: Params, subtrader: str | None = None) -> dict:
    q = src.query(p, subtrader=subtrader)
    q.min_ts = q.max_ts = None  # positions are whole: time filters do not apply (as at Kalshi)
    q.settlement_status, q.count_filter = p.settlement_status, ",".join(p.count_filter) or None
    q.limit, q.cursor = p.limit, p.cursor
    try:
        return q.positions_json(src.profile)
    except ValueError as e:  # the view's own check of a parameter
        raise bad("positions", str(e)) from None


def positions(src: Source, p: Params) -> dict:
    return _positions(src, p)


def settlements(src: Source, p: Params) -> dict:
    items, cursor = page(src.query(p).settlements(), p)
    return _json(SettlementsResponse(settlements=items, cursor=cursor))


def balance(src: Source, p: Params) -> dict:
    bal, _ = src.query(Params()).balance(src.starting_balance)
    return _json(bal)


# ------------------------------------------------------------------ FCM members
def fcm_positions(src: Source, p: Params) -> dict:
    return _positions(src, p, p.subtrader())


def fcm_orders(src: Source, p: Params) -> dict:
    return _orders(src, p, p.subtrader())


def fcm_fills(src: Source, p: Params) -> dict:
    who = p.subtrader_id
    rows = (f for f in src.query(Params(min_ts=p.min_ts, max_ts=p.max_ts)).fcm_fills()
            if (p.ticker is None or f.ticker == p.ticker)
            and (who is None or who in (f.maker_subtrader_id, f.taker_subtrader_id)))
    items, cursor = page(rows, p)
    return _json(FcmFillsResponse(fills=items, cursor=cursor))


# ------------------------------------------------------------------ margin
def margin_fills(src: Source, p: Params) -> dict:
    rows = (f for f in src.query(p, "margin").fills() if p.order_id is None or f.order_id == p.order_id)
    items, cursor = page(rows, p)
    return _json(MarginFillsResponse(fills=items, cursor=cursor))


def margin_positions(src: Source, p: Params) -> dict:
    return _json(MarginPositionsResponse(**src.query(p, "margin").positions()))


def margin_orders(src: Source, p: Params) -> dict:
    items, cursor = page(src.query(p, "margin").orders(p.status), p)
    return _json(MarginOrdersResponse(orders=items, cursor=cursor))


def margin_order(src: Source, p: Params, order_id: str) -> dict:
    for o in src.query(Params(subaccount=p.subaccount), "margin").orders():
        if o.order_id == order_id:
            return {"order": _json(o)}
    raise ApiError(404, "not_found", f"margin order {order_id!r} is not in the recorder's store "
                   f"(account {src.account})")


_PAGED = frozenset({"limit", "cursor"})
_TIMES = frozenset({"min_ts", "max_ts"})
_POSITIONS = _PAGED | {"ticker", "event_ticker", "count_filter", "settlement_status"}


@dataclass(frozen=True)
class Endpoint:
    path: str  # under PREFIX; {name} marks a path parameter
    answer: Callable[..., dict]
    params: frozenset[str] = field(default_factory=frozenset)


ENDPOINTS: list[Endpoint] = [
    Endpoint("/portfolio/fills", fills, _PAGED | _TIMES | {"ticker", "order_id", "event_ticker", "subaccount"}),
    Endpoint("/portfolio/orders", orders, _PAGED | _TIMES | {"ticker", "event_ticker", "status", "subaccount"}),
    Endpoint("/portfolio/orders/{order_id}", order, frozenset({"subaccount"})),
    Endpoint("/portfolio/positions", positions, _POSITIONS | {"subaccount"}),
    Endpoint("/portfolio/settlements", settlements, _PAGED | _TIMES | {"ticker", "event_ticker", "subaccount"}),
    Endpoint("/portfolio/balance", balance, frozenset({"subaccount"})),
    Endpoint("/fcm/positions", fcm_positions, _POSITIONS | {"subtrader_id"}),
    Endpoint("/fcm/orders", fcm_orders, _PAGED | _TIMES | {"ticker", "event_ticker", "status", "subtrader_id"}),
    Endpoint("/fcm/fills", fcm_fills, _PAGED | _TIMES | {"ticker", "subtrader_id"}),
    Endpoint("/margin/fills", margin_fills, _PAGED | _TIMES | {"ticker", "order_id", "subaccount"}),
    Endpoint("/margin/positions", margin_positions, frozenset({"ticker", "subaccount"})),
    Endpoint("/margin/orders", margin_orders, _PAGED | _TIMES | {"ticker", "status", "subaccount"}),
    Endpoint("/margin/orders/{order_id}", margin_order, frozenset({"subaccount"})),
]
