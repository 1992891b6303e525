"""Kalshi's query parameters, cursors and error body for the REST paths (pure core).

Every endpoint names the parameters it takes (:data:`fixgw.api.rest.ENDPOINTS`);
:func:`parse` checks those and ignores the rest, as Kalshi does, so a client
sending a parameter of a newer API version still gets its answer.

Cursors are opaque to clients. List endpoints built here hand out
``fixgw:<offset>`` (base64url) and page with :func:`page`; positions pass the
view's own cursor (the last ticker of the page) through unchanged; fills of
event contracts use a keyset cursor on the store's key (:mod:`fixgw.api.fillpage`).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from itertools import islice
from typing import Any, Iterable, Mapping

MAX_LIMIT, DEFAULT_LIMIT = 1000, 100
STATUSES = frozenset({"resting", "canceled", "executed"})
COUNT_FILTERS = ("position", "total_traded")
SETTLEMENT = frozenset({"all", "settled", "unsettled"})


class ApiError(Exception):
    """An answer in Kalshi's error body: ``{"error": {"code", "message", "details", "service"}}``."""

    def __init__(self, status: int, code: str, message: str, details: str = ""):
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details

    def body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, "details": self.details,
                          "service": "fixgw"}}


def bad(name: str, why: str) -> ApiError:
    return ApiError(400, "invalid_parameters", f"query parameter {name}: {why}")


@dataclass(frozen=True)
class Params:
    ticker: str | None = None
    event_ticker: str | None = None
    order_id: str | None = None
    min_ts: int | None = None
    max_ts: int | None = None  # inclusive, like Kalshi's
    status: str | None = None
    count_filter: tuple[str, ...] = ()
    settlement_status: str = "unsettled"
    subaccount: int | None = None
    subtrader_id: str | None = None
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None  # as the client sent it

    @property
    def offset(self) -> int:
        return offset_of(self.cursor) if self.cursor else 0

    def subtrader(self) -> str:
        """The sub-trader of an FCM endpoint, which Kalshi requires."""
        if not self.subtrader_id:
            raise bad("subtrader_id", "required: the FCM sub-trader whose book to read")
        return self.subtrader_id


def _int(name: str, raw: str, lo: int, hi: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise bad(name, f"{raw!r} is not an integer") from None
    if not lo <= value <= hi:
        raise bad(name, f"{value} is outside {lo}..{hi}")
    return value


def encode(tag: str, text: str) -> str:
    return base64.urlsafe_b64encode(f"{tag}:{text}".encode()).decode().rstrip("=")


def decode(tag: str, cursor: str) -> str:
    """The text of a cursor :func:`encode` made with ``tag``; anything else is a 400."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        got, sep, rest = text.partition(":")
        if got != tag or not sep:
            raise ValueError
        return rest
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise bad("cursor", f"{cursor!r} is not a cursor this server returned") from None


def cursor_of(offset: int) -> str:
    return encode("fixgw", str(offset))


def offset_of(cursor: str) -> int:
    n = decode("fixgw", cursor)
    if not n.isdigit():
        raise bad("cursor", f"{cursor!r} is not a cursor this server returned")
    return int(n)


def parse(query: Mapping[str, str], allowed: frozenset[str]) -> Params:
    """The parameters in ``allowed``, checked (HTTP 400 in Kalshi's body when one is wrong)."""
    query = {k: v for k, v in query.items() if k in allowed}
    kw: dict[str, Any] = {}
    for name in ("ticker", "event_ticker", "order_id", "subtrader_id", "cursor"):
        if query.get(name):
            kw[name] = query[name]
    for name in ("min_ts", "max_ts"):
        if query.get(name):
            kw[name] = _int(name, query[name], 0, 2**62)
    if query.get("status"):
        if query["status"] not in STATUSES:
            raise bad("status", f"{query['status']!r} is not one of {', '.join(sorted(STATUSES))}")
        kw["status"] = query["status"]
    if query.get("count_filter"):
        names = tuple(n.strip() for n in query["count_filter"].split(",") if n.strip())
        wrong = [n for n in names if n not in COUNT_FILTERS]
        if wrong:
            raise bad("count_filter", f"{wrong[0]!r} is not one of {', '.join(COUNT_FILTERS)}")
        kw["count_filter"] = names
    if query.get("settlement_status"):
        if query["settlement_status"] not in SETTLEMENT:
            raise bad("settlement_status", f"{query['settlement_status']!r} is not one of "
                      f"{', '.join(sorted(SETTLEMENT))}")
        kw["settlement_status"] = query["settlement_status"]
    if query.get("subaccount"):
        kw["subaccount"] = _int("subaccount", query["subaccount"], 0, 32)
    if query.get("limit"):
        kw["limit"] = _int("limit", query["limit"], 1, MAX_LIMIT)
    p = Params(**kw)
    if "event_ticker" in kw and len(kw["event_ticker"].split(",")) > 10:
        raise bad("event_ticker", "at most 10 event tickers")
    return p


def page(rows: Iterable, p: Params) -> tuple[list, str]:
    """One page of ``rows`` and the cursor of the next ('' after the last).

    ``rows`` may be a generator: only the rows up to the page's end (and one more, to know
    whether there is a next page) are produced.
    """
    start = p.offset
    end = start + p.limit
    taken = list(islice(rows, start, end + 1))
    return taken[:p.limit], (cursor_of(end) if len(taken) > p.limit else "")
