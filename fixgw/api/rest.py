"""Kalshi's REST paths over the recorder's views (pure core: no web framework, no QuickFIX).

Each endpoint is one row of :data:`ENDPOINTS`: its path under ``/trade-api/v2``,
the query parameters it accepts, and a function from (source, params) to the
response body. The functions only call :mod:`fixgw.recorder.views` and slice;
numbers are never computed here. A new endpoint (margin, FCM, balance,
settlements) is one more row whose function calls its view.

Pagination: list endpoints return ``limit`` rows (1..1000, default 100) and a
``cursor`` naming the next row; an empty cursor means the last page. Rows come
in the views' order (ExecID order for fills, first-seen for orders, ticker for
positions), so rows stored later land after the ones a cursor has passed.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, Callable, Iterable, Mapping

from fixgw.models.rest import FillsResponse, OrdersResponse, PositionsResponse
from fixgw.positions import event_ticker as event_of
from fixgw.recorder.views import Query
from fixgw.recorder.store import Store

PREFIX = "/trade-api/v2"
MAX_LIMIT, DEFAULT_LIMIT = 1000, 100
STATUSES = frozenset({"resting", "canceled", "executed"})
COUNT_FILTERS = {"position": "position_fp", "total_traded": "total_traded_dollars"}
SETTLEMENT = frozenset({"all", "settled", "unsettled"})


class ApiError(Exception):
    """An answer in Kalshi's error body: ``{"error": {"code", "message", "details", "service"}}``."""

    def __init__(self, status: int, code: str, message: str, details: str = ""):
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details

    def body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, "details": self.details,
                          "service": "fixgw"}}


@dataclass(frozen=True)
class Params:
    ticker: str | None = None
    event_ticker: str | None = None
    order_id: str | None = None
    min_ts: int | None = None
    max_ts: int | None = None
    status: str | None = None
    count_filter: tuple[str, ...] = ()
    settlement_status: str = "unsettled"
    subaccount: int | None = None
    limit: int = DEFAULT_LIMIT
    offset: int = 0  # from the cursor


def _bad(name: str, why: str) -> ApiError:
    return ApiError(400, "invalid_parameters", f"query parameter {name}: {why}")


def _int(name: str, raw: str, lo: int, hi: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise _bad(name, f"{raw!r} is not an integer") from None
    if not lo <= value <= hi:
        raise _bad(name, f"{value} is outside {lo}..{hi}")
    return value


def cursor_of(offset: int) -> str:
    return base64.urlsafe_b64encode(f"fixgw:{offset}".encode()).decode().rstrip("=")


def offset_of(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        tag, _, n = text.partition(":")
        if tag != "fixgw" or not n.isdigit():
            raise ValueError
        return int(n)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise _bad("cursor", f"{cursor!r} is not a cursor this server returned") from None


def parse(query: Mapping[str, str], allowed: frozenset[str]) -> Params:
    """Kalshi's query parameters the endpoint takes, checked; others are ignored (as Kalshi does,
    so a client sending a parameter of a newer API version still gets its answer)."""
    query = {k: v for k, v in query.items() if k in allowed}
    kw: dict[str, Any] = {}
    for name in ("ticker", "event_ticker", "order_id"):
        if query.get(name):
            kw[name] = query[name]
    for name in ("min_ts", "max_ts"):
        if query.get(name):
            kw[name] = _int(name, query[name], 0, 2**62)
    if query.get("status"):
        if query["status"] not in STATUSES:
            raise _bad("status", f"{query['status']!r} is not one of {', '.join(sorted(STATUSES))}")
        kw["status"] = query["status"]
    if query.get("count_filter"):
        names = tuple(n.strip() for n in query["count_filter"].split(",") if n.strip())
        wrong = [n for n in names if n not in COUNT_FILTERS]
        if wrong:
            raise _bad("count_filter", f"{wrong[0]!r} is not one of {', '.join(COUNT_FILTERS)}")
        kw["count_filter"] = names
    if query.get("settlement_status"):
        if query["settlement_status"] not in SETTLEMENT:
            raise _bad("settlement_status", f"{query['settlement_status']!r} is not one of "
                       f"{', '.join(sorted(SETTLEMENT))}")
        kw["settlement_status"] = query["settlement_status"]
    if query.get("subaccount"):
        kw["subaccount"] = _int("subaccount", query["subaccount"], 0, 32)
    if query.get("limit"):
        kw["limit"] = _int("limit", query["limit"], 1, MAX_LIMIT)
    if query.get("cursor"):
        kw["offset"] = offset_of(query["cursor"])
    return Params(**kw)


@dataclass
class Source:
    """Where the views read: one store, one recorded account."""

    store: Store
    account: str

    def query(self, p: Params, product: str = "event", *, times: bool = True) -> Query:
        return Query(self.store, self.account, product, ticker=p.ticker, event_ticker=p.event_ticker,
                     subaccount=p.subaccount, min_ts=p.min_ts if times else None,
                     max_ts=p.max_ts + 1 if times and p.max_ts is not None else None)  # max_ts inclusive


def page(rows: Iterable, p: Params) -> tuple[list, str]:
    """One page of ``rows`` and the cursor of the next ('' after the last).

    ``rows`` may be a generator: only the rows up to the page's end (and one more, to know
    whether there is a next page) are produced, so the first pages of a big store are cheap.
    """
    end = p.offset + p.limit
    taken = list(islice(rows, p.offset, end + 1))
    return taken[:p.limit], (cursor_of(end) if len(taken) > p.limit else "")


def _in_window(t: dt.datetime | None, p: Params) -> bool:
    if p.min_ts is None and p.max_ts is None:
        return True
    if t is None:
        return False
    s = t.timestamp()
    return (p.min_ts is None or s >= p.min_ts) and (p.max_ts is None or s < p.max_ts + 1)


# ------------------------------------------------------------------ endpoints
def fills(src: Source, p: Params) -> dict:
    rows = (f for f in src.query(p).fills() if p.order_id is None or f.order_id == p.order_id)
    items, cursor = page(rows, p)
    return FillsResponse(fills=items, cursor=cursor).model_dump(mode="json")


def _orders(src: Source, p: Params) -> list:
    # orders are whole: time filters apply to an order's created_time, not to its reports
    return [o for o in src.query(p, times=False).orders()
            if (p.status is None or o.status == p.status) and _in_window(o.created_time, p)]


def orders(src: Source, p: Params) -> dict:
    items, cursor = page(_orders(src, p), p)
    return OrdersResponse(orders=items, cursor=cursor).model_dump(mode="json")


def order(src: Source, p: Params, order_id: str) -> dict:
    for o in src.query(Params(), times=False).orders():
        if o.order_id == order_id:
            return {"order": o.model_dump(mode="json")}
    raise ApiError(404, "not_found", f"order {order_id!r} is not in the recorder's store "
                   f"(account {src.account})")


def positions(src: Source, p: Params) -> dict:
    """Market positions paginated, event positions of the same filters whole (as Kalshi)."""
    if p.settlement_status == "settled":  # the store holds no settlement reports: nothing is known settled
        market, events = [], []
    else:
        out = src.query(p, times=False).positions()
        market, events = out["market_positions"], out["event_positions"]
    if p.count_filter:
        fields_ = [COUNT_FILTERS[n] for n in p.count_filter]
        market = [m for m in market if any(getattr(m, f) != 0 for f in fields_)]
        keep = {event_of(m.ticker) for m in market}
        events = [e for e in events if e.event_ticker in keep]
    items, cursor = page(market, p)
    return PositionsResponse(market_positions=items, event_positions=events,
                             cursor=cursor).model_dump(mode="json")


_COMMON = frozenset({"limit", "cursor", "subaccount"})


@dataclass(frozen=True)
class Endpoint:
    path: str  # under PREFIX; {name} marks a path parameter
    answer: Callable[..., dict]
    params: frozenset[str] = field(default_factory=frozenset)


ENDPOINTS: list[Endpoint] = [
    Endpoint("/portfolio/fills", fills,
             _COMMON | {"ticker", "order_id", "min_ts", "max_ts", "event_ticker"}),
    Endpoint("/portfolio/orders", orders,
             _COMMON | {"ticker", "event_ticker", "min_ts", "max_ts", "status"}),
    Endpoint("/portfolio/orders/{order_id}", order, frozenset({"subaccount"})),
    Endpoint("/portfolio/positions", positions,
             _COMMON | {"ticker", "event_ticker", "count_filter", "settlement_status"}),
]
